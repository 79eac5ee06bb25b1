/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libcurl adapter (apiserver.h): the only file that includes <curl/curl.h>. libcurl is
 * loaded on first use, so commands that never talk to the API server do not pay for it and
 * its TLS library.
 */
/* curl.h makes curl_easy_setopt() a macro that would swallow sym.curl_easy_setopt(). */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubernetes/apiserver.h"
#include "mdevd/macro.h"
#include "util/dlopen.h"

/* The largest reply a list may be: a KubeVirt CR or a Node is a few kB. */
#define REPLY_MAX (16u << 20)
/* A single watch event's line: one object. */
#define LINE_MAX_BYTES	    (4u << 20)
#define CONNECT_TIMEOUT_SEC 10
#define TOKEN_MAX	    16384

static struct {
	DLSYM_TYPE(curl_global_init) curl_global_init;
	DLSYM_TYPE(curl_easy_init) curl_easy_init;
	DLSYM_TYPE(curl_easy_setopt) curl_easy_setopt;
	DLSYM_TYPE(curl_easy_perform) curl_easy_perform;
	DLSYM_TYPE(curl_easy_getinfo) curl_easy_getinfo;
	DLSYM_TYPE(curl_easy_reset) curl_easy_reset;
	DLSYM_TYPE(curl_easy_cleanup) curl_easy_cleanup;
	DLSYM_TYPE(curl_easy_strerror) curl_easy_strerror;
	DLSYM_TYPE(curl_slist_append) curl_slist_append;
	DLSYM_TYPE(curl_slist_free_all) curl_slist_free_all;
} sym;

static pthread_once_t sym_once = PTHREAD_ONCE_INIT;
static int sym_result;

static void sym_load(void)
{
	void *dl;

	sym_result = dlopen_symbols(
		&dl, SONAME_LIBCURL, DLSYM_ARG(sym, curl_global_init),
		DLSYM_ARG(sym, curl_easy_init), DLSYM_ARG(sym, curl_easy_setopt),
		DLSYM_ARG(sym, curl_easy_perform), DLSYM_ARG(sym, curl_easy_getinfo),
		DLSYM_ARG(sym, curl_easy_reset), DLSYM_ARG(sym, curl_easy_cleanup),
		DLSYM_ARG(sym, curl_easy_strerror), DLSYM_ARG(sym, curl_slist_append),
		DLSYM_ARG(sym, curl_slist_free_all), NULL);
	/* Once, before any handle; not thread-safe in libcurl before 7.84 (Debian has 7.88). */
	if (sym_result == 0 && sym.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		sym_result = -ENOMEM;
}

struct kube_http {
	const struct kube_config *cfg;
	const atomic_bool *stop;
	CURL *curl;
};

int kube_http_new(const struct kube_config *cfg, const atomic_bool *stop, struct kube_http **out,
		  char *why, size_t size)
{
	struct kube_http *h;

	pthread_once(&sym_once, sym_load);
	if (sym_result < 0) {
		snprintf(why, size, "cannot load %s: %s", SONAME_LIBCURL, dlopen_error());
		return sym_result;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->curl = sym.curl_easy_init();
	if (!h->curl) {
		free(h);
		return -ENOMEM;
	}
	h->cfg = cfg;
	h->stop = stop;
	*out = h;
	return 0;
}

void kube_http_free(struct kube_http *h)
{
	if (!h)
		return;
	sym.curl_easy_cleanup(h->curl);
	free(h);
}

/* The bearer token: inline, or the file's first line (re-read per request: it rotates). */
static int read_token(const struct kube_config *cfg, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	buf[0] = '\0';
	if (cfg->token) {
		snprintf(buf, size, "%s", cfg->token);
		return 0;
	}
	if (!cfg->token_file)
		return 0;
	fd = open(cfg->token_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

struct transfer {
	struct kube_http *h;
	/* the whole body (GET, or a streamed reply that is not 200) */
	char *buf;
	size_t len, cap;
	size_t limit;
	/* streaming */
	kube_line_fn fn;
	void *userdata;
	int fn_result;
	bool streaming; /* the status is 200: lines go to fn */
	bool status_known;
};

static int grow(struct transfer *t, size_t need)
{
	size_t cap = t->cap ? t->cap : 4096;
	char *n;

	while (cap < need + 1)
		cap *= 2;
	if (cap == t->cap)
		return 0;
	n = realloc(t->buf, cap);
	if (!n)
		return -ENOMEM;
	t->buf = n;
	t->cap = cap;
	return 0;
}

static size_t on_data(char *data, size_t one, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = one * n, start = 0;

	if (t->fn && !t->status_known) {
		long status = 0;

		sym.curl_easy_getinfo(t->h->curl, CURLINFO_RESPONSE_CODE, &status);
		t->streaming = status == 200;
		t->status_known = true;
	}
	if (t->len + len > t->limit || grow(t, t->len + len) < 0)
		return 0; /* CURLE_WRITE_ERROR */
	memcpy(t->buf + t->len, data, len);
	t->len += len;
	t->buf[t->len] = '\0';
	if (!t->streaming)
		return len;
	for (size_t i = 0; i < t->len; i++) {
		if (t->buf[i] != '\n')
			continue;
		if (i > start) {
			t->fn_result = t->fn(t->userdata, t->buf + start, i - start);
			if (t->fn_result)
				return 0;
		}
		start = i + 1;
	}
	memmove(t->buf, t->buf + start, t->len - start);
	t->len -= start;
	return len;
}

/*
 * Each header line of the reply. At the blank line that ends a final reply's headers the
 * status is known: a 200 stream is open, and its caller hears so at once (a NULL line),
 * before any event: a quiet watch is a working one.
 */
static size_t on_header(char *data, size_t one, size_t n, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = one * n;
	long status = 0;

	if (!t->fn || t->status_known || !(len == 2 && data[0] == '\r' && data[1] == '\n'))
		return len;
	sym.curl_easy_getinfo(t->h->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200)
		return len; /* an interim reply (100 Continue): the final one follows */
	t->streaming = status == 200;
	t->status_known = true;
	if (t->streaming) {
		t->fn_result = t->fn(t->userdata, NULL, 0);
		if (t->fn_result)
			return 0; /* ends the transfer (CURLE_WRITE_ERROR) */
	}
	return len;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct kube_http *h = userdata;

	return h->stop && atomic_load(h->stop) ? 1 : 0;
}

static int setup(struct kube_http *h, const char *path, struct curl_slist **headers,
		 struct transfer *t, char *why, size_t size)
{
	const struct kube_config *c = h->cfg;
	CURL *curl = h->curl;
	char token[TOKEN_MAX], hdr[TOKEN_MAX + 32];
	_cleanup_free_ char *url = NULL;
	struct curl_blob blob;
	int r;

	r = read_token(c, token, sizeof(token));
	if (r < 0) {
		snprintf(why, size, "%s: cannot read the token: %s", c->token_file, strerror(-r));
		return r;
	}
	if (asprintf(&url, "%s%s", c->server, path) < 0) {
		url = NULL;
		return -ENOMEM;
	}
	sym.curl_easy_reset(curl);
	*headers = sym.curl_slist_append(NULL, "Accept: application/json");
	if (*headers && token[0]) {
		struct curl_slist *n;

		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		n = sym.curl_slist_append(*headers, hdr);
		if (!n)
			return -ENOMEM;
		*headers = n;
	}
	explicit_bzero(token, sizeof(token));
	explicit_bzero(hdr, sizeof(hdr));
	if (!*headers)
		return -ENOMEM;
	sym.curl_easy_setopt(curl, CURLOPT_URL, url);
	sym.curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
	sym.curl_easy_setopt(curl, CURLOPT_USERAGENT, "mdevd");
	sym.curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	sym.curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	sym.curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_SEC);
	sym.curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	sym.curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 30L);
	sym.curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 15L);
	sym.curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	sym.curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
	sym.curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	sym.curl_easy_setopt(curl, CURLOPT_HEADERDATA, t);
	sym.curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	sym.curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	sym.curl_easy_setopt(curl, CURLOPT_XFERINFODATA, h);
	if (c->insecure) {
		sym.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
		sym.curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->ca_data) {
		blob = (struct curl_blob){c->ca_data, c->ca_len, CURL_BLOB_COPY};
		sym.curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file) {
		sym.curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert_data) {
		blob = (struct curl_blob){c->cert_data, c->cert_len, CURL_BLOB_COPY};
		sym.curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
		sym.curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cert_file) {
		sym.curl_easy_setopt(curl, CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key_data) {
		blob = (struct curl_blob){c->key_data, c->key_len, CURL_BLOB_COPY};
		sym.curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
		sym.curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->key_file) {
		sym.curl_easy_setopt(curl, CURLOPT_SSLKEY, c->key_file);
	}
	return 0;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

static int perform(struct kube_http *h, struct transfer *t, long *status, char *why, size_t size)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	sym.curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = sym.curl_easy_perform(h->curl);
	*status = 0;
	sym.curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
	if (rc == CURLE_WRITE_ERROR && t->fn_result)
		return t->fn_result;
	if (rc == CURLE_WRITE_ERROR && t->len + 1 > t->limit) {
		snprintf(why, size, "the reply is larger than %zu bytes", t->limit);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		snprintf(why, size, "%s", errbuf[0] ? errbuf : sym.curl_easy_strerror(rc));
		if (h->stop && atomic_load(h->stop))
			return -ECANCELED;
		return curl_errno(rc);
	}
	return 0;
}

/* One request with the whole reply into @body: a GET (@data NULL) or @method with @data. */
static int request(struct kube_http *h, const char *method, const char *path,
		   const char *content_type, const char *data, unsigned int timeout_ms, char **body,
		   size_t *len, long *status, char *why, size_t size)
{
	struct transfer t = {.h = h, .limit = REPLY_MAX};
	struct curl_slist *headers = NULL;
	char ct[128];
	int r;

	r = setup(h, path, &headers, &t, why, size);
	if (r == 0 && data) {
		struct curl_slist *n;

		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		n = sym.curl_slist_append(headers, ct);
		if (n) {
			headers = n;
			sym.curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
			sym.curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
			sym.curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, data);
			sym.curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		sym.curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
		r = perform(h, &t, status, why, size);
	}
	sym.curl_slist_free_all(headers);
	if (r == 0 && !t.buf)
		r = grow(&t, 0);
	if (r < 0) {
		free(t.buf);
		return r;
	}
	t.buf[t.len] = '\0';
	*body = t.buf;
	*len = t.len;
	return 0;
}

int kube_http_get(struct kube_http *h, const char *path, unsigned int timeout_ms, char **body,
		  size_t *len, long *status, char *why, size_t size)
{
	return request(h, NULL, path, NULL, NULL, timeout_ms, body, len, status, why, size);
}

int kube_http_send(struct kube_http *h, const char *method, const char *path,
		   const char *content_type, const char *data, unsigned int timeout_ms, char **body,
		   size_t *len, long *status, char *why, size_t size)
{
	return request(h, method, path, content_type, data, timeout_ms, body, len, status, why,
		       size);
}

int kube_http_stream(struct kube_http *h, const char *path, unsigned int idle_sec, kube_line_fn fn,
		     void *userdata, long *status, char *why, size_t size)
{
	struct transfer t = {.h = h, .limit = LINE_MAX_BYTES, .fn = fn, .userdata = userdata};
	struct curl_slist *headers = NULL;
	int r;

	r = setup(h, path, &headers, &t, why, size);
	if (r == 0) {
		/* Bookmarks arrive about once a minute: silence beyond @idle_sec is a dead peer. */
		sym.curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		sym.curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, (long)idle_sec);
		r = perform(h, &t, status, why, size);
	}
	sym.curl_slist_free_all(headers);
	if (r == 0 && *status != 200) {
		char msg[512] = "";

		if (t.buf)
			kube_status_message(t.buf, t.len, msg, sizeof(msg));
		snprintf(why, size, "%s", msg[0] ? msg : "no message");
	}
	free(t.buf);
	return r;
}
