/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio_udev: early-boot persistence of vfio-pci bindings (`mdevd apply --persist`): two
 * udev rules per function mdevd binds, matched on the exact address AND its vendor:device.
 * The first sets driver_override on "add", so a host driver loaded later never takes the
 * function; the second takes it back on "bind" when a host driver's probe won the race:
 *
 *   ACTION=="add", SUBSYSTEM=="pci", KERNEL=="0000:00:04.0", ATTR{vendor}=="0x1234",
 *     ATTR{device}=="0x11e8", ATTR{driver_override}="vfio-pci", RUN+="RUN"
 *   ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:00:04.0", DRIVER!="vfio-pci",
 *     ATTR{vendor}=="0x1234", ATTR{device}=="0x11e8", ATTR{driver_override}=="vfio-pci",
 *     RUN+="RUN"
 *
 * where RUN loads vfio-pci, unbinds the function from a driver other than vfio-pci and
 * writes it to drivers_probe (loading vfio-pci probes it, or drivers_probe when vfio-pci
 * is loaded already). At boot udev replays the add events in parallel, and a host driver
 * loaded for another device (the other NIC's event loads e1000e) probes every unbound
 * function it matches at once, possibly before this function's add event ran; the unbind
 * covers that order, the bind rule the probe under way while the override was written.
 * The bind rule acts only while driver_override names vfio-pci: a give-back clears it.
 *
 * The file (default VFIO_UDEV_DEFAULT_PATH) is mdevd's alone and replaced whole, atomically.
 * Caveat (docs/operations.md): a host driver loaded from the initramfs probes before udev
 * runs from the root file system; for such drivers the rule must be in the initramfs
 * too (update-initramfs -u / dracut -f after apply --persist) or the driver kept out of it.
 */
#pragma once

#include <stddef.h>

#include "apply/vfio_state.h"
#include "mdevd/inventory.h"

#define VFIO_UDEV_DEFAULT_PATH "/etc/udev/rules.d/70-mdevd-vfio-pci.rules"

/*
 * vfio_udev_write - replace @path with one rule for each function of @keep (addresses,
 * borrowed) as @inv (borrowed) shows it now.
 * Refuses (-EEXIST, nothing written, @why says which and what to do) when the rule file
 * already names an address of @keep with other ids than the device there now: the
 * hardware changed under a persisted binding. Returns 0, -EEXIST, -ENOENT when an
 * address of @keep is not in @inv, or -errno from writing.
 */
int vfio_udev_write(const char *path, const struct inventory *inv, char *const *keep, size_t n_keep,
		    char *why, size_t size);
