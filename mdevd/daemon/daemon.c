/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node service's event loop and reconcile; see daemon.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/cli_common.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "daemon/status_socket.h"
#include "daemon/vfio_worker.h"
#include "cli/doctor.h"
#include "kubernetes/deviceplugin.h"
#include "kubernetes/kube_recorder.h"
#include "kubernetes/kube_watch.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"
#include "daemon/sdnotify.h"
#include "node/sysfs.h"
#include "node/uevent.h"
#include "libvirt/libvirt_client.h"

/* Kubernetes ConfigMap volumes swap a "..data" symlink to update every key at once. */
#define CONFIGMAP_DATA "..data"
static const double reconcile_bounds[] = METRICS_RECONCILE_BUCKETS;
/* Apply again after a round with failures no sooner than this, doubling up to the max. */
#define APPLY_BACKOFF_MIN_SEC 1
#define APPLY_BACKOFF_MAX_SEC 60

/* What an epoll event's data says is ready. */
enum source {
	SOURCE_SIGNAL,
	SOURCE_INOTIFY,
	SOURCE_UEVENT,
	SOURCE_TIMER,
	SOURCE_RESYNC,
	SOURCE_WATCHDOG,
	SOURCE_STATUS,
	SOURCE_PING,
	SOURCE_VFIO,	  /* the vfio-pci worker ended a pass (vfio_worker.h) */
	SOURCE_KUBE_CR,	  /* the KubeVirt / HyperConverged CR watch (kube_watch.h) */
	SOURCE_KUBE_NODE, /* the Node watch: its labels */
};

/* What a reload swaps whole: the loop only ever sees a const one. */
struct daemon_config {
	struct policy *policy;	 /* owned */
	unsigned int generation; /* 1 for the policy read at start, one more per reload */
};

struct daemon {
	const struct daemon_options *opt;
	const struct daemon_config *cfg;

	int sysfs_fd, proc_fd;
	int epoll_fd, signal_fd, inotify_fd, uevent_fd;
	int timer_fd, resync_fd, watchdog_fd;
	/* inotify watches; -1 when not watched */
	int policy_wd, plugin_wd, plugin_parent_wd;
	char *policy_dir, *policy_base;	   /* owned */
	char *plugin_parent, *plugin_base; /* owned; NULL without device plugins */

	struct dp_manager *dp; /* NULL with --no-device-plugins */
	/* vfio-pci bindings: passes run on their own thread (vfio_worker.h). */
	struct vfio_worker *vfio;
	struct vfio_apply_opts vfio_opts;
	struct vfio_worker_libvirt vfio_lv;
	int dev_fd;
	/* The last good state: what is served. @set borrows from @inv. */
	struct inventory *inv;
	struct resource_set *set;

	bool stop;
	bool reload_pending;
	enum uevent_scope pending;   /* what the next reconcile reads; NONE: none is pending */
	const char *pending_why;     /* static string: what first asked for it */
	unsigned int pending_events; /* requests coalesced into it */
	uint64_t timer_at;	     /* CLOCK_MONOTONIC usec the timer fires at; 0: unarmed */
	uint64_t last_end;	     /* when the last reconcile or reload ended; 0: none yet */
	uint64_t apply_not_before;
	unsigned int apply_backoff_sec;
	/* Entries a read in this reconcile found vanishing or half-made; looks again so often. */
	unsigned int vanished, vanished_retries;

	unsigned long reconciles, uevents;
	bool libvirt_unreachable; /* said once; said again when it comes back */

	/* Observability: NULL / -1 when off. */
	struct metrics *metrics;
	struct metrics_http *http;
	int status_fd;
	bool policy_applied;	 /* the policy in force went through one apply reconcile */
	const char *last_reload; /* "none", "ok", "rejected" */
	char last_reload_error[POL_PATH_MAX + POL_ERROR_MAX +
			       4]; /* why the last reload was rejected */
	double started;		   /* CLOCK_REALTIME seconds */
	char uevent_buf[UEVENT_MSG_MAX];

	/* What the policy in force (or the one being read) came from, for messages. */
	char src_name[320];
	/* Following the cluster: NULL / empty when not (kube_watch.h). */
	struct kube_config *kcfg;
	struct kube_watch *cr_watch, *node_watch;
	struct kube_watch_state cr, node; /* the last copies taken */
	char *cr_digest, *node_digest;	  /* what the last reload read of each */
	/* This node's labels: --node-labels, or the watched Node's. */
	struct pol_label *labels;
	size_t n_labels;
	bool labels_known;
	/*
	 * Events on the Node (kube_recorder.h): NULL without API access or a node name. What
	 * was reported, so that only a change is: the devices kubelet is listed Unhealthy
	 * ("resource\tid"), the mdevs the last apply kept against the policy (UUIDs).
	 */
	struct kube_recorder *recorder;
	char **unhealthy, **kept;
	size_t n_unhealthy, n_kept;
	/* No policy from the cluster yet: an empty one runs; nothing is applied or served. */
	bool awaiting;
	bool said_no_cr, said_many_crs, said_no_node, said_no_labels, said_no_plugin_dir;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The main thread's counters, or NULL without --metrics-address. */
static struct metrics_counters *counters(const struct daemon *d)
{
	return d->metrics ? metrics_counters(d->metrics) : NULL;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool strv_has(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i], s))
			return true;
	return false;
}

/* Append a copy of @s to @v (a failure only loses it: an Event may be reported again). */
static void strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = reallocarray(*v, *n + 1, sizeof(**v));

	if (!nv)
		return;
	*v = nv;
	nv[*n] = strdup(s);
	if (nv[*n])
		(*n)++;
}

/* What one apply kept against the policy, reported as it is found (apply_options.on_kept). */
struct kept_report {
	struct daemon *d;
	char **now;
	size_t n_now;
};

static void on_kept(void *data, const struct plan_action *a, const char *why)
{
	struct kept_report *k = data;

	if (a->reason != PLAN_REASON_IN_USE)
		return; /* reserved by a defined domain: said in the log, not an Event */
	strv_add(&k->now, &k->n_now, a->uuid);
	if (!strv_has(k->d->kept, k->d->n_kept, a->uuid))
		kube_recorder_event(k->d->recorder, KUBE_EVENTS_WARNING,
				    KUBE_REASON_MDEV_KEPT_IN_USE,
				    "mdev %s (%s on %s) kept against the policy: %s", a->uuid,
				    a->type_id, a->parent, why);
}

/* The vfio-pci worker refused a binding (its thread; the recorder is thread-safe). */
static void on_refusal(void *data, const char *address, bool host_owned, const char *reason)
{
	kube_recorder_event(data, KUBE_EVENTS_WARNING,
			    host_owned ? KUBE_REASON_HOST_OWNED_REFUSED : KUBE_REASON_VFIO_REFUSED,
			    "%s not bound to vfio-pci: %s", address, reason);
}

/* What kubelet is listed Unhealthy, from each plugin's ListAndWatch list. */
struct unhealthy_report {
	struct daemon *d;
	const char *resource;
	char **now;
	size_t n_now;
};

static void on_device(void *data, const char *id, bool healthy, const char *why)
{
	struct unhealthy_report *u = data;
	char key[512];

	if (healthy)
		return;
	snprintf(key, sizeof(key), "%s\t%s", u->resource, id);
	strv_add(&u->now, &u->n_now, key);
	if (!strv_has(u->d->unhealthy, u->d->n_unhealthy, key))
		kube_recorder_event(u->d->recorder, KUBE_EVENTS_WARNING,
				    KUBE_REASON_DEVICE_UNHEALTHY,
				    "device %s of resource %s is Unhealthy: %s", id, u->resource,
				    why ? why : "it has no IOMMU group");
}

/* After the plugins were updated: an Event for each device that turned Unhealthy. */
static void report_unhealthy(struct daemon *d)
{
	struct unhealthy_report u = {.d = d};
	struct dp_plugin_info info;

	if (!d->recorder || !d->dp)
		return;
	for (size_t i = 0; dp_manager_plugin(d->dp, i, &info, NULL, NULL) == 0; i++) {
		u.resource = info.name;
		(void)dp_manager_plugin(d->dp, i, &info, on_device, &u);
	}
	strv_free(d->unhealthy, d->n_unhealthy);
	d->unhealthy = u.now;
	d->n_unhealthy = u.n_now;
}

static void config_free(const struct daemon_config *cfg)
{
	if (!cfg)
		return;
	policy_free(cfg->policy);
	free((void *)cfg);
}

/* A new config that owns @pol on success. Returns 0 or -ENOMEM. */
static int config_new(struct policy **pol, unsigned int generation,
		      const struct daemon_config **out)
{
	struct daemon_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->policy = steal_ptr(*pol);
	cfg->generation = generation;
	*out = cfg;
	return 0;
}

/*
 * Split @path into its directory and its last component (both new strings); trailing
 * slashes are ignored. Returns 0, -EINVAL (no last component: "/") or -ENOMEM.
 */
static int split_path(const char *path, char **dir, char **base)
{
	_cleanup_free_ char *p = strdup(path), *d = NULL, *b = NULL;
	const char *slash;
	size_t n;

	if (!p)
		return -ENOMEM;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	slash = strrchr(p, '/');
	if (!slash) {
		d = strdup(".");
		b = strdup(p);
	} else {
		d = slash == p ? strdup("/") : strndup(p, (size_t)(slash - p));
		b = strdup(slash + 1);
	}
	if (!d || !b)
		return -ENOMEM;
	if (!*b)
		return -EINVAL;
	*dir = steal_ptr(d);
	*base = steal_ptr(b);
	return 0;
}

static int epoll_add(struct daemon *d, int fd, enum source src)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = src};

	return epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int timer_set(int fd, uint64_t first_usec, uint64_t interval_usec)
{
	struct itimerspec its = {
		.it_value = {(time_t)(first_usec / 1000000u), (long)(first_usec % 1000000u) * 1000},
		.it_interval = {(time_t)(interval_usec / 1000000u),
				(long)(interval_usec % 1000000u) * 1000},
	};

	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* Drain a timerfd's expiry counter. */
static void drain_counter(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

/*
 * Fire the timer in @delay_usec, but no sooner than @gap_usec after the last reconcile
 * ended; or earlier if it is already due earlier.
 */
static void arm_timer(struct daemon *d, uint64_t delay_usec, uint64_t gap_usec)
{
	uint64_t now = now_usec(), at = now + delay_usec;
	int r;

	if (d->last_end && d->last_end + gap_usec > at)
		at = d->last_end + gap_usec;
	if (d->timer_at && d->timer_at <= at)
		return;
	r = timer_set(d->timer_fd, at > now ? at - now : 1, 0);
	if (r < 0) {
		log_warn(r, "cannot arm the reconcile timer");
		return;
	}
	d->timer_at = at;
}

/*
 * Ask for a reconcile that reads at least @scope, in @delay_usec (0: as soon as the loop
 * gets to it). Requests before it runs join it; one made while a reconcile runs (the loop
 * reads the events after it) gives one more after it.
 */
static void request_reconcile(struct daemon *d, const char *why, enum uevent_scope scope,
			      uint64_t delay_usec)
{
	if (d->pending == UEVENT_SCOPE_NONE)
		d->pending_why = why;
	if (scope > d->pending)
		d->pending = scope;
	d->pending_events++;
	arm_timer(d, delay_usec, DAEMON_SETTLE_MSEC * 1000u);
}

/*
 * The policy file changed. @complete: it was closed after writing or renamed into place;
 * otherwise (created) its writer may still be at it. A burst of saves gives one reload at
 * its start and one at most DAEMON_DEBOUNCE_MSEC later for the rest.
 */
static void request_reload(struct daemon *d, bool complete)
{
	d->reload_pending = true;
	arm_timer(d, (complete ? DAEMON_SETTLE_MSEC : DAEMON_DEBOUNCE_MSEC) * 1000u,
		  DAEMON_DEBOUNCE_MSEC * 1000u);
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	struct daemon *d = userdata;

	log_debug("%s: skipped: %s", path, what);
	if (err == -ENOENT)
		d->vanished++;
}

static size_t count_devices(const struct resource_set *set)
{
	size_t n = 0;

	for (size_t i = 0; set && i < set->n_pools; i++)
		n += set->pools[i].n_devices;
	return n;
}

static const struct resource_pool *find_pool(const struct resource_set *set, const char *name)
{
	for (size_t i = 0; set && i < set->n_pools; i++)
		if (streq(set->pools[i].name, name))
			return &set->pools[i];
	return NULL;
}

static bool same_devices(const struct resource_pool *a, const struct resource_pool *b)
{
	if (a->n_devices != b->n_devices)
		return false;
	for (size_t i = 0; i < a->n_devices; i++)
		if (!streq(a->devices[i].id, b->devices[i].id) ||
		    a->devices[i].healthy != b->devices[i].healthy)
			return false;
	return true;
}

/* Say what a reconcile changed in the served pools and the node's parents. */
static void log_changes(const struct daemon *d, const struct inventory *inv,
			const struct resource_set *set)
{
	const struct inventory *old = d->inv;

	for (size_t i = 0; old && i < old->n_parents; i++)
		if (!inventory_get_parent(inv, old->parents[i].name))
			log_info("parent %s is gone", old->parents[i].name);
	for (size_t i = 0; old && i < inv->n_parents; i++)
		if (!inventory_get_parent(old, inv->parents[i].name))
			log_info("parent %s appeared (%zu mdev types)", inv->parents[i].name,
				 inv->parents[i].n_types);
	for (size_t i = 0; i < set->n_pools; i++) {
		const struct resource_pool *p = &set->pools[i], *was = find_pool(d->set, p->name);
		size_t healthy = 0;

		if (was && same_devices(was, p))
			continue;
		for (size_t j = 0; j < p->n_devices; j++)
			healthy += p->devices[j].healthy;
		if (was)
			log_info("resource %s: %zu devices, %zu healthy (was %zu)", p->name,
				 p->n_devices, healthy, was->n_devices);
		else
			log_info("resource %s: %zu devices, %zu healthy, %zu matching not served",
				 p->name, p->n_devices, healthy, p->n_unserved);
	}
	for (size_t i = 0; d->set && i < d->set->n_pools; i++)
		if (!find_pool(set, d->set->pools[i].name))
			log_info("resource %s: no longer served", d->set->pools[i].name);
}

static void notify_status(const struct daemon *d, const char *extra)
{
	size_t n_mdevs = d->inv ? d->inv->n_mdevs : 0;
	size_t n_pools = d->set ? d->set->n_pools : 0;
	size_t n_plugins = 0, n_registered = 0;

	if (d->dp)
		dp_manager_registered(d->dp, &n_plugins, &n_registered);
	sdnotify_sendf("STATUS=%s%sServing %zu resources (%zu devices), %zu mdevs; %zu of %zu "
		       "device plugins registered; policy generation %u",
		       extra ? extra : "", extra ? "; " : "", n_pools, count_devices(d->set),
		       n_mdevs, n_registered, n_plugins, d->cfg->generation);
}

/*
 * Whether apply can do anything with the running policy. Without layouts, and without a
 * mediatedDeviceTypes list that is enabled, the planner manages no parent: it keeps every
 * mdev and creates none (plan.h), so a round would only cost reads and a /proc scan.
 */
static bool apply_wanted(const struct daemon *d)
{
	const struct policy *pol = d->cfg->policy;

	if (d->opt->no_apply || d->awaiting)
		return false;
	return pol->n_layouts > 0 ||
	       (pol->n_mediated_device_types > 0 && !pol->mediated_devices_disabled);
}

/* One apply_policy() run. Returns true when it created or removed mdevs. */
static bool run_apply(struct daemon *d)
{
	struct apply_options o = {
		.sysfs_fd = d->sysfs_fd,
		.sysfs_path = d->opt->sysfs_root,
		.proc_fd = d->proc_fd,
		.machine_id = d->opt->machine_id,
	};
	struct apply_result res = {};
	struct kept_report kept = {.d = d};
	struct virt *virt = NULL;
	char **allocated = NULL;
	size_t n_allocated = 0;
	char err[256];
	int r;

	/* A fresh read-only connection per apply: libvirtd may restart between reconciles. */
	if (!d->opt->no_libvirt) {
		r = virt_open_optional(d->opt->libvirt_uri, streq(d->opt->sysfs_root, "/sys"), true,
				       &virt, err, sizeof(err));
		if (r < 0 && !d->libvirt_unreachable)
			log_warnx(
				"libvirt at %s cannot be reached: %s; only open VFIO groups count "
				"as in use until it can",
				d->opt->libvirt_uri ? d->opt->libvirt_uri : VIRT_DEFAULT_URI, err);
		else if (r > 0 && d->libvirt_unreachable)
			log_info("libvirt at %s is reachable again", virt_uri(virt));
		d->libvirt_unreachable = r < 0;
	}
	o.virt = virt;
	/* What kubelet was handed is in use: never removed (an unreleased Allocate). */
	if (d->dp && dp_manager_allocated(d->dp, &allocated, &n_allocated) == 0) {
		o.allocated_ids = (const char *const *)allocated;
		o.n_allocated_ids = n_allocated;
	}
	if (d->recorder) {
		o.on_kept = on_kept;
		o.on_kept_data = &kept;
	}
	r = apply_policy(&o, d->cfg->policy, &res);
	if (d->recorder && r >= 0) {
		strv_free(d->kept, d->n_kept);
		d->kept = kept.now;
		d->n_kept = kept.n_now;
	} else {
		strv_free(kept.now, kept.n_now);
	}
	for (size_t i = 0; i < n_allocated; i++)
		free(allocated[i]);
	free(allocated);
	virt_close(virt);
	if (counters(d)) {
		uint64_t *a = counters(d)->apply;

		metrics_add(&a[METRICS_APPLY_CREATED], res.created);
		metrics_add(&a[METRICS_APPLY_REMOVED], res.removed);
		metrics_add(&a[METRICS_APPLY_NO_CAPACITY], res.no_capacity);
		metrics_add(&a[METRICS_APPLY_FAILED], res.failed);
		metrics_add(&a[METRICS_APPLY_KEPT_IN_USE], res.kept_in_use);
		metrics_add(&a[METRICS_APPLY_KEPT_RESERVED], res.kept_reserved);
	}
	if (r < 0 && r != -EINVAL) /* -EINVAL: the policy does not fit; apply said why */
		log_warn(r, "cannot apply the policy");
	/* A quiet round (nothing done, nothing failed) says nothing: it runs on every event. */
	if (res.created || res.removed || res.failed)
		log_info("applied the policy: %u created, %u removed, %u failed, %u did not fit, "
			 "%u kept in use",
			 res.created, res.removed, res.failed, res.no_capacity + res.shortfall,
			 res.kept_in_use);
	if (r < 0 || res.failed) {
		unsigned int next = d->apply_backoff_sec * 2;

		if (next < APPLY_BACKOFF_MIN_SEC)
			next = APPLY_BACKOFF_MIN_SEC;
		if (next > APPLY_BACKOFF_MAX_SEC)
			next = APPLY_BACKOFF_MAX_SEC;
		d->apply_backoff_sec = next;
		d->apply_not_before = now_usec() + next * 1000000ull;
	} else {
		d->apply_backoff_sec = 0;
		d->apply_not_before = 0;
	}
	return res.created || res.removed;
}

/*
 * The gauges of the metrics (metrics.h): what kubelet is sent per resource and health, the
 * unserved devices, mdevs per parent and type and owner, the free capacity per type. Built
 * from the state just served and published whole; scrapes render the last one published.
 */
static void publish_snapshot(const struct daemon *d)
{
	struct metrics_snapshot *s;
	const struct inventory *inv = d->inv;
	char a[512], b[512];

	if (!d->metrics)
		return;
	s = metrics_snapshot_new();
	metrics_snapshot_printf(s, "# HELP mdevd_devices Devices listed to kubelet, by resource "
				   "and health.\n# TYPE mdevd_devices gauge\n");
	for (size_t i = 0; d->set && i < d->set->n_pools; i++) {
		const struct resource_pool *p = &d->set->pools[i];
		size_t healthy = 0, unhealthy = 0;
		bool found = false;

		for (size_t j = 0; d->dp && j < dp_manager_n_plugins(d->dp) && !found; j++) {
			struct dp_plugin_info info;

			if (dp_manager_plugin(d->dp, j, &info, NULL, NULL) == 0 &&
			    streq(info.name, p->name)) {
				found = true;
				healthy = info.n_healthy;
				unhealthy = info.n_unhealthy;
			}
		}
		for (size_t j = 0; !found && j < p->n_devices; j++)
			p->devices[j].healthy ? healthy++ : unhealthy++;
		metrics_escape_label(p->name, a, sizeof(a));
		metrics_snapshot_printf(s,
					"mdevd_devices{resource=\"%s\",health=\"healthy\"} %zu\n"
					"mdevd_devices{resource=\"%s\",health=\"unhealthy\"} %zu\n",
					a, healthy, a, unhealthy);
	}
	metrics_snapshot_printf(s, "# HELP mdevd_devices_unserved Devices a selector matches that "
				   "are not served (mdevd status says why).\n"
				   "# TYPE mdevd_devices_unserved gauge\n");
	for (size_t i = 0; d->set && i < d->set->n_pools; i++) {
		metrics_escape_label(d->set->pools[i].name, a, sizeof(a));
		metrics_snapshot_printf(s, "mdevd_devices_unserved{resource=\"%s\"} %zu\n", a,
					d->set->pools[i].n_unserved);
	}
	metrics_snapshot_printf(s, "# HELP mdevd_mdevs Live mdevs, by parent, type and owner "
				   "(mdevd: derived from this node's machine id; foreign; unknown "
				   "without a machine id).\n# TYPE mdevd_mdevs gauge\n");
	for (size_t i = 0; inv && i < inv->n_parents; i++) {
		const struct mdev_parent *par = &inv->parents[i];

		metrics_escape_label(par->name, a, sizeof(a));
		for (size_t j = 0; j < par->n_types; j++) {
			const struct mdev_type *t = &par->types[j];
			size_t owned = 0, foreign = 0;

			for (size_t k = 0; k < inv->n_mdevs; k++) {
				const struct mdev_instance *m = &inv->mdevs[k];

				if (!streq(m->parent, par->name) || !streq(m->type_id, t->id))
					continue;
				if (d->opt->machine_id &&
				    plan_is_owned(inv, m, d->opt->machine_id, NULL))
					owned++;
				else
					foreign++;
			}
			metrics_escape_label(t->id, b, sizeof(b));
			if (d->opt->machine_id)
				metrics_snapshot_printf(s,
							"mdevd_mdevs{parent=\"%s\",type=\"%s\","
							"owner=\"mdevd\"} %zu\n"
							"mdevd_mdevs{parent=\"%s\",type=\"%s\","
							"owner=\"foreign\"} %zu\n",
							a, b, owned, a, b, foreign);
			else
				metrics_snapshot_printf(s,
							"mdevd_mdevs{parent=\"%s\",type=\"%s\","
							"owner=\"unknown\"} %zu\n",
							a, b, foreign);
		}
	}
	metrics_snapshot_printf(s, "# HELP mdevd_mdev_available_instances Free capacity: mdevs of "
				   "the type the parent can still create (available_instances).\n"
				   "# TYPE mdevd_mdev_available_instances gauge\n");
	for (size_t i = 0; inv && i < inv->n_parents; i++) {
		const struct mdev_parent *par = &inv->parents[i];

		metrics_escape_label(par->name, a, sizeof(a));
		for (size_t j = 0; j < par->n_types; j++) {
			metrics_escape_label(par->types[j].id, b, sizeof(b));
			metrics_snapshot_printf(
				s,
				"mdevd_mdev_available_instances{parent=\"%s\",type=\"%s\","
				"backend=\"%s\"} %u\n",
				a, b, par->backend == PARENT_BACKEND_MDEV ? "mdev" : "nvidia",
				par->types[j].available_instances);
		}
	}
	if (metrics_publish(d->metrics, s) < 0)
		log_warnx("metrics: out of memory; scrapes show the last snapshot");
}

/*
 * Read the node (@scope: UEVENT_SCOPE_MDEVS reuses the last snapshot's PCI functions), build
 * the pools and hand them to the device plugins. A failure keeps the last good state served.
 * Returns 0 when the served state is fresh, else the first -errno.
 */
static int refresh(struct daemon *d, enum uevent_scope scope)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	int r;

	if (scope == UEVENT_SCOPE_MDEVS && d->inv)
		r = inventory_load_reusing_pci(d->sysfs_fd, d->inv, report_skipped, d, &inv);
	else
		r = inventory_load(d->sysfs_fd, d->opt->sysfs_root, INVENTORY_ALL, report_skipped,
				   d, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node; still serving the last good state",
			 d->opt->sysfs_root);
		notify_status(d, "Cannot read the node");
		return r;
	}
	r = resource_build(inv, d->cfg->policy, &set);
	if (r < 0) {
		log_warn(r, "cannot build the resource pools; still serving the last good state");
		notify_status(d, "Cannot build the resource pools");
		return r;
	}
	if (d->dp) {
		r = dp_manager_update(d->dp, set);
		if (r < 0)
			log_warn(r, "device plugins: cannot update the served devices");
		else
			report_unhealthy(d);
	}
	log_changes(d, inv, set);
	/* The pools borrow from their inventory: free them first. */
	resource_set_free(d->set);
	inventory_free(d->inv);
	d->set = steal_ptr(set);
	d->inv = steal_ptr(inv);
	publish_snapshot(d);
	notify_status(d, r < 0 ? "Device plugins failed to update" : NULL);
	return r;
}

/*
 * One reconcile: apply (apply.h; not with --no-apply, nor when apply_wanted() says it has
 * nothing to do) and refresh(). Start, reloads and the resync (@force) apply first and then
 * serve what the apply made; they read the whole node. Events (!@force) serve what the kernel
 * says first, reading only @scope, then apply, and serve again if the apply changed mdevs
 * (an owned mdev removed out of band is re-created): kubelet learns of a change without
 * waiting for an apply round. After an apply with failures, event-driven reconciles skip the
 * apply until the backoff ends. A read that finds an entry vanishing or half-made (an mdev
 * between its bind@ uevent and its mdev_type link) looks again after DAEMON_RETRY_MSEC, a few
 * times. Returns 0 when the served state is fresh, else the first -errno.
 */
/* Whether a vfio-pci pass has anything to do: the policy binds, or mdevd bound something. */
static bool vfio_wanted(const struct daemon *d)
{
	struct vfio_state st;
	bool any;

	if (d->opt->no_apply)
		return false;
	if (pol_vfio_active(d->cfg->policy))
		return true;
	if (vfio_state_load(d->vfio_opts.state_path ? d->vfio_opts.state_path
						    : VFIO_STATE_DEFAULT_PATH,
			    &st, NULL) < 0)
		return true;
	any = st.n > 0;
	vfio_state_release(&st);
	return any;
}

static int reconcile(struct daemon *d, const char *why, enum uevent_scope scope, bool force)
{
	unsigned int events = d->pending_events;
	uint64_t t0 = now_usec(), t_apply = 0, t1;
	bool apply = apply_wanted(d), changed = false;
	int r;

	d->pending = UEVENT_SCOPE_NONE;
	d->pending_why = NULL;
	d->pending_events = 0;
	d->reconciles++;
	d->vanished = 0;
	if (force)
		scope = UEVENT_SCOPE_ALL;
	/*
	 * PCI functions may have changed: bind / give back off the loop's thread. What kubelet
	 * was handed is in use there too (an unreleased Allocate): never given back.
	 */
	if (d->vfio && scope == UEVENT_SCOPE_ALL && vfio_wanted(d)) {
		struct vfio_worker_allocated allocated = {0};

		if ((d->dp && dp_manager_allocated(d->dp, &allocated.ids, &allocated.n) < 0) ||
		    vfio_worker_kick(d->vfio, d->cfg->policy, &allocated) < 0)
			log_warnx("vfio-pci: out of memory: bindings not applied in this "
				  "reconcile");
		vfio_worker_allocated_release(&allocated);
	}
	if (apply && !force && d->apply_not_before && t0 < d->apply_not_before) {
		/* The last apply failed: come back when the backoff ends. */
		log_debug("apply held back %.1f s after failures",
			  (double)(d->apply_not_before - t0) / 1e6);
		apply = false;
		request_reconcile(d, "apply backoff", UEVENT_SCOPE_MDEVS, d->apply_not_before - t0);
	}
	if (apply && force) {
		t1 = now_usec();
		run_apply(d);
		t_apply = now_usec() - t1;
	}
	r = refresh(d, scope);
	if (apply && !force) {
		t1 = now_usec();
		changed = run_apply(d);
		t_apply = now_usec() - t1;
		if (changed) {
			int r2 = refresh(d, UEVENT_SCOPE_MDEVS);

			if (r == 0)
				r = r2;
		}
	}
	if (d->vanished && d->vanished_retries < DAEMON_RETRY_MAX) {
		d->vanished_retries++;
		log_debug("%u entries vanished or were half-made: reading again in %u ms",
			  d->vanished, DAEMON_RETRY_MSEC);
		request_reconcile(d, "half-made entries", scope, DAEMON_RETRY_MSEC * 1000u);
	} else if (!d->vanished) {
		d->vanished_retries = 0;
	}
	d->last_end = now_usec();
	if (counters(d)) {
		struct metrics_counters *c = counters(d);

		metrics_add(&c->reconciles, 1);
		if (r < 0)
			metrics_add(&c->reconcile_failures, 1);
		metrics_observe(&c->reconcile_duration, reconcile_bounds,
				ARRAY_SIZE(reconcile_bounds), (d->last_end - t0) * 1000u);
	}
	if (force) {
		/* Start, reload, resync: the policy in force went through apply (or needs none). */
		d->policy_applied = true;
		if (counters(d))
			metrics_set(&counters(d)->policy_applied, 1);
	}
	log_debug("reconcile %lu (%s): %.1f ms (%u requests, read %s%s, apply %s %.1f ms)",
		  d->reconciles, why, (double)(d->last_end - t0) / 1000.0, events,
		  scope == UEVENT_SCOPE_ALL ? "all" : "mdevs", changed ? " twice" : "",
		  apply ? (force ? "first" : "after") : "skipped", (double)t_apply / 1000.0);
	return r;
}

static const char *cr_kind(const struct daemon *d)
{
	return d->opt->policy_source == DAEMON_POLICY_HYPERCONVERGED ? "HyperConverged"
								     : "KubeVirt";
}

/*
 * The policy from the cluster's CR: its KubeVirt sections, the mdevd section from its
 * annotation or else from --policy FILE. Returns 0, -ENODATA (no CR yet: said once),
 * -EINVAL (rejected: logged) or -errno.
 */
static int cr_policy(struct daemon *d, struct policy **out, struct pol_error *perr)
{
	_cleanup_(policy_freep) struct policy *pol = NULL, *extra = NULL;
	_cleanup_free_ char *ann = NULL;
	const struct kube_object *o;
	int r;

	if (!d->cr.synced)
		return -ENODATA;
	if (d->cr.n_objects == 0) {
		if (!d->said_no_cr)
			log_warnx("no %s CR in the cluster%s", cr_kind(d),
				  d->awaiting ? ": waiting for one"
					      : "; still running the last good policy");
		d->said_no_cr = true;
		return -ENODATA;
	}
	d->said_no_cr = false;
	o = &d->cr.objects[0];
	if (d->cr.n_objects > 1 && !d->said_many_crs) {
		log_warnx("%zu %s CRs in the cluster: following %s/%s (the first by namespace and "
			  "name)",
			  d->cr.n_objects, cr_kind(d), o->namespace, o->name);
		d->said_many_crs = true;
	}
	snprintf(d->src_name, sizeof(d->src_name), "%s %s/%s", cr_kind(d), o->namespace, o->name);
	r = cli_parse_policy(d->src_name, o->json, strlen(o->json), &pol, perr);
	if (r < 0)
		return r;
	r = kube_object_annotation(o->json, DAEMON_MDEVD_ANNOTATION, &ann);
	if (r < 0)
		return r;
	if (ann) {
		char name[sizeof(d->src_name) + 64];

		snprintf(name, sizeof(name), "%s, annotation %s", d->src_name,
			 DAEMON_MDEVD_ANNOTATION);
		r = cli_parse_policy(name, ann, strlen(ann), &extra, perr);
	} else if (d->opt->policy_path) {
		r = cli_load_policy(d->opt->policy_path, &extra);
	}
	if (r < 0)
		return r;
	if (extra)
		pol_take_mdevd(pol, extra);
	/* virt-handler serves the entries not marked external (kubelet keeps one per name). */
	pol->external_only = true;
	*out = steal_ptr(pol);
	return 0;
}

/*
 * The policy as it stands: the file, or the cluster's CR, with this node's
 * nodeMediatedDeviceTypes picked by its labels. Returns 0, -ENODATA (no CR yet), -EINVAL
 * (rejected: logged) or -errno.
 */
static int build_policy(struct daemon *d, struct policy **out, struct pol_error *perr)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	int r;

	if (d->opt->policy_source == DAEMON_POLICY_FILE) {
		snprintf(d->src_name, sizeof(d->src_name), "%s", d->opt->policy_path);
		r = cli_load_policy(d->opt->policy_path, &pol);
	} else {
		r = cr_policy(d, &pol, perr);
	}
	if (r < 0)
		return r;
	r = cli_select_node_types(d->src_name, pol, d->labels, d->n_labels, d->labels_known,
				  &d->said_no_labels);
	if (r < 0)
		return r;
	*out = steal_ptr(pol);
	return 0;
}

/* Read the policy again; a rejected one leaves the running one in place. */
static void reload(struct daemon *d, const char *why)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	const struct daemon_config *cfg = NULL;
	struct pol_error perr = {};
	int r;

	d->reload_pending = false;
	sdnotify_send("RELOADING=1");
	if (d->opt->policy_source == DAEMON_POLICY_FILE)
		log_info("reloading %s (%s)", d->opt->policy_path, why);
	else
		log_info("reloading the policy from the %s CR (%s)", cr_kind(d), why);
	r = build_policy(d, &pol, &perr);
	if (r == -ENODATA) { /* no CR (yet): said once; nothing to reject */
		sdnotify_send("READY=1");
		d->last_end = now_usec();
		return;
	}
	/* Warnings (what this node lacks) are logged once, here; the rest is applied. */
	if (r == 0 && d->inv && cli_check_policy(d->src_name, pol, d->inv, 0) < 0) {
		/* Logged in full above; the first error is kept for `mdevd status`. */
		(void)pol_validate(pol, d->inv, &perr);
		r = -EINVAL;
	}
	if (r == 0)
		r = config_new(&pol, d->cfg->generation + 1, &cfg);
	if (r < 0) {
		log_warnx("%s: new policy rejected; still running policy generation %u%s",
			  d->src_name, d->cfg->generation,
			  d->awaiting ? " (empty: nothing from the cluster was taken yet)" : "");
		d->last_reload = "rejected";
		if (perr.message[0])
			snprintf(d->last_reload_error, sizeof(d->last_reload_error), "%s: %s",
				 perr.path, perr.message);
		else
			snprintf(d->last_reload_error, sizeof(d->last_reload_error),
				 "%s does not parse or cannot be read (see the log)", d->src_name);
		if (counters(d))
			metrics_add(&counters(d)->reloads_rejected, 1);
		kube_recorder_event(d->recorder, KUBE_EVENTS_WARNING, KUBE_REASON_POLICY_REJECTED,
				    "%s: new policy rejected: %s; still running policy generation "
				    "%u",
				    d->src_name, d->last_reload_error, d->cfg->generation);
		sdnotify_send("READY=1");
		notify_status(d, "New policy rejected, running the last good one");
		d->last_end = now_usec();
		return;
	}
	config_free(d->cfg);
	d->cfg = cfg;
	d->awaiting = false;
	d->last_reload = "ok";
	d->last_reload_error[0] = '\0';
	d->policy_applied = false;
	if (counters(d)) {
		metrics_set(&counters(d)->policy_applied, 0);
		metrics_add(&counters(d)->reloads_ok, 1);
		metrics_set(&counters(d)->generation, d->cfg->generation);
	}
	log_info("policy reloaded: generation %u (%s, from %s)", d->cfg->generation,
		 pol_shape_str(d->cfg->policy->shape), d->src_name);
	reconcile(d, "policy reload", UEVENT_SCOPE_ALL, true);
	sdnotify_send("READY=1");
}

/* The labels of the watched Node, "k=v" a line: what selects nodeMediatedDeviceTypes. */
static int node_labels_take(struct daemon *d, char **digest)
{
	char **keys = NULL, **values = NULL;
	struct pol_label *labels;
	size_t n = 0, len = 0;
	char *text;
	int r;

	if (d->node.n_objects == 0) {
		if (!d->said_no_node)
			log_warnx("node %s is not in the cluster (--node-name, NODE_NAME): its "
				  "labels are unknown",
				  d->opt->node_name);
		d->said_no_node = true;
		pol_labels_free(d->labels, d->n_labels);
		d->labels = NULL;
		d->n_labels = 0;
		d->labels_known = false;
		*digest = strdup("");
		return *digest ? 0 : -ENOMEM;
	}
	d->said_no_node = false;
	r = kube_object_labels(d->node.objects[0].json, &keys, &values, &n);
	if (r < 0)
		return r;
	labels = calloc(n + 1, sizeof(*labels));
	for (size_t i = 0; i < n; i++)
		len += strlen(keys[i]) + strlen(values[i]) + 2;
	text = calloc(len + 1, 1);
	if (!labels || !text) {
		free(labels);
		free(text);
		kube_strv_free(keys, n);
		kube_strv_free(values, n);
		return -ENOMEM;
	}
	len = 0;
	for (size_t i = 0; i < n; i++) {
		len += (size_t)sprintf(text + len, "%s=%s\n", keys[i], values[i]);
		labels[i] = (struct pol_label){.key = keys[i], .value = values[i]};
	}
	free(keys);
	free(values);
	pol_labels_free(d->labels, d->n_labels);
	d->labels = labels;
	d->n_labels = n;
	d->labels_known = true;
	*digest = text;
	return 0;
}

/* What the policy reads of the CR: which one, its spec, its mdevd annotation. */
static int cr_digest(const struct daemon *d, char **digest)
{
	_cleanup_free_ char *spec = NULL, *ann = NULL;
	const struct kube_object *o;
	int r;

	if (d->cr.n_objects == 0) {
		*digest = strdup("");
		return *digest ? 0 : -ENOMEM;
	}
	o = &d->cr.objects[0];
	r = kube_object_spec(o->json, &spec);
	if (r == 0)
		r = kube_object_annotation(o->json, DAEMON_MDEVD_ANNOTATION, &ann);
	if (r < 0)
		return r;
	if (asprintf(digest, "%s/%s\n%s\n%s", o->namespace, o->name, spec, ann ? ann : "") < 0)
		return -ENOMEM;
	return 0;
}

static bool cluster_synced(const struct daemon *d)
{
	return (!d->cr_watch || d->cr.synced) && (!d->node_watch || d->node.synced);
}

/* A watch's eventfd: take its copy; re-plan when what the policy reads of it changed. */
static void handle_kube(struct daemon *d, bool node)
{
	struct kube_watch_state *st = node ? &d->node : &d->cr;
	struct kube_watch_state s = {};
	char **last = node ? &d->node_digest : &d->cr_digest;
	_cleanup_free_ char *digest = NULL;
	int r;

	r = kube_watch_take(node ? d->node_watch : d->cr_watch, &s);
	if (r < 0) {
		log_warn(r, "cannot take the watched objects");
		return;
	}
	kube_watch_state_clear(st);
	*st = s;
	if (!st->synced)
		return; /* only its state changed (the thread logged it) */
	if (node && d->recorder && st->n_objects) {
		_cleanup_free_ char *uid = NULL;

		if (kube_object_uid(st->objects[0].json, &uid) == 0 && uid)
			kube_recorder_set_uid(d->recorder, uid);
	}
	r = node ? node_labels_take(d, &digest) : cr_digest(d, &digest);
	if (r < 0) {
		log_warn(r, "cannot read the watched %s", node ? "Node" : cr_kind(d));
		return;
	}
	if (*last && streq(*last, digest))
		return; /* a status update, or a change the policy does not read */
	free(*last);
	*last = steal_ptr(digest);
	if (!cluster_synced(d))
		return;
	if (node)
		log_info("node %s: labels changed (%zu labels)", d->opt->node_name, d->n_labels);
	reload(d, node ? "the node's labels changed" : "the CR changed");
}

/*
 * Watch the device-plugin dir or, while it does not exist, its nearest existing ancestor:
 * kubelet creates the dir, and on a node where kubelet never ran /var/lib/kubelet too. Each
 * directory created there brings the watch one step closer (handle_inotify_event()).
 */
static int watch_plugin_dir(struct daemon *d)
{
	char path[PATH_MAX];
	int wd;

	wd = inotify_add_watch(d->inotify_fd, d->opt->plugin_dir,
			       IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
				       IN_ONLYDIR | IN_MASK_ADD);
	if (wd >= 0) {
		d->plugin_wd = wd;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	if (!d->said_no_plugin_dir)
		log_info("%s does not exist yet: waiting for kubelet to create it",
			 d->opt->plugin_dir);
	d->said_no_plugin_dir = true;
	if ((size_t)snprintf(path, sizeof(path), "%s", d->opt->plugin_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		char *slash = strrchr(path, '/');

		if (!slash)
			return -ENOENT;
		if (slash == path)
			slash[1] = '\0'; /* "/" */
		else
			*slash = '\0';
		wd = inotify_add_watch(d->inotify_fd, path,
				       IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_MASK_ADD);
		if (wd >= 0)
			break;
		if (errno != ENOENT || streq(path, "/"))
			return -errno;
	}
	d->plugin_parent_wd = wd;
	return 0;
}

static void kubelet_restarted(struct daemon *d)
{
	int r;

	log_info("%s/%s was created: kubelet (re)started; registering the device plugins again",
		 d->opt->plugin_dir, DP_KUBELET_SOCKET);
	if (counters(d))
		metrics_add(&counters(d)->kubelet_restarts, 1);
	r = dp_manager_kubelet_restarted(d->dp);
	if (r < 0)
		log_warn(r, "device plugins: cannot register with kubelet again");
	/* A pool whose plugin could not start (its directory did not exist yet) starts now. */
	if (d->set) {
		r = dp_manager_update(d->dp, d->set);
		if (r < 0)
			log_warn(r, "device plugins: cannot serve every pool");
	}
}

static void handle_inotify_event(struct daemon *d, const struct inotify_event *ev)
{
	const char *name = ev->len ? ev->name : "";

	if (ev->mask & IN_Q_OVERFLOW) {
		log_warnx("inotify queue overflowed: reloading the policy to be safe");
		request_reload(d, false);
		return;
	}
	if (ev->wd == d->policy_wd) {
		if (streq(name, d->policy_base) || streq(name, CONFIGMAP_DATA)) {
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				log_info("%s was removed; still running policy generation %u",
					 d->opt->policy_path, d->cfg->generation);
			else
				request_reload(d, !(ev->mask & IN_CREATE));
		}
		if (ev->mask & IN_IGNORED) {
			log_warnx("%s: the policy directory went away: changes are no longer seen "
				  "(SIGHUP still reloads)",
				  d->policy_dir);
			d->policy_wd = -1;
		}
	}
	if (d->dp && ev->wd == d->plugin_wd) {
		if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && streq(name, DP_KUBELET_SOCKET))
			kubelet_restarted(d);
		if (ev->mask & IN_IGNORED) {
			d->plugin_wd = -1;
			if (watch_plugin_dir(d) < 0)
				log_warnx("%s: cannot watch for kubelet any more",
					  d->opt->plugin_dir);
		}
	}
	if (d->dp && ev->wd == d->plugin_parent_wd && ev->len && d->plugin_wd < 0) {
		char path[PATH_MAX];
		int r;

		/* The policy's directory may be the same one: its watch stays. */
		if (d->plugin_parent_wd != d->policy_wd)
			inotify_rm_watch(d->inotify_fd, d->plugin_parent_wd);
		d->plugin_parent_wd = -1;
		r = watch_plugin_dir(d);
		if (r < 0) {
			log_warn(r, "%s: cannot watch for kubelet any more", d->opt->plugin_dir);
			return;
		}
		if (d->plugin_wd < 0)
			return; /* a step closer */
		snprintf(path, sizeof(path), "%s/%s", d->opt->plugin_dir, DP_KUBELET_SOCKET);
		if (access(path, F_OK) == 0)
			kubelet_restarted(d);
	}
}

static void handle_inotify(struct daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(d->inotify_fd, buf, sizeof(buf));

		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				log_warn(-errno, "inotify: read");
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			handle_inotify_event(d, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void handle_uevents(struct daemon *d)
{
	for (;;) {
		struct uevent ev;
		int r = uevent_receive(d->uevent_fd, d->uevent_buf, sizeof(d->uevent_buf), &ev);

		if (r == -EAGAIN)
			return;
		if (r == -EBADMSG)
			continue;
		if (r == -ENOBUFS) {
			log_warnx("uevents were dropped (socket overflow): re-reading the node");
			request_reconcile(d, "uevent overflow", UEVENT_SCOPE_ALL, 0);
			continue;
		}
		if (r < 0) {
			log_warn(r, "uevent socket");
			return;
		}
		d->uevents++;
		if (counters(d))
			metrics_add(&counters(d)->uevents, 1);
		switch (ev.kind) {
		case UEVENT_IGNORE:
			continue;
		case UEVENT_MDEV_ADD:
		case UEVENT_MDEV_REMOVE:
		case UEVENT_PARENT_ADD:
		case UEVENT_PARENT_REMOVE:
		case UEVENT_PCI_BIND:
		case UEVENT_PCI_UNBIND:
			log_info("uevent: %s %s%s%s", uevent_kind_str(ev.kind), ev.name,
				 ev.driver ? " driver " : "", ev.driver ? ev.driver : "");
			break;
		case UEVENT_MDEV_CHANGE:
		case UEVENT_PCI_ADD:
		case UEVENT_PCI_REMOVE:
		case UEVENT_VFIO:
		case UEVENT_DEVICE:
			log_debug("uevent: %s %s (%s)", uevent_kind_str(ev.kind), ev.devpath,
				  ev.subsystem ? ev.subsystem : "-");
			break;
		}
		/*
		 * The first event of a change asks for a reconcile after a short settle, which
		 * picks up the rest of what the kernel sends for it; the last one asks for it
		 * at once. Everything read before it runs joins it.
		 */
		request_reconcile(d, "uevent", uevent_scope(&ev),
				  uevent_ends_change(&ev) ? 0 : DAEMON_SETTLE_MSEC * 1000u);
	}
}

static void handle_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("SIG%s: shutting down", sigabbrev_np((int)si.ssi_signo));
			d->stop = true;
			break;
		case SIGHUP:
			reload(d, "SIGHUP");
			break;
		case SIGUSR2:
			/* Tests only (--debug-stall): a stuck loop, to see the probes fail. */
			if (d->opt->debug_stall_sec) {
				log_warnx(
					"SIGUSR2: stalling the event loop for %u s (--debug-stall)",
					d->opt->debug_stall_sec);
				sleep(d->opt->debug_stall_sec);
				log_info("the event loop runs again after the stall");
			}
			break;
		default:
			break;
		}
	}
}

static void handle_timer(struct daemon *d)
{
	drain_counter(d->timer_fd);
	d->timer_at = 0;
	if (d->reload_pending)
		reload(d, "policy file changed"); /* reconciles when the policy is taken */
	/* Also when the reload was rejected: the events asked for their own. */
	if (d->pending != UEVENT_SCOPE_NONE)
		reconcile(d, d->pending_why ? d->pending_why : "event", d->pending, false);
}

/* Ready: the policy in force was applied and kubelet accepted every plugin. */
static bool daemon_ready(const struct daemon *d, char *why, size_t size)
{
	if (d->awaiting) {
		snprintf(why, size, "waiting for the %s from the API server",
			 d->cr_watch ? (d->opt->policy_source == DAEMON_POLICY_HYPERCONVERGED
						? "HyperConverged CR"
						: "KubeVirt CR")
				     : "node's labels");
		return false;
	}
	if (!d->policy_applied) {
		snprintf(why, size, "the policy in force was not applied yet");
		return false;
	}
	for (size_t i = 0; d->dp && i < dp_manager_n_plugins(d->dp); i++) {
		struct dp_plugin_info info;

		if (dp_manager_plugin(d->dp, i, &info, NULL, NULL) < 0)
			continue;
		if (!info.serving) {
			snprintf(why, size, "device plugin %s cannot serve on %s", info.name,
				 info.socket);
			return false;
		}
		if (!info.registered) {
			snprintf(why, size, "device plugin %s is not registered with kubelet",
				 info.name);
			return false;
		}
	}
	return true;
}

static const char *policy_source_str(enum daemon_policy_source s)
{
	switch (s) {
	case DAEMON_POLICY_FILE:
		return "file";
	case DAEMON_POLICY_KUBEVIRT:
		return "kubevirt";
	case DAEMON_POLICY_HYPERCONVERGED:
		return "hyperconverged";
	}
	return "file";
}

static const char *watch_str(const struct kube_watch *w, const struct kube_watch_state *s)
{
	if (!w)
		return NULL;
	if (s->error[0])
		return s->error;
	return s->synced ? "ok" : "listing";
}

static void serve_status(struct daemon *d)
{
	char why[512] = "", cr[300] = "";
	bool ready = daemon_ready(d, why, sizeof(why));
	const struct kube_object *o = d->cr.n_objects ? &d->cr.objects[0] : NULL;
	struct status_cluster cl = {
		.api_server = d->kcfg ? d->kcfg->server : NULL,
		.cr = o ? cr : NULL,
		.cr_resource_version = o ? o->resource_version : NULL,
		.cr_watch = watch_str(d->cr_watch, &d->cr),
		.node = d->opt->node_name,
		.node_watch = watch_str(d->node_watch, &d->node),
		.labels = d->labels,
		.n_labels = d->n_labels,
		.labels_known = d->labels_known,
	};
	struct status_view v = {
		.version = d->opt->version ? d->opt->version : "unknown",
		.policy_path = d->src_name,
		.shape = pol_shape_str(d->cfg->policy->shape),
		.machine_id = d->opt->machine_id,
		.metrics_address = d->opt->metrics_address,
		.generation = d->cfg->generation,
		.started = d->started,
		.ready = ready,
		.not_ready = ready ? NULL : why,
		.last_reload_result = d->last_reload,
		.last_reload_error = d->last_reload_error[0] ? d->last_reload_error : NULL,
		.reconciles = d->reconciles,
		.uevents = d->uevents,
		.inv = d->inv,
		.set = d->set,
		.dp = d->dp,
		.pol = d->cfg->policy,
		.policy_source = policy_source_str(d->opt->policy_source),
		.cluster = d->kcfg || d->labels_known ? &cl : NULL,
	};

	if (o)
		snprintf(cr, sizeof(cr), "%s/%s", o->namespace, o->name);
	if (status_socket_serve(d->status_fd, &v) < 0)
		log_warnx("%s: out of memory for a status reply", d->opt->status_socket);
}

static int setup_watches(struct daemon *d)
{
	int r;

	r = d->opt->policy_path ? split_path(d->opt->policy_path, &d->policy_dir, &d->policy_base)
				: 0;
	if (r < 0) {
		log_warn(r, "%s: not a file name", d->opt->policy_path);
		return r;
	}
	if (d->opt->policy_path) {
		d->policy_wd = inotify_add_watch(d->inotify_fd, d->policy_dir,
						 IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
							 IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
		if (d->policy_wd < 0) {
			r = -errno;
			log_warn(r, "%s: cannot watch the policy's directory", d->policy_dir);
			return r;
		}
	}
	if (!d->opt->plugin_dir)
		return 0;
	r = split_path(d->opt->plugin_dir, &d->plugin_parent, &d->plugin_base);
	if (r < 0) {
		log_warn(r, "%s: not a device-plugin directory", d->opt->plugin_dir);
		return r;
	}
	r = watch_plugin_dir(d);
	if (r < 0) /* serve anyway: only a kubelet restart goes unnoticed */
		log_warn(r, "%s: cannot watch for kubelet restarts", d->opt->plugin_dir);
	return 0;
}

/* The CR and Node watches, on threads of their own (the signals are blocked by now). */
static int start_watches(struct daemon *d)
{
	bool hco = d->opt->policy_source == DAEMON_POLICY_HYPERCONVERGED;
	char sel[320], what[320];
	int r;

	if (!d->kcfg)
		return 0;
	if (d->opt->node_name) {
		r = kube_recorder_start(d->kcfg, d->opt->node_name,
					counters(d) ? counters(d)->node_events : NULL,
					&d->recorder);
		if (r < 0)
			return r;
		log_info("node %s: reporting Events on the Node (rate limited: a burst of %u, then "
			 "one per %u s; repeats within %u s are counted into one)",
			 d->opt->node_name, KUBE_EVENTS_BURST, KUBE_EVENTS_REFILL_SEC,
			 KUBE_EVENTS_AGGREGATE_SEC);
	}
	if (d->opt->policy_source != DAEMON_POLICY_FILE) {
		struct kube_watch_spec cr = {
			.what = hco ? "hyperconvergeds.hco.kubevirt.io" : "kubevirts.kubevirt.io",
			.path = hco ? "/apis/hco.kubevirt.io/v1beta1/hyperconvergeds"
				    : "/apis/kubevirt.io/v1/kubevirts",
			.kind = cr_kind(d),
			.api_version = hco ? "hco.kubevirt.io/v1beta1" : "kubevirt.io/v1",
			.watch_timeout_sec = d->opt->watch_timeout_sec,
		};

		r = kube_watch_start(d->kcfg, &cr, &d->cr_watch);
		if (r < 0)
			return r;
	}
	if (d->opt->node_name && !d->opt->node_labels) {
		struct kube_watch_spec node = {
			.what = what,
			.path = "/api/v1/nodes",
			.field_selector = sel,
			.kind = "Node",
			.api_version = "v1",
			.watch_timeout_sec = d->opt->watch_timeout_sec,
		};

		snprintf(what, sizeof(what), "node %s", d->opt->node_name);
		snprintf(sel, sizeof(sel), "metadata.name=%s", d->opt->node_name);
		r = kube_watch_start(d->kcfg, &node, &d->node_watch);
		if (r < 0)
			return r;
	}
	return 0;
}

static int setup_fds(struct daemon *d)
{
	sigset_t mask;
	uint64_t wd_usec;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (d->opt->debug_stall_sec)
		sigaddset(&mask, SIGUSR2);
	d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	d->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d->resync_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epoll_fd < 0 || d->signal_fd < 0 || d->inotify_fd < 0 || d->timer_fd < 0 ||
	    d->resync_fd < 0) {
		r = -errno;
		log_warn(r, "cannot create the event loop's file descriptors");
		return r;
	}
	r = setup_watches(d);
	if (r < 0)
		return r;
	if (d->opt->status_socket) {
		r = status_socket_listen(d->opt->status_socket, &d->status_fd);
		if (r < 0 && d->opt->status_socket_optional) {
			if (r == -EADDRINUSE)
				log_warnx(
					"%s: another mdevd answers there: this one runs without a "
					"status socket (give it --status-socket PATH)",
					d->opt->status_socket);
			else
				log_warn(r, "%s: no status socket ('mdevd status' reads the node)",
					 d->opt->status_socket);
			d->status_fd = -1;
			r = 0;
		} else if (r == -EADDRINUSE) {
			log_warnx("%s: another mdevd answers on this status socket; stop it "
				  "first, or give this one --status-socket PATH",
				  d->opt->status_socket);
			return r;
		}
		if (r < 0) {
			log_warn(r, "%s: cannot listen on the status socket",
				 d->opt->status_socket);
			return r;
		}
	}
	if (d->opt->metrics_address) {
		d->metrics = metrics_new(d->opt->version ? d->opt->version : "unknown",
					 d->opt->live_timeout_sec * 1000u);
		if (!d->metrics) {
			r = -errno;
			log_warn(r, "metrics: cannot set up");
			return r;
		}
		metrics_set(&counters(d)->generation, d->cfg->generation);
	}
	r = uevent_open(&d->uevent_fd);
	if (r < 0)
		log_warn(r,
			 "cannot listen to kernel uevents; changes are seen only by the %u s "
			 "resync",
			 d->opt->resync_sec);
	if (d->opt->resync_sec) {
		uint64_t p = d->opt->resync_sec * 1000000ull;

		r = timer_set(d->resync_fd, p, p);
		if (r < 0)
			return r;
	}
	if (sdnotify_watchdog_usec(&wd_usec) == 0) {
		d->watchdog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->watchdog_fd < 0)
			return -errno;
		/* Twice per period, as sd_watchdog_enabled(3) recommends. */
		r = timer_set(d->watchdog_fd, wd_usec / 2, wd_usec / 2);
		if (r < 0)
			return r;
		log_info("systemd watchdog: %.1f s", (double)wd_usec / 1e6);
	}
	r = start_watches(d);
	if (r < 0)
		return r;
	if ((d->cr_watch && (r = epoll_add(d, kube_watch_fd(d->cr_watch), SOURCE_KUBE_CR)) < 0) ||
	    (d->node_watch &&
	     (r = epoll_add(d, kube_watch_fd(d->node_watch), SOURCE_KUBE_NODE)) < 0) ||
	    (r = epoll_add(d, d->signal_fd, SOURCE_SIGNAL)) < 0 ||
	    (r = epoll_add(d, d->inotify_fd, SOURCE_INOTIFY)) < 0 ||
	    (r = epoll_add(d, d->timer_fd, SOURCE_TIMER)) < 0 ||
	    (r = epoll_add(d, d->resync_fd, SOURCE_RESYNC)) < 0 ||
	    (d->uevent_fd >= 0 && (r = epoll_add(d, d->uevent_fd, SOURCE_UEVENT)) < 0) ||
	    (d->watchdog_fd >= 0 && (r = epoll_add(d, d->watchdog_fd, SOURCE_WATCHDOG)) < 0) ||
	    (d->status_fd >= 0 && (r = epoll_add(d, d->status_fd, SOURCE_STATUS)) < 0) ||
	    (d->metrics && (r = epoll_add(d, metrics_ping_fd(d->metrics), SOURCE_PING)) < 0)) {
		log_warn(r, "epoll_ctl");
		return r;
	}
	return 0;
}

static void daemon_release(struct daemon *d)
{
	/* The watch threads first: they hold requests open. */
	kube_watch_free(d->cr_watch);
	kube_watch_free(d->node_watch);
	kube_watch_state_clear(&d->cr);
	kube_watch_state_clear(&d->node);
	free(d->cr_digest);
	free(d->node_digest);
	pol_labels_free(d->labels, d->n_labels);
	/* The HTTP thread first: it reads the metrics, which the plugins count into. */
	metrics_http_stop(d->http);
	vfio_worker_free(d->vfio);
	closep(&d->dev_fd);
	if (d->dp)
		dp_manager_free(d->dp);
	/* After the vfio worker, which reports refusals to it; before the metrics it counts in. */
	kube_recorder_free(d->recorder);
	kube_config_free(d->kcfg);
	strv_free(d->unhealthy, d->n_unhealthy);
	strv_free(d->kept, d->n_kept);
	metrics_free(d->metrics);
	if (d->status_fd >= 0) {
		close(d->status_fd);
		unlink(d->opt->status_socket);
	}
	resource_set_free(d->set);
	inventory_free(d->inv);
	config_free(d->cfg);
	free(d->policy_dir);
	free(d->policy_base);
	free(d->plugin_parent);
	free(d->plugin_base);
	closep(&d->sysfs_fd);
	closep(&d->proc_fd);
	closep(&d->epoll_fd);
	closep(&d->signal_fd);
	closep(&d->inotify_fd);
	closep(&d->uevent_fd);
	closep(&d->timer_fd);
	closep(&d->resync_fd);
	closep(&d->watchdog_fd);
}

/* One vfio-pci pass before anything is served, then the doctor's one-line summary. */
static void vfio_startup(struct daemon *d)
{
	struct vfio_apply_result res;
	struct doctor_report rep;
	struct doctor_env env;
	char line[1024];
	int r;

	if (sysfs_open_root(d->opt->dev_root ? d->opt->dev_root : "/dev", &d->dev_fd) < 0)
		d->dev_fd = -1;
	d->vfio_opts = (struct vfio_apply_opts){
		.sysfs_fd = d->sysfs_fd,
		.sysfs_path = d->opt->sysfs_root,
		.proc_fd = d->proc_fd,
		.dev_fd = d->dev_fd,
		.state_path = d->opt->vfio_state_path,
		.udev_path = d->opt->udev_rules_path,
		.timeout_ms = d->opt->bind_timeout_ms,
		.ipv4_getifaddrs = streq(d->opt->proc_root, "/proc"),
		.on_refusal = d->recorder ? on_refusal : NULL,
		.on_refusal_data = d->recorder,
	};
	d->vfio_lv = (struct vfio_worker_libvirt){
		.uri = d->opt->libvirt_uri,
		.try_default = streq(d->opt->sysfs_root, "/sys"),
		.disabled = d->opt->no_libvirt,
	};
	if (vfio_wanted(d)) {
		/* No device plugin has started yet: nothing is allocated. */
		r = vfio_worker_pass(&d->vfio_opts, &d->vfio_lv, NULL, d->cfg->policy, &res);
		if (r < 0)
			log_warn(r, "vfio-pci: cannot apply the bindings at start");
		else
			log_info("vfio-pci at start: %u bound, %u already bound, %u given back, "
				 "%u refused, %u kept in use, %u failed",
				 res.bound, res.already, res.given_back, res.refused, res.kept,
				 res.failed);
	}
	if (d->dev_fd < 0)
		return;
	env = (struct doctor_env){
		.sysfs_fd = d->sysfs_fd,
		.proc_fd = d->proc_fd,
		.dev_fd = d->dev_fd,
		.sysfs_path = d->opt->sysfs_root,
		.vfio = &d->vfio_opts,
	};
	if (doctor_run(&env, d->cfg->policy, &rep) == 0) {
		doctor_summary(&rep, line, sizeof(line));
		if (rep.fail)
			log_warnx("%s", line);
		else
			log_info("%s", line);
		doctor_report_release(&rep);
	}
}

/*
 * The policy to start with. Following the cluster, an empty one until every watch has
 * listed (applying a policy read without the node's labels could create mdevs the next
 * moment removes); a file is still read now, so that a bad one stops the start.
 */
static int startup_policy(struct daemon *d, struct policy **out)
{
	bool watch_node = d->opt->node_name && !d->opt->node_labels;
	char why[512] = "";
	int r;

	if (d->opt->node_labels) {
		r = pol_parse_labels(d->opt->node_labels, &d->labels, &d->n_labels, why,
				     sizeof(why));
		if (r == -EINVAL)
			log_warnx("--node-labels %s: %s", d->opt->node_labels, why);
		if (r < 0)
			return r;
		d->labels_known = true;
	}
	if (d->opt->policy_source == DAEMON_POLICY_FILE && !watch_node)
		return build_policy(d, out, NULL);
	if (d->opt->kubeconfig)
		r = kube_config_load(d->opt->kubeconfig, &d->kcfg, why, sizeof(why));
	else
		r = kube_config_in_cluster(KUBE_SA_DIR, &d->kcfg, why, sizeof(why));
	if (r < 0) {
		if (r != -ENOMEM)
			log_warnx("%s: %s", d->opt->kubeconfig ? d->opt->kubeconfig : "in-cluster",
				  why);
		return r;
	}
	if (d->opt->policy_path) {
		_cleanup_(policy_freep) struct policy *check = NULL;

		r = cli_load_policy(d->opt->policy_path, &check);
		if (r < 0)
			return r;
	}
	d->awaiting = true;
	snprintf(d->src_name, sizeof(d->src_name), "nothing yet (waiting for the API server)");
	log_info("API server %s (%s): following %s%s%s", d->kcfg->server, d->kcfg->source,
		 d->opt->policy_source == DAEMON_POLICY_FILE ? "" : "the ",
		 d->opt->policy_source == DAEMON_POLICY_FILE ? "" : cr_kind(d),
		 d->opt->policy_source == DAEMON_POLICY_FILE
			 ? (watch_node ? "node's labels" : "")
			 : (watch_node ? " CR and the node's labels" : " CR"));
	return pol_parse("{}", 2, out, NULL);
}

static int startup(struct daemon *d)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	int r;

	r = sysfs_open_root(d->opt->sysfs_root, &d->sysfs_fd);
	if (r < 0) {
		log_warn(r, "cannot open the sysfs root %s", d->opt->sysfs_root);
		return r;
	}
	r = sysfs_open_root(d->opt->proc_root, &d->proc_fd);
	if (r < 0) {
		log_warn(r, "cannot open the proc root %s", d->opt->proc_root);
		return r;
	}
	r = startup_policy(d, &pol);
	if (r < 0)
		return r;
	r = config_new(&pol, 1, &d->cfg);
	if (r < 0)
		return r;
	r = setup_fds(d);
	if (r < 0)
		return r;
	/* Bindings first: no device plugin registers before its functions are on vfio-pci. */
	vfio_startup(d);
	if (d->opt->plugin_dir) {
		r = dp_manager_new(d->opt->plugin_dir, d->sysfs_fd, &d->dp);
		if (r < 0) {
			log_warn(r, "%s: cannot start the device plugins", d->opt->plugin_dir);
			return r;
		}
		if (d->metrics)
			dp_manager_set_metrics(d->dp, d->metrics);
	}
	if (d->metrics) {
		char why[512];
		unsigned int port = 0;

		r = metrics_http_start(d->metrics, d->opt->metrics_address, &d->http, &port, why,
				       sizeof(why));
		if (r < 0) {
			log_warnx("--metrics-address %s: %s", d->opt->metrics_address, why);
			return r;
		}
		log_info("metrics: serving /metrics, /readyz and /livez on %s (port %u)",
			 d->opt->metrics_address, port);
	}
	log_info("starting: policy %s (%s), sysfs %s, %s, device plugins %s, resync %u s",
		 d->src_name, pol_shape_str(d->cfg->policy->shape), d->opt->sysfs_root,
		 d->opt->no_apply ? "not applying (--no-apply)" : "applying the policy",
		 d->opt->plugin_dir ? d->opt->plugin_dir : "off", d->opt->resync_sec);
	reconcile(d, "start", UEVENT_SCOPE_ALL, true);
	r = vfio_worker_new(&d->vfio_opts, &d->vfio_lv, &d->vfio);
	if (r == 0)
		r = epoll_add(d, vfio_worker_fd(d->vfio), SOURCE_VFIO);
	if (r < 0) {
		log_warn(r, "cannot start the vfio-pci worker");
		return r;
	}
	/*
	 * At start there is no last good policy to fall back to: a misfit is only reported
	 * (apply_policy() reports it when applying).
	 */
	if (d->inv && !d->awaiting)
		cli_check_policy(d->src_name, d->cfg->policy, d->inv,
				 apply_wanted(d) ? CLI_CHECK_NO_ERRORS : 0);
	return 0;
}

int daemon_run(const struct daemon_options *o)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t mask;
	int r;

	if (!d)
		return -ENOMEM;
	*d = (struct daemon){
		.opt = o,
		.sysfs_fd = -1,
		.proc_fd = -1,
		.epoll_fd = -1,
		.signal_fd = -1,
		.inotify_fd = -1,
		.uevent_fd = -1,
		.timer_fd = -1,
		.resync_fd = -1,
		.watchdog_fd = -1,
		.status_fd = -1,
		.last_reload = "none",
		.policy_wd = -1,
		.plugin_wd = -1,
		.plugin_parent_wd = -1,
		.dev_fd = -1,
	};
	/* Before any thread exists (gRPC's), so that every thread inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (o->debug_stall_sec)
		sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigaction(SIGPIPE, &ign, NULL);

	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		d->started = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	r = startup(d);
	if (r < 0)
		goto out;
	sdnotify_send("READY=1");
	log_info("ready: serving %zu resources (%zu devices), %zu mdevs on %zu parents",
		 d->set ? d->set->n_pools : 0, count_devices(d->set), d->inv ? d->inv->n_mdevs : 0,
		 d->inv ? d->inv->n_parents : 0);

	while (!d->stop) {
		struct epoll_event evs[8];
		int n = epoll_wait(d->epoll_fd, evs, (int)ARRAY_SIZE(evs), -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			log_warn(r, "epoll_wait");
			break;
		}
		for (int i = 0; i < n && !d->stop; i++) {
			switch ((enum source)evs[i].data.u32) {
			case SOURCE_SIGNAL:
				handle_signal(d);
				break;
			case SOURCE_INOTIFY:
				handle_inotify(d);
				break;
			case SOURCE_UEVENT:
				handle_uevents(d);
				break;
			case SOURCE_TIMER:
				handle_timer(d);
				break;
			case SOURCE_RESYNC:
				drain_counter(d->resync_fd);
				reconcile(d, "periodic resync", UEVENT_SCOPE_ALL, true);
				break;
			case SOURCE_WATCHDOG:
				drain_counter(d->watchdog_fd);
				sdnotify_send("WATCHDOG=1");
				break;
			case SOURCE_STATUS:
				serve_status(d);
				break;
			case SOURCE_PING:
				metrics_pong(d->metrics);
				break;
			case SOURCE_KUBE_CR:
				handle_kube(d, false);
				break;
			case SOURCE_KUBE_NODE:
				handle_kube(d, true);
				break;
			case SOURCE_VFIO: {
				struct vfio_apply_result vres;
				bool changed = false;

				if (vfio_worker_collect(d->vfio, &vres, &changed) && changed)
					request_reconcile(d, "vfio-pci bindings changed",
							  UEVENT_SCOPE_ALL, 0);
				break;
			}
			}
		}
	}
	sdnotify_send("STOPPING=1");
	log_info("stopped after %lu reconciles and %lu uevents", d->reconciles, d->uevents);
out:
	daemon_release(d);
	free(d);
	return r < 0 ? r : 0;
}
