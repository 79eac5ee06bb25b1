/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host_owned: every rule of the guard on a fixture node (a sysfs and a proc tree in temp
 * dirs, laid out as Linux 6.1 shows them: class/<cls>/<name> links into devices/pci...),
 * with an in-memory inventory for the PCI functions.
 */
#include <errno.h>
#include <string.h>

#include "fstree.h"
#include "node/host_owned.h"
#include "node/sysfs.h"

struct node {
	struct fstree sys, proc;
	struct inventory inv;
	struct pci_function fns[24];
};

static void fn(struct node *n, const char *addr, uint32_t class_code, int group, const char *drv)
{
	struct pci_function *f = &n->fns[n->inv.n_pci++];

	memset(f, 0, sizeof(*f));
	snprintf(f->address, sizeof(f->address), "%s", addr);
	f->vendor_id = 0x8086;
	f->device_id = 0x10d3;
	f->class_code = class_code;
	f->iommu_group = group;
	f->numa_node = -1;
	f->driver = (char *)drv;
}

/* class/<cls>/<name> -> ../../devices/pci0000:00/<tail>, the target a directory. */
static void classdev(struct node *n, const char *cls, const char *name, const char *tail)
{
	char rel[512], target[512];

	snprintf(rel, sizeof(rel), "devices/pci0000:00/%s", tail);
	fstree_dir(&n->sys, rel);
	snprintf(rel, sizeof(rel), "class/%s/%s", cls, name);
	snprintf(target, sizeof(target), "../../devices/pci0000:00/%s", tail);
	fstree_link(&n->sys, rel, target);
}

/* A virtual network device: devices/virtual/net/<name> and its class/net link. */
static void vnet(struct node *n, const char *name)
{
	char rel[256], target[256];

	snprintf(rel, sizeof(rel), "devices/virtual/net/%s", name);
	fstree_dir(&n->sys, rel);
	snprintf(rel, sizeof(rel), "class/net/%s", name);
	snprintf(target, sizeof(target), "../../devices/virtual/net/%s", name);
	fstree_link(&n->sys, rel, target);
}

static int setup(void **state)
{
	struct node *n = calloc(1, sizeof(*n));

	fstree_init(&n->sys, "sys");
	fstree_init(&n->proc, "proc");
	n->inv.pci = n->fns;
	/* Sorted by address, as the inventory keeps them. */
	fn(n, "0000:00:00.0", 0x060000, 0, NULL);
	fn(n, "0000:00:01.0", 0x030000, 1, "bochs-drm");
	fn(n, "0000:00:02.0", 0x020000, 2, "e1000e");
	fn(n, "0000:00:03.0", 0x020000, 3, "e1000e");
	fn(n, "0000:00:04.0", 0x020000, 4, "e1000e");
	fn(n, "0000:00:05.0", 0x020000, 5, "e1000e");
	fn(n, "0000:00:06.0", 0x010802, 6, "nvme");
	fn(n, "0000:00:07.0", 0x010601, 7, "ahci");
	fn(n, "0000:00:08.0", 0x010000, 8, "virtio-pci");
	fn(n, "0000:00:09.0", 0x00ff00, 9, NULL);
	fn(n, "0000:00:0a.0", 0x020000, 11, "igb");
	n->fns[n->inv.n_pci - 1].sriov_numvfs = 2;
	fn(n, "0000:00:0b.0", 0x020000, 12, "e1000e");
	fn(n, "0000:00:0c.0", 0x020000, 13, "e1000e");
	fn(n, "0000:00:0d.0", 0x020000, 14, "e1000e");
	fn(n, "0000:00:0e.0", 0x020000, 15, "e1000e");
	fn(n, "0000:00:0f.0", 0x010601, 16, "ahci");
	fn(n, "0000:00:1f.0", 0x060100, 10, "lpc_ich");
	fn(n, "0000:00:1f.2", 0x010601, 10, "ahci");
	fn(n, "0000:00:1f.3", 0x0c0500, 10, "i801_smbus");

	fstree_file(&n->sys, "bus/pci/devices/0000:00:01.0/boot_vga", "1\n");
	fstree_file(&n->sys, "bus/pci/devices/0000:00:02.0/boot_vga", "0\n");
	classdev(n, "graphics", "fb0", "0000:00:01.0/graphics/fb0");
	/* Network: enp0s2 default route, enp0s3 nothing, enp0s4 in br0 (global IPv6),
	 * enp0s5 an IPv4 address (from the caller), enp0s11 link-local IPv6 only. */
	classdev(n, "net", "enp0s2", "0000:00:02.0/net/enp0s2");
	classdev(n, "net", "enp0s3", "0000:00:03.0/net/enp0s3");
	classdev(n, "net", "enp0s4", "0000:00:04.0/net/enp0s4");
	classdev(n, "net", "enp0s5", "0000:00:05.0/net/enp0s5");
	classdev(n, "net", "enp0s11", "0000:00:0b.0/net/enp0s11");
	fstree_dir(&n->sys, "devices/virtual/net/br0");
	fstree_link(&n->sys, "class/net/br0", "../../devices/virtual/net/br0");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:04.0/net/enp0s4/master",
		    "../../../../virtual/net/br0");
	/*
	 * As Linux 6.1 links them: enp0s12 in bond0 (a global IPv6 address), with master and
	 * upper_bond0; enp0s13 under the VLAN enp0s13.100 (a route), upper_ only; enp0s14 in
	 * bond1, which has nothing (test_bond_vlan_chain adds a VLAN over it).
	 */
	classdev(n, "net", "enp0s12", "0000:00:0c.0/net/enp0s12");
	classdev(n, "net", "enp0s13", "0000:00:0d.0/net/enp0s13");
	classdev(n, "net", "enp0s14", "0000:00:0e.0/net/enp0s14");
	vnet(n, "bond0");
	vnet(n, "enp0s13.100");
	vnet(n, "bond1");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:0c.0/net/enp0s12/master",
		    "../../../../virtual/net/bond0");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:0c.0/net/enp0s12/upper_bond0",
		    "../../../../virtual/net/bond0");
	fstree_link(&n->sys, "devices/virtual/net/bond0/lower_enp0s12",
		    "../../../pci0000:00/0000:00:0c.0/net/enp0s12");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:0d.0/net/enp0s13/upper_enp0s13.100",
		    "../../../../virtual/net/enp0s13.100");
	fstree_link(&n->sys, "devices/virtual/net/enp0s13.100/lower_enp0s13",
		    "../../../pci0000:00/0000:00:0d.0/net/enp0s13");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:0e.0/net/enp0s14/master",
		    "../../../../virtual/net/bond1");
	fstree_link(&n->sys, "devices/pci0000:00/0000:00:0e.0/net/enp0s14/upper_bond1",
		    "../../../../virtual/net/bond1");
	fstree_file(&n->proc, "net/route",
		    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
		    "enp0s2\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\n"
		    "enp0s13.100\t0064A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n");
	fstree_file(&n->proc, "net/if_inet6",
		    "fd000000000000000000000000000002 07 40 00 80 bond0\n"
		    "fd000000000000000000000000000001 05 40 00 80 br0\n"
		    "fe800000000000000000000000000b0b 06 40 20 80 enp0s11\n"
		    "00000000000000000000000000000001 01 80 10 80 lo\n");
	fstree_file(&n->proc, "net/ipv6_route",
		    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
		    "00000000000000000000000000000000 00000100 00000001 00000000 00000001 "
		    "enp0s11\n");
	/* Storage: nvme0n1p1 mounted on /, sda2 swap, vdb held by dm-0, sdb1 on /data. */
	classdev(n, "block", "nvme0n1", "0000:00:06.0/nvme/nvme0/nvme0n1");
	classdev(n, "block", "nvme0n1p1", "0000:00:06.0/nvme/nvme0/nvme0n1/nvme0n1p1");
	fstree_file(&n->sys, "class/block/nvme0n1/dev", "259:0\n");
	fstree_file(&n->sys, "class/block/nvme0n1p1/dev", "259:1\n");
	classdev(n, "block", "sda", "0000:00:07.0/ata1/host0/target0:0:0/0:0:0:0/block/sda");
	classdev(n, "block", "sda2", "0000:00:07.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda2");
	fstree_file(&n->sys, "class/block/sda2/dev", "8:2\n");
	classdev(n, "block", "vdb", "0000:00:08.0/virtio3/block/vdb");
	fstree_file(&n->sys, "class/block/vdb/dev", "254:16\n");
	fstree_dir(&n->sys, "class/block/vdb/holders/dm-0");
	classdev(n, "block", "sdb1", "0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sdb/sdb1");
	fstree_file(&n->sys, "class/block/sdb1/dev", "8:17\n");
	/* sdc (on 0f.0) is a member of the md array md0, which is what is mounted. */
	classdev(n, "block", "sdc", "0000:00:0f.0/ata5/host4/target4:0:0/4:0:0:0/block/sdc");
	fstree_file(&n->sys, "class/block/sdc/dev", "8:32\n");
	fstree_dir(&n->sys, "devices/virtual/block/md0");
	fstree_link(&n->sys, "class/block/md0", "../../devices/virtual/block/md0");
	fstree_file(&n->sys, "class/block/md0/dev", "9:0\n");
	fstree_link(&n->sys, "class/block/sdc/holders/md0",
		    "../../../../../../../../../virtual/block/md0");
	fstree_dir(&n->sys, "devices/virtual/block/loop0");
	fstree_link(&n->sys, "class/block/loop0", "../../devices/virtual/block/loop0");
	fstree_file(&n->proc, "self/mountinfo",
		    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
		    "23 22 0:21 / /proc rw - proc proc rw\n"
		    "40 22 0:35 / /data rw,relatime shared:9 - btrfs /dev/sdb1 rw\n"
		    "41 22 9:0 / /srv/raid rw,relatime shared:10 - ext4 /dev/md0 rw\n");
	fstree_file(&n->proc, "swaps",
		    "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
		    "/dev/sda2                               partition\t1048572\t\t0\t\t-2\n");
	*state = n;
	return 0;
}

static int teardown(void **state)
{
	struct node *n = *state;

	fstree_free(&n->sys);
	fstree_free(&n->proc);
	free(n);
	return 0;
}

static struct host_owned_set scan(struct node *n)
{
	static char *v4[] = {(char *)"lo", (char *)"enp0s5"};
	struct host_owned_env env = {
		.sysfs_fd = n->sys.fd,
		.proc_fd = n->proc.fd,
		.ipv4_ifaces = v4,
		.n_ipv4_ifaces = 2,
	};
	struct host_owned_set s = {0};

	assert_int_equal(host_owned_scan(&env, &n->inv, &s), 0);
	assert_int_equal(s.n, n->inv.n_pci);
	return s;
}

static void expect(struct node *n, const struct host_owned_set *s, const char *addr,
		   const char *needle)
{
	const char *why = host_owned_get_reason(s, &n->inv, addr);

	if (!needle) {
		if (why)
			print_error("%s: unexpectedly host-owned: %s\n", addr, why);
		assert_null(why);
		return;
	}
	if (!why || !strstr(why, needle))
		print_error("%s: expected \"%s\", got \"%s\"\n", addr, needle,
			    why ? why : "(none)");
	assert_non_null(why);
	assert_non_null(strstr(why, needle));
}

static void test_display(void **state)
{
	struct node *n = *state;
	struct host_owned_set s = scan(n);

	expect(n, &s, "0000:00:01.0", "the boot VGA device (boot_vga = 1)");
	host_owned_release(&s);
	/* Without boot_vga, the framebuffer console still makes it the host's. */
	unlink(fstree_path(&n->sys, "bus/pci/devices/0000:00:01.0/boot_vga"));
	s = scan(n);
	expect(n, &s, "0000:00:01.0", "drives the framebuffer console (/dev/fb0)");
	host_owned_release(&s);
}

static void test_network(void **state)
{
	struct node *n = *state;
	struct host_owned_set s = scan(n);

	expect(n, &s, "0000:00:02.0", "network: enp0s2 carries the default route");
	expect(n, &s, "0000:00:03.0", NULL);
	expect(n, &s, "0000:00:04.0", "network: enp0s4 is enslaved to br0, which has an IP");
	expect(n, &s, "0000:00:05.0", "network: enp0s5 has an IP address");
	expect(n, &s, "0000:00:0b.0", NULL); /* link-local only */
	host_owned_release(&s);
}

/* A NIC is the host's when a bond or VLAN over it has an address or a route. */
static void test_bond_vlan(void **state)
{
	struct node *n = *state;
	struct host_owned_set s = scan(n);

	expect(n, &s, "0000:00:0c.0", "network: enp0s12 is enslaved to bond0, which has an IP");
	expect(n, &s, "0000:00:0d.0",
	       "network: enp0s13 is enslaved to enp0s13.100, which has a route");
	expect(n, &s, "0000:00:0e.0", NULL); /* bond1 has neither */
	host_owned_release(&s);
}

/* A VLAN over a bond: the address two levels up still makes the member NIC the host's. */
static void test_bond_vlan_chain(void **state)
{
	struct node *n = *state;
	struct host_owned_set s;

	vnet(n, "bond1.20");
	fstree_link(&n->sys, "devices/virtual/net/bond1/upper_bond1.20", "../bond1.20");
	fstree_file(&n->proc, "net/if_inet6",
		    "fd000000000000000000000000000014 09 40 00 80 bond1.20\n");
	s = scan(n);
	expect(n, &s, "0000:00:0e.0",
	       "network: enp0s14 is enslaved to bond1.20, which has an IP address");
	host_owned_release(&s);
}

static void test_storage(void **state)
{
	struct node *n = *state;
	struct host_owned_set s = scan(n);

	expect(n, &s, "0000:00:06.0", "storage: /dev/nvme0n1p1 is mounted on /");
	expect(n, &s, "0000:00:07.0", "storage: /dev/sda2 is active swap");
	expect(n, &s, "0000:00:08.0", "storage: /dev/vdb is held by dm-0");
	/* btrfs: mountinfo's major:minor is 0:35, the source names the device. */
	expect(n, &s, "0000:00:1f.2", "storage: /dev/sdb1 is mounted on /data");
	/* An md member: the array is what is mounted; the member disk is held by it. */
	expect(n, &s, "0000:00:0f.0", "storage: /dev/sdc is held by md0 (device-mapper / md)");
	host_owned_release(&s);
}

static void test_group_pf_bridge(void **state)
{
	struct node *n = *state;
	struct host_owned_set s = scan(n);

	expect(n, &s, "0000:00:1f.3", "shares IOMMU group 10 with 0000:00:1f.2 (storage:");
	/* A bridge in that group is a bridge first (bridges keep a group viable). */
	expect(n, &s, "0000:00:1f.0", "shares IOMMU group 10");
	expect(n, &s, "0000:00:00.0", "a bridge (PCI class 0x0600)");
	expect(n, &s, "0000:00:0a.0", "an SR-IOV PF with 2 VFs enabled");
	expect(n, &s, "0000:00:09.0", NULL);
	host_owned_release(&s);
}

static void test_empty_proc(void **state)
{
	struct node *n = *state;
	struct host_owned_env env = {.sysfs_fd = n->sys.fd, .proc_fd = n->sys.fd};
	struct host_owned_set s = {0};

	/* No proc files at all (fd of a tree without them): only sysfs evidence counts. */
	assert_int_equal(host_owned_scan(&env, &n->inv, &s), 0);
	expect(n, &s, "0000:00:01.0", "boot VGA");
	expect(n, &s, "0000:00:02.0", NULL);
	expect(n, &s, "0000:00:06.0", NULL);
	expect(n, &s, "0000:00:08.0", "held by dm-0");
	host_owned_release(&s);
}

/* pid 1's view (the host's namespaces) wins over the reader's own. */
static void test_host_namespaces(void **state)
{
	struct node *n = *state;
	struct host_owned_set s;

	fstree_file(&n->proc, "1/mountinfo", "22 1 8:17 / /srv rw - ext4 /dev/sdb1 rw\n");
	fstree_file(&n->proc, "1/net/route",
		    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
		    "enp0s3\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\n");
	s = scan(n);
	expect(n, &s, "0000:00:06.0", NULL); /* mounted only in the reader's namespace */
	expect(n, &s, "0000:00:1f.2", "storage: /dev/sdb1 is mounted on /srv");
	expect(n, &s, "0000:00:03.0", "network: enp0s3 carries the default route");
	expect(n, &s, "0000:00:02.0", NULL);
	host_owned_release(&s);
}

/* The PCI functions of tests/fixtures/@tree, judged with an empty proc root. */
static void scan_fixture(const char *tree, struct inventory **inv, struct host_owned_set *s)
{
	struct fstree proc;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), FIXTURES "/%s", tree);
	assert_int_equal(sysfs_open_root(path, &fd), 0);
	assert_int_equal(inventory_load(fd, path, INVENTORY_PCI, NULL, NULL, inv), 0);
	fstree_init(&proc, "proc");
	assert_int_equal(
		host_owned_scan(&(struct host_owned_env){.sysfs_fd = fd, .proc_fd = proc.fd}, *inv,
				s),
		0);
	fstree_free(&proc);
	close(fd);
}

static void expect_fixture(const struct inventory *inv, const struct host_owned_set *s,
			   const char *addr, const char *needle, bool no_override)
{
	const struct pci_function *f = inventory_get_pci(inv, addr);
	const char *why = host_owned_get_reason(s, inv, addr);

	assert_non_null(f);
	if (!why || !strstr(why, needle))
		print_error("%s: expected \"%s\", got \"%s\"\n", addr, needle,
			    why ? why : "(none)");
	assert_non_null(why);
	assert_non_null(strstr(why, needle));
	assert_int_equal(s->no_override[f - inv->pci], no_override);
}

/*
 * vGPU functions are the vendor driver's: every VF of a vendor-VFIO card (configured or
 * free) and an mdev parent with live mdevs for good; an idle mdev parent unless overridden.
 */
static void test_vgpu_functions(void **state)
{
	static const struct {
		const char *tree, *address, *reason;
		bool no_override;
	} cases[] = {
		{"l40s", "0000:c1:00.4",
		 "an NVIDIA vGPU VF of 0000:c1:00.0 (vendor-specific VFIO, vGPU type 1155): it "
		 "stays "
		 "on nvidia",
		 true},
		{"l40s", "0000:c1:00.5", "vGPU type 1155", true},
		{"l40s", "0000:41:00.4", "(vendor-specific VFIO, no vGPU type)", true},
		/* The PF keeps its own reason: its VFs are enabled. */
		{"l40s", "0000:41:00.0", "an SR-IOV PF with 32 VFs enabled", false},
		{"mixed", "0000:3b:00.0",
		 "an mdev parent (its vendor driver offers vGPU types here; name it in "
		 "overrideHostOwned",
		 false},
		{"mixed", "0000:41:00.5", "vGPU type 1153", true},
		{"t4", "0000:af:00.0",
		 "an mdev parent with 1 live mdev (remove it before passing the whole GPU through)",
		 true},
		{"t4", "0000:3b:00.0", "an mdev parent (", false},
		/* Ampere: the mdev parents are the VFs. */
		{"a100", "0000:ca:00.4", "an mdev parent with 1 live mdev", true},
		{"a100", "0000:ca:00.0", "an SR-IOV PF with 16 VFs enabled", false},
		{"a100", "0000:ca:01.0", "an mdev parent (", false},
	};
	struct inventory *inv = NULL;
	struct host_owned_set s = {0};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (i == 0 || !streq(cases[i].tree, cases[i - 1].tree)) {
			host_owned_release(&s);
			inventory_free(inv);
			scan_fixture(cases[i].tree, &inv, &s);
		}
		expect_fixture(inv, &s, cases[i].address, cases[i].reason, cases[i].no_override);
	}
	host_owned_release(&s);
	inventory_free(inv);
}

static void test_pci_owner(void **state)
{
	char bdf[MDEVD_BDF_STR_LEN];

	assert_int_equal(host_owned_pci_owner("../../devices/pci0000:00/0000:00:01.0/"
					      "0000:01:00.0/nvme/nvme0/nvme0n1",
					      bdf),
			 0);
	assert_string_equal(bdf, "0000:01:00.0");
	assert_int_equal(host_owned_pci_owner("../../devices/virtual/block/dm-0", bdf), -ENOENT);
	assert_int_equal(host_owned_pci_owner("../../devices/pci0000:00", bdf), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_display, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bond_vlan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bond_vlan_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_pf_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_proc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_namespaces, setup, teardown),
		cmocka_unit_test(test_pci_owner),
		cmocka_unit_test(test_vgpu_functions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
