/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gen-tree - write a sysfs-shaped tree of a large vGPU node under DIR, for `make bench`.
 *
 *   gen-tree [-g GPUS] DIR
 *
 * The node: 8 NVIDIA GPUs (10de:1eb8), each behind its own PCIe root port, each with 32
 * SR-IOV VFs; every VF is an mdev parent offering 24 types (nvidia-222 .. nvidia-245),
 * 6 144 type dirs in all; plus 300 other PCI functions (root ports, uncore, NICs, SATA, USB).
 * The shape follows the real /sys of Linux 6.1:
 *
 *   devices/pci0000:RR/0000:RR:00.0/0000:BB:DD.F/     GPU PF and VFs behind root port RR:00.0
 *       vendor device class subsystem_vendor subsystem_device revision config ...
 *       subsystem -> ../../../../bus/pci      iommu_group -> ../../../../kernel/iommu_groups/N
 *       driver -> ../../../../bus/pci/drivers/nvidia
 *       physfn -> ../0000:BB:00.0 (VF)        virtfnK -> ../0000:BB:DD.F (PF), sriov_* (PF)
 *       mdev_supported_types/nvidia-N/{name,available_instances,device_api,description,
 *                                       create,devices/}                       (VF)
 *   class/mdev_bus/<VF BDF>          -> ../../devices/pci0000:RR/.../<VF BDF>
 *   bus/pci/devices/<BDF>            -> ../../../devices/.../<BDF>
 *   bus/pci/drivers/<drv>/<BDF>      -> ../../../../devices/.../<BDF>
 *   kernel/iommu_groups/N/devices/<BDF> -> ../../../../devices/.../<BDF>
 *   bus/mdev/devices/                (no mdev instances yet)
 *
 * All symlinks are relative, as the kernel makes them. DIR is created if missing and must
 * be empty. -g GPUS makes a smaller node (fewer GPUs, same 300 others) for profiling under
 * valgrind. Prints a one-line summary (functions, parents, type dirs, files, links).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_GPUS	       8
#define N_VFS	       32
#define N_TYPES	       24
#define N_OTHER	       300
#define FIRST_TYPE_ID  222
#define GPU_VENDOR     0x10de
#define GPU_DEVICE     0x1eb8
#define GPU_SUBSYS_DEV 0x12a2

static int root_fd = -1;
static unsigned long n_files, n_dirs, n_links;
static unsigned int next_group;
static int n_gpus = N_GPUS;

static void die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	fputs("gen-tree: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(1);
}

/* mkdir -p @path relative to @dirfd. */
static void mkdirs(int dirfd, const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		die("path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdirat(dirfd, buf, 0755) == 0)
				n_dirs++;
			else if (errno != EEXIST)
				die("mkdir %s", buf);
			*p = c;
			if (c == '\0')
				break;
		}
	}
}

static void mkdir1(int dirfd, const char *path)
{
	if (mkdirat(dirfd, path, 0755) != 0)
		die("mkdir %s", path);
	n_dirs++;
}

static void put(int dirfd, const char *path, mode_t mode, const void *data, size_t len)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		die("create %s", path);
	if (len && write(fd, data, len) != (ssize_t)len)
		die("write %s", path);
	close(fd);
	n_files++;
}

/* put a text attribute built from a format, as sysfs shows it (trailing newline included) */
static void attr(int dirfd, const char *path, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		die("attr %s too long", path);
	put(dirfd, path, 0444, buf, (size_t)n);
}

static void link_at(int dirfd, const char *target, const char *path)
{
	if (symlinkat(target, dirfd, path) != 0)
		die("symlink %s", path);
	n_links++;
}

static void linkf(int dirfd, const char *path, const char *fmt, ...)
{
	char target[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(target, sizeof(target), fmt, ap);
	va_end(ap);
	link_at(dirfd, target, path);
}

/* "../" repeated @depth times: from a dir @depth levels below the root back to the root */
static const char *up(int depth)
{
	static char buf[64];

	buf[0] = '\0';
	for (int i = 0; i < depth && i < 20; i++)
		strcat(buf, "../");
	return buf;
}

static int depth_of(const char *path)
{
	int d = 1;

	for (const char *p = path; *p; p++)
		d += *p == '/';
	return d;
}

struct func {
	const char *dir; /* devices/... relative to the root */
	const char *bdf;
	unsigned int vendor, device, class, subsys_vendor, subsys_device, revision;
	const char *driver; /* NULL: unbound */
	int numa;
};

static void ensure_driver(const char *drv)
{
	char path[256];

	snprintf(path, sizeof(path), "bus/pci/drivers/%s", drv);
	if (mkdirat(root_fd, path, 0755) == 0) {
		int fd;

		n_dirs++;
		fd = openat(root_fd, path, O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			die("open %s", path);
		put(fd, "bind", 0200, NULL, 0);
		put(fd, "unbind", 0200, NULL, 0);
		put(fd, "new_id", 0200, NULL, 0);
		put(fd, "remove_id", 0200, NULL, 0);
		close(fd);
	} else if (errno != EEXIST) {
		die("mkdir %s", path);
	}
}

/* One PCI function's device dir with its usual attributes and links. Returns its dir fd. */
static int add_func(const struct func *f)
{
	int depth = depth_of(f->dir);
	unsigned char config[256];
	char path[4096];
	unsigned int group = next_group++;
	int fd;

	mkdir1(root_fd, f->dir);
	fd = openat(root_fd, f->dir, O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s", f->dir);

	attr(fd, "vendor", "0x%04x\n", f->vendor);
	attr(fd, "device", "0x%04x\n", f->device);
	attr(fd, "subsystem_vendor", "0x%04x\n", f->subsys_vendor);
	attr(fd, "subsystem_device", "0x%04x\n", f->subsys_device);
	attr(fd, "class", "0x%06x\n", f->class);
	attr(fd, "revision", "0x%02x\n", f->revision);
	attr(fd, "numa_node", "%d\n", f->numa);
	attr(fd, "irq", "%u\n", 16 + group % 200);
	attr(fd, "enable", "%d\n", f->driver ? 1 : 0);
	attr(fd, "local_cpus", "%s\n", f->numa ? "ffff0000" : "0000ffff");
	attr(fd, "local_cpulist", "%s\n", f->numa ? "16-31" : "0-15");
	attr(fd, "modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", f->vendor, f->device,
	     f->subsys_vendor, f->subsys_device, f->class >> 16, (f->class >> 8) & 0xff,
	     f->class & 0xff);
	attr(fd, "resource",
	     "0x00000000%08x 0x00000000%08x 0x0000000000040200\n"
	     "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
	     0xd0000000u + group * 0x100000u, 0xd00fffffu + group * 0x100000u);
	attr(fd, "max_link_speed", "8.0 GT/s PCIe\n");
	attr(fd, "max_link_width", "16\n");
	attr(fd, "d3cold_allowed", "1\n");
	attr(fd, "uevent", "DRIVER=%s\nPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n",
	     f->driver ? f->driver : "", f->class, f->vendor, f->device, f->bdf);
	put(fd, "remove", 0200, NULL, 0);
	put(fd, "rescan", 0200, NULL, 0);
	put(fd, "reset", 0200, NULL, 0);
	put(fd, "driver_override", 0644, "(null)\n", 7);

	memset(config, 0, sizeof(config));
	config[0] = f->vendor & 0xff;
	config[1] = f->vendor >> 8;
	config[2] = f->device & 0xff;
	config[3] = f->device >> 8;
	config[8] = f->revision;
	config[9] = f->class & 0xff;
	config[10] = (f->class >> 8) & 0xff;
	config[11] = f->class >> 16;
	config[44] = f->subsys_vendor & 0xff;
	config[45] = f->subsys_vendor >> 8;
	config[46] = f->subsys_device & 0xff;
	config[47] = f->subsys_device >> 8;
	put(fd, "config", 0644, config, sizeof(config));

	mkdir1(fd, "power");
	attr(fd, "power/control", "auto\n");
	attr(fd, "power/runtime_status", "active\n");

	linkf(fd, "subsystem", "%sbus/pci", up(depth));
	linkf(fd, "iommu_group", "%skernel/iommu_groups/%u", up(depth), group);

	snprintf(path, sizeof(path), "kernel/iommu_groups/%u/devices", group);
	mkdirs(root_fd, path);
	snprintf(path, sizeof(path), "kernel/iommu_groups/%u/type", group);
	attr(root_fd, path, "DMA\n");
	snprintf(path, sizeof(path), "kernel/iommu_groups/%u/devices/%s", group, f->bdf);
	linkf(root_fd, path, "../../../../%s", f->dir);

	snprintf(path, sizeof(path), "bus/pci/devices/%s", f->bdf);
	linkf(root_fd, path, "../../../%s", f->dir);

	if (f->driver) {
		ensure_driver(f->driver);
		linkf(fd, "driver", "%sbus/pci/drivers/%s", up(depth), f->driver);
		snprintf(path, sizeof(path), "bus/pci/drivers/%s/%s", f->driver, f->bdf);
		linkf(root_fd, path, "../../../../%s", f->dir);
	}
	return fd;
}

/* The 24 vGPU profiles of a 16 GB GPU: {series, framebuffer in GB} */
static const struct profile {
	const char *series;
	unsigned int fb_gb;
} profiles[N_TYPES] = {
	{"B", 1},  {"B", 2}, {"B4", 1}, {"B4", 2}, {"A", 1}, {"A", 2},	{"A", 4}, {"A", 8},
	{"A", 16}, {"Q", 1}, {"Q", 2},	{"Q", 4},  {"Q", 8}, {"Q", 16}, {"C", 4}, {"C", 8},
	{"C", 16}, {"B", 4}, {"B4", 4}, {"Q", 3},  {"A", 3}, {"C", 6},	{"Q", 6}, {"A", 6},
};

static void add_types(int vf_fd)
{
	char buf[512];
	int types_fd;

	mkdir1(vf_fd, "mdev_supported_types");
	types_fd = openat(vf_fd, "mdev_supported_types", O_DIRECTORY | O_CLOEXEC);
	if (types_fd < 0)
		die("open mdev_supported_types");
	for (int t = 0; t < N_TYPES; t++) {
		const struct profile *p = &profiles[t];
		int heads = p->series[0] == 'Q' || p->series[0] == 'B' ? 4 : 1;
		int frl = p->series[0] == 'B' ? 45 : 60;
		const char *res = p->series[0] == 'A'	? "1280x1024"
				  : p->series[0] == 'C' ? "4096x2160"
							: "5120x2880";
		int fd;

		snprintf(buf, sizeof(buf), "nvidia-%d", FIRST_TYPE_ID + t);
		mkdir1(types_fd, buf);
		fd = openat(types_fd, buf, O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			die("open %s", buf);
		attr(fd, "name", "GRID T4-%u%s\n", p->fb_gb, p->series);
		attr(fd, "available_instances", "1\n");
		attr(fd, "device_api", "vfio-pci\n");
		attr(fd, "description",
		     "num_heads=%d, frl_config=%d, framebuffer=%uM, max_resolution=%s, "
		     "max_instance=%u\n",
		     heads, frl, p->fb_gb * 1024, res, 16 / p->fb_gb);
		put(fd, "create", 0200, NULL, 0);
		mkdir1(fd, "devices");
		close(fd);
	}
	close(types_fd);
}

/* root buses: GPU g sits behind root port RR:00.0, RR = gpu_root[g], on bus RR+1 */
static const unsigned int gpu_root[N_GPUS] = {0x17, 0x3a, 0x5d, 0x80, 0x97, 0xb0, 0xc9, 0xe2};

static void add_gpus(void)
{
	char dir[512], bdf[16], path[512];

	for (int g = 0; g < n_gpus; g++) {
		unsigned int rr = gpu_root[g], bb = rr + 1;
		char pf_dir[512], pf_bdf[16];
		struct func pf = {
			.vendor = GPU_VENDOR,
			.device = GPU_DEVICE,
			.class = 0x030200,
			.subsys_vendor = GPU_VENDOR,
			.subsys_device = GPU_SUBSYS_DEV,
			.revision = 0xa1,
			.driver = "nvidia",
			.numa = g >= N_GPUS / 2,
		};
		int pf_fd;

		snprintf(pf_bdf, sizeof(pf_bdf), "0000:%02x:00.0", bb);
		snprintf(pf_dir, sizeof(pf_dir), "devices/pci0000:%02x/0000:%02x:00.0/%s", rr, rr,
			 pf_bdf);
		pf.dir = pf_dir;
		pf.bdf = pf_bdf;
		pf_fd = add_func(&pf);
		attr(pf_fd, "sriov_totalvfs", "%d\n", N_VFS);
		attr(pf_fd, "sriov_numvfs", "%d\n", N_VFS);
		attr(pf_fd, "sriov_offset", "4\n");
		attr(pf_fd, "sriov_stride", "1\n");
		attr(pf_fd, "sriov_vf_device", "%04x\n", GPU_DEVICE);
		attr(pf_fd, "sriov_drivers_autoprobe", "1\n");

		for (int v = 0; v < N_VFS; v++) {
			unsigned int devfn =
				4 + v; /* VFs start at function 4 (offset 4, stride 1) */
			struct func vf = pf;
			int vf_fd;

			snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%u", bb, devfn >> 3, devfn & 7);
			snprintf(dir, sizeof(dir), "devices/pci0000:%02x/0000:%02x:00.0/%s", rr, rr,
				 bdf);
			vf.dir = dir;
			vf.bdf = bdf;
			vf_fd = add_func(&vf);
			linkf(vf_fd, "physfn", "../%s", pf_bdf);
			snprintf(path, sizeof(path), "virtfn%d", v);
			linkf(pf_fd, path, "../%s", bdf);
			add_types(vf_fd);
			close(vf_fd);

			snprintf(path, sizeof(path), "class/mdev_bus/%s", bdf);
			linkf(root_fd, path, "../../%s", dir);
		}
		close(pf_fd);
	}
}

/* The other functions of the node: uncore and chipset on bus 00, root ports and uncore on
 * each GPU root bus. */
static void add_others(void)
{
	static const struct other {
		unsigned int vendor, device, class;
		const char *driver;
	} kinds[] = {
		{0x8086, 0x09a2, 0x088000, NULL},	{0x8086, 0x09a4, 0x088000, NULL},
		{0x8086, 0x0998, 0x060000, NULL},	{0x8086, 0x344d, 0x088000, NULL},
		{0x8086, 0x3456, 0x110100, NULL},	{0x8086, 0xa1d2, 0x010601, "ahci"},
		{0x8086, 0xa1af, 0x0c0330, "xhci_hcd"}, {0x8086, 0xa1a3, 0x0c0500, "i801_smbus"},
		{0x8086, 0x1563, 0x020000, "ixgbe"},	{0x8086, 0x0b60, 0x010802, "nvme"},
		{0x8086, 0x2021, 0x088000, "ioatdma"},	{0x1a03, 0x2000, 0x030000, "ast"},
	};
	int made = 0;
	char dir[512], bdf[16];

	/* one root port per GPU root bus, then ~24 uncore functions on each GPU root bus */
	for (int g = 0; g < N_GPUS; g++) {
		unsigned int rr = gpu_root[g];
		struct func rp = {
			.vendor = 0x8086,
			.device = 0x347a,
			.class = 0x060400,
			.subsys_vendor = 0x8086,
			.subsys_device = 0x0000,
			.revision = 0x04,
			.driver = "pcieport",
			.numa = g >= N_GPUS / 2,
		};

		snprintf(bdf, sizeof(bdf), "0000:%02x:00.0", rr);
		snprintf(dir, sizeof(dir), "devices/pci0000:%02x", rr);
		mkdir1(root_fd, dir);
		snprintf(dir, sizeof(dir), "devices/pci0000:%02x/%s", rr, bdf);
		rp.dir = dir;
		rp.bdf = bdf;
		close(add_func(&rp));
		made++;
		for (int i = 0; i < 24; i++, made++) {
			unsigned int devfn = 0x28 + i; /* slots 5.. */
			const struct other *k = &kinds[i % 5];
			struct func f = {
				.vendor = k->vendor,
				.device = k->device + i / 5,
				.class = k->class,
				.subsys_vendor = 0x8086,
				.subsys_device = 0x0000,
				.revision = 0x04,
				.driver = k->driver,
				.numa = g >= N_GPUS / 2,
			};

			snprintf(bdf, sizeof(bdf), "0000:%02x:%02x.%u", rr, devfn >> 3, devfn & 7);
			snprintf(dir, sizeof(dir), "devices/pci0000:%02x/%s", rr, bdf);
			f.dir = dir;
			f.bdf = bdf;
			close(add_func(&f));
		}
	}
	/* the rest on bus 00 */
	mkdir1(root_fd, "devices/pci0000:00");
	for (unsigned int devfn = 0; made < N_OTHER; devfn++, made++) {
		const struct other *k = &kinds[devfn % (sizeof(kinds) / sizeof(kinds[0]))];
		struct func f = {
			.vendor = k->vendor,
			.device = k->device,
			.class = k->class,
			.subsys_vendor = k->vendor,
			.subsys_device = 0x0000 + devfn,
			.revision = 0x09,
			.driver = k->driver,
			.numa = 0,
		};

		snprintf(bdf, sizeof(bdf), "0000:00:%02x.%u", devfn >> 3, devfn & 7);
		snprintf(dir, sizeof(dir), "devices/pci0000:00/%s", bdf);
		f.dir = dir;
		f.bdf = bdf;
		close(add_func(&f));
	}
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "-g") == 0) {
		n_gpus = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2 || n_gpus < 0 || n_gpus > N_GPUS) {
		fprintf(stderr, "usage: gen-tree [-g GPUS] DIR   (GPUS: 0..%d, default %d)\n",
			N_GPUS, N_GPUS);
		return 64;
	}
	mkdirs(AT_FDCWD, argv[1]);
	root_fd = open(argv[1], O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die("open %s", argv[1]);
	if (mkdirat(root_fd, "devices", 0755) != 0)
		die("%s/devices (DIR must be empty)", argv[1]);
	n_dirs++;
	mkdirs(root_fd, "class/mdev_bus");
	mkdirs(root_fd, "bus/pci/devices");
	mkdirs(root_fd, "bus/pci/drivers");
	mkdirs(root_fd, "bus/mdev/devices");
	mkdirs(root_fd, "bus/mdev/drivers");
	mkdirs(root_fd, "kernel/iommu_groups");
	mkdirs(root_fd, "module/vfio_mdev");

	add_others();
	add_gpus();

	printf("gen-tree: %s: %d PCI functions (%d GPUs x %d VFs + %d others), %d mdev parents, "
	       "%d type dirs; %lu files, %lu dirs, %lu symlinks\n",
	       argv[1], n_gpus * (1 + N_VFS) + N_OTHER, n_gpus, N_VFS, N_OTHER, n_gpus * N_VFS,
	       n_gpus * N_VFS * N_TYPES, n_files, n_dirs, n_links);
	close(root_fd);
	return 0;
}
