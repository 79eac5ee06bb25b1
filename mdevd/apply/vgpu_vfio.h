/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vgpu_vfio: the applier's steps for NVIDIA vendor-specific VFIO (node/nvidia_vgpu.h):
 * make a VF a vGPU of a type, or free it, through its nvidia/current_vgpu_type.
 *
 * Source of truth: NVIDIA Virtual GPU Software User Guide (vGPU 17+), "Creating an NVIDIA
 * vGPU on a Linux with KVM hypervisor that uses a vendor-specific VFIO framework":
 *   echo <id> > /sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type   (configure)
 *   echo 0    > /sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type   (free)
 * The VF stays bound to `nvidia`: nothing here touches driver_override, bind or
 * sriov_numvfs.
 *
 * Serialised per card: each step holds an exclusive flock(2) on the card's (PF's) sysfs
 * directory while it re-reads, writes and reads back, so two mdevd processes (a CLI apply
 * beside the daemon) never interleave on one card, whose lists change as siblings are set.
 * Nothing here logs; callers get a phrase in @why.
 */
#pragma once

#include <stddef.h>

/*
 * vgpu_vfio_set - make @vf (a VF of @card) a vGPU of type @id, or free it with @id 0.
 * @sysfs_fd: the sysfs root (borrowed). @why/@size: on failure, a phrase that explains it
 * (with the kernel's errno by name), else left as it is.
 * Configuring: the VF must read current_vgpu_type 0 (else -EBUSY) and its list must still
 * offer @id (else -ENOSPC: the card filled meanwhile). Then @id is written and read back; a
 * read-back other than @id is rolled back by writing 0, and -EIO is returned.
 * Freeing: 0 is written and read back (-EIO when it still reads a type). The caller checks
 * that nothing holds the VF first.
 * Returns 0, -ENOENT (no such VF or no nvidia/ there), -EBUSY, -ENOSPC, -EIO, or the errno
 * the kernel answered the write with (-EINVAL for an id the driver refuses, ...).
 */
int vgpu_vfio_set(int sysfs_fd, const char *card, const char *vf, unsigned int id, char *why,
		  size_t size);
