/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * status_socket: how `mdevd status` asks the running daemon what it serves and why.
 *
 * The daemon listens on a unix stream socket (mode 0600: root's only; default
 * STATUS_SOCKET_NAME in $RUNTIME_DIRECTORY, else STATUS_SOCKET_DIR). The event loop itself
 * accepts each connection and writes one JSON document (below), then closes it: there is
 * no request, and no thread. Because the loop answers, a reply also proves the loop is
 * live: `mdevd status --check` is the exec probe.
 *
 * The document (an object; stable keys, new keys may be added):
 *   "source": "daemon", "pid", "version", "started" (Unix seconds), "policy" (path),
 *   "generation", "shape", "ready" (bool), "not_ready" (why, or null),
 *   "last_reload": {"result": "none"|"ok"|"rejected", "error": string|null},
 *   "reconciles", "uevents", "metrics_address" (or null),
 *   "resources": [{"name", "kind", "external_resource_provider",
 *       "plugin": {"socket", "serving", "registered"} or null (no device plugins),
 *       "devices": [{"id", "health", "why" (kept unhealthy: why) or null}] (what kubelet
 *        is sent: the plugin's list; without plugins the pool's devices),
 *       "unserved": [{"id", "reason"}]}],
 *   "mdevs": [{"uuid", "parent", "type", "owned"}],
 *   "policy_source": "file"|"kubevirt"|"hyperconverged",
 *   "cluster": null, or {"api_server", "cr" ("namespace/name") or null, "cr_resource_version",
 *       "cr_watch" ("ok" or why it fails) or null, "node" or null, "node_watch" or null,
 *       "labels" ({k: v}) or null (unknown)},
 *   "mediated_device_types": [the types in force, after nodeMediatedDeviceTypes],
 *   "node_mediated_device_types": {"entries", "selected": [indexes]},
 *   "host_devices": [{"kind": "mdev"|"pci", "selector", "resource_name",
 *       "external_resource_provider", "served_by": "mdevd"|"virt-handler"}],
 *   "parents": [{"name", "types": [{"id", "name", "available_instances", "instances"}]}]
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/inventory.h"
#include "mdevd/resource.h"

#define STATUS_SOCKET_DIR  "/run/mdevd"
#define STATUS_SOCKET_NAME "status.sock"
/* The longest document a client accepts. */
#define STATUS_REPLY_MAX (64u << 20)

struct dp_manager;
struct policy;
struct pol_label;

/* What the daemon follows in the cluster; every pointer borrowed. */
struct status_cluster {
	const char *api_server;
	const char *cr, *cr_resource_version; /* NULL: no CR (watched or not) */
	const char *cr_watch;		      /* "ok", why it fails, or NULL: not watched */
	const char *node, *node_watch;	      /* likewise for the Node */
	const struct pol_label *labels;	      /* NULL with !labels_known */
	size_t n_labels;
	bool labels_known;
};

/* What the daemon shows; every pointer borrowed for the call. */
struct status_view {
	const char *version, *policy_path, *shape, *machine_id, *metrics_address;
	unsigned int generation;
	double started;
	bool ready;
	const char *not_ready; /* NULL when ready */
	const char *last_reload_result, *last_reload_error;
	unsigned long reconciles, uevents;
	const struct inventory *inv;	      /* may be NULL (the node was never read) */
	const struct resource_set *set;	      /* may be NULL */
	struct dp_manager *dp;		      /* NULL: no device plugins */
	const struct policy *pol;	      /* the policy in force */
	const char *policy_source;	      /* "file", "kubevirt", "hyperconverged" */
	const struct status_cluster *cluster; /* NULL: not following a cluster */
};

/*
 * status_socket_default_path - the default socket path into @buf: $RUNTIME_DIRECTORY's
 * first entry (systemd RuntimeDirectory=) + "/" STATUS_SOCKET_NAME, else
 * STATUS_SOCKET_DIR "/" STATUS_SOCKET_NAME. Returns 0 or -ENAMETOOLONG.
 */
int status_socket_default_path(char *buf, size_t size);

/*
 * status_socket_listen - listen on @path (mode 0600; its directory is made 0755 when
 * missing). A stale socket there (nobody answers) is replaced; one a daemon answers on is
 * not: -EADDRINUSE. @out: the listening fd (non-blocking, close-on-exec). Returns 0,
 * -ENAMETOOLONG, -EADDRINUSE or -errno.
 */
int status_socket_listen(const char *path, int *out);

/*
 * status_socket_serve - accept every pending connection on @fd and write @v to each (a
 * client that does not read within a second is dropped). Returns the number answered,
 * or -ENOMEM (nothing written).
 */
int status_socket_serve(int fd, const struct status_view *v);

/*
 * status_socket_query - connect to @path and read the daemon's document, waiting up to
 * @timeout_msec in all. @out: a new NUL-terminated string (free()). Returns 0, -ENOENT or
 * -ECONNREFUSED (no daemon listens there), -ETIMEDOUT (it did not answer in time: the loop
 * is stuck), -EMSGSIZE, or -errno.
 */
int status_socket_query(const char *path, unsigned int timeout_msec, char **out);
