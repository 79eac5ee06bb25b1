/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy: what the operator declares. Parsed from JSON in one of three shapes
 * (the policy engine tells them apart by their keys):
 *
 *   - a bare config:  {"permittedHostDevices": {...}, "mediatedDevicesConfiguration": {...},
 *                      "mdevd": {...}}
 *   - a KubeVirt CR:  {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
 *                      "spec": {"configuration": {<bare config>}}}
 *   - an OpenShift HyperConverged CR: {"kind": "HyperConverged", "spec": {<bare config>}},
 *                      which spells the PCI selector "pciDeviceSelector".
 *
 * Source of truth for the KubeVirt shapes: kubevirt.io/api/core/v1 types
 * PermittedHostDevices, PciHostDevice, MediatedHostDevice,
 * MediatedDevicesConfiguration. The "mdevd" section is ours; docs/mdevd-policy.5
 * documents it.
 *
 * The policy engine does no I/O: the caller reads the file and passes the
 * bytes. Only policy/parse.c sees cJSON.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"

/* permittedHostDevices.pciHostDevices[] */
struct pol_pci_device {
	char *selector;      /* "vendor:device", lower case, e.g. "10de:1eb8" */
	char *resource_name; /* e.g. "nvidia.com/TU104GL_Tesla_T4" */
	bool external_resource_provider;
};

/* permittedHostDevices.mediatedDevices[] */
struct pol_mdev_device {
	char *name_selector; /* mdevNameSelector as written, e.g. "GRID T4-1Q" */
	char *resource_name; /* e.g. "nvidia.com/GRID_T4-1Q" */
	bool external_resource_provider;
};

/* How a layout names its parents: one string each, told apart by shape. */
enum pol_parent_kind {
	POL_PARENT_ADDRESS,       /* "0000:65:00.0": the parent with that PCI address */
	POL_PARENT_VENDOR_DEVICE, /* "10de:1eb8": every PCI parent with that vendor:device */
	POL_PARENT_NAME,          /* "mtty": the parent with that class/mdev_bus name */
};

struct pol_parent_match {
	enum pol_parent_kind kind;
	char *value; /* normalised: addresses and vendor:device in lower case */
};

#define POL_COUNT_MAX (-1) /* "max": as many as the parent offers */

/* One entry of a layout's "types" object. */
struct pol_type_request {
	char *type;  /* as written: a type id ("mtty-2") or a type name ("GRID T4-1Q") */
	int count;   /* exact number of instances per matched parent, or POL_COUNT_MAX */
};

/* mdevd.layouts[]: exact instance counts of types on a set of parents. */
struct pol_layout {
	bool all_parents; /* "parents": "all" */
	struct pol_parent_match *parents;
	size_t n_parents;
	struct pol_type_request *types; /* in the order written */
	size_t n_types;
};

struct policy {
	/* mediatedDevicesConfiguration.mediatedDeviceTypes (or the older mediatedDevicesTypes) */
	char **mediated_device_types;
	size_t n_mediated_device_types;

	struct pol_pci_device *pci_devices;
	size_t n_pci_devices;
	struct pol_mdev_device *mdev_devices;
	size_t n_mdev_devices;

	/* mdevd.layouts; when non-empty it replaces mediatedDeviceTypes for planning. */
	struct pol_layout *layouts;
	size_t n_layouts;

	/* mdevd.removeUnowned: remove mdevs mdevd did not create (default false). */
	bool remove_unowned;
};

#define POL_ERROR_MAX 512

/* Where and why a policy was rejected. */
struct pol_error {
	char path[256];            /* JSON path, e.g. "$.mdevd.layouts[1].types[\"nvidia-9999\"]" */
	char message[POL_ERROR_MAX]; /* the reason, one sentence, no trailing newline */
	int line;                  /* 1-based line of a JSON syntax error, 0 otherwise */
};

/*
 * pol_parse - parse and check the shape of a policy.
 * @json, @len: the document's bytes (need not be NUL-terminated); borrowed.
 * @out:        set to a new policy on success (free with policy_free()); untouched on error.
 * @err:        filled on -EINVAL; may be NULL.
 *
 * Checks everything that needs no node: JSON syntax, known keys (an unknown key
 * is an error, with a suggestion when a known key is close), value types, selector
 * and resource-name syntax, counts >= 0, duplicate types in one layout.
 * Returns 0, -EINVAL (rejected: see @err) or -ENOMEM.
 */
int pol_parse(const char *json, size_t len, struct policy **out, struct pol_error *err);

/*
 * pol_validate - check a parsed policy against a node's inventory.
 * Every type a layout or mediatedDeviceTypes names must be offered by at least
 * one parent the entry selects; every explicit parent must exist.
 * Returns 0 or -EINVAL with @err naming the path and listing what is offered.
 */
int pol_validate(const struct policy *pol, const struct inventory *inv, struct pol_error *err);

/* policy_free - release a policy. NULL is a no-op. */
void policy_free(struct policy *pol);

/*
 * pol_normalize_name - KubeVirt's name normalisation for mdevNameSelector and
 * type names: leading/trailing white space trimmed, inner spaces turned into '_'.
 * Writes at most @size bytes to @buf (always NUL-terminated). Returns 0 or
 * -ENAMETOOLONG when @buf is too small.
 */
int pol_normalize_name(const char *name, char *buf, size_t size);
