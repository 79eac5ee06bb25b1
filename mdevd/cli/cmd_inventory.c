/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The inventory commands: `types` (what each parent offers), `list` (live mdevs) and
 * `pci` (PCI functions). Each opens the sysfs root of --sysfs-root, loads only the part
 * of the inventory it shows, and prints it through output_cjson.c. Skipped sysfs entries are
 * warned about on stderr, one line each; they never fail the command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_vfio.h"
#include "util/log.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "cli/output.h"
#include "node/sysfs.h"
#include "libvirt/libvirt_client.h"
#include "node/inuse.h"
#include "cli/cli_common.h"

struct inv_cmd {
	const char *name;
	const char *help;
	unsigned int what;
	bool has_vendor;  /* takes --vendor VVVV[:DDDD] */
	bool has_libvirt; /* takes --connect URI, --no-libvirt */
	bool has_source;  /* takes --source sysfs|libvirt */
};

static const struct inv_cmd cmd_types_def = {
	.name = "types",
	.what = INVENTORY_TYPES,
	.has_source = true,
	.has_libvirt = true,
	.help = "Usage: mdevd [--sysfs-root DIR] types [-o human|json] [--source sysfs|libvirt]\n"
		"\n"
		"Show every mdev parent device (class/mdev_bus) and the mdev types it offers:\n"
		"type id, how many more instances can be created now (available instances),\n"
		"device API, name and description. Parents are sorted by name, types by id.\n"
		"A GPU on NVIDIA's vendor-specific VFIO (vGPU 17+: its VFs have nvidia/) is one\n"
		"parent named by its PF, backend nvidia-vgpu: its types are the ids its VFs'\n"
		"creatable_vgpu_types list, available instances the free VFs that list one\n"
		"(an upper bound: the card's own limit shows as the lists shrink).\n"
		"Types that the kernel lists with garbage (a non-numeric available_instances,\n"
		"no device_api) are left out with a warning on stderr.\n"
		"\n"
		"Options:\n"
		"  -o, --output FORMAT   human (default, like 'mdevctl types') or json:\n"
		"                        [{\"parent\", \"backend\", \"types\": [{\"id\", \"name\", "
		"\"description\",\n"
		"                        \"device_api\", \"available_instances\"}], and for\n"
		"                        nvidia-vgpu \"vfs\": [{\"address\", \"iommu_group\",\n"
		"                        \"vfio_cdev\", \"current_type\", \"creatable\"}]}]\n"
		"      --source SOURCE   sysfs (default), or libvirt: the parents and types\n"
		"                        libvirt's node-device API lists (node devices with\n"
		"                        mdev_types), to compare with sysfs\n"
		"  -c, --connect URI     the libvirt for --source libvirt (qemu:///system)\n"
		"  -h, --help            this text\n"
		"\n"
		"Example:\n"
		"  mdevd types -o json | jq '.[] | select(.parent == \"0000:3b:00.0\")'\n",
};

static const struct inv_cmd cmd_list_def = {
	.name = "list",
	.what = INVENTORY_MDEVS,
	.has_libvirt = true,
	.help = "Usage: mdevd [--sysfs-root DIR] list [-o human|json] [--connect URI | "
		"--no-libvirt]\n"
		"\n"
		"Show the live mdevs (bus/mdev/devices), sorted by UUID: UUID, parent device,\n"
		"type id and IOMMU group (the group is what a VM opens as /dev/vfio/N), and the\n"
		"vGPUs of NVIDIA's vendor-specific VFIO (VFs with a current_vgpu_type): VF\n"
		"address, card (PF), type id, group, marked 'vGPU VF (nvidia-vgpu)'; and the\n"
		"libvirt domain that names each one: a running domain holds it (in use), a\n"
		"defined one reserves it; and the process that holds its VFIO group open (pid,\n"
		"command, QEMU's guest name): 'held by pid 4242 (qemu-system-x86, guest vm1)'.\n"
		"\n"
		"Options:\n"
		"  -o, --output FORMAT   human (default, like 'mdevctl list': one line\n"
		"                        '<uuid> <parent> <type> (group N)[ in use by D]') or\n"
		"                        json: [{\"uuid\" (null for a VF), \"address\" (the VF;\n"
		"                        null for an mdev), \"backend\", \"parent\", \"type\",\n"
		"                        \"iommu_group\", \"domain\",\n"
		"                        \"state\": \"in_use\"|\"reserved\"|null,\n"
		"                        \"held_by\": {\"pid\", \"command\", \"guest\"}|null}]\n"
		"  -c, --connect URI     the libvirt to ask (default: qemu:///system when its\n"
		"                        socket exists and the sysfs root is /sys)\n"
		"      --no-libvirt      do not ask libvirt\n"
		"  -h, --help            this text\n"
		"\n"
		"Example:\n"
		"  mdevd list\n",
};

static const struct inv_cmd cmd_pci_def = {
	.name = "pci",
	.what = INVENTORY_PCI | INVENTORY_PCI_NAMES,
	.has_vendor = true,
	.help = "Usage: mdevd [--sysfs-root DIR] pci [--vendor VVVV[:DDDD]] [-o human|json]\n"
		"\n"
		"Show the PCI functions (bus/pci/devices, read through libpci), sorted by\n"
		"address: class, vendor:device with names from pci.ids, bound driver, IOMMU\n"
		"group, NUMA node, SR-IOV links (VFs of a PF, the PF of a VF) and how it\n"
		"offers vGPUs: vgpu=mdev (an mdev parent), vgpu=nvidia-vgpu (a card on NVIDIA's\n"
		"vendor-specific VFIO), vgpu=nvidia-vgpu:ID or :free (one of its VFs).\n"
		"\n"
		"Options:\n"
		"      --vendor VVVV[:DDDD]  only functions with this vendor id (and device id),\n"
		"                            in hex: --vendor 10de, --vendor 10de:1eb8\n"
		"The host-owned guard's verdict ends a line: 'host-owned: <reason>' (boot VGA,\n"
		"storage under a mounted file system, a NIC with an address or route, ...);\n"
		"mdevd never binds such a function to vfio-pci. 'bound-by-mdevd': mdevd bound it.\n"
		"\n"
		"  -o, --output FORMAT       human (default, like 'lspci -nn') or json:\n"
		"                            [{\"address\", \"vendor\", \"device\", "
		"\"subsystem_vendor\",\n"
		"                            \"subsystem_device\", \"class\", \"class_name\",\n"
		"                            \"vendor_name\", \"device_name\", \"driver\",\n"
		"                            \"iommu_group\", \"numa_node\", \"physfn\",\n"
		"                            \"sriov_totalvfs\", \"sriov_numvfs\", "
		"\"host_owned\",\n"
		"                            \"bound_by_mdevd\", \"vgpu_backend\",\n"
		"                            \"current_vgpu_type\"}]\n"
		"  -h, --help                this text\n"
		"\n"
		"Example:\n"
		"  mdevd pci --vendor 10de -o json\n",
};

struct inv_opts {
	enum cli_output output;
	int vendor, device; /* -1: any */
	const char *uri;    /* --connect */
	bool no_libvirt;
	bool from_libvirt; /* --source libvirt */
};

static void report_skipped(void *userdata, const char *path, int err, const char *what)
{
	log_warnx("%s: skipped: %s", path, what);
}

/* "VVVV" or "VVVV:DDDD", 1 to 4 hex digits each. Returns 0 or -EINVAL. */
static int parse_vendor(const char *s, int *vendor, int *device)
{
	unsigned long v, d = 0;
	char *end;
	bool has_device = false;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || end == s || end - s > 4)
		return -EINVAL;
	if (*end == ':') {
		const char *ds = end + 1;

		if (!*ds || *ds == '-' || *ds == '+')
			return -EINVAL;
		d = strtoul(ds, &end, 16);
		if (errno || end == ds || end - ds > 4)
			return -EINVAL;
		has_device = true;
	}
	if (*end)
		return -EINVAL;
	*vendor = (int)v;
	*device = has_device ? (int)d : -1;
	return 0;
}

/* Parse the command's options. Returns -1 to go on, or the exit status to return now. */
static int parse_opts(const struct inv_cmd *cmd, int argc, char **argv, struct inv_opts *o)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"vendor", required_argument, NULL, 'V'},
		{"connect", required_argument, NULL, 'c'},
		{"no-libvirt", no_argument, NULL, 'N'},
		{"source", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	int c;

	*o = (struct inv_opts){.output = OUTPUT_HUMAN, .vendor = -1, .device = -1};
	while ((c = getopt_long(argc, argv, "+o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 'N':
			if (!cmd->has_libvirt) {
				log_warnx("%s: unknown option %s (try 'mdevd %s --help')",
					  cmd->name, c == 'c' ? "--connect" : "--no-libvirt",
					  cmd->name);
				return EXIT_USAGE;
			}
			if (c == 'c')
				o->uri = optarg;
			else
				o->no_libvirt = true;
			break;
		case 'S':
			if (!cmd->has_source) {
				log_warnx("%s: unknown option --source (try 'mdevd %s --help')",
					  cmd->name, cmd->name);
				return EXIT_USAGE;
			}
			if (streq(optarg, "libvirt")) {
				o->from_libvirt = true;
			} else if (!streq(optarg, "sysfs")) {
				log_warnx("%s: --source %s: expected 'sysfs' or 'libvirt'",
					  cmd->name, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'o':
			if (cli_parse_output(optarg, &o->output) < 0) {
				log_warnx("%s: --output: unknown format '%s' (use human or json)",
					  cmd->name, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V':
			if (!cmd->has_vendor) {
				log_warnx("%s: unknown option --vendor (try 'mdevd %s --help')",
					  cmd->name, cmd->name);
				return EXIT_USAGE;
			}
			if (parse_vendor(optarg, &o->vendor, &o->device) < 0) {
				log_warnx("%s: --vendor: '%s' is not VVVV or VVVV:DDDD in hex "
					  "(e.g. 10de or 10de:1eb8)",
					  cmd->name, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(cmd->help, stdout);
			return EXIT_OK;
		default: /* getopt said what was wrong */
			log_warnx("%s: try 'mdevd %s --help'", cmd->name, cmd->name);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("%s: unexpected argument '%s' (try 'mdevd %s --help')", cmd->name,
			  argv[optind], cmd->name);
		return EXIT_USAGE;
	}
	return -1;
}

static int load(const struct cli_globals *g, unsigned int what, struct inventory **out)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = sysfs_open_root(g->sysfs_root, &fd);
	if (r < 0) {
		log_warn(r, "cannot open the sysfs root %s (see --sysfs-root)", g->sysfs_root);
		return r;
	}
	r = inventory_load(fd, g->sysfs_root, what, report_skipped, NULL, out);
	if (r < 0) {
		log_warn(r, "cannot read the inventory under %s", g->sysfs_root);
		return r;
	}
	return 0;
}

static int finish(const char *name, int r)
{
	if (fflush(stdout) == EOF && r == 0)
		r = -EIO;
	if (r < 0) {
		log_warn(r, "%s: cannot write the output", name);
		return EXIT_ERROR;
	}
	return EXIT_OK;
}

int cmd_types(const struct cli_globals *g, int argc, char **argv)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(virt_closep) struct virt *virt = NULL;
	struct inv_opts o;
	char err[512];
	const char *uri;
	int r;

	r = parse_opts(&cmd_types_def, argc, argv, &o);
	if (r >= 0)
		return r;
	if (!o.from_libvirt) {
		if (load(g, cmd_types_def.what, &inv) < 0)
			return EXIT_ERROR;
		return finish("types", output_types(stdout, o.output, inv));
	}
	uri = o.uri ? o.uri : VIRT_DEFAULT_URI;
	r = virt_open(uri, true, &virt, err, sizeof(err));
	if (r < 0) {
		log_warnx("types: libvirt at %s cannot be reached: %s", uri, err);
		return EXIT_ERROR;
	}
	r = virt_inventory(virt, &inv);
	if (r < 0) {
		log_warnx("types: libvirt at %s: cannot list mdev parents: %s", uri,
			  virt_last_error(virt));
		return EXIT_ERROR;
	}
	return finish("types", output_types(stdout, o.output, inv));
}

/*
 * What libvirt's domains name, for list: --connect URI, or qemu:///system when its
 * socket exists and the sysfs root is the real /sys. One that cannot be reached is
 * reported once, and the list goes on without domains.
 */
static void list_refs(const struct cli_globals *g, const struct inv_opts *o, struct virt_refs *refs)
{
	_cleanup_(virt_closep) struct virt *virt = NULL;
	char err[512] = "";
	int r;

	if (o->no_libvirt)
		return;
	r = virt_open_optional(o->uri, streq(g->sysfs_root, "/sys"), true, &virt, err, sizeof(err));
	if (r < 0) {
		log_warnx("list: libvirt at %s cannot be reached: %s; domains are not shown",
			  o->uri ? o->uri : VIRT_DEFAULT_URI, err);
		return;
	}
	if (r == 0)
		return;
	r = virt_domain_refs(virt, refs);
	if (r < 0)
		log_warnx("list: libvirt at %s: cannot read its domains: %s; domains are not "
			  "shown",
			  virt_uri(virt), virt_last_error(virt));
}

/* Which processes hold VFIO groups open. Returns 0, or -errno (logged; list goes on). */
static int list_holders(const struct cli_globals *g, struct inuse *in)
{
	_cleanup_close_ int proc_fd = -1;
	int r;

	if (cli_open_proc(g, &proc_fd) < 0)
		return -EIO;
	r = inuse_scan(proc_fd, in);
	if (r < 0) {
		log_warn(r, "list: %s: cannot scan processes for open VFIO groups", g->proc_root);
		return r;
	}
	if (in->unreadable)
		log_warnx("list: the open files of %u processes could not be read (%s/PID/fd "
			  "needs root): an mdev they hold is not shown as held",
			  in->unreadable, g->proc_root);
	return 0;
}

int cmd_list(const struct cli_globals *g, int argc, char **argv)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	struct inuse in = {};
	struct virt_refs refs = {};
	struct inv_opts o;
	int r;

	r = parse_opts(&cmd_list_def, argc, argv, &o);
	if (r >= 0)
		return r;
	if (load(g, cmd_list_def.what, &inv) < 0)
		return EXIT_ERROR;
	list_refs(g, &o, &refs);
	r = list_holders(g, &in);
	r = output_list(stdout, o.output, inv, refs.refs, refs.n, r == 0 ? &in : NULL);
	virt_refs_release(&refs);
	inuse_release(&in);
	return finish("list", r);
}

int cmd_pci(const struct cli_globals *g, int argc, char **argv)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL, *parents = NULL;
	_cleanup_free_ const struct pci_function **sel = NULL;
	struct inv_opts o;
	size_t n = 0;
	int r;

	r = parse_opts(&cmd_pci_def, argc, argv, &o);
	if (r >= 0)
		return r;
	if (load(g, cmd_pci_def.what, &inv) < 0)
		return EXIT_ERROR;
	/*
	 * The parents too, for each function's vGPU backend (mdev parent, NVIDIA vGPU card or
	 * VF); quietly: `mdevd types` is where a malformed type is reported.
	 */
	{
		_cleanup_close_ int fd = -1;

		if (sysfs_open_root(g->sysfs_root, &fd) == 0 &&
		    inventory_load(fd, NULL, INVENTORY_TYPES, NULL, NULL, &parents) < 0)
			parents = NULL;
	}
	sel = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*sel));
	if (!sel) {
		log_warn(-ENOMEM, "pci");
		return EXIT_ERROR;
	}
	for (size_t i = 0; i < inv->n_pci; i++) {
		const struct pci_function *f = &inv->pci[i];

		if (o.vendor >= 0 && f->vendor_id != o.vendor)
			continue;
		if (o.device >= 0 && f->device_id != o.device)
			continue;
		sel[n++] = f;
	}
	return finish("pci", cli_vfio_output_pci(g, inv, parents, sel, n, o.output));
}
