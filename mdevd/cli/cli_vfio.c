/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-pci glue for the commands; cli_vfio.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_vfio.h"
#include "cli/doctor.h"
#include "cli/output.h"
#include "libvirt/libvirt_client.h"

#include <cjson/cJSON.h>
#include "mdevd/macro.h"
#include "node/sysfs.h"
#include "util/log.h"

void cli_vfio_opts(const struct cli_globals *g, const struct cli_vfio *v, int sysfs_fd, int proc_fd,
		   int dev_fd, struct vfio_apply_opts *out)
{
	*out = (struct vfio_apply_opts){
		.sysfs_fd = sysfs_fd,
		.sysfs_path = g->sysfs_root,
		.proc_fd = proc_fd,
		.dev_fd = dev_fd,
		.state_path = v ? v->state_path : NULL,
		.udev_path = v ? v->udev_path : NULL,
		.timeout_ms = v ? v->timeout_ms : 0,
	};
	/* The default files describe this host: not a fixture tree given by --sysfs-root. */
	if (!streq(g->sysfs_root, "/sys")) {
		if (!out->state_path)
			out->state_path = "";
		if (!out->udev_path)
			out->udev_path = "";
	}
	out->ipv4_getifaddrs = streq(g->proc_root, "/proc");
}

void cli_vfio_opts_release(struct vfio_apply_opts *o)
{
	/* Nothing is owned any more (getifaddrs is asked per pass); kept for the callers. */
	o->ipv4_ifaces = NULL;
	o->n_ipv4_ifaces = 0;
}

int cli_parse_bind_timeout(const char *s, unsigned int *ms)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > 3600)
		return -EINVAL;
	*ms = (unsigned int)v * 1000;
	return 0;
}

int cli_open_dev(const struct cli_globals *g, int *fd)
{
	int r = sysfs_open_root(g->dev_root, fd);

	if (r < 0)
		log_warn(r, "cannot open the dev root %s (see --dev-root)", g->dev_root);
	return r;
}

bool cli_vfio_active(const struct policy *pol, const struct vfio_apply_opts *o)
{
	struct vfio_state s;
	bool any;

	if (pol->vfio.n_devices || pol->vfio.bind_permitted)
		return true;
	if (vfio_state_load(o->state_path ? o->state_path : VFIO_STATE_DEFAULT_PATH, &s, NULL) < 0)
		return true; /* let the pass say what is wrong */
	any = s.n > 0;
	vfio_state_release(&s);
	return any;
}

void cli_vfio_summary(FILE *f, const struct vfio_apply_result *res, bool dry_run)
{
	fprintf(f,
		"%svfio-pci: %u bound, %u already bound, %u given back, %u refused, %u kept in "
		"use, %u failed",
		dry_run ? "Dry run: " : "", res->bound, res->already, res->given_back, res->refused,
		res->kept, res->failed);
	if (res->persisted)
		fprintf(f, ", %u persisted", res->persisted);
	fputs(".\n", f);
}

int cli_vfio_output_pci(const struct cli_globals *g, const struct inventory *inv,
			const struct inventory *parents, const struct pci_function *const *fns,
			size_t n, enum cli_output fmt)
{
	_cleanup_close_ int sysfs_fd = -1, proc_fd = -1;
	_cleanup_free_ const char **reasons = calloc(n ? n : 1, sizeof(*reasons));
	_cleanup_free_ bool *bound = calloc(n ? n : 1, sizeof(*bound));
	struct vfio_apply_opts vo;
	struct vfio_view v;
	int r;

	if (!reasons || !bound)
		return -ENOMEM;
	if (sysfs_open_root(g->sysfs_root, &sysfs_fd) < 0 ||
	    sysfs_open_root(g->proc_root, &proc_fd) < 0)
		return output_pci(stdout, fmt, parents, fns, n);
	cli_vfio_opts(g, NULL, sysfs_fd, proc_fd, -1, &vo);
	r = vfio_view_load(&vo, inv, &v);
	if (r < 0) {
		log_warn(r, "pci: cannot read the host-owned guard's evidence or %s",
			 VFIO_STATE_DEFAULT_PATH);
		cli_vfio_opts_release(&vo);
		return output_pci(stdout, fmt, parents, fns, n);
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = (size_t)(fns[i] - inv->pci);

		reasons[i] = v.facts[k].host_owned;
		bound[i] = v.facts[k].owned;
	}
	r = output_pci_vfio(stdout, fmt, parents, fns, n, reasons, bound);
	vfio_view_release(&v);
	cli_vfio_opts_release(&vo);
	return r;
}

bool cli_vfio_bound_by_mdevd(const struct cli_globals *g, const struct pci_function *fn)
{
	const struct vfio_owned *e;
	struct vfio_state s;
	bool yes;

	if (!streq(g->sysfs_root, "/sys") || vfio_state_load(VFIO_STATE_DEFAULT_PATH, &s, NULL) < 0)
		return false;
	e = vfio_state_find(&s, fn->address);
	yes = e && e->vendor_id == fn->vendor_id && e->device_id == fn->device_id;
	vfio_state_release(&s);
	return yes;
}

static int status_doctor(const struct cli_globals *g, int sysfs_fd, int proc_fd,
			 const struct policy *pol, struct vfio_apply_opts *vo, FILE *f, cJSON *root)
{
	_cleanup_close_ int dev_fd = -1;
	struct doctor_report rep;
	struct doctor_env env;
	cJSON *d = NULL, *failing = NULL;
	int r;

	if (!streq(g->sysfs_root, "/sys") || sysfs_open_root(g->dev_root, &dev_fd) < 0)
		return 0;
	env = (struct doctor_env){.sysfs_fd = sysfs_fd,
				  .proc_fd = proc_fd,
				  .dev_fd = dev_fd,
				  .sysfs_path = g->sysfs_root,
				  .vfio = vo};
	r = doctor_run(&env, pol, &rep);
	if (r < 0)
		return r;
	if (root) {
		d = cJSON_AddObjectToObject(root, "doctor");
		failing = d ? cJSON_AddArrayToObject(d, "failing") : NULL;
		if (!failing || !cJSON_AddNumberToObject(d, "fail", rep.fail) ||
		    !cJSON_AddNumberToObject(d, "warn", rep.warn)) {
			doctor_report_release(&rep);
			return -ENOMEM;
		}
	} else {
		fprintf(f, "\ndoctor: %u failed, %u warning%s%s\n", rep.fail, rep.warn,
			rep.warn == 1 ? "" : "s",
			rep.fail ? " (run 'mdevd doctor' for the whole report)" : "");
	}
	for (size_t i = 0; i < rep.n; i++) {
		const struct doctor_check *c = &rep.checks[i];
		cJSON *o;

		if (c->status != DOCTOR_FAIL)
			continue;
		if (!root) {
			fprintf(f, "  FAIL  %s: %s\n", c->what, c->fix ? c->fix : "");
			continue;
		}
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(failing, o) ||
		    !cJSON_AddStringToObject(o, "check", c->what) ||
		    !cJSON_AddStringToObject(o, "fix", c->fix ? c->fix : "")) {
			doctor_report_release(&rep);
			return -ENOMEM;
		}
	}
	doctor_report_release(&rep);
	return 0;
}

int cli_vfio_status(const struct cli_globals *g, int sysfs_fd, int proc_fd,
		    const struct inventory *inv, const struct policy *pol, FILE *f, void *json_root)
{
	cJSON *root = json_root, *arr = NULL;
	_cleanup_free_ struct vfio_decision *d = NULL;
	struct vfio_apply_opts vo;
	struct vfio_view v;
	int r;

	cli_vfio_opts(g, NULL, sysfs_fd, proc_fd, -1, &vo);
	if (cli_vfio_active(pol, &vo)) {
		r = vfio_view_load(&vo, inv, &v);
		if (r < 0)
			return r;
		r = vfio_plan(pol, inv, v.facts, &d);
		if (r < 0) {
			vfio_view_release(&v);
			return r;
		}
		if (root) {
			arr = cJSON_AddArrayToObject(root, "vfio_pci");
			if (!arr) {
				vfio_view_release(&v);
				return -ENOMEM;
			}
		} else {
			fprintf(f, "\nvfio-pci:\n");
		}
		for (size_t i = 0; i < inv->n_pci; i++) {
			const struct pci_function *fn = &inv->pci[i];
			cJSON *o;

			if (d[i].action == VFIO_LEAVE)
				continue;
			if (!root) {
				char grp[16] = "-";

				if (fn->iommu_group >= 0)
					snprintf(grp, sizeof(grp), "%d", fn->iommu_group);
				fprintf(f, "  %s  %-9s  driver %-12s group %s%s%s%s%s\n",
					fn->address, vfio_action_str(d[i].action),
					fn->driver ? fn->driver : "-", grp,
					v.facts[i].owned ? "  bound-by-mdevd" : "",
					d[i].reason[0] ? "  " : "", d[i].reason,
					v.facts[i].host_owned && d[i].action != VFIO_REFUSED
						? "  (host-owned, overridden)"
						: "");
				continue;
			}
			o = cJSON_CreateObject();
			if (!o || !cJSON_AddItemToArray(arr, o) ||
			    !cJSON_AddStringToObject(o, "address", fn->address) ||
			    !cJSON_AddStringToObject(o, "action", vfio_action_str(d[i].action)) ||
			    !cJSON_AddItemToObject(o, "driver",
						   fn->driver ? cJSON_CreateString(fn->driver)
							      : cJSON_CreateNull()) ||
			    !cJSON_AddNumberToObject(o, "iommu_group", fn->iommu_group) ||
			    !cJSON_AddItemToObject(
				    o, "host_owned",
				    v.facts[i].host_owned
					    ? cJSON_CreateString(v.facts[i].host_owned)
					    : cJSON_CreateNull()) ||
			    !cJSON_AddBoolToObject(o, "bound_by_mdevd", v.facts[i].owned) ||
			    !cJSON_AddStringToObject(o, "reason", d[i].reason)) {
				vfio_view_release(&v);
				return -ENOMEM;
			}
		}
		vfio_view_release(&v);
	}
	return status_doctor(g, sysfs_fd, proc_fd, pol, &vo, f, root);
}

void cli_vfio_domains_load(struct virt *virt, struct cli_vfio_domains *d)
{
	struct virt_refs *refs;

	memset(d, 0, sizeof(*d));
	if (!virt)
		return;
	refs = calloc(1, sizeof(*refs));
	if (!refs)
		return;
	if (virt_domain_refs(virt, refs) < 0) {
		log_warnx("libvirt at %s: cannot read its domains: %s; only open VFIO groups "
			  "count as in use for vfio-pci",
			  virt_uri(virt), virt_last_error(virt));
		free(refs);
		return;
	}
	d->refs = refs;
}

const char *cli_vfio_domain_in_use(void *data, const char *address)
{
	struct cli_vfio_domains *d = data;
	const struct plan_domain_ref *ref;
	char **n, *why;

	if (!d->refs)
		return NULL;
	ref = virt_refs_find(d->refs, address);
	if (!ref)
		return NULL;
	if (asprintf(&why, "named by libvirt domain %s (%s)", ref->domain,
		     ref->running ? "running" : "defined") < 0)
		return "named by a libvirt domain";
	n = realloc(d->why, (d->n_why + 1) * sizeof(*n));
	if (!n) {
		free(why);
		return "named by a libvirt domain";
	}
	d->why = n;
	d->why[d->n_why++] = why;
	return why;
}

void cli_vfio_domains_release(struct cli_vfio_domains *d)
{
	if (d->refs) {
		virt_refs_release(d->refs);
		free(d->refs);
	}
	for (size_t i = 0; i < d->n_why; i++)
		free(d->why[i]);
	free(d->why);
	memset(d, 0, sizeof(*d));
}

int cli_vfio_apply(const struct cli_globals *g, const struct cli_vfio *v, int sysfs_fd, int proc_fd,
		   struct virt *virt, const struct policy *pol, bool dry_run, bool persist,
		   struct vfio_apply_result *res)
{
	_cleanup_close_ int dev_fd = -1;
	struct cli_vfio_domains doms;
	struct vfio_apply_opts vo;
	int r;

	memset(res, 0, sizeof(*res));
	cli_vfio_opts(g, v, sysfs_fd, proc_fd, -1, &vo);
	vo.dry_run = dry_run;
	vo.persist = persist;
	if (!cli_vfio_active(pol, &vo))
		return EXIT_OK;
	if ((vo.state_path && !vo.state_path[0]) || (persist && vo.udev_path && !vo.udev_path[0])) {
		log_warnx("apply: with --sysfs-root %s, name --vfio-state FILE%s: the default "
			  "files describe this host",
			  g->sysfs_root, persist ? " and --udev-rules FILE" : "");
		return EXIT_USAGE;
	}
	if (sysfs_open_root(g->dev_root, &dev_fd) == 0)
		vo.dev_fd = dev_fd;
	/* A function a libvirt domain names is in use: never given back. */
	cli_vfio_domains_load(virt, &doms);
	vo.in_use = cli_vfio_domain_in_use;
	vo.in_use_data = &doms;
	r = vfio_apply(&vo, pol, res);
	cli_vfio_domains_release(&doms);
	if (r < 0) {
		log_warn(r, "apply: vfio-pci bindings");
		return EXIT_ERROR;
	}
	cli_vfio_summary(stdout, res, dry_run);
	return EXIT_OK;
}
