/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_vfio: what the commands share about vfio-pci bindings (apply, run, pci, status,
 * doctor): the options' defaults, the view of the node (guard, ownership), and one pass
 * of vfio_apply() with its summary line.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "apply/vfio_apply.h"
#include "cli/cli.h"

struct cli_vfio {
	const char *state_path;	 /* --vfio-state; NULL: VFIO_STATE_DEFAULT_PATH */
	const char *udev_path;	 /* --udev-rules; NULL: VFIO_UDEV_DEFAULT_PATH */
	unsigned int timeout_ms; /* --bind-timeout (seconds on the command line); 0: default */
};

/*
 * cli_vfio_opts - vfio_apply options for the globals @g and the roots @sysfs_fd, @proc_fd,
 * @dev_fd (borrowed). Interfaces' IPv4 addresses come from getifaddrs(3) only when
 * @g's proc root is /proc (a fixture proc tree has none): they are stored in @ipv4 (free
 * with cli_vfio_opts_release()). With a --sysfs-root other than /sys the default ownership
 * and udev files (which describe this host) are not used: their paths become "" (no
 * ownership; writing fails) unless @v names them.
 */
void cli_vfio_opts(const struct cli_globals *g, const struct cli_vfio *v, int sysfs_fd, int proc_fd,
		   int dev_fd, struct vfio_apply_opts *out);
void cli_vfio_opts_release(struct vfio_apply_opts *o);

/* cli_parse_bind_timeout - seconds (1..3600) into *ms. Returns 0 or -EINVAL. */
int cli_parse_bind_timeout(const char *s, unsigned int *ms);

/* cli_open_dev - open @g's dev root (logged on error). Returns 0 or -errno. */
int cli_open_dev(const struct cli_globals *g, int *fd);

/* cli_vfio_summary - "vfio-pci: N bound, N already bound, ... ." on @f. */
void cli_vfio_summary(FILE *f, const struct vfio_apply_result *res, bool dry_run);

/* cli_vfio_wanted - does @pol bind anything or has mdevd bound anything (@o's state)? */
bool cli_vfio_active(const struct policy *pol, const struct vfio_apply_opts *o);

/*
 * cli_vfio_output_pci - `mdevd pci`: @fns (@n, borrowed from @inv) with the guard's verdicts
 * and the ownership file (default path) read from @g's roots, and each function's vGPU
 * backend from @parents (an INVENTORY_TYPES inventory; NULL: none shown). Returns
 * output_pci_vfio()'s result; a guard that cannot be read is logged and the listing printed without
 * it.
 */
int cli_vfio_output_pci(const struct cli_globals *g, const struct inventory *inv,
			const struct inventory *parents, const struct pci_function *const *fns,
			size_t n, enum cli_output fmt);

/*
 * cli_vfio_bound_by_mdevd - does the ownership file (the default one, for /sys only) name
 * @fn with its current vendor:device? Such a function gets hostdev managed='no'.
 */
bool cli_vfio_bound_by_mdevd(const struct cli_globals *g, const struct pci_function *fn);

/*
 * cli_vfio_status - `mdevd status`: the vfio-pci decisions for the functions @pol names
 * (or mdevd bound) with their host-owned reasons and group viability, and on the real node
 * (/sys) the failing doctor checks. Human: a "vfio-pci:" and a "doctor:" section on @f;
 * JSON (@json_root a cJSON object, or NULL for human): "vfio_pci" [{"address", "action",
 * "driver", "iommu_group", "host_owned", "bound_by_mdevd", "reason"}] and "doctor"
 * {"fail", "warn", "failing": [{"check", "fix"}]}. Returns 0 or -ENOMEM.
 */
int cli_vfio_status(const struct cli_globals *g, int sysfs_fd, int proc_fd,
		    const struct inventory *inv, const struct policy *pol, FILE *f,
		    void *json_root);

struct virt;

/*
 * What libvirt's domains name, as vfio_apply_opts.in_use: a function a running or defined
 * domain names is in use ("named by libvirt domain vm1 (running)"). cli_vfio_domains_load()
 * reads them from @virt (borrowed; NULL: none) into @d; release with
 * cli_vfio_domains_release(). A libvirt that fails is logged and counts as naming nothing.
 */
struct cli_vfio_domains {
	void *refs; /* struct virt_refs */
	char **why; /* phrases handed out, freed on release */
	size_t n_why;
};
void cli_vfio_domains_load(struct virt *virt, struct cli_vfio_domains *d);
const char *cli_vfio_domain_in_use(void *data, const char *address);
void cli_vfio_domains_release(struct cli_vfio_domains *d);

/*
 * cli_vfio_apply - `mdevd apply`'s vfio-pci pass (nothing when @pol binds nothing and
 * mdevd bound nothing): the guard, the libvirt domains' view (@virt, borrowed, may be
 * NULL), binds and give-backs, the summary line on stdout. Fills @res.
 * Returns EXIT_OK (look at @res), EXIT_USAGE when a fixture --sysfs-root lacks
 * --vfio-state (and --udev-rules with @persist), or EXIT_ERROR (logged).
 */
int cli_vfio_apply(const struct cli_globals *g, const struct cli_vfio *v, int sysfs_fd, int proc_fd,
		   struct virt *virt, const struct policy *pol, bool dry_run, bool persist,
		   struct vfio_apply_result *res);
