/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The metrics HTTP server: libmicrohttpd, the only file that includes <microhttpd.h>,
 * dlopen()ed on first use (util/dlopen.h). We make and bind the listening socket (clear
 * errors, port 0) and hand it over with MHD_OPTION_LISTEN_SOCKET; libmicrohttpd's internal
 * thread blocks in epoll_wait(2) on it with no timeout while no client is connected, so an
 * idle server costs no wakeups. Each request is answered from metrics.h calls only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon/metrics.h"
#include "mdevd/macro.h"
#include "util/dlopen.h"

#define EXPOSITION_TYPE		"text/plain; version=0.0.4; charset=utf-8"
#define HTTP_CONNECTION_LIMIT	16
#define HTTP_CONNECTION_TIMEOUT 10 /* seconds an idle client may hold a connection */

static struct {
	DLSYM_TYPE(MHD_start_daemon) MHD_start_daemon;
	DLSYM_TYPE(MHD_stop_daemon) MHD_stop_daemon;
	DLSYM_TYPE(MHD_create_response_from_buffer) MHD_create_response_from_buffer;
	DLSYM_TYPE(MHD_add_response_header) MHD_add_response_header;
	DLSYM_TYPE(MHD_queue_response) MHD_queue_response;
	DLSYM_TYPE(MHD_destroy_response) MHD_destroy_response;
} sym;
static int sym_result;
static pthread_once_t sym_once = PTHREAD_ONCE_INIT;

static void load_symbols(void)
{
	void *dl;

	sym_result = dlopen_symbols(
		&dl, SONAME_MICROHTTPD, DLSYM_ARG(sym, MHD_start_daemon),
		DLSYM_ARG(sym, MHD_stop_daemon), DLSYM_ARG(sym, MHD_create_response_from_buffer),
		DLSYM_ARG(sym, MHD_add_response_header), DLSYM_ARG(sym, MHD_queue_response),
		DLSYM_ARG(sym, MHD_destroy_response), NULL);
}

struct metrics_http {
	struct MHD_Daemon *mhd;
	struct metrics *m;
	int fd;
};

int metrics_parse_address(const char *address, struct sockaddr_storage *ss, unsigned int *len)
{
	const char *colon = strrchr(address, ':');
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long port;
	size_t hl;
	char *end;

	if (!colon || !colon[1])
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	hl = (size_t)(colon - address);
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, address, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (hl < 3 || host[hl - 1] != ']')
			return -EINVAL;
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	if (hl == 0)
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	*len = sizeof(*s4);
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, bool must_free)
{
	struct MHD_Response *resp = sym.MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	if (!resp) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	sym.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	r = sym.MHD_queue_response(c, status, resp);
	sym.MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)text, strlen(text), false);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct metrics_http *h = cls;
	char why[512], text[600];

	/* Called once for the headers, once more for each part of a body: answer at once. */
	if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (streq(url, "/metrics")) {
		char *body;
		size_t len;

		if (metrics_render(h->m, &body, &len) < 0)
			return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(c, MHD_HTTP_OK, EXPOSITION_TYPE, body, len, true);
	}
	if (streq(url, "/readyz")) {
		if (metrics_ready(h->m, why, sizeof(why)))
			return reply_text(c, MHD_HTTP_OK, "ready\n");
		snprintf(text, sizeof(text), "not ready: %s\n", why);
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	}
	if (streq(url, "/livez")) {
		if (metrics_live(h->m))
			return reply_text(c, MHD_HTTP_OK, "live\n");
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "not live: the event loop did not answer in time\n");
	}
	return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /readyz or /livez\n");
}

int metrics_http_start(struct metrics *m, const char *address, struct metrics_http **out,
		       unsigned int *port_out, char *why, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned int len;
	struct metrics_http *h;
	int one = 1, r;

	if (metrics_parse_address(address, &ss, &len) < 0) {
		snprintf(why, size,
			 "expected HOST:PORT (127.0.0.1:9478, [::1]:9478, or :9478 for every "
			 "address)");
		return -EINVAL;
	}
	pthread_once(&sym_once, load_symbols);
	if (sym_result < 0) {
		snprintf(why, size,
			 "cannot load libmicrohttpd (" SONAME_MICROHTTPD
			 ", package libmicrohttpd12): %s",
			 dlopen_error());
		return sym_result;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->m = m;
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->fd < 0)
		goto fail_errno;
	setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->fd, (struct sockaddr *)&ss, len) < 0 || listen(h->fd, 64) < 0)
		goto fail_errno;
	sl = sizeof(ss);
	if (port_out && getsockname(h->fd, (struct sockaddr *)&ss, &sl) == 0)
		*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
	h->mhd = sym.MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
					      (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				      0, NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, h->fd,
				      MHD_OPTION_CONNECTION_LIMIT,
				      (unsigned int)HTTP_CONNECTION_LIMIT,
				      MHD_OPTION_CONNECTION_TIMEOUT,
				      (unsigned int)HTTP_CONNECTION_TIMEOUT, MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(why, size, "libmicrohttpd cannot start its server thread");
		close(h->fd);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
fail_errno:
	r = -errno;
	snprintf(why, size, "%s", strerror(-r));
	if (h->fd >= 0)
		close(h->fd);
	free(h);
	return r;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	sym.MHD_stop_daemon(h->mhd); /* closes the listening socket it was given, too */
	free(h);
}
