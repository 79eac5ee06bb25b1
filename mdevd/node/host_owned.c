/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host-owned guard; host_owned.h lists the rules and their sources. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "node/host_owned.h"
#include "node/sysfs.h"

#define REASON_MAX   256
#define MAX_FILE     (4u << 20) /* bytes read of one proc file */
#define UPPER_DEPTH  4
#define IFNAME_BYTES 64

/*
 * A proc file of the host's namespaces: pid 1's (the host's init; a container with hostPID
 * sees it too), else @path as the reader's own. /proc/self/mountinfo and /proc/net are the
 * reader's mount and network namespace, which in a pod are not the host's.
 */
static int read_file(int dirfd, const char *path, char **out);

static int read_host_file(int dirfd, const char *path, const char *own, char **out)
{
	int r = read_file(dirfd, path, out);

	if (r < 0 || (*out)[0] || !own)
		return r;
	free(*out);
	return read_file(dirfd, own, out);
}

/* A whole (proc) file relative to @dirfd, NUL-terminated; "" when absent or unreadable. */
static int read_file(int dirfd, const char *path, char **out)
{
	ssize_t r = sysfs_read_file(dirfd, path, MAX_FILE, out);

	if (r == -ENOMEM)
		return -ENOMEM;
	if (r < 0) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	return 0;
}

static bool is_bdf(const char *s, size_t n)
{
	static const char shape[] = "xxxx:xx:xx.x";

	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	}
	return true;
}

int host_owned_pci_owner(const char *path, char *bdf)
{
	const char *found = NULL, *p = path;

	while (*p) {
		size_t n = strcspn(p, "/");

		if (is_bdf(p, n))
			found = p;
		p += n;
		while (*p == '/')
			p++;
	}
	if (!found)
		return -ENOENT;
	memcpy(bdf, found, 12);
	bdf[12] = '\0';
	for (char *c = bdf; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/* The PCI function behind class/<cls>/<name>, into @bdf. */
static int class_owner(int sysfs_fd, const char *cls, const char *name, char *bdf)
{
	char path[256], target[1024];
	int r;

	snprintf(path, sizeof(path), "class/%s/%s", cls, name);
	r = sysfs_read_link(sysfs_fd, path, target, sizeof(target));
	if (r < 0)
		return r;
	return host_owned_pci_owner(target, bdf);
}

struct verdicts {
	const struct inventory *inv;
	char **reasons;
};

static ssize_t index_of(const struct inventory *inv, const char *bdf)
{
	const struct pci_function *f = inventory_get_pci(inv, bdf);

	return f ? f - inv->pci : -1;
}

/* Record @reason for @bdf unless it has one already. */
static int mark(struct verdicts *v, const char *bdf, const char *reason)
{
	ssize_t i = index_of(v->inv, bdf);

	if (i < 0 || v->reasons[i])
		return 0;
	v->reasons[i] = strdup(reason);
	return v->reasons[i] ? 0 : -ENOMEM;
}

/* --- boot VGA and the framebuffer console --- */

static int check_display(const struct host_owned_env *env, struct verdicts *v)
{
	char path[128], buf[16], bdf[MDEVD_BDF_STR_LEN], reason[REASON_MAX];
	char **names = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; i < v->inv->n_pci; i++) {
		snprintf(path, sizeof(path), "bus/pci/devices/%s/boot_vga", v->inv->pci[i].address);
		if (sysfs_read_attr(env->sysfs_fd, path, buf, sizeof(buf)) > 0 && streq(buf, "1")) {
			r = mark(v, v->inv->pci[i].address, "the boot VGA device (boot_vga = 1)");
			if (r < 0)
				return r;
		}
	}
	if (sysfs_list_dir(env->sysfs_fd, "class/graphics", &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (strncmp(names[i], "fb", 2) != 0 ||
		    class_owner(env->sysfs_fd, "graphics", names[i], bdf) < 0)
			continue;
		snprintf(reason, sizeof(reason), "drives the framebuffer console (/dev/%s)",
			 names[i]);
		r = mark(v, bdf, reason);
	}
	sysfs_names_free(names, n);
	return r;
}

/* --- storage --- */

/* Where block device @name (major:minor @dev) is mounted, from mountinfo; NULL if not. */
static const char *mount_point(char *mountinfo, const char *name, const char *dev, char *out,
			       size_t size)
{
	char src[IFNAME_BYTES + 8];

	snprintf(src, sizeof(src), "/dev/%s", name);
	for (char *line = mountinfo; line && *line;) {
		char *next = strchr(line, '\n');
		char id[32], parent[32], mm[32], root[512], mp[512];
		const char *sep;

		if (next)
			*next = '\0';
		if (sscanf(line, "%31s %31s %31s %511s %511s", id, parent, mm, root, mp) == 5) {
			bool hit = streq(mm, dev);

			sep = strstr(line, " - ");
			if (!hit && sep) {
				char fstype[64], source[512];

				if (sscanf(sep + 3, "%63s %511s", fstype, source) == 2)
					hit = streq(source, src);
			}
			if (hit) {
				snprintf(out, size, "%s", mp);
				if (next)
					*next = '\n';
				return out;
			}
		}
		if (next)
			*next = '\n';
		line = next ? next + 1 : NULL;
	}
	return NULL;
}

static bool is_swap(const char *swaps, const char *name)
{
	char want[IFNAME_BYTES + 8];
	const char *line = strchr(swaps, '\n'); /* after the header */

	snprintf(want, sizeof(want), "/dev/%s", name);
	while (line && *++line) {
		size_t n = strcspn(line, " \t\n");

		if (n == strlen(want) && strncmp(line, want, n) == 0)
			return true;
		line = strchr(line, '\n');
	}
	return false;
}

static int check_storage(const struct host_owned_env *env, struct verdicts *v)
{
	_cleanup_free_ char *mountinfo = NULL, *swaps = NULL;
	char **names = NULL;
	size_t n = 0;
	int r;

	r = read_host_file(env->proc_fd, "1/mountinfo", "self/mountinfo", &mountinfo);
	if (r < 0)
		return r;
	r = read_file(env->proc_fd, "swaps", &swaps); /* not namespaced */
	if (r < 0)
		return r;
	if (sysfs_list_dir(env->sysfs_fd, "class/block", &names, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		char bdf[MDEVD_BDF_STR_LEN], path[256], dev[32], mp[512], reason[REASON_MAX];
		char **holders = NULL;
		size_t nh = 0;

		if (strlen(names[i]) >= IFNAME_BYTES ||
		    class_owner(env->sysfs_fd, "block", names[i], bdf) < 0)
			continue;
		snprintf(path, sizeof(path), "class/block/%s/dev", names[i]);
		if (sysfs_read_attr(env->sysfs_fd, path, dev, sizeof(dev)) < 0)
			dev[0] = '\0';
		snprintf(path, sizeof(path), "class/block/%s/holders", names[i]);
		if (mount_point(mountinfo, names[i], dev, mp, sizeof(mp))) {
			snprintf(reason, sizeof(reason), "storage: /dev/%s is mounted on %.160s",
				 names[i], mp);
		} else if (is_swap(swaps, names[i])) {
			snprintf(reason, sizeof(reason), "storage: /dev/%s is active swap",
				 names[i]);
		} else if (sysfs_list_dir(env->sysfs_fd, path, &holders, &nh) == 0 && nh > 0) {
			snprintf(reason, sizeof(reason),
				 "storage: /dev/%s is held by %s (device-mapper / md)", names[i],
				 holders[0]);
		} else {
			sysfs_names_free(holders, nh);
			continue;
		}
		sysfs_names_free(holders, nh);
		r = mark(v, bdf, reason);
	}
	sysfs_names_free(names, n);
	return r;
}

/* --- network --- */

struct net_facts {
	char *route;	 /* proc/net/route */
	char *route6;	 /* proc/net/ipv6_route */
	char *if_inet6;	 /* proc/net/if_inet6 */
	char *const *v4; /* interfaces with an IPv4 address */
	size_t n_v4;
};

/* What the routes of @ifname say in proc/net/route (or ipv6_route with @v6); NULL: none. */
static const char *route_use(const char *text, bool v6, const char *ifname)
{
	bool any = false;

	for (const char *line = text; line && *line;) {
		char f[10][64] = {{0}};
		int k;

		if (v6)
			k = sscanf(line, "%63s %63s %63s %63s %63s %63s %63s %63s %63s %63s", f[0],
				   f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]);
		else
			k = sscanf(line, "%63s %63s", f[0], f[1]);
		if (!v6 && k == 2 && streq(f[0], ifname)) {
			if (streq(f[1], "00000000"))
				return "carries the default route";
			any = true;
		} else if (v6 && k == 10 && streq(f[9], ifname)) {
			bool def = streq(f[1], "00");
			bool link = strncmp(f[0], "fe80", 4) == 0 || strncmp(f[0], "ff", 2) == 0;

			if (def && strspn(f[0], "0") == strlen(f[0]))
				return "carries the default route";
			if (!link && strtoul(f[8], NULL, 16) & 0x0001 /* RTF_UP */)
				any = true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return any ? "has a route" : NULL;
}

static const char *address_use(const struct net_facts *nf, const char *ifname)
{
	for (size_t i = 0; i < nf->n_v4; i++)
		if (streq(nf->v4[i], ifname))
			return "has an IP address";
	/* if_inet6: address index prefixlen scope flags name; scope 0x20 = link, 0x10 = host. */
	for (const char *line = nf->if_inet6; line && *line;) {
		char addr[64], idx[16], plen[16], scope[16], flags[16], name[IFNAME_BYTES];

		if (sscanf(line, "%63s %15s %15s %15s %15s %63s", addr, idx, plen, scope, flags,
			   name) == 6 &&
		    streq(name, ifname)) {
			unsigned long sc = strtoul(scope, NULL, 16);

			if (sc != 0x20 && sc != 0x10)
				return "has an IP address";
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

/* Why @ifname (or an upper device of it) keeps the host on the network; NULL if not. */
static const char *net_use(int sysfs_fd, const struct net_facts *nf, const char *ifname, int depth,
			   char *via, size_t via_size)
{
	char path[256], upper[IFNAME_BYTES];
	const char *why;
	char **names = NULL;
	size_t n = 0;

	why = route_use(nf->route, false, ifname);
	if (!why || !streq(why, "carries the default route")) {
		const char *w6 = route_use(nf->route6, true, ifname);

		if (w6 && (!why || streq(w6, "carries the default route")))
			why = w6;
	}
	if (!why)
		why = address_use(nf, ifname);
	if (why || depth >= UPPER_DEPTH)
		return why;
	snprintf(path, sizeof(path), "class/net/%s/master", ifname);
	if (sysfs_read_link_name(sysfs_fd, path, upper, sizeof(upper)) > 0) {
		why = net_use(sysfs_fd, nf, upper, depth + 1, via, via_size);
		if (why) {
			if (!via[0])
				snprintf(via, via_size, "%s", upper);
			return why;
		}
	}
	snprintf(path, sizeof(path), "class/net/%s", ifname);
	if (sysfs_list_dir(sysfs_fd, path, &names, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !why; i++) {
		if (strncmp(names[i], "upper_", 6) != 0 || strlen(names[i] + 6) >= IFNAME_BYTES)
			continue;
		why = net_use(sysfs_fd, nf, names[i] + 6, depth + 1, via, via_size);
		if (why && !via[0])
			snprintf(via, via_size, "%s", names[i] + 6);
	}
	sysfs_names_free(names, n);
	return why;
}

static int check_network(const struct host_owned_env *env, struct verdicts *v)
{
	struct net_facts nf = {.v4 = env->ipv4_ifaces, .n_v4 = env->n_ipv4_ifaces};
	char **names = NULL;
	size_t n = 0;
	int r;

	r = read_host_file(env->proc_fd, "1/net/route", "net/route", &nf.route);
	if (r == 0)
		r = read_host_file(env->proc_fd, "1/net/ipv6_route", "net/ipv6_route", &nf.route6);
	if (r == 0)
		r = read_host_file(env->proc_fd, "1/net/if_inet6", "net/if_inet6", &nf.if_inet6);
	if (r == 0 && sysfs_list_dir(env->sysfs_fd, "class/net", &names, &n) == 0) {
		for (size_t i = 0; i < n && r == 0; i++) {
			char bdf[MDEVD_BDF_STR_LEN], via[IFNAME_BYTES] = "", reason[REASON_MAX];
			const char *why;

			if (strlen(names[i]) >= IFNAME_BYTES ||
			    class_owner(env->sysfs_fd, "net", names[i], bdf) < 0)
				continue;
			why = net_use(env->sysfs_fd, &nf, names[i], 0, via, sizeof(via));
			if (!why)
				continue;
			if (via[0])
				snprintf(reason, sizeof(reason),
					 "network: %s is enslaved to %s, which %s", names[i], via,
					 why);
			else
				snprintf(reason, sizeof(reason), "network: %s %s", names[i], why);
			r = mark(v, bdf, reason);
		}
		sysfs_names_free(names, n);
	}
	free(nf.route);
	free(nf.route6);
	free(nf.if_inet6);
	return r;
}

/* --- vGPU functions: vendor-VFIO VFs and mdev parents --- */

static bool is_uuid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i])
			return false;
	}
	return true;
}

/*
 * A vGPU function is the vendor driver's: a VF of a vendor-VFIO card is assigned as it is
 * (its VFIO device comes from nvidia_vgpu_vfio, DESIGN.md "The VF stays bound to nvidia"),
 * and unbinding an mdev parent tears its mdevs out of their VMs. Judged before every other
 * rule, so its reason is the one shown.
 */
static int check_vgpu(const struct host_owned_env *env, struct verdicts *v, bool *no_override)
{
	for (size_t i = 0; i < v->inv->n_pci; i++) {
		const struct pci_function *f = &v->inv->pci[i];
		char path[128], cur[32], reason[REASON_MAX];
		char **names = NULL;
		size_t n = 0, live = 0;
		int r;

		snprintf(path, sizeof(path), "bus/pci/devices/%s/nvidia/current_vgpu_type",
			 f->address);
		if (sysfs_read_attr(env->sysfs_fd, path, cur, sizeof(cur)) >= 0) {
			bool free_vf = streq(cur, "0") || !cur[0];

			snprintf(
				reason, sizeof(reason),
				"an NVIDIA vGPU VF of %s (vendor-specific VFIO, %s%s): it stays on "
				"nvidia, whose nvidia_vgpu_vfio is its VFIO driver",
				f->physfn ? f->physfn : "its card",
				free_vf ? "no vGPU type" : "vGPU type ", free_vf ? "" : cur);
			no_override[i] = true;
		} else {
			snprintf(path, sizeof(path), "bus/pci/devices/%s/mdev_supported_types",
				 f->address);
			if (sysfs_list_dir(env->sysfs_fd, path, &names, &n) < 0)
				continue;
			sysfs_names_free(names, n);
			snprintf(path, sizeof(path), "bus/pci/devices/%s", f->address);
			names = NULL;
			n = 0;
			if (sysfs_list_dir(env->sysfs_fd, path, &names, &n) == 0) {
				for (size_t k = 0; k < n; k++)
					live += is_uuid(names[k]);
				sysfs_names_free(names, n);
			}
			if (live) {
				snprintf(reason, sizeof(reason),
					 "an mdev parent with %zu live mdev%s (remove %s before "
					 "passing "
					 "the whole GPU through)",
					 live, live == 1 ? "" : "s", live == 1 ? "it" : "them");
				no_override[i] = true;
			} else {
				snprintf(
					reason, sizeof(reason),
					"an mdev parent (its vendor driver offers vGPU types here; "
					"name it in overrideHostOwned to pass the whole GPU "
					"through)");
			}
		}
		r = mark(v, f->address, reason);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- putting it together --- */

void host_owned_release(struct host_owned_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->reasons[i]);
	free(s->reasons);
	free(s->no_override);
	s->reasons = NULL;
	s->no_override = NULL;
	s->n = 0;
}

int host_owned_scan(const struct host_owned_env *env, const struct inventory *inv,
		    struct host_owned_set *out)
{
	struct host_owned_set s = {.n = inv->n_pci};
	struct verdicts v = {.inv = inv};
	bool *direct;
	int r;

	s.reasons = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*s.reasons));
	s.no_override = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*s.no_override));
	direct = calloc(inv->n_pci ? inv->n_pci : 1, sizeof(*direct));
	if (!s.reasons || !s.no_override || !direct) {
		free(s.reasons);
		free(s.no_override);
		free(direct);
		return -ENOMEM;
	}
	v.reasons = s.reasons;
	r = check_vgpu(env, &v, s.no_override);
	if (r == 0)
		r = check_display(env, &v);
	if (r == 0)
		r = check_storage(env, &v);
	if (r == 0)
		r = check_network(env, &v);
	for (size_t i = 0; i < inv->n_pci; i++)
		direct[i] = s.reasons[i] != NULL;
	/* A group is assigned whole: its other members are the host's too. */
	for (size_t i = 0; i < inv->n_pci && r == 0; i++) {
		const struct pci_function *f = &inv->pci[i];
		char reason[REASON_MAX];

		if (s.reasons[i] || f->iommu_group < 0)
			continue;
		for (size_t j = 0; j < inv->n_pci; j++) {
			if (!direct[j] || inv->pci[j].iommu_group != f->iommu_group)
				continue;
			snprintf(reason, sizeof(reason), "shares IOMMU group %d with %s (%s)",
				 f->iommu_group, inv->pci[j].address, s.reasons[j]);
			s.reasons[i] = strdup(reason);
			if (!s.reasons[i])
				r = -ENOMEM;
			break;
		}
	}
	for (size_t i = 0; i < inv->n_pci && r == 0; i++) {
		const struct pci_function *f = &inv->pci[i];
		char reason[REASON_MAX];

		if (s.reasons[i])
			continue;
		if (f->sriov_numvfs > 0)
			snprintf(reason, sizeof(reason),
				 "an SR-IOV PF with %u VFs enabled (vfio-pci refuses a PF with "
				 "SR-IOV enabled; write 0 to its sriov_numvfs first)",
				 f->sriov_numvfs);
		else if ((f->class_code >> 16) == 0x06)
			snprintf(reason, sizeof(reason), "a bridge (PCI class 0x%04x)",
				 f->class_code >> 8);
		else
			continue;
		s.reasons[i] = strdup(reason);
		if (!s.reasons[i])
			r = -ENOMEM;
	}
	free(direct);
	if (r < 0) {
		host_owned_release(&s);
		return r;
	}
	*out = s;
	return 0;
}

const char *host_owned_get_reason(const struct host_owned_set *s, const struct inventory *inv,
				  const char *address)
{
	ssize_t i = index_of(inv, address);

	return i >= 0 && (size_t)i < s->n ? s->reasons[i] : NULL;
}

int host_owned_ipv4_ifaces(char ***names, size_t *n)
{
	struct ifaddrs *ifa = NULL;
	char **list = NULL;
	size_t k = 0, cap = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (struct ifaddrs *it = ifa; it; it = it->ifa_next) {
		bool seen = false;

		if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET || !it->ifa_name)
			continue;
		for (size_t i = 0; i < k && !seen; i++)
			seen = streq(list[i], it->ifa_name);
		if (seen)
			continue;
		if (k == cap) {
			char **nl = realloc(list, (cap ? cap * 2 : 8) * sizeof(*list));

			if (!nl)
				goto nomem;
			list = nl;
			cap = cap ? cap * 2 : 8;
		}
		list[k] = strdup(it->ifa_name);
		if (!list[k])
			goto nomem;
		k++;
	}
	freeifaddrs(ifa);
	*names = list;
	*n = k;
	return 0;
nomem:
	freeifaddrs(ifa);
	sysfs_names_free(list, k);
	return -ENOMEM;
}
