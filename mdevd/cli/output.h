/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * output: what the CLI prints, as JSON (through cJSON; the only mdevd/ file that sees it)
 * or as human-readable text in the manner of mdevctl and lspci. Nothing here logs.
 * Each call writes the whole document to @f and returns 0, -ENOMEM, or -EIO when
 * writing fails.
 */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"
#include "mdevd/inventory.h"
#include "mdevd/plan.h"

/*
 * output_types - every parent and its types. JSON: [{"parent", "types": [{"id", "name",
 * "description" (null when absent), "device_api", "available_instances"}]}].
 * Human: a header line per parent (with vendor:device, PF and NUMA node for a PCI
 * parent), then id, available instances, device API, name and description per type.
 */
int output_types(FILE *f, enum cli_output fmt, const struct inventory *inv);

struct inuse;

/*
 * output_list - live mdevs, with the libvirt domain that names each one among the
 * @n_refs @refs (may be none: libvirt not asked) and the process that holds its VFIO
 * group open, from @in (NULL: processes not scanned). JSON: [{"uuid", "parent", "type",
 * "iommu_group" (null when none), "domain" (null when no domain names it), "state":
 * "in_use" (a running domain or a process holds it), "reserved" (a defined domain names
 * it) or null, "held_by": {"pid", "command", "guest"} or null}].
 * Human: "<uuid> <parent> <type> (group N)[ in use by D| reserved by D][ held by pid P
 * (COMMAND, guest G)]", one line each.
 */
int output_list(FILE *f, enum cli_output fmt, const struct inventory *inv,
		const struct plan_domain_ref *refs, size_t n_refs, const struct inuse *in);

/*
 * output_pci - the @n functions in @fns (borrowed pointers, printed in that order).
 * JSON: [{"address", "vendor", "device", "subsystem_vendor", "subsystem_device" (4 hex
 * digits), "class" (6 hex digits), "class_name", "vendor_name", "device_name", "driver",
 * "iommu_group", "numa_node", "physfn", "sriov_totalvfs", "sriov_numvfs"}], with null
 * for absent names, driver, physfn and for a group or node of -1; then "vgpu_backend": how
 * the function offers vGPUs per @inv ("mdev" for an mdev parent, "nvidia-vgpu" for a
 * vendor-VFIO card or one of its VFs, else null) and "current_vgpu_type" (a vendor-VFIO
 * VF's nvidia/current_vgpu_type, 0 when free; null for any other function).
 * Human: one lspci-like line per function, with " vgpu=mdev", " vgpu=nvidia-vgpu" (a card),
 * " vgpu=nvidia-vgpu:1153" or " vgpu=nvidia-vgpu:free" (a VF) at the end.
 * @inv: the parents (INVENTORY_TYPES); may be NULL: no vGPU facts.
 */
int output_pci(FILE *f, enum cli_output fmt, const struct inventory *inv,
	       const struct pci_function *const *fns, size_t n);

/*
 * output_pci_vfio - output_pci() with what mdevd knows about binding each function:
 * @host_owned[i] the guard's reason for fns[i] or NULL, @bound_by_mdevd[i] whether mdevd's
 * ownership file names it (both borrowed, @n entries; either may be NULL). JSON adds
 * "host_owned" (the reason or null) and "bound_by_mdevd"; human appends
 * " bound-by-mdevd" and " host-owned: <reason>".
 */
int output_pci_vfio(FILE *f, enum cli_output fmt, const struct inventory *inv,
		    const struct pci_function *const *fns, size_t n, const char *const *host_owned,
		    const bool *bound_by_mdevd);

/*
 * output_plan - a plan. JSON: {"actions": [{"action": "create"|"remove"|"keep", "parent",
 * "type", "uuid", "owned", "slot" (null for foreign mdevs), "iommu_group" (null when none),
 * "reason", "reason_code", "domain" (the libvirt domain naming the mdev, or null)}],
 * "shortfalls": [{"parent", "type", "wanted", "planned",
 * "blocked"}], "summary": {"create", "remove", "keep"}}.
 * Human: one line per action, one per shortfall, then a summary line.
 */
int output_plan(FILE *f, enum cli_output fmt, const struct plan *plan);

struct doctor_report;

/*
 * output_doctor - the checks of `mdevd doctor -o json`: {"checks": [{"check", "status"
 * ("pass", "warn", "fail"), "detail", "fix", "machineconfig"}], "summary": {"pass",
 * "warn", "fail"}}, null for an absent detail, fix or MachineConfig.
 */
int output_doctor(FILE *f, const struct doctor_report *r);
