/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kubeapi: kubeconfig and in-cluster config, the list and watch JSON of the API server
 * (ADDED / MODIFIED / DELETED, BOOKMARK, ERROR 410), labels, annotations and specs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "kubernetes/kubeapi.h"
#include "mdevd/macro.h"

static const char kubeconfig[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster: {server: https://10.0.0.1:6443}\n"
	"- name: test\n"
	"  cluster:\n"
	"    server: https://127.0.0.1:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	"contexts:\n"
	"- name: test\n"
	"  context: {cluster: test, user: mdevd}\n"
	"current-context: test\n"
	"users:\n"
	"- name: mdevd\n"
	"  user:\n"
	"    client-certificate: certs/mdevd.crt\n"
	"    client-key: /abs/mdevd.key\n"
	"    tokenFile: token\n";

static void test_kubeconfig(void **state)
{
	struct kube_config *c = NULL;
	char why[256] = "";

	(void)state;
	assert_int_equal(kube_config_parse(kubeconfig, strlen(kubeconfig), "/etc/k", "f", &c, why,
					   sizeof(why)),
			 0);
	assert_string_equal(c->server, "https://127.0.0.1:6443");
	assert_string_equal(c->ca_data, "-----BEGIN CERTIFICATE-----\n");
	assert_int_equal(c->ca_len, 28);
	assert_null(c->ca_file);
	assert_string_equal(c->cert_file, "/etc/k/certs/mdevd.crt");
	assert_string_equal(c->key_file, "/abs/mdevd.key");
	assert_string_equal(c->token_file, "/etc/k/token");
	assert_null(c->token);
	assert_false(c->insecure);
	kube_config_free(c);

	/* JSON works too, and an inline token. */
	c = NULL;
	{
		static const char j[] =
			"{\"current-context\": \"a\", \"contexts\": [{\"name\": \"a\", "
			"\"context\": {\"cluster\": \"c\", \"user\": \"u\"}}], "
			"\"clusters\": [{\"name\": \"c\", \"cluster\": {\"server\": "
			"\"https://h:1\", \"insecure-skip-tls-verify\": true}}], "
			"\"users\": [{\"name\": \"u\", \"user\": {\"token\": \"abc\"}}]}";

		assert_int_equal(kube_config_parse(j, strlen(j), NULL, "j", &c, why, sizeof(why)),
				 0);
		assert_string_equal(c->token, "abc");
		assert_true(c->insecure);
		kube_config_free(c);
	}
}

static void kubeconfig_fails(const char *text, const char *needle)
{
	struct kube_config *c = NULL;
	char why[256] = "";
	int r = kube_config_parse(text, strlen(text), "/d", "t", &c, why, sizeof(why));

	if (r != -EINVAL || !strstr(why, needle))
		print_error("for %s\n  got %d \"%s\", expected ...%s...\n", text, r, why, needle);
	assert_int_equal(r, -EINVAL);
	assert_null(c);
	assert_non_null(strstr(why, needle));
}

static void test_kubeconfig_errors(void **state)
{
	(void)state;
	kubeconfig_fails("clusters: []\n", "no current-context");
	kubeconfig_fails("current-context: x\n", "\"x\" is not in contexts");
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n",
			 "cluster \"c\" is not in clusters");
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: 127.0.0.1}}]\n",
			 "not an http(s) URL");
	/* A URL without a host was taken, and "https:///" became the server "https:". */
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: 'https:///'}}]\n",
			 "server \"https:///\" names no host");
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: 'http:///pki80'}}]\n",
			 "names no host");
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: 'https://'}}]\n",
			 "names no host");
	kubeconfig_fails(
		"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
		"clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
		"users: [{name: u, user: {exec: {command: aws}}}]\n",
		"exec or auth-provider");
	kubeconfig_fails(
		"current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
		"clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
		"users: [{name: u, user: {client-certificate: a.crt}}]\n",
		"needs its key");
	kubeconfig_fails("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
			 "clusters: [{name: c, cluster: {server: 'https://h', "
			 "certificate-authority-data: '!!'}}]\n",
			 "not base64");
	kubeconfig_fails("a: [\n", "line");
}

static void test_in_cluster(void **state)
{
	char dir[] = "/tmp/mdevd-test-sa.XXXXXX", path[64], why[256];
	struct kube_config *c = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(kube_config_in_cluster(dir, &c, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "--kubeconfig"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(dir, &c, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "automountServiceAccountToken"));
	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("tok\n", f);
	fclose(f);
	assert_int_equal(kube_config_in_cluster(dir, &c, why, sizeof(why)), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_string_equal(c->token_file, path);
	assert_non_null(strstr(c->ca_file, "/ca.crt"));
	kube_config_free(c);
	unlink(path);
	rmdir(dir);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_base64(void **state)
{
	char *out = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(kube_base64_decode("aGVs\nbG8=", &out, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(kube_base64_decode("", &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(kube_base64_decode("ab=c", &out, &len), -EINVAL);
	assert_int_equal(kube_base64_decode("a*b", &out, &len), -EINVAL);
}

static void test_watch_events(void **state)
{
	struct kube_event e = {};
	const char *ev;

	(void)state;
	ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"kubevirt\",\"namespace\":"
	     "\"kubevirt\",\"resourceVersion\":\"42\"},\"spec\":{}}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), "KubeVirt", "kubevirt.io/v1", &e), 0);
	assert_int_equal(e.type, KUBE_EVENT_ADDED);
	assert_string_equal(e.object.name, "kubevirt");
	assert_string_equal(e.object.namespace, "kubevirt");
	assert_string_equal(e.object.resource_version, "42");
	/* kind and apiVersion filled in: the policy parser tells the CR by kind. */
	assert_non_null(strstr(e.object.json, "\"kind\":\"KubeVirt\""));
	assert_non_null(strstr(e.object.json, "\"apiVersion\":\"kubevirt.io/v1\""));
	kube_event_clear(&e);

	ev = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}"
	     "}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), "Other", NULL, &e), 0);
	assert_int_equal(e.type, KUBE_EVENT_MODIFIED);
	assert_string_equal(e.object.namespace, "");
	assert_string_equal(e.object.resource_version, "");
	assert_non_null(strstr(e.object.json, "\"kind\":\"Node\""));
	assert_null(strstr(e.object.json, "Other"));
	kube_event_clear(&e);

	ev = "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":"
	     "\"7\"}}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), 0);
	assert_int_equal(e.type, KUBE_EVENT_DELETED);
	kube_event_clear(&e);

	ev = "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"KubeVirt\",\"metadata\":"
	     "{\"resourceVersion\":\"1234\",\"annotations\":{\"k8s.io/initial-events-end\":"
	     "\"true\"}}}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), 0);
	assert_int_equal(e.type, KUBE_EVENT_BOOKMARK);
	assert_string_equal(e.object.resource_version, "1234");
	assert_null(e.object.json);
	kube_event_clear(&e);

	ev = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
	     "\"status\":\"Failure\",\"message\":\"too old resource version: 5 (9)\","
	     "\"reason\":\"Expired\",\"code\":410}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), 0);
	assert_int_equal(e.type, KUBE_EVENT_ERROR);
	assert_int_equal(e.code, 410);
	assert_string_equal(e.message, "too old resource version: 5 (9)");
	kube_event_clear(&e);

	/* Not events. */
	assert_int_equal(kube_event_parse("{", 1, NULL, NULL, &e), -EINVAL);
	ev = "{\"type\":\"RENAMED\",\"object\":{}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), -EINVAL);
	ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), -EINVAL);
	ev = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), -EINVAL);
	ev = "{\"type\":\"ADDED\"}";
	assert_int_equal(kube_event_parse(ev, strlen(ev), NULL, NULL, &e), -EINVAL);
}

static void test_list(void **state)
{
	static const char list[] =
		"{\"kind\":\"KubeVirtList\",\"apiVersion\":\"kubevirt.io/v1\",\"metadata\":"
		"{\"resourceVersion\":\"99\"},\"items\":[{\"metadata\":{\"name\":\"b\","
		"\"namespace\":"
		"\"n\",\"resourceVersion\":\"98\"}},{\"metadata\":{\"name\":\"a\",\"namespace\":"
		"\"n\"}}]}";
	struct kube_object *items = NULL;
	char *rv = NULL, msg[64];
	size_t n = 0;

	(void)state;
	assert_int_equal(
		kube_list_parse(list, strlen(list), "KubeVirt", "kubevirt.io/v1", &items, &n, &rv),
		0);
	assert_int_equal(n, 2);
	assert_string_equal(rv, "99");
	assert_string_equal(items[0].name, "b");
	assert_non_null(strstr(items[1].json, "\"kind\":\"KubeVirt\""));
	for (size_t i = 0; i < n; i++)
		kube_object_clear(&items[i]);
	free(items);
	free(rv);
	assert_int_equal(
		kube_list_parse("{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":null}", 52,
				NULL, NULL, &items, &n, &rv),
		0);
	assert_int_equal(n, 0);
	free(items);
	free(rv);
	assert_int_equal(kube_list_parse("{\"items\":[]}", 12, NULL, NULL, &items, &n, &rv),
			 -EINVAL);
	assert_string_equal(kube_status_message("{\"kind\":\"Status\",\"message\":\"forbidden\"}",
						40, msg, sizeof(msg)),
			    "forbidden");
	assert_string_equal(kube_status_message("404 page not found", 18, msg, sizeof(msg)), "");
}

static void test_object_fields(void **state)
{
	static const char node[] =
		"{\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"1\",\"b\":\"\"},"
		"\"annotations\":{\"mdevd/policy\":\"{}\"}},\"spec\":{\"x\":1}}";
	char **k = NULL, **v = NULL, *s = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(kube_object_labels(node, &k, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(k[1], "b");
	assert_string_equal(v[1], "");
	kube_strv_free(k, n);
	kube_strv_free(v, n);
	assert_int_equal(kube_object_labels("{\"metadata\":{}}", &k, &v, &n), 0);
	assert_int_equal(n, 0);
	kube_strv_free(k, n);
	kube_strv_free(v, n);
	assert_int_equal(kube_object_annotation(node, "mdevd/policy", &s), 0);
	assert_string_equal(s, "{}");
	free(s);
	assert_int_equal(kube_object_annotation(node, "other", &s), 0);
	assert_null(s);
	assert_int_equal(kube_object_spec(node, &s), 0);
	assert_string_equal(s, "{\"x\":1}");
	free(s);
	assert_int_equal(kube_object_uid("{\"metadata\":{\"uid\":\"1f2e\"}}", &s), 0);
	assert_string_equal(s, "1f2e");
	free(s);
	assert_int_equal(kube_object_uid("{\"metadata\":{}}", &s), 0);
	assert_null(s);
	assert_int_equal(kube_object_uid("[", &s), -EINVAL);
	assert_int_equal(kube_object_spec("{}", &s), 0);
	assert_string_equal(s, "null");
	free(s);
	assert_int_equal(kube_object_spec("[", &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubeconfig),    cmocka_unit_test(test_kubeconfig_errors),
		cmocka_unit_test(test_in_cluster),    cmocka_unit_test(test_base64),
		cmocka_unit_test(test_watch_events),  cmocka_unit_test(test_list),
		cmocka_unit_test(test_object_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
