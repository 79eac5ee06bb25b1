/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host_owned: the guard that keeps mdevd from binding a PCI function the host itself
 * needs. A function is host-owned, with a reason, when it is
 *   - the boot VGA device (bus/pci/devices/<BDF>/boot_vga = 1) or the parent of a
 *     framebuffer console (class/graphics/fbN);
 *   - a storage controller under a block device (class/block/<name>, the nearest PCI
 *     function in its device path) that is mounted (proc/self/mountinfo, by major:minor
 *     or /dev/<name> as the source), active swap (proc/swaps), or held by a device-mapper
 *     or md device (class/block/<name>/holders/ not empty);
 *   - a network function (class/net/<if>) whose interface, or an upper device of it
 *     (upper_* links and master: bond, bridge, VLAN, macvlan) up to four levels, has a
 *     route (proc/net/route, proc/net/ipv6_route without link-local and multicast; the
 *     default route above all), a global or site IPv6 address (proc/net/if_inet6), or an
 *     IPv4 address (given by the caller: the kernel lists them only over netlink, so
 *     production passes getifaddrs(3)'s answer, host_owned_ipv4_ifaces(), and tests
 *     their own);
 *   - in the same IOMMU group as one of the above (VFIO assigns whole groups);
 *   - an SR-IOV PF with VFs enabled (vfio-pci refuses to bind one: "Cannot bind to PF
 *     with SR-IOV enabled") or a bridge (PCI class 0x06);
 *   - a vGPU function: a VF of an NVIDIA card on vendor-specific VFIO (bus/pci/devices/<VF>/
 *     nvidia/: it stays bound to nvidia, whose nvidia_vgpu_vfio provides its VFIO device),
 *     or an mdev parent (mdev_supported_types/), with its live mdevs (<BDF>/<uuid>/)
 *     counted. These are judged first, and a vendor-VFIO VF and an mdev parent with live
 *     mdevs cannot be overridden (no_override): rebinding takes the vGPUs from their VMs.
 *
 * Everything is read relative to a sysfs root fd and a proc root fd, so fixture trees
 * test it. Mounts and routes are read as pid 1 sees them (proc/1/mountinfo, proc/1/net/:
 * the host's namespaces, also from a container with hostPID), else as the reader does
 * (proc/self/mountinfo, proc/net/). Nothing here logs or writes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/inventory.h"

struct host_owned_env {
	int sysfs_fd; /* sysfs root (borrowed) */
	int proc_fd;  /* proc root (borrowed): net/route, net/ipv6_route, net/if_inet6,
		       * self/mountinfo, swaps; absent files count as empty */
	/* Names of interfaces that have an IPv4 address (borrowed); may be NULL. */
	char *const *ipv4_ifaces;
	size_t n_ipv4_ifaces;
};

/* The guard's verdicts for one inventory: reasons[i] belongs to inv->pci[i]. */
struct host_owned_set {
	char **reasons;	   /* owned; NULL entries: not host-owned */
	bool *no_override; /* owned; true: overrideHostOwned cannot let this one through */
	size_t n;
};

/*
 * host_owned_scan - judge every PCI function of @inv (borrowed; INVENTORY_PCI).
 * On success fills @out (free with host_owned_release()) with one reason per host-owned
 * function, a phrase like "storage: /dev/vda1 is mounted on /" or "shares IOMMU group 3
 * with 0000:00:02.0 (network: ...)". Unreadable optional files count as empty.
 * Returns 0 or -ENOMEM.
 */
int host_owned_scan(const struct host_owned_env *env, const struct inventory *inv,
		    struct host_owned_set *out);

/* host_owned_release - free what host_owned_scan() filled; a zeroed set is a no-op. */
void host_owned_release(struct host_owned_set *s);

/*
 * host_owned_get_reason - the reason @address is host-owned (borrowed from @s), or NULL
 * when it is not or @inv has no such function. @s must come from @inv.
 */
const char *host_owned_get_reason(const struct host_owned_set *s, const struct inventory *inv,
				  const char *address);

/*
 * host_owned_ipv4_ifaces - the interfaces that have an IPv4 address, from getifaddrs(3)
 * (the node's own network namespace: only for the real /proc). On success *names is a
 * new array of *n new strings (free with sysfs_names_free()). Returns 0 or -errno.
 */
int host_owned_ipv4_ifaces(char ***names, size_t *n);

/*
 * host_owned_pci_owner - the nearest PCI function in a sysfs device path: the last
 * component of @path shaped "dddd:bb:ss.f", into @bdf (MDEVD_BDF_STR_LEN bytes).
 * Returns 0, or -ENOENT when the path names no PCI function (a virtual device).
 */
int host_owned_pci_owner(const char *path, char *bdf);
