/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pci_bind: moving one PCI function to vfio-pci and back, the kernel's documented way
 * (Documentation/ABI/testing/sysfs-bus-pci):
 *
 *   bind:      bus/pci/devices/<BDF>/driver_override <- "vfio-pci"
 *              bus/pci/devices/<BDF>/driver/unbind   <- "<BDF>"   (when a driver is bound)
 *              bus/pci/drivers_probe                 <- "<BDF>"
 *              then verify: the driver link names vfio-pci (drivers_probe reports success
 *              even when nothing binds) and /dev/vfio/<group> exists.
 *   give back: driver_override <- "\n" (cleared), unbind from vfio-pci, drivers_probe: the
 *              host driver takes it again (or none, when none matches: said, not an error).
 *
 * Never new_id: it is global to the driver and drags identical siblings along.
 *
 * An unbind (or a probe) can block for a long time in the kernel when the host driver is
 * busy (NVIDIA: "non-zero usage count"). Every such write runs on a short-lived detached
 * thread; the caller waits at most @timeout_ms and then reports -ETIMEDOUT with the
 * function named. The abandoned write stays in flight in the kernel (nothing can cancel
 * it) and its thread ends when it returns; the next reconcile sees where it got.
 * Nothing here logs: the caller gets a phrase in @why.
 */
#pragma once

#include <stddef.h>

#define PCI_BIND_TIMEOUT_MS 10000

/*
 * Writes still blocked in the kernel after their caller gave up, shared by the caller and
 * the write threads (reference counted: a thread may outlive the caller's use). With one,
 * a write to a file whose earlier write is still blocked is not started again
 * (-EALREADY), so a driver that stays busy does not collect a thread per retry.
 */
struct pci_inflight;

/* pci_inflight_new - an empty set with one reference (the caller's). Returns 0 or -ENOMEM. */
int pci_inflight_new(struct pci_inflight **out);
/* pci_inflight_unref - drop the caller's reference; NULL is a no-op. */
void pci_inflight_unref(struct pci_inflight *in);
/* pci_inflight_count - how many writes are still blocked. */
size_t pci_inflight_count(struct pci_inflight *in);

struct pci_bind_opts {
	int sysfs_fd;		 /* sysfs root (borrowed) */
	int dev_fd;		 /* /dev root for the /dev/vfio/<group> check (borrowed), or -1 */
	unsigned int timeout_ms; /* for each write that may block; 0: PCI_BIND_TIMEOUT_MS */
	struct pci_inflight *inflight; /* borrowed; NULL: no memory of blocked writes */
};

/*
 * pci_bind_vfio - bind @bdf ("dddd:bb:ss.f") to vfio-pci; @group is its IOMMU group (-1:
 * unknown, then the /dev/vfio check is skipped).
 * Returns 0 when bound and verified; -EALREADY when an earlier unbind of it is still
 * blocked (opts->inflight); -ENOENT when vfio-pci is not loaded
 * (bus/pci/drivers/vfio-pci absent) or the function vanished; -ETIMEDOUT when an unbind or
 * probe did not return in time; -ENODEV when the probe left it on another driver or none;
 * -ENXIO when /dev/vfio/<group> did not appear; or the kernel's errno of a write. On error
 * @why (@size bytes) says what happened and what to do.
 */
int pci_bind_vfio(const struct pci_bind_opts *o, const char *bdf, int group, char *why,
		  size_t size);

/*
 * pci_give_back - clear @bdf's driver_override and hand it back to the host: unbind from
 * vfio-pci when bound there, then drivers_probe. On success @driver (@dsize bytes) names
 * the driver that took it ("" when none did). Returns 0, -ETIMEDOUT, or the errno of a
 * write; @why says what happened on error.
 */
int pci_give_back(const struct pci_bind_opts *o, const char *bdf, char *driver, size_t dsize,
		  char *why, size_t size);

/*
 * pci_write_with_timeout - write @value to @path under @dirfd on a detached thread and
 * wait at most @timeout_ms for it. Returns the write's result (0 or -errno), -ETIMEDOUT
 * when it had not returned in time (it goes on in the background, remembered in
 * @inflight when given), or -EALREADY when @inflight has an earlier write to @path still
 * blocked (nothing started).
 */
int pci_write_with_timeout(int dirfd, const char *path, const char *value, unsigned int timeout_ms,
			   struct pci_inflight *inflight);
