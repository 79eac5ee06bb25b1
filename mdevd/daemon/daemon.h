/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * daemon: `mdevd run`, the node service. One thread runs one epoll loop over
 *
 *   signalfd   SIGTERM, SIGINT: clean shutdown; SIGHUP: reload the policy
 *   inotify    the policy file's directory (editors and Kubernetes ConfigMaps replace
 *              the file by rename, so the file itself is not watched), and the
 *              device-plugin directory, where kubelet re-creates kubelet.sock when it
 *              restarts
 *   netlink    kernel uevents (uevent.h): mdevs, parents, PCI functions, VFIO groups
 *   timerfd    the reconcile timer (events coalesce: see DAEMON_SETTLE_MSEC), the
 *              safety-net resync, the systemd watchdog
 *   unix socket the status socket (status_socket.h): each client gets one JSON document
 *   eventfd    with --metrics-address: /livez's ping from the HTTP thread (metrics.h)
 *   eventfd    following the cluster: the CR's and the Node's watch threads
 *              (kubernetes/kube_watch.h); a change of the CR's spec or of the node's labels
 *              reloads the policy as a file edit does
 *
 * The device plugins' gRPC thread never calls back into the loop (deviceplugin.h), so there is no
 * eventfd: the loop only tells the manager what changed.
 * and does no polling: between events it sleeps in epoll_wait(2) with no timeout.
 *
 * A reconcile is: apply the policy (apply.h; skipped with --no-apply, or when the policy has
 * no layouts and no mediatedDeviceTypes) -> a fresh inventory -> resource_build() ->
 * dp_manager_update(). After uevents it reads only what they can have changed (mdev events:
 * the parents' types and the mdevs, the PCI functions reused from the last snapshot) and
 * serves that before it applies. A step that fails is logged and the daemon keeps serving
 * the last good state. A new policy
 * that does not parse, or does not fit the node, is logged with its JSON path and the
 * last good one keeps running.
 *
 * The daemon's state lives in one context struct on daemon_run()'s stack; the policy
 * is part of a const config that a reload swaps whole.
 */
#pragma once

#include <stdbool.h>

/* Where the KubeVirt sections of the policy come from (--policy-source). */
enum daemon_policy_source {
	DAEMON_POLICY_FILE,	      /* --policy FILE, followed by inotify and SIGHUP */
	DAEMON_POLICY_KUBEVIRT,	      /* the cluster's KubeVirt CR: spec.configuration */
	DAEMON_POLICY_HYPERCONVERGED, /* the cluster's HyperConverged CR: spec */
};

/* The annotation of the CR that may carry the mdevd section (a bare policy document). */
#define DAEMON_MDEVD_ANNOTATION "mdevd/policy"

struct daemon_options {
	const char *sysfs_root; /* sysfs root path ("/sys"); borrowed */
	const char *proc_root;	/* proc root path, for in-use detection ("/proc"); borrowed */
	const char *machine_id; /* 32 hex digits; may be NULL with no_apply; borrowed */
	/* The policy file; borrowed. With a CR source it gives only the mdevd section, and may
	 * be NULL (then the CR's DAEMON_MDEVD_ANNOTATION does, or there is none). */
	const char *policy_path;
	/*
	 * Following the cluster (kube_watch.h). @policy_source: the CR to watch, or the file.
	 * @kubeconfig: how to reach the API server; NULL: the pod's service account.
	 * @node_name: the Node whose labels select nodeMediatedDeviceTypes entries (watched);
	 * NULL: none. @node_labels: fixed labels instead ("k=v,..."; outside Kubernetes).
	 * The API server is used when the source is a CR or @node_name is set.
	 * @watch_timeout_sec: each watch request's timeoutSeconds (0: 300-600 s; tests).
	 */
	enum daemon_policy_source policy_source;
	const char *kubeconfig;
	const char *node_name;
	const char *node_labels;
	unsigned int watch_timeout_sec;
	const char *plugin_dir;	 /* kubelet's device-plugin dir; NULL: no device plugins */
	unsigned int resync_sec; /* safety-net full reconcile period; 0: none */
	bool no_apply;		 /* only observe and serve: create and remove no mdevs */
	/*
	 * libvirt, asked before each apply which mdevs its domains name (in use / reserved):
	 * @libvirt_uri, or NULL for qemu:///system when its socket exists; @no_libvirt: never.
	 */
	const char *libvirt_uri;
	bool no_libvirt;
	/*
	 * Observability (metrics.h, status_socket.h). @metrics_address: serve /metrics,
	 * /readyz and /livez there ("HOST:PORT"); NULL: no HTTP server, no thread. @status_socket:
	 * the status socket's path; NULL: none. @live_timeout_sec: how long /livez waits for the
	 * loop. @version: for mdevd_build_info and the status document.
	 */
	const char *metrics_address;
	const char *status_socket;
	bool status_socket_optional; /* the default path: cannot listen -> warn, serve without */
	unsigned int live_timeout_sec;
	const char *version;
	/* Tests only: SIGUSR2 stalls the event loop for this many seconds (0: SIGUSR2 not read). */
	unsigned int debug_stall_sec;
	/*
	 * vfio-pci bindings (apply/vfio_apply.h): applied once before any device plugin is
	 * registered, then on a worker thread on every full reconcile, so a blocking unbind
	 * never stalls the loop. NULL paths: the defaults; @dev_root NULL: "/dev".
	 */
	const char *dev_root;
	const char *vfio_state_path;
	const char *udev_rules_path;
	unsigned int bind_timeout_ms; /* 0: PCI_BIND_TIMEOUT_MS */
};

/*
 * Coalescing. The first uevent after a quiet period gets a reconcile DAEMON_SETTLE_MSEC later
 * (the kernel sends the events of one mdev create within 1-2 ms, tests/vm), or at once for
 * the last event of a change (uevent_ends_change()); everything that arrives before it runs,
 * or while it runs, goes into one more reconcile, no sooner than DAEMON_SETTLE_MSEC after the
 * last one ended. The policy file: one reload DAEMON_SETTLE_MSEC after it was closed or
 * renamed into place (DAEMON_DEBOUNCE_MSEC after it was created: its writer may still be
 * at it), then at most one per DAEMON_DEBOUNCE_MSEC for the rest of a burst.
 */
#define DAEMON_SETTLE_MSEC   5
#define DAEMON_DEBOUNCE_MSEC 50
/* A read that found an entry half-made (an mdev without its mdev_type link yet) looks again. */
#define DAEMON_RETRY_MSEC 10
#define DAEMON_RETRY_MAX  3
/* Default of --resync. */
#define DAEMON_RESYNC_SEC_DEFAULT 300
/* Default of --live-timeout: /livez fails when the loop does not answer within it. */
#define DAEMON_LIVE_TIMEOUT_SEC_DEFAULT 10

/*
 * daemon_run - run the service until SIGTERM or SIGINT.
 * Blocks SIGTERM, SIGINT and SIGHUP (they are read from a signalfd) and ignores
 * SIGPIPE for the whole process: call it before any thread is started.
 * Returns 0 after a clean shutdown, or -errno when the service cannot start (the
 * policy cannot be read or parsed, the sysfs root cannot be opened, the event fds
 * cannot be made, the device-plugin manager fails); the reason is logged.
 */
int daemon_run(const struct daemon_options *o);
