/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp: the Kubernetes device-plugin endpoints (v1beta1), one per resource pool.
 *
 * Threads: the daemon's main thread owns the manager and makes every dp_manager_*()
 * call. gRPC's threads stay inside the gRPC adapter (deviceplugin_grpc.c); its one
 * completion-queue thread answers kubelet's calls from each plugin's own state (the
 * device list, the IDs handed out by Allocate), which the plugin guards with its own
 * lock. Nothing here calls back into the daemon, so the event loop needs no eventfd for
 * the plugins: it only tells the manager what changed. Block SIGTERM/SIGINT/SIGHUP (and
 * whatever the loop reads through signalfd) before dp_manager_new(): it calls grpc_init(),
 * whose threads inherit the mask.
 *
 * The contract kubelet sees (DESIGN.md "Kubernetes device-plugin contract"):
 *   - socket <plugin_dir>/mdevd-<resource name, '/' -> '_'>.sock, or
 *     mdevd-<64-bit FNV-1a of the name, hex>.sock when that path would not fit 108 bytes;
 *   - serve first, then Register on <plugin_dir>/kubelet.sock (version "v1beta1",
 *     endpoint = the socket's basename, options below); a failed Register is retried with
 *     backoff (100 ms doubling to 10 s);
 *   - GetDevicePluginOptions: get_preferred_allocation_available = true,
 *     pre_start_required = false; PreStartContainer accepted and does nothing;
 *   - ListAndWatch: the full list on connect and again after every change. IDs are PCI
 *     addresses or mdev UUIDs; topology is the NUMA node, left out when unknown (-1). A
 *     listed device that leaves the pool's devices stays listed as "Unhealthy" (with its
 *     last NUMA node) while either holds:
 *       - it is in the new pool's unserved list: still on the node and matching the
 *         selector, but not usable (a PCI function unbound from vfio-pci or on another
 *         driver, or now served by another pool): kubelet sees it fail rather than vanish;
 *       - Allocate handed it out: kubelet's checkpoint still maps a pod to it.
 *     It turns "Healthy" again when it is back in the pool. A device that is gone from the
 *     node (neither in the pool nor unserved: mdev removed, parent unregistered, PCI
 *     function hot-removed) and was never allocated vanishes from the list. A device that
 *     was never listed is not added because it is unserved;
 *   - Allocate: exactly the requested devices, in request order: env
 *     PCI_RESOURCE_<NAME> / MDEV_PCI_RESOURCE_<NAME> = the IDs joined with ',', device
 *     specs /dev/vfio/vfio, then per device /dev/vfio/<group> (each group once) and, where
 *     the kernel has iommufd (/dev/iommu exists and the device has a vfio-dev/vfioN cdev in
 *     sysfs), /dev/vfio/devices/vfioN, then /dev/iommu; all "mrw", host path = container
 *     path. An ID the plugin does not list: INVALID_ARGUMENT naming it; a listed but
 *     Unhealthy ID: FAILED_PRECONDITION naming it and why ("bound to no driver, not
 *     vfio-pci", "it left the pool", "no IOMMU group"): the device exists, its state
 *     forbids the allocation; an ID twice in one container request, or more than 4096 IDs
 *     in one (Allocate or GetPreferredAllocation): INVALID_ARGUMENT;
 *   - GetPreferredAllocation (per container request, deterministic whatever the order of
 *     the available IDs): the must-include IDs first, as given; then from the other
 *     available healthy IDs, those on the target NUMA node first (the node most of the
 *     must-include devices are on; without any, the node with the fewest available devices
 *     that still has enough for the request, else the one with the most), then those on a
 *     card that a must-include device sits on, then packed onto the fewest cards (cards
 *     with more available devices first), ties broken by card name, then ID. A card is
 *     resource_device.card: the PF of an SR-IOV VF parent or function, else the mdev's
 *     parent or the PCI function itself. IDs the plugin does not know come last;
 *   - a malformed request message: INVALID_ARGUMENT; the plugin keeps serving;
 *   - shutdown, and a pool that disappears: every ListAndWatch stream gets an empty list
 *     and ends with OK, then the socket is removed.
 *
 * Source of truth: k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1 (api.proto,
 * constants.go) and KubeVirt's env-var contract for external providers (DESIGN.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kubernetes/deviceplugin_grpc.h"
#include "mdevd/resource.h"

#define DP_API_VERSION	   "v1beta1"
#define DP_KUBELET_SOCKET  "kubelet.sock"
#define DP_DEFAULT_DIR	   "/var/lib/kubelet/device-plugins"
#define DP_SOCKET_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path), with the NUL */

struct dp_manager;

/*
 * dp_manager_new - prepare to serve plugins under @plugin_dir (kubelet.sock lives
 * there). @sysfs_fd: the sysfs root (borrowed; duplicated), read for each device's
 * vfio-dev/vfioN entry. Starts the gRPC adapter's thread; serves nothing until
 * dp_manager_update(). Returns 0, -ENOMEM, or -errno.
 */
int dp_manager_new(const char *plugin_dir, int sysfs_fd, struct dp_manager **out);

/*
 * dp_manager_update - make the served plugins match @set: a new pool starts a
 * plugin (serve, then Register with kubelet), a pool that is gone sends an empty
 * list and stops, a changed pool sends its new full list to every ListAndWatch
 * stream. The manager copies what it needs from @set. A plugin that cannot start is
 * logged and left out (the others still serve); the first such error is returned after
 * everything else was done. Returns 0 or -errno.
 */
int dp_manager_update(struct dp_manager *m, const struct resource_set *set);

/*
 * dp_manager_kubelet_restarted - kubelet deleted our sockets and re-created
 * kubelet.sock: serve again on new sockets and register again, at once (no backoff).
 * Call it when kubelet.sock appears (inotify IN_CREATE / IN_MOVED_TO on the plugin dir).
 * Returns 0 or -errno (the first failure; the other plugins are still restarted).
 */
int dp_manager_kubelet_restarted(struct dp_manager *m);

/*
 * dp_manager_registered - how many plugins are served, in @n_plugins, and how many
 * of them kubelet accepted, in @n_registered. For status output and tests.
 */
void dp_manager_registered(struct dp_manager *m, size_t *n_plugins, size_t *n_registered);

/*
 * dp_manager_set_metrics - count every plugin's Allocate and GetPreferredAllocation calls,
 * registrations and served state in @metrics (borrowed; it must outlive @m; NULL: stop
 * counting for plugins started after this call). Call it before the first update.
 */
struct metrics;
void dp_manager_set_metrics(struct dp_manager *m, struct metrics *metrics);

/* What one served plugin is, for the status socket and metrics snapshot. */
struct dp_plugin_info {
	const char *name;	       /* resource name (borrowed from the manager) */
	const char *socket;	       /* its socket's path (borrowed) */
	bool serving;		       /* the gRPC endpoint is up */
	bool registered;	       /* kubelet accepted its last Register call */
	size_t n_healthy, n_unhealthy; /* what ListAndWatch lists */
};

/* dp_manager_n_plugins - how many plugins the manager keeps (served or failed to serve). */
size_t dp_manager_n_plugins(struct dp_manager *m);

/*
 * dp_manager_plugin - the @i-th plugin (0 <= @i < dp_manager_n_plugins(), sorted by name)
 * into @out, and when @each is not NULL, calls it for every device ListAndWatch lists
 * (under the plugin's lock: @each must not call back here): its ID, health and, for an
 * unhealthy device kept listed, why (else NULL). Main thread. Returns 0 or -ENOENT.
 */
int dp_manager_plugin(struct dp_manager *m, size_t i, struct dp_plugin_info *out,
		      void (*each)(void *userdata, const char *id, bool healthy, const char *why),
		      void *userdata);

/*
 * dp_manager_allocated - every device ID that Allocate handed to kubelet since the plugins
 * started, across plugins (mdev UUIDs, PCI addresses). kubelet never says when a pod lets
 * go, so an allocated device stays allocated while this process serves it; the applier
 * never removes or frees one (an "unreleased Allocate"). @ids: set to a new array of @n new
 * strings (free each, then the array); NULL when none. Returns 0 or -ENOMEM.
 */
int dp_manager_allocated(struct dp_manager *m, char ***ids, size_t *n);

/* dp_manager_free - send every stream an empty list, stop, remove our sockets. NULL: no-op. */
void dp_manager_free(struct dp_manager *m);

/*
 * dp_socket_name - the socket basename for @resource_name in @plugin_dir (see above).
 * Writes to @buf (NUL-terminated). Returns 0 or -ENAMETOOLONG when even the hashed name
 * does not fit DP_SOCKET_PATH_MAX with @plugin_dir.
 */
int dp_socket_name(const char *plugin_dir, const char *resource_name, char *buf, size_t size);

/*
 * The plugin logic without transport: what one endpoint answers. The manager gives one to
 * each endpoint as its handler; the unit tests drive it directly with packed requests.
 * Every call is safe from any thread (the plugin locks itself).
 */
struct dp_plugin;

/* dp_plugin_new - a plugin for @resource_name of @kind, listing nothing yet. NULL on ENOMEM. */
struct dp_plugin *dp_plugin_new(const char *resource_name, enum resource_kind kind);

/*
 * dp_plugin_set_pool - the plugin's devices become @pool's, plus the listed devices that
 * left and are kept as unhealthy (see ListAndWatch above; NULL: none, nothing kept either:
 * the plugin is stopping). For
 * each device, @sysfs_fd (borrowed; -1: skip) is read for its vfio-dev/vfioN cdev;
 * @iommufd says whether /dev/iommu exists. Returns 1 when the ListAndWatch list changed,
 * 0 when not, or -ENOMEM (the plugin keeps its old list).
 */
int dp_plugin_set_pool(struct dp_plugin *p, const struct resource_pool *pool, int sysfs_fd,
		       bool iommufd);

/* dp_plugin_call - answer a unary @rpc; dp_grpc_handler.call. @reply comes zeroed. */
void dp_plugin_call(struct dp_plugin *p, enum dp_rpc rpc, const uint8_t *req, size_t len,
		    struct dp_reply *reply);

/* dp_plugin_list - the current ListAndWatchResponse; dp_grpc_handler.list. 0 or -ENOMEM. */
int dp_plugin_list(struct dp_plugin *p, struct dp_bytes *out);

/* dp_plugin_register_request - the packed RegisterRequest for @endpoint. 0 or -ENOMEM. */
int dp_plugin_register_request(struct dp_plugin *p, const char *endpoint, struct dp_bytes *out);

/*
 * dp_plugin_set_metrics - count this plugin's Allocate and GetPreferredAllocation calls
 * (result and latency) in @r (borrowed; NULL: stop). Before the plugin is served.
 */
struct metrics_resource;
void dp_plugin_set_metrics(struct dp_plugin *p, struct metrics_resource *r);

void dp_plugin_free(struct dp_plugin *p);
