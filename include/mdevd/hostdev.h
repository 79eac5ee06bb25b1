/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hostdev: libvirt domain <hostdev> elements for a PCI function or an mdev, built
 * with libxml2 (mdevd/libvirt/hostdev_libxml2.c is the only file of mdevd that sees libxml2).
 *
 * Source of truth: libvirt's domain XML schema, docs/schemas/domaincommon.rng
 * (installed as /usr/share/libvirt/schemas/domaincommon.rng; the "hostdev",
 * "hostdevsubsyspci", "hostdevsubsysmdev", "pciaddress" and "mdevaddress" defines),
 * and https://libvirt.org/formatdomain.html#host-device-assignment:
 *
 *   <hostdev mode="subsystem" type="pci" managed="yes">
 *     <source>
 *       <address domain="0x0000" bus="0x06" slot="0x00" function="0x0"/>
 *     </source>
 *   </hostdev>
 *
 *   <hostdev mode="subsystem" type="mdev" model="vfio-pci" display="off">
 *     <source>
 *       <address uuid="83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"/>
 *     </source>
 *   </hostdev>
 *
 * What libvirt accepts, and so what these calls check before emitting anything:
 *   - a PCI address has domain <= 0xffff, bus <= 0xff, slot <= 0x1f, function <= 0x7
 *     (virPCIDeviceAddressIsValid; the schema's pciBus is a uint8, pciSlot 0..31,
 *     pciFunc 0..7);
 *   - an mdev UUID is 8-4-4-4-12 hexadecimal digits (the schema's UUID type);
 *   - model is vfio-pci, vfio-ccw or vfio-ap: the mdev type's device_api, which is
 *     the same word (Linux: VFIO_DEVICE_API_{PCI,CCW,AP}_STRING);
 *   - display and ramfb are for model vfio-pci only. display="on" also needs a
 *     graphics device (VNC, SPICE or egl-headless) in the domain, which libvirt checks
 *     when the domain starts; ramfb="on" (a boot framebuffer, libvirt 5.10+) needs
 *     display="on" (QEMU refuses ramfb=on without display=on).
 *
 * The output is a NUL-terminated UTF-8 string without an XML declaration, indented by
 * two spaces per level, ending in a newline: ready for `virsh attach-device DOMAIN FILE`
 * (one <hostdev>) or for pasting into a domain's <devices> (a block). libxml2 writes
 * attribute values in double quotes, where libvirt's own output uses single ones; the
 * XML is the same.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inventory.h"

/* Limits libvirt puts on a host PCI address (see above). */
#define HOSTDEV_PCI_DOMAIN_MAX	 0xffffu
#define HOSTDEV_PCI_BUS_MAX	 0xffu
#define HOSTDEV_PCI_SLOT_MAX	 0x1fu
#define HOSTDEV_PCI_FUNCTION_MAX 0x7u

/* The model attribute of an mdev <hostdev>: the device API the guest sees. */
enum hostdev_model {
	HOSTDEV_MODEL_VFIO_PCI, /* device_api "vfio-pci": a PCI device (vGPU, mtty, mdpy) */
	HOSTDEV_MODEL_VFIO_CCW, /* device_api "vfio-ccw": an s390 channel I/O subchannel */
	HOSTDEV_MODEL_VFIO_AP,	/* device_api "vfio-ap": an s390 crypto adjunct processor */
};

/* Options of an mdev <hostdev>. Zero-initialised means display="off", no ramfb. */
struct hostdev_options {
	bool display; /* display="on" instead of "off"; model vfio-pci only */
	bool ramfb;   /* add ramfb="on"; model vfio-pci only, and needs display */
};

/* A host PCI address, split into its parts. */
struct hostdev_pci_address {
	unsigned int domain, bus, slot, function;
};

/* What a <devices> block holds: one PCI function or one mdev. */
enum hostdev_kind {
	HOSTDEV_PCI,
	HOSTDEV_MDEV,
};

/* One entry of a <devices> block. All pointers are borrowed. */
struct hostdev_device {
	enum hostdev_kind kind;
	const struct pci_function *pci;	  /* HOSTDEV_PCI: the function; its address is used */
	const struct mdev_instance *mdev; /* HOSTDEV_MDEV: the mdev; its uuid is used */
	const char *device_api;		  /* HOSTDEV_MDEV: its type's device_api */
	/*
	 * HOSTDEV_PCI: managed="no" instead of "yes": libvirt must not rebind the function:
	 * mdevd keeps it on vfio-pci (apply/vfio_apply.h), or it is an NVIDIA vGPU VF
	 * (vendor-specific VFIO) that stays on `nvidia`, whose nvidia_vgpu_vfio provides its VFIO
	 * device (NVIDIA vGPU User Guide, vGPU 17+: "managed='no'").
	 */
	bool unmanaged;
};

/*
 * hostdev_parse_pci_address - parse a PCI address "dddd:bb:ss.f" (with the domain) or
 * "bb:ss.f" (domain 0), hexadecimal digits in either case, as lspci and sysfs write it.
 * Each part is at most 8 digits; ranges are checked against the HOSTDEV_PCI_*_MAX
 * limits. @s: borrowed. @out: written only on success.
 * Returns 0, -EINVAL when @s has not that shape, or -ERANGE when a part is larger than
 * libvirt accepts (e.g. bus 0x100, slot 0x20, function 8).
 */
int hostdev_parse_pci_address(const char *s, struct hostdev_pci_address *out);

/*
 * hostdev_format_pci_address - write @a as "dddd:bb:ss.f" (lower case, with the domain:
 * the form struct pci_function.address and /sys/bus/pci/devices use) into @buf.
 * Returns 0, -ERANGE when a part is above the HOSTDEV_PCI_*_MAX limits, or -ENOSPC when
 * it does not fit @size (MDEVD_BDF_STR_LEN always does). @buf is written only on success.
 */
int hostdev_format_pci_address(const struct hostdev_pci_address *a, char *buf, size_t size);

/*
 * hostdev_parse_uuid - check that @s is a UUID in 8-4-4-4-12 form (hexadecimal digits
 * in either case) and write it in lower case, the form of /sys/bus/mdev/devices and
 * struct mdev_instance.uuid, into @out. @out is written only on success.
 * Returns 0 or -EINVAL.
 */
int hostdev_parse_uuid(const char *s, char out[MDEVD_UUID_STR_LEN]);

/*
 * hostdev_model_from_device_api - the model for an mdev type's @device_api (exact,
 * case-sensitive match, as the kernel writes it). Sets *out only on success.
 * Returns 0, or -EINVAL for NULL or a device API libvirt has no model for (e.g.
 * "vfio-platform"): the caller names it in its message.
 */
int hostdev_model_from_device_api(const char *device_api, enum hostdev_model *out);

/* hostdev_model_str - "vfio-pci", "vfio-ccw", "vfio-ap". */
const char *hostdev_model_str(enum hostdev_model model);

/*
 * hostdev_pci_xml - one <hostdev mode="subsystem" type="pci" managed="yes"> for @fn.
 * managed="yes": libvirt binds the function to vfio-pci when the domain starts and
 * gives it back to its host driver when the domain stops.
 * @fn:  borrowed; only ->address is read.
 * @out: set to a new string (free()) on success; untouched on error.
 * Returns 0, -EINVAL when fn->address is no PCI address, -ERANGE when a part of it is
 * above what libvirt accepts, -ENOMEM, or -EOPNOTSUPP / -ENXIO when libxml2 (loaded on
 * first use) cannot be loaded.
 */
int hostdev_pci_xml(const struct pci_function *fn, char **out);

/*
 * hostdev_pci_xml_unmanaged - hostdev_pci_xml() with managed="no": libvirt opens the
 * function's VFIO device as it is and never binds, rebinds or gives it back. For a function
 * mdevd itself keeps on vfio-pci, and for an NVIDIA vGPU VF on vendor-specific VFIO (it
 * stays on `nvidia`). Same arguments and returns.
 */
int hostdev_pci_xml_unmanaged(const struct pci_function *fn, char **out);

/*
 * hostdev_mdev_xml - one <hostdev mode="subsystem" type="mdev" model="..."
 * display="on|off" [ramfb="on"]> for @m.
 * @m:          borrowed; only ->uuid is read.
 * @device_api: the device_api of @m's type; borrowed. It gives the model.
 * @opts:       borrowed; NULL means the defaults (display="off", no ramfb).
 * @out:        set to a new string (free()) on success; untouched on error.
 * Returns 0, -EINVAL when m->uuid is no UUID, @device_api maps to no model, or @opts
 * asks for display or ramfb on a model other than vfio-pci or for ramfb without
 * display; -ENOMEM; or -EOPNOTSUPP / -ENXIO when libxml2 cannot be loaded.
 */
int hostdev_mdev_xml(const struct mdev_instance *m, const char *device_api,
		     const struct hostdev_options *opts, char **out);

/*
 * hostdev_devices_xml - a <devices> block with one <hostdev> per entry of @devs, in the
 * order given (the caller picks the order; the CLI sorts by UUID, then by address).
 * @devs, @n:  borrowed; @n >= 1.
 * @opts:      for the mdev entries; borrowed; NULL means the defaults. display or ramfb
 *             with any entry that is not a vfio-pci mdev is an error, as above.
 * @out:       set to a new string (free()) on success; untouched on error.
 * Returns 0, -EINVAL when @n is 0, an entry's kind and pointers disagree, or an entry
 * is invalid as for hostdev_pci_xml() / hostdev_mdev_xml(); -ERANGE as for
 * hostdev_pci_xml(); -ENOMEM; or -EOPNOTSUPP / -ENXIO when libxml2 cannot be loaded. Nothing is
 * emitted unless every entry is valid.
 */
int hostdev_devices_xml(const struct hostdev_device *devs, size_t n,
			const struct hostdev_options *opts, char **out);
