/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The udev rule for early-boot driver_override; vfio_udev.h describes it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/vfio_udev.h"
#include "mdevd/macro.h"

/*
 * After driver_override is set, vfio-pci must probe the function: loading vfio-pci probes
 * every unbound function whose override names it; when it is loaded already, drivers_probe
 * does. A host driver loaded later (80-drivers.rules) then leaves the function alone.
 *
 * At boot udev handles the replayed add events in parallel, and a host driver loaded for
 * another device (the other NIC's event loads e1000e) probes every unbound function it
 * matches at once: it can take this one before its add event has set driver_override,
 * and drivers_probe does nothing for a bound function. So the RUN also unbinds a host
 * driver found there (only one that is not vfio-pci; the override is set by then, so the
 * probe that follows picks vfio-pci). And when the host driver's probe was already under
 * way as the override was written, its "bind" event comes after the add event: the second
 * rule takes the function back on it, only while driver_override names vfio-pci (cleared
 * when mdevd gives a function back, so a give-back is not undone).
 */
#define RULE_RUN                                                                                   \
	"RUN+=\"/bin/sh -c 'modprobe -b vfio-pci; if [ -e /sys/bus/pci/devices/%%k/driver ] && "   \
	"[ ! /sys/bus/pci/devices/%%k/driver -ef /sys/bus/pci/drivers/vfio-pci ]; then "           \
	"echo %%k > /sys/bus/pci/devices/%%k/driver/unbind; fi; "                                  \
	"echo %%k > /sys/bus/pci/drivers_probe'\""

/* The ids an existing rule file gives @address; 0 when it names none. */
static int rule_ids(const char *path, const char *address, unsigned int *v, unsigned int *d)
{
	char line[512], want[64];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "KERNEL==\"%s\"", address);
	while (fgets(line, sizeof(line), f)) {
		const char *pv = strstr(line, "ATTR{vendor}==\"0x");
		const char *pd = strstr(line, "ATTR{device}==\"0x");

		if (line[0] == '#' || !strstr(line, want) || !pv || !pd)
			continue;
		if (sscanf(pv + 17, "%x", v) == 1 && sscanf(pd + 17, "%x", d) == 1) {
			fclose(f);
			return 1;
		}
	}
	fclose(f);
	return 0;
}

int vfio_udev_write(const char *path, const struct inventory *inv, char *const *keep, size_t n_keep,
		    char *why, size_t size)
{
	char tmp[4200];
	FILE *f;
	int r;

	why[0] = '\0';
	for (size_t i = 0; i < n_keep; i++) {
		const struct pci_function *fn = inventory_get_pci(inv, keep[i]);
		unsigned int v, d;

		if (!fn) {
			snprintf(why, size, "%s: not on this node, cannot persist it", keep[i]);
			return -ENOENT;
		}
		if (rule_ids(path, keep[i], &v, &d) && (v != fn->vendor_id || d != fn->device_id)) {
			snprintf(why, size,
				 "%s: %s binds %04x:%04x at this address, but %04x:%04x is there "
				 "now: the hardware changed; check it, then delete that line from "
				 "%s and run apply --persist again",
				 keep[i], path, v, d, fn->vendor_id, fn->device_id, path);
			return -EEXIST;
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "# Written by 'mdevd apply --persist'; replaced whole on every run: do not "
		   "edit.\n"
		   "# Each function mdevd binds to vfio-pci gets driver_override before any host\n"
		   "# driver probes it (exact address and vendor:device); a host driver that won\n"
		   "# the race at boot is unbound again. See mdevd(8).\n");
	for (size_t i = 0; i < n_keep; i++) {
		const struct pci_function *fn = inventory_get_pci(inv, keep[i]);

		fprintf(f,
			"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", "
			"ATTR{vendor}==\"0x%04x\", ATTR{device}==\"0x%04x\", "
			"ATTR{driver_override}=\"vfio-pci\", " RULE_RUN "\n"
			"ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==\"%s\", "
			"DRIVER!=\"vfio-pci\", ATTR{vendor}==\"0x%04x\", ATTR{device}==\"0x%04x\", "
			"ATTR{driver_override}==\"vfio-pci\", " RULE_RUN "\n",
			fn->address, fn->vendor_id, fn->device_id, fn->address, fn->vendor_id,
			fn->device_id);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		r = -errno;
		fclose(f);
		unlink(tmp);
		return r;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}
