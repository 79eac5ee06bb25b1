/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pcidev: the libpci adapter, the only file that includes <pci/pci.h> (DESIGN.md).
 * Enumerates PCI functions with libpci's sysfs back end pointed at the same sysfs root
 * as everything else, and fills the inventory's struct pci_function. Nothing here logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/inventory.h"

/*
 * pcidev_scan - every PCI function under bus/pci/devices/.
 * @sysfs_fd:   the sysfs root fd, for the attributes read through sysfs.h; borrowed.
 * @sysfs_path: the same root as a path: libpci reads "<sysfs_path>/bus/pci"; borrowed.
 * @names:      also look up vendor, device and class names in pci.ids (libpci parses the
 *              whole file for it); without, they stay NULL.
 * @report:     called for each function that is left out: -EIO when libpci failed on it
 *              (its error callback fired, e.g. a file vanished under a hot-removed
 *              device), -ENOENT when its directory vanished; may be NULL.
 * On success *out is a new array of *n functions sorted by address (free with
 * pcidev_functions_free()); a node without bus/pci/devices has none.
 * libpci's error callback never returns: it is caught (longjmp back here), the
 * pci_access is dropped, and the scan restarts without the failing function.
 * Returns 0, -ENOMEM, -ENAMETOOLONG for a too long @sysfs_path, or -EIO when libpci
 * fails on the whole bus (or on more than a handful of functions in one scan).
 */
int pcidev_scan(int sysfs_fd, const char *sysfs_path, bool names, inventory_report_fn report,
		void *userdata, struct pci_function **out, size_t *n);

/* pcidev_functions_free - free an array from pcidev_scan() and all it owns. NULL is a no-op. */
void pcidev_functions_free(struct pci_function *fns, size_t n);
