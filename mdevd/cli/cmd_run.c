/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The node service and its view: `mdevd run` (daemon.h) and `mdevd status`, which
 * reads the node directly (no IPC with a running daemon) and shows what the daemon
 * serves from it: each resource's devices, their health and NUMA node, why a matching
 * device is not served, the live mdevs and what a reconcile would still change.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_vfio.h"
#include "daemon/daemon.h"
#include "daemon/status_socket.h"
#include "kubernetes/deviceplugin.h"
#include "libvirt/libvirt_client.h"
#include "node/inuse.h"
#include "node/nvidia_vgpu.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/plan.h"
#include "mdevd/resource.h"

DEFINE_CLEANUP(cJSON, cJSON_Delete)

#define PLUGIN_DIR_DEFAULT DP_DEFAULT_DIR

/* Long options without a short one. */
enum {
	OPT_LIVE_TIMEOUT = 0x100,
	OPT_NO_STATUS_SOCKET,
	OPT_LOG_FORMAT,
	OPT_DEBUG_STALL,
	OPT_VFIO_STATE,
	OPT_UDEV_RULES,
	OPT_BIND_TIMEOUT,
	OPT_SOCKET,
	OPT_CHECK,
	OPT_TIMEOUT,
	OPT_POLICY_SOURCE,
	OPT_KUBECONFIG,
	OPT_NODE_NAME,
	OPT_NODE_LABELS,
	OPT_WATCH_TIMEOUT,
};

static void run_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd run [--policy FILE] [--device-plugin-dir DIR] [--no-device-plugins]\n"
		"                 [--resync SECONDS] [--no-apply] [--connect URI | --no-libvirt]\n"
		"                 [--metrics-address HOST:PORT] [--live-timeout SECONDS]\n"
		"                 [--status-socket PATH | --no-status-socket]\n"
		"                 [--log-level LEVEL] [--log-format text|json]\n"
		"                 [--policy-source file|kubevirt|hyperconverged]\n"
		"                 [--kubeconfig FILE] [--node-name NAME | --node-labels K=V,...]\n"
		"\n"
		"Run the node service: apply the policy, serve each resource pool to kubelet as a\n"
		"device plugin, and follow the node: kernel uevents (mdevs, parents, PCI drivers)\n"
		"and policy file changes reconcile within %d ms; SIGHUP reloads the policy; a\n"
		"policy that does not parse or fit is reported and the last good one keeps\n"
		"running; SIGTERM stops. Under systemd (Type=notify) it reports readiness,\n"
		"reloads, status and the watchdog.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE           the policy (see mdevd-policy(5); default\n"
		"                              /etc/mdevd/policy.json)\n"
		"  -d, --device-plugin-dir DIR kubelet's device-plugin directory\n"
		"                              (default " PLUGIN_DIR_DEFAULT ")\n"
		"  -N, --no-device-plugins     serve nothing to kubelet (libvirt hosts, tests)\n"
		"  -r, --resync SECONDS        full reconcile every SECONDS as a safety net\n"
		"                              (default %d; 0: never)\n"
		"      --no-apply              create and remove no mdevs; only observe and serve\n"
		"  -c, --connect URI           libvirt to ask which mdevs its domains name (never\n"
		"                              removed); default qemu:///system when it runs\n"
		"  -L, --no-libvirt            do not ask libvirt; only open VFIO groups count\n"
		"  -m, --metrics-address HOST:PORT\n"
		"                              serve Prometheus metrics on /metrics and the "
		"probes\n"
		"                              /readyz and /livez there (127.0.0.1:9478, "
		"[::1]:9478,\n"
		"                              :9478 for every address); default: off, no port "
		"and\n"
		"                              no thread\n"
		"      --live-timeout SECONDS  /livez fails when the event loop does not answer\n"
		"                              within SECONDS (default %d)\n"
		"  -S, --status-socket PATH    where 'mdevd status' asks this daemon (default\n"
		"                              $RUNTIME_DIRECTORY/" STATUS_SOCKET_NAME ", else\n"
		"                              " STATUS_SOCKET_DIR "/" STATUS_SOCKET_NAME
		"; mode 0600)\n"
		"      --no-status-socket      no status socket ('mdevd status' then reads the "
		"node)\n"
		"  -l, --log-level LEVEL       error, warning, info (default) or debug (-v: "
		"debug)\n"
		"      --log-format FMT        text (default; timestamped unless stderr is the\n"
		"                              journal) or json (one object per line)\n"
		"      --vfio-state FILE       what mdevd bound to vfio-pci\n"
		"                              (default /var/lib/mdevd/vfio-bound)\n"
		"      --udev-rules FILE       the early-boot rule 'apply --persist' wrote; kept "
		"in\n"
		"                              step when functions are given back\n"
		"      --bind-timeout SEC      wait at most SEC for an unbind or probe (10)\n"
		"      --policy-source SRC     where the KubeVirt sections come from: file (the\n"
		"                              default: --policy), kubevirt (the cluster's\n"
		"                              KubeVirt CR, spec.configuration) or hyperconverged\n"
		"                              (its HyperConverged CR, spec), watched: an edit\n"
		"                              re-plans; --policy, or the CR's annotation\n"
		"                              " DAEMON_MDEVD_ANNOTATION
		", then gives only the mdevd section, and\n"
		"                              mdevd serves only externalResourceProvider entries\n"
		"      --kubeconfig FILE       reach the API server as FILE says (default: the\n"
		"                              pod's service account)\n"
		"      --node-name NAME        this node's Node, whose labels pick\n"
		"                              nodeMediatedDeviceTypes entries, watched (default\n"
		"                              $NODE_NAME with a CR source or --kubeconfig)\n"
		"      --node-labels K=V,...   this node's labels, given (outside Kubernetes)\n"
		"\n"
		"At start it logs a one-line 'mdevd doctor' summary and binds the functions the\n"
		"policy's mdevd.vfioPci names to vfio-pci before any device plugin registers;\n"
		"later passes run on a worker thread, so a busy host driver whose unbind blocks\n"
		"never holds up the device plugins (it is reported, naming the function).\n"
		"\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 when the service cannot start.\n"
		"\n"
		"Example:\n"
		"  mdevd run --policy /etc/mdevd/policy.json\n",
		DAEMON_DEBOUNCE_MSEC, DAEMON_RESYNC_SEC_DEFAULT, DAEMON_LIVE_TIMEOUT_SEC_DEFAULT);
}

static int parse_seconds(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (end == s || *end || errno || v > 7 * 24 * 3600 || s[0] == '-')
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int cmd_run(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"device-plugin-dir", required_argument, NULL, 'd'},
		{"no-device-plugins", no_argument, NULL, 'N'},
		{"resync", required_argument, NULL, 'r'},
		{"no-apply", no_argument, NULL, 'n'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'L'},
		{"metrics-address", required_argument, NULL, 'm'},
		{"live-timeout", required_argument, NULL, OPT_LIVE_TIMEOUT},
		{"status-socket", required_argument, NULL, 'S'},
		{"no-status-socket", no_argument, NULL, OPT_NO_STATUS_SOCKET},
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
		{"debug-stall", required_argument, NULL,
		 OPT_DEBUG_STALL}, /* tests; not in --help */
		{"vfio-state", required_argument, NULL, OPT_VFIO_STATE},
		{"udev-rules", required_argument, NULL, OPT_UDEV_RULES},
		{"bind-timeout", required_argument, NULL, OPT_BIND_TIMEOUT},
		{"policy-source", required_argument, NULL, OPT_POLICY_SOURCE},
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"node-name", required_argument, NULL, OPT_NODE_NAME},
		{"node-labels", required_argument, NULL, OPT_NODE_LABELS},
		{"watch-timeout", required_argument, NULL, OPT_WATCH_TIMEOUT}, /* tests */
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct daemon_options o = {
		.sysfs_root = g->sysfs_root,
		.proc_root = g->proc_root,
		.plugin_dir = PLUGIN_DIR_DEFAULT,
		.resync_sec = DAEMON_RESYNC_SEC_DEFAULT,
		.live_timeout_sec = DAEMON_LIVE_TIMEOUT_SEC_DEFAULT,
		.version = MDEVD_VERSION,
	};
	char machine_id[MACHINE_ID_LEN], status_path[108];
	bool no_dp = false, no_status = false, json_log = false;
	enum log_level level;
	int c, r;

	/* --no-apply is long only: -n is apply's --dry-run. */
	while ((c = getopt_long(argc, argv, "p:d:Nr:c:Lm:S:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.policy_path = optarg;
			break;
		case 'd':
			o.plugin_dir = optarg;
			break;
		case 'N':
			no_dp = true;
			break;
		case 'r':
			if (parse_seconds(optarg, &o.resync_sec) < 0) {
				log_warnx("run: --resync %s: expected whole seconds, 0 to 604800",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			o.no_apply = true;
			break;
		case 'c':
			o.libvirt_uri = optarg;
			break;
		case 'L':
			o.no_libvirt = true;
			break;
		case 'm':
			o.metrics_address = optarg;
			break;
		case OPT_LIVE_TIMEOUT:
			if (parse_seconds(optarg, &o.live_timeout_sec) < 0 || !o.live_timeout_sec) {
				log_warnx("run: --live-timeout %s: expected whole seconds, 1 to "
					  "604800",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			o.status_socket = optarg;
			break;
		case OPT_NO_STATUS_SOCKET:
			no_status = true;
			break;
		case 'l':
			if (log_parse_level(optarg, &level) < 0) {
				log_warnx("run: --log-level %s: expected error, warning, info or "
					  "debug",
					  optarg);
				return EXIT_USAGE;
			}
			log_set_level(level);
			break;
		case OPT_LOG_FORMAT:
			if (!streq(optarg, "text") && !streq(optarg, "json")) {
				log_warnx("run: --log-format %s: expected text or json", optarg);
				return EXIT_USAGE;
			}
			json_log = streq(optarg, "json");
			break;
		case OPT_DEBUG_STALL:
			if (parse_seconds(optarg, &o.debug_stall_sec) < 0) {
				log_warnx("run: --debug-stall %s: expected whole seconds", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_VFIO_STATE:
			o.vfio_state_path = optarg;
			break;
		case OPT_UDEV_RULES:
			o.udev_rules_path = optarg;
			break;
		case OPT_BIND_TIMEOUT:
			if (cli_parse_bind_timeout(optarg, &o.bind_timeout_ms) < 0) {
				log_warnx("run: --bind-timeout %s: expected seconds from 1 to 3600",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_POLICY_SOURCE:
			if (streq(optarg, "file")) {
				o.policy_source = DAEMON_POLICY_FILE;
			} else if (streq(optarg, "kubevirt")) {
				o.policy_source = DAEMON_POLICY_KUBEVIRT;
			} else if (streq(optarg, "hyperconverged")) {
				o.policy_source = DAEMON_POLICY_HYPERCONVERGED;
			} else {
				log_warnx("run: --policy-source %s: expected file, kubevirt or "
					  "hyperconverged",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_KUBECONFIG:
			o.kubeconfig = optarg;
			break;
		case OPT_NODE_NAME:
			o.node_name = optarg;
			break;
		case OPT_NODE_LABELS:
			o.node_labels = optarg;
			break;
		case OPT_WATCH_TIMEOUT:
			if (parse_seconds(optarg, &o.watch_timeout_sec) < 0) {
				log_warnx("run: --watch-timeout %s: expected whole seconds",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (o.node_name && o.node_labels) {
		log_warnx("run: --node-name and --node-labels exclude each other");
		return EXIT_USAGE;
	}
	/* The downward API's NODE_NAME, where mdevd talks to the API server anyway. */
	if (!o.node_name && !o.node_labels &&
	    (o.policy_source != DAEMON_POLICY_FILE || o.kubeconfig) && getenv("NODE_NAME") &&
	    *getenv("NODE_NAME"))
		o.node_name = getenv("NODE_NAME");
	/* From a CR, a policy file only adds the mdevd section: none given, none read. */
	if (o.policy_source == DAEMON_POLICY_FILE &&
	    cli_check_policy_args("run", &o.policy_path, optind, argc, run_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (o.policy_source != DAEMON_POLICY_FILE && optind < argc) {
		log_warnx("run: unexpected argument %s", argv[optind]);
		return EXIT_USAGE;
	}
	if (no_dp)
		o.plugin_dir = NULL;
	o.dev_root = g->dev_root;
	/* The default files describe this host, not a fixture tree (cli_vfio.h). */
	if (!streq(g->sysfs_root, "/sys")) {
		if (!o.vfio_state_path)
			o.vfio_state_path = "";
		if (!o.udev_rules_path)
			o.udev_rules_path = "";
	}
	if (o.plugin_dir && strlen(o.plugin_dir) > 80) {
		/* Socket paths are limited to 108 bytes; leave room for our socket names. */
		log_warnx("run: --device-plugin-dir %s: longer than 80 bytes", o.plugin_dir);
		return EXIT_USAGE;
	}
	if (o.metrics_address && o.metrics_address[0] == '\0') {
		log_warnx("run: --metrics-address: expected HOST:PORT");
		return EXIT_USAGE;
	}
	if (no_status && o.status_socket) {
		log_warnx("run: --status-socket and --no-status-socket exclude each other");
		return EXIT_USAGE;
	}
	if (!no_status && !o.status_socket) {
		if (status_socket_default_path(status_path, sizeof(status_path)) < 0) {
			log_warnx("run: $RUNTIME_DIRECTORY is too long for a socket path; give "
				  "--status-socket PATH");
			return EXIT_USAGE;
		}
		o.status_socket = status_path;
		o.status_socket_optional = true;
	}
	if (!o.no_apply || g->machine_id) {
		if (cli_machine_id(g, machine_id) < 0)
			return EXIT_ERROR;
		o.machine_id = machine_id;
	}
	/* The service's own log: one record a line, timestamped unless journald stamps it. */
	log_set_style(json_log ? LOG_STYLE_JSON : LOG_STYLE_TIMESTAMPS);
	r = daemon_run(&o);
	if (r < 0)
		log_errx("run: the service cannot start: %s", strerror(-r));
	return r < 0 ? EXIT_ERROR : EXIT_OK;
}

static void status_usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd status [--policy FILE] [--socket PATH] [-o json]\n"
		"                    [--connect URI | --no-libvirt]\n"
		"       mdevd status --check [--socket PATH] [--timeout SECONDS]\n"
		"\n"
		"Show what mdevd serves on this node: each resource with the devices kubelet\n"
		"is sent (health, NUMA node, IOMMU group; why an unhealthy one is kept listed),\n"
		"whether its device plugin is registered, every device a selector matches but\n"
		"that is not served and why, the live mdevs (owned by mdevd or not), and whether\n"
		"the daemon is ready and why not.\n"
		"\n"
		"It asks the running daemon ('mdevd run') on its status socket. When no daemon\n"
		"answers, it says so on stderr and reads the node under the policy instead: then\n"
		"it also shows in-use state, the policy's warnings for this node (under Policy)\n"
		"and the changes a reconcile would still make. With --sysfs-root other than\n"
		"/sys and no --socket, it reads that tree directly.\n"
		"\n"
		"Options:\n"
		"  -p, --policy FILE    the policy, for reading the node (see mdevd-policy(5);\n"
		"                       default /etc/mdevd/policy.json)\n"
		"      --socket PATH    the daemon's status socket (default\n"
		"                       $RUNTIME_DIRECTORY/" STATUS_SOCKET_NAME
		", else " STATUS_SOCKET_DIR "/" STATUS_SOCKET_NAME ")\n"
		"      --check          the exec probe: is the daemon ready? Never reads the node\n"
		"      --timeout SECONDS how long to wait for the daemon's answer (default 5)\n"
		"  -o, --output FMT     human (default) or json\n"
		"  -c, --connect URI    ask libvirt at URI what its domains use (default:\n"
		"                       qemu:///system when its socket exists, with /sys)\n"
		"      --no-libvirt     do not ask libvirt; only open VFIO groups count as in use\n"
		"\n"
		"Exit status, so that status can serve as a check: 0 all is served and nothing\n"
		"is pending (--check: ready); 2 degraded: the policy has warnings here, a device\n"
		"is unhealthy or not served, changes are pending or requested mdevs do not fit\n"
		"(--check: answered, not ready); 1 the policy does not fit this node, or an\n"
		"error (--check: no daemon answered in time: not running, or its loop is "
		"stuck).\n");
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

/* Everything status shows, read once. */
struct status {
	struct inventory *inv;
	struct resource_set *set;
	struct plan *plan; /* NULL when the policy does not fit the node */
	struct inuse in;
	struct pol_error misfit;  /* path and message when plan is NULL */
	struct pol_report report; /* what pol_check() found: errors and warnings */
	const char *machine_id;
};

static const char *kind_str(enum resource_kind k)
{
	switch (k) {
	case RESOURCE_MDEV:
		return "mdev";
	case RESOURCE_PCI:
		return "pci";
	}
	return "?";
}

/*
 * Where a pool's device sits, into @buf: "  parent P" for an mdev, with " (PF F)" when P is
 * an SR-IOV VF; "  PF F" for a PCI function that is a VF; "" for any other PCI function.
 */
static void device_place(const struct resource_device *dev, char *buf, size_t size)
{
	const char *pf = resource_device_physfn(dev);

	if (dev->parent && pf)
		snprintf(buf, size, "  parent %s (PF %s)", dev->parent, pf);
	else if (dev->parent)
		snprintf(buf, size, "  parent %s", dev->parent);
	else if (pf)
		snprintf(buf, size, "  PF %s", pf);
	else
		buf[0] = '\0';
}

static void print_status_human(const struct status *st)
{
	const struct resource_set *set = st->set;
	const struct inventory *inv = st->inv;

	if (set->n_pools == 0)
		printf("No resources: the policy's permittedHostDevices selects nothing.\n");
	for (size_t i = 0; i < set->n_pools; i++) {
		const struct resource_pool *p = &set->pools[i];
		size_t healthy = 0;

		for (size_t j = 0; j < p->n_devices; j++)
			healthy += p->devices[j].healthy;
		printf("%s (%s%s): %zu devices, %zu healthy\n", p->name, kind_str(p->kind),
		       p->external_resource_provider ? ", external provider" : "", p->n_devices,
		       healthy);
		for (size_t j = 0; j < p->n_devices; j++) {
			const struct resource_device *dev = &p->devices[j];
			char numa[16] = "-", group[16] = "-", place[2 * NAME_MAX + 32];
			bool in_use = inuse_has_device(&st->in, dev->iommu_group,
						       dev->has_vfio_cdev, dev->vfio_cdev);

			if (dev->numa_node >= 0)
				snprintf(numa, sizeof(numa), "%d", dev->numa_node);
			if (dev->iommu_group >= 0)
				snprintf(group, sizeof(group), "%d", dev->iommu_group);
			const struct inuse_holder *h =
				in_use ? inuse_get_holder(&st->in, dev->iommu_group) : NULL;
			char who[140] = "";

			if (h)
				snprintf(who, sizeof(who), " by %s",
					 inuse_holder_str(h, place, sizeof(place)));
			device_place(dev, place, sizeof(place));
			/* The group column is padded only when something follows it. */
			printf("  %-36s  %-9s  numa %-3s  group %-*s%s%s%s%s\n", dev->id,
			       dev->healthy ? "healthy" : "unhealthy", numa,
			       place[0] || in_use ? 4 : 0, group, place, in_use ? "  (in use" : "",
			       who, in_use ? ")" : "");
		}
		for (size_t j = 0; j < p->n_unserved; j++)
			printf("  %-36s  not served: %s\n", p->unserved[j].id,
			       p->unserved[j].reason);
	}
	printf("\nmdevs: %zu\n", inv->n_mdevs);
	for (size_t i = 0; i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		bool owned = plan_is_owned(inv, m, st->machine_id, NULL);
		char group[16] = "-";

		if (m->iommu_group >= 0)
			snprintf(group, sizeof(group), "%d", m->iommu_group);
		const struct inuse_holder *h =
			m->iommu_group >= 0 ? inuse_get_holder(&st->in, m->iommu_group) : NULL;
		char who[128] = "";

		if (h)
			inuse_holder_str(h, who, sizeof(who));
		printf("  %s  %-14s %-16s group %-4s %s%s%s%s%s\n", m->uuid, m->parent, m->type_id,
		       group, owned ? "owned" : "foreign",
		       inuse_has_device(&st->in, m->iommu_group, m->has_vfio_cdev, m->vfio_cdev)
			       ? ", in use"
			       : "",
		       h ? " by " : "", who,
		       m->backend == PARENT_BACKEND_NVIDIA_VGPU ? ", vGPU VF (nvidia-vgpu)" : "");
	}
	if (st->report.n) {
		printf("\nPolicy: %zu %s, %zu %s on this node\n", st->report.n_errors,
		       st->report.n_errors == 1 ? "error" : "errors", st->report.n_warnings,
		       st->report.n_warnings == 1 ? "warning" : "warnings");
		for (size_t i = 0; i < st->report.n; i++)
			printf("  %-7s %s: %s\n",
			       st->report.diags[i].severity == POL_SEVERITY_ERROR ? "error"
										  : "warning",
			       st->report.diags[i].path, st->report.diags[i].message);
	}
	for (size_t i = 0; i < inv->n_pci; i++)
		if (nvidia_vgpu_vfs_disabled(inv, &inv->pci[i]))
			printf("\n%s: NVIDIA GPU with its SR-IOV VFs not enabled (0 of %u): no "
			       "vGPU "
			       "can exist on it; run /usr/lib/nvidia/sriov-manage -e %s\n",
			       inv->pci[i].address, inv->pci[i].sriov_totalvfs,
			       inv->pci[i].address);
	if (!st->plan) {
		printf("\nPending: unknown: the policy does not fit this node: %s: %s\n",
		       st->misfit.path, st->misfit.message);
		return;
	}
	printf("\nPending: %zu to create, %zu to remove\n", st->plan->n_create, st->plan->n_remove);
	for (size_t i = 0; i < st->plan->n_actions; i++) {
		const struct plan_action *a = &st->plan->actions[i];
		char why[128];

		if (a->kind == PLAN_KEEP)
			continue;
		printf("  %-6s  %s  %-14s %-16s %s\n", plan_action_kind_str(a->kind), a->uuid,
		       a->parent, a->type_id, plan_action_reason(a, why, sizeof(why)));
	}
	for (size_t i = 0; i < st->plan->n_shortfalls; i++) {
		const struct plan_shortfall *s = &st->plan->shortfalls[i];

		printf("  short   %s: %s: the policy asks for %u, only %u fit\n", s->parent,
		       s->type_id, s->wanted, s->planned);
	}
}

static cJSON *int_or_null(int v)
{
	return v >= 0 ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Add @item to @obj under @key; false (and @item freed) when either is NULL. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* "held_by": the process holding @group open ({"pid", "command", "guest"}), or null. */
static bool add_holder_json(cJSON *o, const struct inuse *in, int group)
{
	const struct inuse_holder *h = group >= 0 ? inuse_get_holder(in, group) : NULL;
	cJSON *ho;

	if (!h)
		return add(o, "held_by", cJSON_CreateNull());
	ho = cJSON_CreateObject();
	return add(o, "held_by", ho) && add(ho, "pid", cJSON_CreateNumber(h->pid)) &&
	       add(ho, "command", h->comm[0] ? cJSON_CreateString(h->comm) : cJSON_CreateNull()) &&
	       add(ho, "guest", h->guest[0] ? cJSON_CreateString(h->guest) : cJSON_CreateNull());
}

static cJSON *pool_json(const struct status *st, const struct resource_pool *p)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	cJSON *devs, *unserved;

	if (!o || !add(o, "name", cJSON_CreateString(p->name)) ||
	    !add(o, "kind", cJSON_CreateString(kind_str(p->kind))) ||
	    !add(o, "external_resource_provider", cJSON_CreateBool(p->external_resource_provider)))
		return NULL;
	devs = cJSON_AddArrayToObject(o, "devices");
	unserved = cJSON_AddArrayToObject(o, "unserved");
	if (!devs || !unserved)
		return NULL;
	for (size_t j = 0; j < p->n_devices; j++) {
		const struct resource_device *dev = &p->devices[j];
		cJSON *d = cJSON_CreateObject();

		if (!d || !cJSON_AddItemToArray(devs, d))
			return cJSON_Delete(d), NULL;
		if (!add(d, "id", cJSON_CreateString(dev->id)) ||
		    !add(d, "health", cJSON_CreateString(dev->healthy ? "healthy" : "unhealthy")) ||
		    !add(d, "numa_node", int_or_null(dev->numa_node)) ||
		    !add(d, "iommu_group", int_or_null(dev->iommu_group)) ||
		    !add(d, "parent", str_or_null(dev->parent)) ||
		    !add(d, "physfn", str_or_null(resource_device_physfn(dev))) ||
		    !add(d, "in_use",
			 cJSON_CreateBool(inuse_has_device(&st->in, dev->iommu_group,
							   dev->has_vfio_cdev, dev->vfio_cdev))) ||
		    !add_holder_json(d, &st->in, dev->iommu_group))
			return NULL;
	}
	for (size_t j = 0; j < p->n_unserved; j++) {
		cJSON *u = cJSON_CreateObject();

		if (!u || !cJSON_AddItemToArray(unserved, u))
			return cJSON_Delete(u), NULL;
		if (!add(u, "id", cJSON_CreateString(p->unserved[j].id)) ||
		    !add(u, "reason", cJSON_CreateString(p->unserved[j].reason)))
			return NULL;
	}
	return steal_ptr(o);
}

/* "sriov_disabled": [{"pf", "fix"}]: NVIDIA GPUs whose VFs are not enabled. */
static int vfs_disabled_json(cJSON *root, const struct inventory *inv)
{
	cJSON *arr = cJSON_AddArrayToObject(root, "sriov_disabled");
	char fix[96];

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < inv->n_pci; i++) {
		cJSON *o;

		if (!nvidia_vgpu_vfs_disabled(inv, &inv->pci[i]))
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o))
			return cJSON_Delete(o), -ENOMEM;
		snprintf(fix, sizeof(fix), "/usr/lib/nvidia/sriov-manage -e %s",
			 inv->pci[i].address);
		if (!add(o, "pf", cJSON_CreateString(inv->pci[i].address)) ||
		    !add(o, "fix", cJSON_CreateString(fix)))
			return -ENOMEM;
	}
	return 0;
}

static int print_status_json(const struct status *st, const struct cli_globals *g, int sysfs_fd,
			     int proc_fd, const struct policy *pol)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	_cleanup_free_ char *text = NULL;
	cJSON *pools, *mdevs, *pending;

	if (!root)
		return -ENOMEM;
	pools = cJSON_AddArrayToObject(root, "resources");
	mdevs = cJSON_AddArrayToObject(root, "mdevs");
	pending = cJSON_AddObjectToObject(root, "pending");
	if (!pools || !mdevs || !pending)
		return -ENOMEM;
	for (size_t i = 0; i < st->set->n_pools; i++) {
		cJSON *p = pool_json(st, &st->set->pools[i]);

		if (!p || !cJSON_AddItemToArray(pools, p))
			return cJSON_Delete(p), -ENOMEM;
	}
	for (size_t i = 0; i < st->inv->n_mdevs; i++) {
		const struct mdev_instance *m = &st->inv->mdevs[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(mdevs, o))
			return cJSON_Delete(o), -ENOMEM;
		if (!add(o, "uuid", cJSON_CreateString(m->uuid)) ||
		    !add(o, "parent", cJSON_CreateString(m->parent)) ||
		    !add(o, "type", cJSON_CreateString(m->type_id)) ||
		    !add(o, "iommu_group", int_or_null(m->iommu_group)) ||
		    !add(o, "owned",
			 cJSON_CreateBool(plan_is_owned(st->inv, m, st->machine_id, NULL))) ||
		    !add(o, "in_use",
			 cJSON_CreateBool(inuse_has_device(&st->in, m->iommu_group,
							   m->has_vfio_cdev, m->vfio_cdev))) ||
		    !add_holder_json(o, &st->in, m->iommu_group) ||
		    !add(o, "backend", cJSON_CreateString(parent_backend_str(m->backend))))
			return -ENOMEM;
	}
	{
		cJSON *pj = cJSON_AddObjectToObject(root, "policy");
		cJSON *errs = pj ? cJSON_AddArrayToObject(pj, "errors") : NULL;
		cJSON *warns = pj ? cJSON_AddArrayToObject(pj, "warnings") : NULL;

		if (!errs || !warns)
			return -ENOMEM;
		for (size_t i = 0; i < st->report.n; i++) {
			const struct pol_diag *d = &st->report.diags[i];
			cJSON *o = cJSON_CreateObject();

			if (!o || !cJSON_AddItemToArray(
					  d->severity == POL_SEVERITY_ERROR ? errs : warns, o))
				return cJSON_Delete(o), -ENOMEM;
			if (!add(o, "path", cJSON_CreateString(d->path)) ||
			    !add(o, "message", cJSON_CreateString(d->message)))
				return -ENOMEM;
		}
	}
	if (vfs_disabled_json(root, st->inv) < 0)
		return -ENOMEM;
	if (!st->plan) {
		char where[POL_PATH_MAX + POL_ERROR_MAX + 4];

		snprintf(where, sizeof(where), "%s: %s", st->misfit.path, st->misfit.message);
		if (!add(pending, "error", cJSON_CreateString(where)))
			return -ENOMEM;
	} else {
		cJSON *actions = cJSON_AddArrayToObject(pending, "actions");

		if (!actions ||
		    !add(pending, "create", cJSON_CreateNumber((double)st->plan->n_create)) ||
		    !add(pending, "remove", cJSON_CreateNumber((double)st->plan->n_remove)))
			return -ENOMEM;
		for (size_t i = 0; i < st->plan->n_actions; i++) {
			const struct plan_action *a = &st->plan->actions[i];
			char why[128];
			cJSON *o;

			if (a->kind == PLAN_KEEP)
				continue;
			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(actions, o))
				return cJSON_Delete(o), -ENOMEM;
			if (!add(o, "action", cJSON_CreateString(plan_action_kind_str(a->kind))) ||
			    !add(o, "uuid", cJSON_CreateString(a->uuid)) ||
			    !add(o, "parent", cJSON_CreateString(a->parent)) ||
			    !add(o, "type", cJSON_CreateString(a->type_id)) ||
			    !add(o, "reason",
				 cJSON_CreateString(plan_action_reason(a, why, sizeof(why)))))
				return -ENOMEM;
		}
	}
	if (cli_vfio_status(g, sysfs_fd, proc_fd, st->inv, pol, stdout, root) < 0)
		return -ENOMEM;
	text = cJSON_Print(root);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	return 0;
}

static const char *json_str(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The daemon's document (status_socket.h), for a person. */
static void print_daemon_human(const cJSON *doc)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(doc, "resources"), *r;
	const cJSON *mdevs = cJSON_GetObjectItemCaseSensitive(doc, "mdevs"), *m;
	const cJSON *reload = cJSON_GetObjectItemCaseSensitive(doc, "last_reload");

	printf("mdevd %s, pid %.0f: %s%s\n", json_str(doc, "version", "?"), json_num(doc, "pid"),
	       json_true(doc, "ready") ? "ready" : "not ready: ",
	       json_true(doc, "ready") ? "" : json_str(doc, "not_ready", "?"));
	printf("policy %s, generation %.0f (%s); last reload: %s%s%s\n",
	       json_str(doc, "policy", "?"), json_num(doc, "generation"),
	       json_str(doc, "shape", "?"), json_str(reload, "result", "?"),
	       json_str(reload, "error", NULL) ? ": " : "", json_str(reload, "error", ""));
	printf("%.0f reconciles, %.0f uevents; metrics: %s\n\n", json_num(doc, "reconciles"),
	       json_num(doc, "uevents"), json_str(doc, "metrics_address", "off"));
	if (cJSON_GetArraySize(res) == 0)
		printf("No resources: the policy's permittedHostDevices selects nothing.\n");
	cJSON_ArrayForEach(r, res)
	{
		const cJSON *devs = cJSON_GetObjectItemCaseSensitive(r, "devices"), *dv;
		const cJSON *uns = cJSON_GetObjectItemCaseSensitive(r, "unserved"), *u;
		const cJSON *plugin = cJSON_GetObjectItemCaseSensitive(r, "plugin");
		int healthy = 0;

		cJSON_ArrayForEach(dv, devs) healthy +=
			streq(json_str(dv, "health", ""), "Healthy");
		printf("%s (%s): %d devices sent to kubelet, %d healthy; ",
		       json_str(r, "name", "?"), json_str(r, "kind", "?"), cJSON_GetArraySize(devs),
		       healthy);
		if (!cJSON_IsObject(plugin))
			printf("no device plugin\n");
		else
			printf("plugin %s on %s\n",
			       !json_true(plugin, "serving")	 ? "NOT SERVING"
			       : json_true(plugin, "registered") ? "registered"
								 : "NOT REGISTERED with kubelet",
			       json_str(plugin, "socket", "?"));
		cJSON_ArrayForEach(dv, devs)
		{
			const char *why = json_str(dv, "why", NULL);

			printf("  %-36s  %s%s%s\n", json_str(dv, "id", "?"),
			       streq(json_str(dv, "health", ""), "Healthy") ? "healthy"
									    : "unhealthy",
			       why ? ": " : "", why ? why : "");
		}
		cJSON_ArrayForEach(u, uns)
			printf("  %-36s  not served: %s\n", json_str(u, "id", "?"),
			       json_str(u, "reason", "?"));
	}
	printf("\nmdevs: %d\n", cJSON_GetArraySize(mdevs));
	cJSON_ArrayForEach(m, mdevs)
	{
		const cJSON *owned = cJSON_GetObjectItemCaseSensitive(m, "owned");

		printf("  %s  %-14s %-16s %s\n", json_str(m, "uuid", "?"),
		       json_str(m, "parent", "?"), json_str(m, "type", "?"),
		       cJSON_IsBool(owned) ? (cJSON_IsTrue(owned) ? "owned" : "foreign") : "-");
	}
}

/*
 * Ask the daemon on @path. Returns EXIT_OK (shown, or --check: ready), EXIT_ERROR, 2
 * (--check: not ready), or -1: no daemon answered (said on stderr) and the caller may
 * read the node.
 */
static int status_from_daemon(const char *path, unsigned int timeout_sec, bool check,
			      enum cli_output output)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r;

	r = status_socket_query(path, timeout_sec * 1000u, &text);
	if (r == -ETIMEDOUT) {
		log_warnx("status: the daemon on %s did not answer within %u s: its event loop is "
			  "stuck",
			  path, timeout_sec);
		return -1;
	}
	if (r < 0) {
		log_warn(r, "status: no mdevd daemon answers on %s", path);
		return -1;
	}
	doc = cJSON_Parse(text);
	if (!cJSON_IsObject(doc) || !streq(json_str(doc, "source", ""), "daemon")) {
		log_warnx("status: %s: the answer is not an mdevd status document", path);
		return EXIT_ERROR;
	}
	if (check) {
		if (json_true(doc, "ready")) {
			printf("ready: policy generation %.0f, %d resources\n",
			       json_num(doc, "generation"),
			       cJSON_GetArraySize(
				       cJSON_GetObjectItemCaseSensitive(doc, "resources")));
			return EXIT_OK;
		}
		printf("not ready: %s\n", json_str(doc, "not_ready", "?"));
		return EXIT_PENDING;
	}
	if (output == OUTPUT_JSON) {
		_cleanup_free_ char *pretty = cJSON_Print(doc);

		if (!pretty) {
			log_warnx("status: out of memory");
			return EXIT_ERROR;
		}
		printf("%s\n", pretty);
	} else {
		print_daemon_human(doc);
	}
	return EXIT_OK;
}

/*
 * status as a check: 1 when the policy does not fit this node, 2 when it fits with
 * warnings, a served device is unhealthy, a pool has unserved devices, changes are
 * pending or requested mdevs do not fit; else 0.
 */
static int status_exit(const struct status *st)
{
	if (!st->plan)
		return EXIT_ERROR;
	if (st->report.n_warnings || st->plan->n_create || st->plan->n_remove ||
	    st->plan->n_shortfalls)
		return EXIT_DEGRADED;
	for (size_t i = 0; i < st->set->n_pools; i++) {
		const struct resource_pool *p = &st->set->pools[i];

		if (p->n_unserved)
			return EXIT_DEGRADED;
		for (size_t j = 0; j < p->n_devices; j++)
			if (!p->devices[j].healthy)
				return EXIT_DEGRADED;
	}
	return EXIT_OK;
}

int cmd_status(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"output", required_argument, NULL, 'o'},
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"check", no_argument, NULL, OPT_CHECK},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *socket_path = NULL;
	char default_socket[108];
	unsigned int timeout_sec = 5;
	bool check = false;
	_cleanup_(virt_closep) struct virt *virt = NULL;
	struct virt_refs refs = {};
	const char *uri = NULL;
	bool no_libvirt = false;
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	enum cli_output output = OUTPUT_HUMAN;
	const char *policy_path = NULL;
	char machine_id[MACHINE_ID_LEN];
	struct status st = {};
	struct plan_context ctx;
	int c, r;

	while ((c = getopt_long(argc, argv, "p:o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'c':
			uri = optarg;
			break;
		case 'N':
			no_libvirt = true;
			break;
		case 'o':
			if (cli_output_option("status", optarg, &output) != EXIT_OK)
				return EXIT_USAGE;
			break;
		case OPT_SOCKET:
			socket_path = optarg;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &timeout_sec) < 0 || !timeout_sec) {
				log_warnx(
					"status: --timeout %s: expected whole seconds, 1 to 604800",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			status_usage(stdout);
			return EXIT_OK;
		default:
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("status: unexpected argument");
		status_usage(stderr);
		return EXIT_USAGE;
	}
	/* A tree under --sysfs-root is no daemon's node, unless --socket names one. */
	if (socket_path || check || streq(g->sysfs_root, "/sys")) {
		if (!socket_path) {
			if (status_socket_default_path(default_socket, sizeof(default_socket)) <
			    0) {
				log_warnx("status: $RUNTIME_DIRECTORY is too long; give --socket "
					  "PATH");
				return EXIT_USAGE;
			}
			socket_path = default_socket;
		}
		r = status_from_daemon(socket_path, timeout_sec, check, output);
		if (r >= 0)
			return r;
		if (check)
			return EXIT_ERROR;
		log_warnx("status: reading the node instead (what kubelet is served may differ)");
	}
	if (cli_check_policy_args("status", &policy_path, optind, argc, status_usage) != EXIT_OK)
		return EXIT_USAGE;
	if (cli_open_sysfs(g, &sysfs_fd) < 0 || cli_open_proc(g, &proc_fd) < 0 ||
	    cli_machine_id(g, machine_id) < 0 || cli_load_policy(policy_path, &pol) < 0)
		return EXIT_ERROR;
	r = inventory_load(sysfs_fd, g->sysfs_root, INVENTORY_ALL, report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node", g->sysfs_root);
		return EXIT_ERROR;
	}
	r = resource_build(inv, pol, &set);
	if (r < 0) {
		log_warn(r, "cannot build the resource pools");
		return EXIT_ERROR;
	}
	r = inuse_scan(proc_fd, &st.in);
	if (r < 0) {
		log_warn(r, "%s: cannot scan processes for open VFIO groups", g->proc_root);
		return EXIT_ERROR;
	}
	if (cli_connect_libvirt(g, uri, no_libvirt, false, true, &virt) < 0) {
		inuse_release(&st.in);
		return EXIT_ERROR;
	}
	if (virt && virt_domain_refs(virt, &refs) < 0)
		log_warnx("libvirt at %s: cannot read its domains: %s; only open VFIO groups "
			  "count as in use",
			  virt_uri(virt), virt_last_error(virt));
	st.inv = inv;
	st.set = set;
	st.machine_id = machine_id;
	r = pol_check(pol, inv, &st.report);
	if (r == -ENOMEM) {
		inuse_release(&st.in);
		virt_refs_release(&refs);
		pol_report_clear(&st.report);
		log_warn(r, "cannot check the policy");
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < st.report.n && r == -EINVAL; i++) {
		if (st.report.diags[i].severity != POL_SEVERITY_ERROR)
			continue;
		snprintf(st.misfit.path, sizeof(st.misfit.path), "%s", st.report.diags[i].path);
		snprintf(st.misfit.message, sizeof(st.misfit.message), "%s",
			 st.report.diags[i].message);
		break;
	}
	if (r == 0) {
		ctx = (struct plan_context){
			.machine_id = machine_id,
			.in_use_groups = st.in.groups,
			.n_in_use_groups = st.in.n_groups,
			.domain_refs = refs.refs,
			.n_domain_refs = refs.n,
			.in_use_cdevs = st.in.cdevs,
			.n_in_use_cdevs = st.in.n_cdevs,
		};
		r = plan_build(inv, pol, &ctx, &plan);
		if (r < 0) {
			inuse_release(&st.in);
			virt_refs_release(&refs);
			pol_report_clear(&st.report);
			log_warn(r, "cannot build a plan");
			return EXIT_ERROR;
		}
		st.plan = plan;
	}
	if (output == OUTPUT_JSON) {
		r = print_status_json(&st, g, sysfs_fd, proc_fd, pol);
	} else {
		print_status_human(&st);
		r = cli_vfio_status(g, sysfs_fd, proc_fd, inv, pol, stdout, NULL);
	}
	inuse_release(&st.in);
	virt_refs_release(&refs); /* after printing: the plan borrows domain names */
	if (r < 0) {
		pol_report_clear(&st.report);
		log_warn(r, "cannot print the status");
		return EXIT_ERROR;
	}
	r = status_exit(&st);
	pol_report_clear(&st.report);
	return r;
}
