/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy: what the operator declares. Parsed from JSON or YAML (the same data: YAML goes
 * through libyaml into the tree the JSON parser builds) in one of three shapes, told apart
 * by the top-level "kind":
 *
 *   - a bare config (no "kind"):
 *         {"permittedHostDevices": {...}, "mediatedDevicesConfiguration": {...},
 *          "mdevd": {...}}
 *   - a whole KubeVirt CR ("kind": "KubeVirt"): the config is
 *         spec.configuration.{permittedHostDevices,mediatedDevicesConfiguration}
 *   - a whole OpenShift HyperConverged CR ("kind": "HyperConverged"): the config is
 *         spec.{permittedHostDevices,mediatedDevicesConfiguration}; this CR spells the PCI
 *         selector "pciDeviceSelector" and lets entries be "disabled" (those are skipped).
 *
 * In the CR shapes every other key (apiVersion, metadata, status, other spec keys)
 * is ignored: it is a whole CR. Inside the sections mdevd reads, and everywhere in a
 * bare config, an unknown key is an error (with a suggestion when a known key is
 * close). The "mdevd" section is always at the top level of the document, beside
 * "kind" in the CR shapes (the API server would prune it inside spec).
 *
 * Source of truth for the KubeVirt shapes: kubevirt.io/api/core/v1 types
 * PermittedHostDevices, PciHostDevice, MediatedHostDevice,
 * MediatedDevicesConfiguration, NodeMediatedDeviceTypesConfig, and the
 * hyperconverged-cluster-operator's HyperConvergedSpec. USB host devices
 * ("usb" / "usbHostDevices") are accepted and ignored: mdevd does not manage them.
 * nodeMediatedDeviceTypes is kept as written; pol_select_node_types() picks this node's
 * types with its labels, as virt-handler does (see there).
 *
 * The mdevd section (ours; docs/mdevd-policy.5 documents it):
 *
 *   "mdevd": {
 *     "layouts": [
 *       {"parents": ["0000:65:00.0", "10de:1eb8", "mtty"], "types": {"GRID T4-1Q": 4}},
 *       {"parents": "all", "types": {"mtty-2": "max"}}     (only when no other layout)
 *     ],
 *     "removeUnowned": false,
 *     "vfioPci": {
 *       "devices": ["0000:65:00.0", "10de:1eb8",
 *                   {"vendorDevice": "10de:2236", "addresses": ["0000:3b:00.0"], "numaNode": 0}],
 *       "bindPermittedHostDevices": false,
 *       "overrideHostOwned": ["0000:00:02.0"]
 *     }
 *   }
 *
 * Each parent belongs to one layout, the most specific that selects it: a PCI address or
 * a parent name beats a vendor:device id, which beats "all" (so "all" means "every parent
 * no other layout takes"). The same parent string in two layouts, "all" twice, or
 * (checked by pol_check() against the node) two strings of the same specificity that
 * select one parent are errors. A layout's types object maps a type
 * id or a type name (compared after pol_normalize_name() on both sides) to a count.
 *
 * The policy engine does no I/O: the caller reads the file and passes the
 * bytes. Only policy/parse.c sees cJSON. A struct policy owns all of its data.
 */
#pragma once

#include "macro.h"

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"

/* Limits of what pol_parse() accepts. */
#define POL_MAX_SIZE	(16u << 20) /* bytes of JSON */
#define POL_MAX_ENTRIES 1024 /* entries of any one list, and parents/types over all layouts */
#define POL_NAME_MAX	256  /* bytes of a type, parent or selector string, with the NUL */

/* Which document shape the policy came in. */
enum pol_shape {
	POL_SHAPE_BARE,		  /* a bare config */
	POL_SHAPE_KUBEVIRT,	  /* a KubeVirt CR: config at $.spec.configuration */
	POL_SHAPE_HYPERCONVERGED, /* a HyperConverged CR: config at $.spec */
};

/* permittedHostDevices.pciHostDevices[] */
struct pol_pci_device {
	char *selector;	     /* "vendor:device", lower case, e.g. "10de:1eb8" */
	char *resource_name; /* e.g. "nvidia.com/TU104GL_Tesla_T4" */
	bool external_resource_provider;
};

/* permittedHostDevices.mediatedDevices[] */
struct pol_mdev_device {
	char *name_selector; /* mdevNameSelector as written, e.g. "GRID T4-1Q" */
	char *resource_name; /* e.g. "nvidia.com/GRID_T4-1Q" */
	bool external_resource_provider;
};

/* A node label, or one term of a nodeSelector: key = value. */
struct pol_label {
	char *key;
	char *value;
};

/* mediatedDevicesConfiguration.nodeMediatedDeviceTypes[] */
struct pol_node_types {
	/* nodeSelector: every term must equal one of the node's labels; none: every node. */
	struct pol_label *selector;
	size_t n_selector;
	/* mediatedDeviceTypes, or the deprecated mediatedDevicesTypes when that is empty */
	char **types;
	size_t n_types;
	char *path; /* JSON path of that list, for messages */
};

/* How a layout names its parents: one string each, told apart by shape. */
enum pol_parent_kind {
	POL_PARENT_ADDRESS, /* "0000:65:00.0" (or "65:00.0"): the parent with that PCI address */
	POL_PARENT_VENDOR_DEVICE, /* "10de:1eb8": every PCI parent with that vendor:device */
	POL_PARENT_NAME,	  /* "mtty": the parent with that class/mdev_bus name */
};

struct pol_parent_match {
	enum pol_parent_kind kind;
	/* normalised: addresses in lower case with the domain, vendor:device in lower case */
	char *value;
};

#define POL_COUNT_MAX (-1) /* "max": as many as the parent offers */

/* One entry of a layout's "types" object. */
struct pol_type_request {
	char *type; /* as written: a type id ("mtty-2") or a type name ("GRID T4-1Q") */
	int count;  /* exact number of instances per matched parent (>= 0), or POL_COUNT_MAX */
};

/* mdevd.layouts[]: exact instance counts of types on a set of parents. */
struct pol_layout {
	bool all_parents;		  /* "parents": "all"; then parents is NULL */
	struct pol_parent_match *parents; /* in the order written, no duplicates */
	size_t n_parents;
	struct pol_type_request *types; /* in the order written; may be empty: "no mdevs here" */
	size_t n_types;
};

/*
 * One entry of mdevd.vfioPci.devices: exactly one of @address and @vendor_device is set.
 * A vendor:device entry may be narrowed to some addresses and to one NUMA node.
 */
struct pol_vfio_selector {
	char *address;	     /* "dddd:bb:ss.f", lower case, with the domain; or NULL */
	char *vendor_device; /* "vvvv:dddd", lower case; or NULL */
	char **addresses;    /* with vendor_device: only these addresses (normalised); n 0 = any */
	size_t n_addresses;
	int numa_node; /* with vendor_device: only functions on this NUMA node; -1 = any */
};

/* mdevd.vfioPci */
struct pol_vfio {
	struct pol_vfio_selector *devices; /* in the order written */
	size_t n_devices;
	/* bindPermittedHostDevices: also bind what a pciHostDevices[] selector matches. */
	bool bind_permitted;
	/* overrideHostOwned: addresses (normalised) the host-owned guard lets through. */
	char **override_host_owned;
	size_t n_override_host_owned;
};

struct policy {
	enum pol_shape shape;

	/*
	 * mediatedDevicesConfiguration.mediatedDeviceTypes (or the deprecated
	 * mediatedDevicesTypes): type ids, in the order written, no duplicates.
	 */
	char **mediated_device_types;
	size_t n_mediated_device_types;
	/* JSON path of that list, for messages ("$.spec.mediatedDevicesConfiguration.
	 * mediatedDeviceTypes"); NULL when the policy has none. */
	char *mediated_device_types_path;
	/*
	 * Set by pol_select_node_types() when the types come from nodeMediatedDeviceTypes
	 * entries: each type's own JSON path (the entry's list and index); NULL otherwise, and
	 * a type's path is mediated_device_types_path + its index.
	 */
	char **mediated_device_type_paths;
	/* mediatedDevicesConfiguration.enabled: false (KubeVirt: do not create or remove mdevs). */
	bool mediated_devices_disabled;

	/* mediatedDevicesConfiguration.nodeMediatedDeviceTypes, in the order written. */
	struct pol_node_types *node_types;
	size_t n_node_types;
	/* After pol_select_node_types(): which of them this node's labels selected (indexes). */
	size_t *node_types_selected;
	size_t n_node_types_selected;
	bool node_types_applied; /* pol_select_node_types() ran */

	/*
	 * The policy came from the KubeVirt or HyperConverged CR in the cluster: virt-handler's
	 * own device plugins serve the permittedHostDevices entries without
	 * externalResourceProvider, so resource_build() leaves them out (kubelet keeps one
	 * plugin per resource name). Set by the caller, never by pol_parse().
	 */
	bool external_only;

	/* Entries a HyperConverged CR marks "disabled" are left out. */
	struct pol_pci_device *pci_devices;
	size_t n_pci_devices;
	struct pol_mdev_device *mdev_devices;
	size_t n_mdev_devices;

	/* mdevd.layouts; when non-empty it replaces mediatedDeviceTypes for planning. */
	struct pol_layout *layouts;
	size_t n_layouts;

	/* mdevd.removeUnowned: remove mdevs mdevd did not create (default false). */
	bool remove_unowned;

	/* mdevd.vfioPci: the PCI functions mdevd binds to vfio-pci (empty: binds none). */
	struct pol_vfio vfio;
};

#define POL_ERROR_MAX 512
#define POL_PATH_MAX  256

/* Where and why a policy was rejected. */
struct pol_error {
	/* JSON path, e.g. "$.mdevd.layouts[1].types[\"nvidia-9999\"]"; "$" for syntax errors.
	 * A path that does not fit is cut short. */
	char path[POL_PATH_MAX];
	char message[POL_ERROR_MAX]; /* the reason, one sentence, no trailing newline */
	/* 1-based line and column of a syntax error, or in a YAML document of the node the
	 * path names; 0 otherwise (JSON paths are enough in JSON). */
	int line;
	int column;
};

/*
 * pol_parse - parse and check the shape of a policy.
 * @json, @len: the document's bytes, JSON or YAML (need not be NUL-terminated); borrowed.
 * @out:        set to a new policy on success (free with policy_free()); untouched on error.
 * @err:        filled on -EINVAL (and on -ENOMEM, with a message saying so); may be NULL.
 *
 * A document whose first character (after white space and a byte order mark) is '{' or
 * '[' is JSON; anything else is YAML, one document (policy/yaml_libyaml.c).
 * Checks everything that needs no node: JSON or YAML syntax (err->line is set,
 * err->message says the column and what is there), a single document with nothing after it,
 * known keys (an unknown key is an error, with a suggestion when a known key is
 * close), duplicate keys, value types, selector and resource-name syntax, counts
 * (whole numbers >= 0 or "max"), duplicate types in one layout, parents in two
 * layouts, and the limits above. A leading UTF-8 byte order mark is skipped.
 * Returns 0, -EINVAL (rejected: see @err) or -ENOMEM.
 */
int pol_parse(const char *json, size_t len, struct policy **out, struct pol_error *err);

/* How bad one finding of pol_check() is. */
enum pol_severity {
	/* The policy itself is wrong (a contradiction, a type name where an id belongs):
	 * nothing of it is applied. */
	POL_SEVERITY_ERROR,
	/* The policy is fine but asks for something this node lacks, or for something that
	 * will not do what the author likely meant: the rest is applied. */
	POL_SEVERITY_WARNING,
};

/* One finding of pol_check() or pol_parse_report(). */
struct pol_diag {
	enum pol_severity severity;
	char path[POL_PATH_MAX];     /* JSON path, as in struct pol_error */
	char message[POL_ERROR_MAX]; /* one sentence, no trailing newline */
	int line, column;	     /* in a YAML document, where the node starts; else 0 */
};

/* Every finding of one pol_check() run, in the order of the policy's sections. */
struct pol_report {
	struct pol_diag *diags; /* owned; release with pol_report_clear() */
	size_t n;
	size_t n_errors, n_warnings;
	size_t cap; /* private */
};

/*
 * pol_check - check a parsed policy against a node's inventory and collect every
 * finding, not only the first. A policy written for a fleet names types, parents and
 * selectors that only some nodes have: those are warnings, and what the node has is
 * applied.
 * Errors (the policy contradicts itself on this node):
 *   - two layouts select one parent at the same level of specificity (see
 *     pol_get_layout(): an address or a name beats vendor:device, which beats "all");
 *   - two entries of one layout name the same type of one parent;
 *   - a mediatedDeviceTypes entry is a type name where KubeVirt takes type ids.
 * Warnings:
 *   - a layout parent (address, name, vendor:device) that selects no parent here, or a
 *     layout that every parent it selects has left for a more specific one;
 *   - a layout type, or a mediatedDeviceTypes entry, that no (selected) parent offers
 *     (with what is offered, as `id "name"` when a name was written);
 *   - a layout count above what a parent can hold of that type;
 *   - several profiles asked for on one time-sliced NVIDIA parent (one profile per GPU);
 *   - an mdevNameSelector that matches no type here (with the close names), a
 *     pciVendorSelector that matches no PCI function (only when @inv has INVENTORY_PCI
 *     functions), a PCI selector that takes a card the policy also slices into vGPUs;
 *   - in a KubeVirt or HyperConverged CR, a selector entry without
 *     "externalResourceProvider": true (checked without a node too: KubeVirt's
 *     virt-handler then serves the same resource name).
 * @pol: borrowed. @inv: borrowed, INVENTORY_TYPES at least; NULL checks only what needs
 * no node. @rep: zeroed by the caller or cleared; filled with every finding (also on
 * -EINVAL); release with pol_report_clear().
 * Returns 0 (there may be warnings), -EINVAL when @rep holds errors, or -ENOMEM (@rep
 * holds what was found before).
 */
int pol_check(const struct policy *pol, const struct inventory *inv, struct pol_report *rep);

/* pol_report_clear - release @rep's findings and zero it. */
void pol_report_clear(struct pol_report *rep);

/*
 * pol_parse_report - pol_parse(), going on after a part of the policy that is rejected
 * (an entry of a list, a layout, a section), so that one run reports every error: each
 * is appended to @rep (as POL_SEVERITY_ERROR; zeroed by the caller, or holding earlier
 * findings), and @err holds the first. A syntax error stops the parse (one finding, in
 * @err only). @rep NULL: pol_parse(). Returns as pol_parse().
 */
int pol_parse_report(const char *json, size_t len, struct policy **out, struct pol_error *err,
		     struct pol_report *rep);

/*
 * pol_validate - pol_check() for callers that only need to know whether the policy
 * may be applied on this node: warnings are dropped.
 * @pol, @inv: borrowed. @err: filled with the first error on -EINVAL; may be NULL.
 * Returns 0 (possibly with warnings pol_check() would report), -EINVAL, or -ENOMEM.
 */
int pol_validate(const struct policy *pol, const struct inventory *inv, struct pol_error *err);

/*
 * pol_error_where - where @err is, as messages say it, into @buf: "line 4" for a syntax
 * error, "line 5, column 7: $.mdevd.layouts[0]" for a YAML node, "$.json.path" otherwise.
 * Returns @buf.
 */
const char *pol_error_where(const struct pol_error *err, char *buf, size_t size);
/* pol_diag_where - the same for one finding of a report. */
const char *pol_diag_where(const struct pol_diag *d, char *buf, size_t size);

/* policy_free - release a policy and everything it owns. NULL is a no-op. */
void policy_free(struct policy *pol);
DEFINE_CLEANUP(struct policy, policy_free) /* policy_freep() for _cleanup_() */

/*
 * pol_normalize_name - KubeVirt's name normalisation for mdevNameSelector and
 * type names: leading/trailing white space trimmed, inner spaces turned into '_'.
 * Writes at most @size bytes to @buf (always NUL-terminated when @size > 0).
 * Returns 0 or -ENAMETOOLONG when @buf is too small.
 */
int pol_normalize_name(const char *name, char *buf, size_t size);

/*
 * pol_select_node_types - pick this node's mediated device types, as KubeVirt's virt-handler
 * does (pkg/virt-config: GetDesiredMDEVTypes): every nodeMediatedDeviceTypes entry whose
 * nodeSelector the node's @labels satisfy (each selector key present with an equal value;
 * an empty selector selects every node) contributes its types; the union of them (each
 * type once, in the order written) replaces the cluster-wide mediatedDeviceTypes. When no
 * entry selects the node, or the selected entries list no types, the cluster-wide list
 * stays. Without entries it only marks the policy. Call it once, right after parsing; it
 * is pure. @labels (@n_labels of them) are borrowed; NULL with 0 for "no labels".
 * Returns 0 or -ENOMEM (the policy is then unchanged).
 */
int pol_select_node_types(struct policy *pol, const struct pol_label *labels, size_t n_labels);

/*
 * pol_parse_labels - "k=v,k2=v2" (the --node-labels form; white space around terms is
 * dropped, an empty value is allowed) into @out, @n_out (free with pol_labels_free()).
 * On -EINVAL @why says what is wrong (a term without '=', an empty key, a key twice).
 * Returns 0, -EINVAL or -ENOMEM.
 */
int pol_parse_labels(const char *s, struct pol_label **out, size_t *n_out, char *why, size_t size);
void pol_labels_free(struct pol_label *labels, size_t n);

/*
 * pol_take_mdevd - move the mdevd section (layouts, removeUnowned, vfioPci) of @src into
 * @dst, replacing @dst's: the cluster's CR carries the KubeVirt sections, a file or an
 * annotation the mdevd one. @src gets @dst's former mdevd section (released with @src).
 */
void pol_take_mdevd(struct policy *dst, struct policy *src);

/* pol_has_mdevd - whether the policy has anything of an mdevd section. */
bool pol_has_mdevd(const struct policy *pol);

/* pol_shape_str - "bare config", "KubeVirt CR", "HyperConverged CR". */
const char *pol_shape_str(enum pol_shape shape);

/*
 * pol_resource_name_error - check @name by Kubernetes' rules for extended resource
 * names (what a device plugin may register). Returns NULL when @name is valid, else
 * a static sentence fragment saying why not (e.g. "needs a domain prefix, like
 * \"nvidia.com/GRID_T4-1Q\"").
 */
const char *pol_resource_name_error(const char *name);

/*
 * Lookups for the planner. All take borrowed pointers and return borrowed ones.
 *
 * pol_parent_matches - does @m select @p? An address matches the parent's PCI
 * address (or its name), vendor:device every PCI parent with those ids, a name the
 * parent's class/mdev_bus name.
 * pol_layout_matches - does @l select @p ("all", or one of its parents)?
 * pol_layout_specificity - how specifically @l selects @p: 0 not at all, 1 "all",
 * 2 by vendor:device, 3 by PCI address or name.
 * pol_get_layout - the layout of @pol that owns @p: the most specific that selects it
 * (the first of equals; pol_check() reports equals as an error), or NULL.
 * pol_find_type - the type of @p that @type names: a type id first, else the
 * first type whose name equals @type after pol_normalize_name() on both; or NULL.
 */
bool pol_parent_matches(const struct pol_parent_match *m, const struct mdev_parent *p);
bool pol_layout_matches(const struct pol_layout *l, const struct mdev_parent *p);
int pol_layout_specificity(const struct pol_layout *l, const struct mdev_parent *p);
const struct pol_layout *pol_get_layout(const struct policy *pol, const struct mdev_parent *p);
const struct mdev_type *pol_find_type(const struct mdev_parent *p, const char *type);

/*
 * vfio-pci selection (pure; policy/vfio.c). mdevd binds a function to vfio-pci only when
 * the policy names it here; without mdevd.vfioPci it serves what is already on vfio-pci
 * (KubeVirt's semantics).
 *
 * pol_vfio_selector_matches - does @s select @f? An address entry matches that address; a
 * vendor:device entry every function with those ids, narrowed by its address list and
 * NUMA node when given.
 * pol_vfio_wants - does @pol want @f on vfio-pci: a devices[] entry, or with
 * bindPermittedHostDevices a pciHostDevices[] selector, matches it. Sets *@by_address
 * (may be NULL) to whether an address entry names @f: only that binds a function the
 * policy names for a group's sake (a GPU's audio function).
 * pol_vfio_overrides_guard - does overrideHostOwned list @address (exact, normalised)?
 */
bool pol_vfio_selector_matches(const struct pol_vfio_selector *s, const struct pci_function *f);
bool pol_vfio_wants(const struct policy *pol, const struct pci_function *f, bool *by_address);
bool pol_vfio_overrides_guard(const struct policy *pol, const char *address);

/*
 * pol_vfio_copy - a new policy with only what vfio-pci binding reads from @pol
 * (mdevd.vfioPci and the pciHostDevices[] selectors), for a worker that must outlive a
 * reload of @pol. Free with policy_free(). Returns 0 or -ENOMEM.
 */
int pol_vfio_copy(const struct policy *pol, struct policy **out);

/* pol_vfio_active - does @pol bind anything to vfio-pci? */
bool pol_vfio_active(const struct policy *pol);
