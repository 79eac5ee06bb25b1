/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevd dp-serve: serve the policy's resource pools to kubelet until SIGTERM/SIGINT.
 * A test driver for the device plugins until `mdevd run` takes over: it reads the node
 * once (and again on SIGHUP, with the policy), and re-registers when kubelet.sock is
 * re-created in the device-plugin directory. One epoll-free poll(2) over a signalfd and
 * an inotify fd; gRPC's own threads stay in deviceplugin_grpc.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "kubernetes/deviceplugin.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"

DEFINE_CLEANUP(struct dp_manager, dp_manager_free)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mdevd dp-serve --policy FILE [--device-plugin-dir DIR]\n"
		"\n"
		"Serve the policy's permittedHostDevices pools to kubelet through the\n"
		"device-plugin API (v1beta1), one socket per resource name in DIR (default\n"
		"%s),\n"
		"until SIGTERM or SIGINT. SIGHUP reads the node and the policy again. When\n"
		"kubelet re-creates kubelet.sock, every plugin serves and registers again.\n",
		DP_DEFAULT_DIR);
}

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_debug("%s: skipped: %s", path, what);
}

/* Read the policy and the node, and hand the pools to the manager. Returns 0 or -errno. */
static int load(const struct cli_globals *g, int sysfs_fd, const char *policy_path,
		struct dp_manager *m)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	int r;

	r = cli_load_policy(policy_path, &pol);
	if (r < 0)
		return r;
	r = inventory_load(sysfs_fd, g->sysfs_root, INVENTORY_ALL, report_skipped, NULL, &inv);
	if (r < 0) {
		log_warn(r, "%s: cannot read the node", g->sysfs_root);
		return r;
	}
	r = resource_build(inv, pol, &set);
	if (r < 0) {
		log_warn(r, "cannot build the resource pools");
		return r;
	}
	for (size_t i = 0; i < set->n_pools; i++)
		for (size_t j = 0; j < set->pools[i].n_unserved; j++)
			log_info("%s: %s not served: %s", set->pools[i].name,
				 set->pools[i].unserved[j].id, set->pools[i].unserved[j].reason);
	/* A plugin that cannot start was logged; the others serve. */
	dp_manager_update(m, set);
	return 0;
}

/* Did the inotify fd report kubelet.sock being (re-)created? Drains the fd. */
static bool kubelet_created(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool seen = false;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && streq(ev->name, DP_KUBELET_SOCKET))
				seen = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return seen;
}

int cmd_dp_serve(const struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"policy", required_argument, NULL, 'p'},
		{"device-plugin-dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *policy_path = NULL, *dir = DP_DEFAULT_DIR;
	_cleanup_close_ int sysfs_fd = -1, sig_fd = -1, ino_fd = -1;
	_cleanup_(dp_manager_freep) struct dp_manager *m = NULL;
	sigset_t mask;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy_path = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!policy_path || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}

	/* Before grpc_init() (in dp_manager_new()): gRPC's threads inherit this mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		log_warn(-errno, "cannot block signals");
		return EXIT_ERROR;
	}
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sig_fd < 0) {
		log_warn(-errno, "signalfd");
		return EXIT_ERROR;
	}
	ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino_fd < 0 || inotify_add_watch(ino_fd, dir, IN_CREATE | IN_MOVED_TO) < 0) {
		log_warn(-errno, "%s: cannot watch for kubelet.sock", dir);
		return EXIT_ERROR;
	}
	if (cli_open_sysfs(g, &sysfs_fd) < 0)
		return EXIT_ERROR;
	r = dp_manager_new(dir, sysfs_fd, &m);
	if (r < 0) {
		log_warn(r, "cannot start the device-plugin manager");
		return EXIT_ERROR;
	}
	if (load(g, sysfs_fd, policy_path, m) < 0)
		return EXIT_ERROR;

	for (;;) {
		struct pollfd pfd[2] = {
			{.fd = sig_fd, .events = POLLIN},
			{.fd = ino_fd, .events = POLLIN},
		};
		struct signalfd_siginfo si;

		if (poll(pfd, ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn(-errno, "poll");
			return EXIT_ERROR;
		}
		if (pfd[1].revents & POLLIN && kubelet_created(ino_fd))
			dp_manager_kubelet_restarted(m);
		if (!(pfd[0].revents & POLLIN))
			continue;
		while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
				log_info("signal %u: stopping the device plugins", si.ssi_signo);
				return EXIT_OK; /* the manager's cleanup sends the empty lists */
			case SIGHUP:
				log_info("SIGHUP: reading the policy and the node again");
				load(g, sysfs_fd, policy_path, m);
				break;
			default:
				break;
			}
		}
	}
}
