/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apply: the applier's safety rules on a fixture tree built in a temp dir.
 * A fixture's `create`/`remove` are plain files, so a write leaves its bytes
 * there and nothing else happens: that is what these tests look at. The real
 * kernel's answers are exercised by the VM tests (tests/vm/).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "apply/apply.h"
#include "node/mdev_lifecycle.h"
#include "libvirt/mdevctl.h"
#include "mdevd/plan.h"
#include "libvirt/libvirt_client.h"
#include "mdevd/policy.h"

#define MACHINE_ID "0123456789abcdef0123456789abcdef"

struct tree {
	char root[64]; /* sysfs root */
	char proc[64]; /* proc root */
	int sysfs_fd, proc_fd;
	char owned[MDEVD_UUID_STR_LEN]; /* slot 0 of t1 on p0 */
};

static void xmkdirs(const char *root, const char *rel)
{
	char path[512], *p;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	mkdir(path, 0755);
}

static void xwrite(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void xlink(const char *root, const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static void xread(const char *root, const char *rel, char *buf, size_t size)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* One virtual parent p0 with type t1 (2 free) and one owned live mdev in IOMMU group 5. */
static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	const char *dev = "devices/virtual/p0/p0";
	char rel[256];

	strcpy(t->root, "/tmp/mdevd-test-sys-XXXXXX");
	strcpy(t->proc, "/tmp/mdevd-test-proc-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	assert_non_null(mkdtemp(t->proc));
	plan_derive_uuid(MACHINE_ID, "p0", "t1", 0, t->owned);

	xmkdirs(t->root, "class/mdev_bus");
	xmkdirs(t->root, "bus/mdev/devices");
	xmkdirs(t->root, "kernel/iommu_groups/5");
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/devices", dev);
	xmkdirs(t->root, rel);
	xlink(t->root, "class/mdev_bus/p0", "../../devices/virtual/p0/p0");
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/name", dev);
	xwrite(t->root, rel, "Type one\n");
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/available_instances", dev);
	xwrite(t->root, rel, "2\n");
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/device_api", dev);
	xwrite(t->root, rel, "vfio-pci\n");
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/create", dev);
	xwrite(t->root, rel, "");

	snprintf(rel, sizeof(rel), "%s/%s", dev, t->owned);
	xmkdirs(t->root, rel);
	snprintf(rel, sizeof(rel), "%s/%s/mdev_type", dev, t->owned);
	xlink(t->root, rel, "../mdev_supported_types/t1");
	snprintf(rel, sizeof(rel), "%s/%s/iommu_group", dev, t->owned);
	xlink(t->root, rel, "../../../../../kernel/iommu_groups/5");
	snprintf(rel, sizeof(rel), "%s/%s/remove", dev, t->owned);
	xwrite(t->root, rel, "");
	snprintf(rel, sizeof(rel), "bus/mdev/devices/%s", t->owned);
	{
		char target[256];

		snprintf(target, sizeof(target), "../../../devices/virtual/p0/p0/%s", t->owned);
		xlink(t->root, rel, target);
	}
	snprintf(rel, sizeof(rel), "%s/mdev_supported_types/t1/devices/%s", dev, t->owned);
	{
		char target[256];

		snprintf(target, sizeof(target), "../../../%s", t->owned);
		xlink(t->root, rel, target);
	}

	t->sysfs_fd = open(t->root, O_RDONLY | O_DIRECTORY);
	t->proc_fd = open(t->proc, O_RDONLY | O_DIRECTORY);
	assert_true(t->sysfs_fd >= 0 && t->proc_fd >= 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[256];

	close(t->sysfs_fd);
	close(t->proc_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", t->root, t->proc);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static struct policy *parse(const char *json)
{
	struct policy *pol = NULL;
	struct pol_error err;

	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), 0);
	return pol;
}

static void hold_group(struct tree *t, const char *pid, int group)
{
	char rel[128], target[64];

	snprintf(rel, sizeof(rel), "%s/fd", pid);
	xmkdirs(t->proc, rel);
	snprintf(rel, sizeof(rel), "%s/fd/7", pid);
	snprintf(target, sizeof(target), "/dev/vfio/%d", group);
	xlink(t->proc, rel, target);
}

static struct apply_options options(struct tree *t)
{
	return (struct apply_options){
		.sysfs_fd = t->sysfs_fd,
		.sysfs_path = t->root,
		.proc_fd = t->proc_fd,
		.machine_id = MACHINE_ID,
	};
}

static void test_in_use_mdev_is_not_removed(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":0}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char rel[256], buf[64];

	hold_group(t, "4242", 5);
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.removed, 0);
	assert_int_equal(res.kept_in_use, 1);
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/%s/remove", t->owned);
	xread(t->root, rel, buf, sizeof(buf));
	assert_string_equal(buf, ""); /* never written */
	policy_free(pol);
}

static void test_unused_owned_mdev_is_removed(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":0}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char rel[256], buf[64];

	hold_group(t, "4242", 6); /* another group: not ours */
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	/* Written once; a fixture's mdev does not vanish, and the re-read says so. */
	assert_int_equal(res.removed, 0);
	assert_int_equal(res.failed, 1);
	assert_int_equal(res.rounds, 1);
	assert_int_equal(res.kept_in_use, 0);
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/%s/remove", t->owned);
	xread(t->root, rel, buf, sizeof(buf));
	assert_string_equal(buf, "1");
	policy_free(pol);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":2}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char buf[64];

	o.dry_run = true;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.created, 0);
	assert_int_equal(res.rounds, 1);
	xread(t->root, "devices/virtual/p0/p0/mdev_supported_types/t1/create", buf, sizeof(buf));
	assert_string_equal(buf, "");
	policy_free(pol);
}

static void test_create_writes_derived_uuid(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":2}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char want[MDEVD_UUID_STR_LEN], buf[64];

	/* Slot 0 exists; slot 1 is created: its derived UUID is what lands in `create`. */
	plan_derive_uuid(MACHINE_ID, "p0", "t1", 1, want);
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	/* Written once; no mdev appears in a fixture, and the re-read says so. */
	assert_int_equal(res.created, 0);
	assert_int_equal(res.failed, 1);
	assert_int_equal(res.rounds, 1);
	xread(t->root, "devices/virtual/p0/p0/mdev_supported_types/t1/create", buf, sizeof(buf));
	assert_string_equal(buf, want);
	policy_free(pol);
}

static void test_no_capacity_is_not_written(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":3}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char buf[64];

	/* The planner saw 2 free; the parent now says 0 (shared capacity used elsewhere). */
	xwrite(t->root, "devices/virtual/p0/p0/mdev_supported_types/t1/available_instances", "0\n");
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.created, 0);
	assert_true(res.shortfall >= 2);
	xread(t->root, "devices/virtual/p0/p0/mdev_supported_types/t1/create", buf, sizeof(buf));
	assert_string_equal(buf, "");
	policy_free(pol);
}

/* --- backends --- */

/* A backend that records what it is asked and creates in the fixture as the kernel would. */
struct fake {
	struct tree *t;
	unsigned int creates, removes, persists;
	char last[MDEVD_UUID_STR_LEN];
	int create_err;
};

static int fake_create(void *data, const struct plan_action *a, char *why, size_t size)
{
	struct fake *f = data;
	char rel[256], target[256];

	f->creates++;
	snprintf(f->last, sizeof(f->last), "%s", a->uuid);
	if (f->create_err) {
		snprintf(why, size, "fake refusal");
		return f->create_err;
	}
	/* What the kernel would show: the device, its type, bus/mdev/devices/<uuid>. */
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/%s", a->uuid);
	xmkdirs(f->t->root, rel);
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/%s/mdev_type", a->uuid);
	xlink(f->t->root, rel, "../mdev_supported_types/t1");
	snprintf(rel, sizeof(rel), "bus/mdev/devices/%s", a->uuid);
	snprintf(target, sizeof(target), "../../../devices/virtual/p0/p0/%s", a->uuid);
	xlink(f->t->root, rel, target);
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/mdev_supported_types/t1/devices/%s",
		 a->uuid);
	snprintf(target, sizeof(target), "../../../%s", a->uuid);
	xlink(f->t->root, rel, target);
	return 0;
}

static int fake_remove(void *data, const struct plan_action *a, char *why, size_t size)
{
	struct fake *f = data;

	f->removes++;
	return 0;
}

static int fake_persist(void *data, const struct plan_action *a)
{
	struct fake *f = data;

	f->persists++;
	return 0;
}

static void test_backend_gets_the_steps(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":2}}]}}");
	struct fake f = {.t = t};
	const struct apply_backend b = {.name = "fake",
					.create = fake_create,
					.remove = fake_remove,
					.persist = fake_persist,
					.data = &f};
	struct apply_options o = options(t);
	struct apply_result res;
	char want[MDEVD_UUID_STR_LEN], buf[64];

	o.backend = &b;
	plan_derive_uuid(MACHINE_ID, "p0", "t1", 1, want);
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	/* The same plan and UUID as the sysfs backend; sysfs itself is not written. */
	assert_int_equal(f.creates, 1);
	assert_string_equal(f.last, want);
	assert_int_equal(res.created, 1);
	assert_int_equal(res.failed, 0);
	/* Persisted: the new one after its create, slot 0 as a kept owned mdev (twice: 2 rounds).
	 */
	assert_true(f.persists >= 2);
	xread(t->root, "devices/virtual/p0/p0/mdev_supported_types/t1/create", buf, sizeof(buf));
	assert_string_equal(buf, "");
	policy_free(pol);
}

static void test_backend_refusal_is_counted(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":2}}]}}");
	struct fake f = {.t = t, .create_err = -EIO};
	const struct apply_backend b = {
		.name = "fake", .create = fake_create, .remove = fake_remove, .data = &f};
	struct apply_options o = options(t);
	struct apply_result res;

	o.backend = &b;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(f.creates, 1);
	assert_int_equal(res.created, 0);
	assert_int_equal(res.failed, 1);
	policy_free(pol);
}

static void test_libvirt_backend_needs_a_connection(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":2}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;

	o.backend_kind = APPLY_BACKEND_LIBVIRT;
	assert_int_equal(apply_policy(&o, pol, &res), -EINVAL);
	policy_free(pol);
}

static void test_persist_writes_mdevctl_definitions(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":1}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char dir[128], rel[256], buf[256];

	/* Slot 0 is live and wanted: it gets its definition, in mdevctl's format. */
	snprintf(dir, sizeof(dir), "%s/mdevctl.d", t->proc);
	o.persist = true;
	o.mdevctl_dir = dir;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	snprintf(rel, sizeof(rel), "mdevctl.d/p0/%s", t->owned);
	xread(t->proc, rel, buf, sizeof(buf));
	assert_string_equal(buf, "{\n\t\"mdev_type\":\t\"t1\",\n\t\"start\":\t\"auto\",\n"
				 "\t\"attrs\":\t[]\n}\n");
	policy_free(pol);

	/* Asked for 0: the remove is written, and the definition goes with it. */
	pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],\"types\":{\"t1\":0}}]}}");
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	snprintf(buf, sizeof(buf), "%s/p0/%s", dir, t->owned);
	assert_int_equal(access(buf, F_OK), -1);
	policy_free(pol);
}

static void test_mdevctl_files(void **state)
{
	char dir[] = "/tmp/mdevd-test-mdevctl-XXXXXX", path[256], cmd[300], buf[256] = "";
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(mdevctl_define(dir, "0000:65:00.0", "nvidia-222",
					"9e2e9a46-0000-4000-8000-000000000001"),
			 0);
	/* Again: identical, left as it is. */
	assert_int_equal(mdevctl_define(dir, "0000:65:00.0", "nvidia-222",
					"9e2e9a46-0000-4000-8000-000000000001"),
			 0);
	snprintf(path, sizeof(path), "%s/0000:65:00.0/9e2e9a46-0000-4000-8000-000000000001", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"mdev_type\":\t\"nvidia-222\""));
	assert_int_equal(mdevctl_define(dir, "../etc", "t", "u"), -EINVAL);
	assert_int_equal(mdevctl_define(dir, "p", "t", ".hidden"), -EINVAL);
	assert_int_equal(
		mdevctl_undefine(dir, "0000:65:00.0", "9e2e9a46-0000-4000-8000-000000000001"), 0);
	assert_int_equal(access(path, F_OK), -1);
	/* Gone already: still fine. */
	assert_int_equal(
		mdevctl_undefine(dir, "0000:65:00.0", "9e2e9a46-0000-4000-8000-000000000001"), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The keep callback of test_mdevctl_reconcile: keeps the names listed in @data. */
static bool keep_listed(void *data, const char *parent, const char *name)
{
	const char *const *keep = data;

	for (; *keep; keep++)
		if (strcmp(*keep, name) == 0)
			return true;
	return false;
}

static bool path_exists(const char *dir, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return access(path, F_OK) == 0;
}

static void test_mdevctl_reconcile(void **state)
{
	char dir[] = "/tmp/mdevd-test-mdevctl-XXXXXX", cmd[300];
	const char *keep[] = {"9e2e9a46-0000-4000-8000-000000000001", NULL};
	struct mdevctl_reconcile_result res = {.removed = 99};

	/* No directory at all: nothing to do. */
	assert_int_equal(mdevctl_reconcile("/nonexistent/mdevctl.d", keep_listed, keep, &res), 0);
	assert_int_equal(res.removed, 0);
	assert_int_equal(res.temp_removed, 0);
	assert_int_equal(mdevctl_reconcile(NULL, keep_listed, keep, &res), -EINVAL);

	assert_non_null(mkdtemp(dir));
	xmkdirs(dir, "p0");
	xmkdirs(dir, "p1");
	xwrite(dir, "p0/9e2e9a46-0000-4000-8000-000000000001", "{}\n"); /* kept */
	xwrite(dir, "p0/9e2e9a46-0000-4000-8000-000000000002", "{}\n"); /* refused */
	xwrite(dir, "p1/9e2e9a46-0000-4000-8000-000000000003", "{}\n"); /* refused */
	/* What a define killed before its rename leaves. */
	xwrite(dir, "p0/.9e2e9a46-0000-4000-8000-000000000004.tmp", "{\n\t\"mdev");
	xwrite(dir, "p1/.9e2e9a46-0000-4000-8000-000000000001.tmp", "");
	/* Not ours to judge: a hidden file, a file at the top. */
	xwrite(dir, "p0/.keep", "");
	xwrite(dir, "README", "");
	assert_int_equal(mdevctl_reconcile(dir, keep_listed, keep, &res), 0);
	assert_int_equal(res.removed, 2);
	assert_int_equal(res.temp_removed, 2);
	assert_true(path_exists(dir, "p0/9e2e9a46-0000-4000-8000-000000000001"));
	assert_false(path_exists(dir, "p0/9e2e9a46-0000-4000-8000-000000000002"));
	assert_false(path_exists(dir, "p1/9e2e9a46-0000-4000-8000-000000000003"));
	assert_false(path_exists(dir, "p0/.9e2e9a46-0000-4000-8000-000000000004.tmp"));
	assert_false(path_exists(dir, "p1/.9e2e9a46-0000-4000-8000-000000000001.tmp"));
	assert_true(path_exists(dir, "p0/.keep"));
	assert_true(path_exists(dir, "README"));
	/* Again: settled, nothing more goes. */
	assert_int_equal(mdevctl_reconcile(dir, keep_listed, keep, &res), 0);
	assert_int_equal(res.removed + res.temp_removed, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_persist_reconciles_definitions(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":1}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char dir[128], rel[256], stale[MDEVD_UUID_STR_LEN], gone[MDEVD_UUID_STR_LEN];
	const char *foreign = "11111111-2222-4333-8444-555555555555";

	/*
	 * What a run killed between a remove and its undefine leaves: the definition of
	 * slot 1, whose mdev is gone. Beside it: a foreign definition, one of a parent
	 * that is not on the node now, and a temp file of a killed define.
	 */
	snprintf(dir, sizeof(dir), "%s/mdevctl.d", t->proc);
	plan_derive_uuid(MACHINE_ID, "p0", "t1", 1, stale);
	plan_derive_uuid(MACHINE_ID, "gone", "t1", 0, gone);
	assert_int_equal(mdevctl_define(dir, "p0", "t1", stale), 0);
	assert_int_equal(mdevctl_define(dir, "p0", "t1", foreign), 0);
	assert_int_equal(mdevctl_define(dir, "gone", "t1", gone), 0);
	snprintf(rel, sizeof(rel), "mdevctl.d/p0/.%s.tmp", t->owned);
	xwrite(t->proc, rel, "{");

	o.persist = true;
	o.mdevctl_dir = dir;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	snprintf(rel, sizeof(rel), "p0/%s", t->owned);
	assert_true(path_exists(dir, rel)); /* live and wanted */
	snprintf(rel, sizeof(rel), "p0/%s", stale);
	assert_false(path_exists(dir, rel)); /* owned, not live */
	snprintf(rel, sizeof(rel), "p0/%s", foreign);
	assert_true(path_exists(dir, rel));
	snprintf(rel, sizeof(rel), "gone/%s", gone);
	assert_true(path_exists(dir, rel));
	snprintf(rel, sizeof(rel), "p0/.%s.tmp", t->owned);
	assert_false(path_exists(dir, rel));
	policy_free(pol);

	/* Without --persist the directory is not mdevd's to touch. */
	assert_int_equal(mdevctl_define(dir, "p0", "t1", stale), 0);
	o.persist = false;
	pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],\"types\":{\"t1\":1}}]}}");
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	snprintf(rel, sizeof(rel), "p0/%s", stale);
	assert_true(path_exists(dir, rel));
	policy_free(pol);
}

/* A libvirt test-driver node whose defined (shut off) domain names @uuid. */
static void write_node(const char *path, const char *uuid)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f,
		"<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
		"<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
		"<name>vm-off</name><memory>1024</memory><os><type>hvm</type></os>\n"
		"<devices><hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n"
		"<source><address uuid='%s'/></source></hostdev></devices>\n"
		"<test:runstate>5</test:runstate></domain></node>\n",
		uuid);
	fclose(f);
}

static void test_reserved_mdev_is_not_removed(void **state)
{
	struct tree *t = *state;
	struct policy *pol = parse("{\"mdevd\":{\"layouts\":[{\"parents\":[\"p0\"],"
				   "\"types\":{\"t1\":0}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	struct virt *v = NULL;
	char node[128], uri[160], rel[256], buf[64];

	snprintf(node, sizeof(node), "%s/node.xml", t->proc);
	write_node(node, t->owned);
	snprintf(uri, sizeof(uri), "test://%s", node);
	assert_int_equal(virt_open(uri, true, &v, NULL, 0), 0);
	o.virt = v;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.removed, 0);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.kept_reserved, 1);
	assert_int_equal(res.kept_in_use, 0);
	snprintf(rel, sizeof(rel), "devices/virtual/p0/p0/%s/remove", t->owned);
	xread(t->root, rel, buf, sizeof(buf));
	assert_string_equal(buf, ""); /* never written */
	virt_close(v);
	policy_free(pol);
}

static void test_lifecycle_words(void **state)
{
	assert_non_null(strstr(lifecycle_create_error_str(-EEXIST), "already used"));
	assert_non_null(strstr(lifecycle_create_error_str(-ENOSPC), "no capacity"));
	assert_non_null(strstr(lifecycle_create_error_str(-EUSERS), "no capacity"));
	assert_non_null(strstr(lifecycle_create_error_str(-ENODEV), "going away"));
	assert_null(lifecycle_create_error_str(-EIO));
	assert_string_equal(lifecycle_errno_name(-EUSERS), "EUSERS");
	assert_string_equal(lifecycle_errno_name(-ENOSPC), "ENOSPC");
	assert_non_null(strstr(lifecycle_remove_error_str(-ENOENT), "already gone"));
}

static void test_lifecycle_refuses_path_tricks(void **state)
{
	struct tree *t = *state;

	assert_int_equal(lifecycle_create(t->sysfs_fd, "../p0", "t1", "x"), -EINVAL);
	assert_int_equal(lifecycle_create(t->sysfs_fd, "p0", "t1/../t1", "x"), -EINVAL);
	assert_int_equal(lifecycle_remove(t->sysfs_fd, "../../x"), -EINVAL);
	assert_int_equal(lifecycle_remove(t->sysfs_fd, "00000000-0000-0000-0000-000000000000"),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_use_mdev_is_not_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unused_owned_mdev_is_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_writes_derived_uuid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_capacity_is_not_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_gets_the_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_refusal_is_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libvirt_backend_needs_a_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_persist_writes_mdevctl_definitions, setup,
						teardown),
		cmocka_unit_test(test_mdevctl_files),
		cmocka_unit_test(test_mdevctl_reconcile),
		cmocka_unit_test_setup_teardown(test_persist_reconciles_definitions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reserved_mdev_is_not_removed, setup, teardown),
		cmocka_unit_test(test_lifecycle_words),
		cmocka_unit_test_setup_teardown(test_lifecycle_refuses_path_tricks, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
