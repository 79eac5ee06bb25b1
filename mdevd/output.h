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

#include "cli.h"
#include "mdevd/inventory.h"
#include "mdevd/plan.h"

/*
 * output_types - every parent and its types. JSON: [{"parent", "types": [{"id", "name",
 * "description" (null when absent), "device_api", "available_instances"}]}].
 * Human: a header line per parent (with vendor:device, PF and NUMA node for a PCI
 * parent), then id, available instances, device API, name and description per type.
 */
int output_types(FILE *f, enum cli_output fmt, const struct inventory *inv);

/*
 * output_list - live mdevs. JSON: [{"uuid", "parent", "type", "iommu_group" (null when
 * none)}]. Human: "<uuid> <parent> <type> (group N)", one line each.
 */
int output_list(FILE *f, enum cli_output fmt, const struct inventory *inv);

/*
 * output_pci - the @n functions in @fns (borrowed pointers, printed in that order).
 * JSON: [{"address", "vendor", "device", "subsystem_vendor", "subsystem_device" (4 hex
 * digits), "class" (6 hex digits), "class_name", "vendor_name", "device_name", "driver",
 * "iommu_group", "numa_node", "physfn", "sriov_totalvfs", "sriov_numvfs"}], with null
 * for absent names, driver, physfn and for a group or node of -1.
 * Human: one lspci-like line per function.
 */
int output_pci(FILE *f, enum cli_output fmt, const struct pci_function *const *fns, size_t n);

/*
 * output_plan - a plan. JSON: {"actions": [{"action": "create"|"remove"|"keep", "parent",
 * "type", "uuid", "owned", "slot" (null for foreign mdevs), "iommu_group" (null when none),
 * "reason", "reason_code"}], "shortfalls": [{"parent", "type", "wanted", "planned",
 * "blocked"}], "summary": {"create", "remove", "keep"}}.
 * Human: one line per action, one per shortfall, then a summary line.
 */
int output_plan(FILE *f, enum cli_output fmt, const struct plan *plan);
