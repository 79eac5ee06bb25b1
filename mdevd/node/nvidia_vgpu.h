/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nvidia_vgpu: NVIDIA vGPU 17+ "vendor-specific VFIO" (Ada, Hopper, Blackwell; and any GPU
 * whose VFs carry an nvidia/ directory), read relative to one sysfs root fd.
 *
 * Source of truth (NVIDIA Virtual GPU Software User Guide, vGPU 17+, "Creating a vGPU on a
 * Linux with KVM hypervisor that uses a vendor-specific VFIO framework"; the public code and
 * test data of KubeVirt, Harvester's pcidevices and NVIDIA's vgpu-device-manager):
 *   /sys/bus/pci/devices/<VF>/nvidia/creatable_vgpu_types   a table, live: it shrinks as
 *       sibling VFs fill the card and is the header alone on a full card or a configured VF:
 *           ID    : vGPU Name
 *           1153  : NVIDIA L40S-12Q
 *       (some driver builds print no header, some no colon: "1414 NVIDIA H200X-1-18C")
 *   /sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type      the configured id; 0 = none.
 *       Writing an id the list offers makes the VF a vGPU; writing 0 frees it.
 *   /sys/bus/pci/devices/<VF>/physfn                         the card (PF) it belongs to.
 * The VF stays bound to `nvidia` (nvidia_vgpu_vfio provides its VFIO nodes): never rebind it.
 * Configurations do not survive a reboot.
 *
 * A card is one struct mdev_parent (backend PARENT_BACKEND_NVIDIA_VGPU) named by the PF's
 * address; see include/mdevd/inventory.h for what its fields mean. Nothing here logs:
 * skipped entries go to the inventory_report_fn.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "mdevd/inventory.h"

/* One line of creatable_vgpu_types. */
struct nvidia_vgpu_entry {
	unsigned int id; /* > 0 */
	char *name;	 /* trimmed, never empty (owned) */
};

/*
 * nvidia_vgpu_parse_types - parse the contents of a creatable_vgpu_types file. Pure: no I/O,
 * no global state; made to be fuzzed.
 * @text, @len: the bytes (need not be NUL-terminated; a NUL byte is an error).
 * Grammar: lines split at '\n' (a trailing '\r' and surrounding blanks are dropped, blank
 * lines skipped). The first non-blank line may be a header: a line whose first field is
 * not a number ("ID    : vGPU Name"). Every other line is `<id> <sep> <name>`: a decimal id
 * of 1..4294967295 without sign, then ':' with optional blanks around it or blanks alone,
 * then a name of at least one character (inner blanks kept, at most 255 bytes).
 * Duplicate ids are an error (a driver never lists one twice).
 * On success *out is a new array of *n entries in file order (*out NULL when *n is 0, e.g.
 * for the header alone); free with nvidia_vgpu_entries_free().
 * Returns 0, -ENOMEM, or -EINVAL (malformed; *line, when not NULL, is set to the 1-based
 * number of the offending line). @out, @n untouched on error.
 */
int nvidia_vgpu_parse_types(const char *text, size_t len, struct nvidia_vgpu_entry **out, size_t *n,
			    unsigned int *line);

/* nvidia_vgpu_entries_free - free what nvidia_vgpu_parse_types() returned. NULL is a no-op. */
void nvidia_vgpu_entries_free(struct nvidia_vgpu_entry *e, size_t n);

/*
 * nvidia_vgpu_load - every card whose VFs have nvidia/current_vgpu_type, under
 * bus/pci/devices/.
 * @count_instances: fill each type's n_instances (configured VFs of that id).
 * @parents, @n_parents: set to a new array of cards sorted by name (the PF address), each
 *   with its VFs (sorted by address) and its catalogue (types sorted by id); free with
 *   mdev_parents_free() (node/mdev.h).
 * @mdevs, @n_mdevs: when not NULL, set to a new array of the configured VFs as instances
 *   (backend PARENT_BACKEND_NVIDIA_VGPU, uuid = the VF's address), sorted; free with
 *   mdev_instances_free().
 * Catalogue: names come from the card's own VFs' lists, else from another card of the same
 * vendor:device on the node; an id nobody lists (a full card) keeps its number as its name.
 * A VF whose files are garbage is reported (-EINVAL) and counts as neither free nor
 * configured; a VF without a physfn link is reported and left out.
 * Returns 0, -ENOMEM, or -errno when bus/pci/devices exists but cannot be listed (a missing
 * one: no cards).
 */
int nvidia_vgpu_load(int sysfs_fd, bool count_instances, inventory_report_fn report, void *userdata,
		     struct mdev_parent **parents, size_t *n_parents, struct mdev_instance **mdevs,
		     size_t *n_mdevs);

/*
 * nvidia_vgpu_vf_offers - does @vf's list (as read) offer type @id? Returns true or false.
 */
bool nvidia_vgpu_vf_offers(const struct vgpu_vf *vf, unsigned int id);

/*
 * nvidia_vgpu_type_id - the numeric id of a vendor type id string ("1153" -> 1153).
 * Returns 0 or -EINVAL (not a decimal number of 1..4294967295).
 */
int nvidia_vgpu_type_id(const char *s, unsigned int *out);

/*
 * The catalogue file: what mdevd learnt of each model's type names, because the driver's
 * lists leave out what a VF holds, and a full card lists nothing: on a node whose cards are
 * all full, no VF names a configured type. It is "$MDEVD_RUN_DIR/nvidia-vgpu-types"
 * (MDEVD_RUN_DIR defaults to /run/mdevd: a tmpfs, forgotten at reboot like the VFs' types),
 * one line per type: "<vendor>:<device> <id> : <name>" ("10de:26b9 1153 : NVIDIA L40S-12Q").
 * nvidia_vgpu_load() reads it to name ids no VF lists; the applier saves it.
 */

/* nvidia_vgpu_catalogue_path - the file's path, into @buf (@size bytes). Returns @buf. */
const char *nvidia_vgpu_catalogue_path(char *buf, size_t size);

/*
 * nvidia_vgpu_catalogue_save - merge every named type of @inv's NVIDIA vGPU cards into the
 * catalogue file (created with its directory when missing; replaced atomically by rename).
 * Nothing is written when it would not change. Returns 0 or -errno.
 */
int nvidia_vgpu_catalogue_save(const struct inventory *inv);

/*
 * nvidia_vgpu_vfs_disabled - is @f an NVIDIA GPU whose SR-IOV VFs are not enabled, so that
 * no vGPU can exist on it: vendor 10de, a PF (no physfn) bound to `nvidia`, sriov_totalvfs > 0,
 * sriov_numvfs 0, and no mdev parent (a T4 offers its types on the PF and needs no VFs). The
 * fix is NVIDIA's `/usr/lib/nvidia/sriov-manage -e <PF>`; mdevd never writes sriov_numvfs.
 * @inv: with the parents (INVENTORY_TYPES). Returns true or false.
 */
bool nvidia_vgpu_vfs_disabled(const struct inventory *inv, const struct pci_function *f);
