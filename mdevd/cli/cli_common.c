/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared command steps: opening the roots, the machine id, reading a policy file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "util/fileio.h"
#include "util/log.h"
#include "mdevd/macro.h"
#include "node/sysfs.h"
#include "libvirt/libvirt_client.h"

int cli_open_sysfs(const struct cli_globals *g, int *fd)
{
	int r = sysfs_open_root(g->sysfs_root, fd);

	if (r < 0)
		log_warn(r, "cannot open the sysfs root %s", g->sysfs_root);
	return r;
}

int cli_open_proc(const struct cli_globals *g, int *fd)
{
	int r = sysfs_open_root(g->proc_root, fd);

	if (r < 0)
		log_warn(r, "cannot open the proc root %s", g->proc_root);
	return r;
}

static bool valid_machine_id(const char *s)
{
	size_t n = strlen(s);

	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

int cli_machine_id(const struct cli_globals *g, char buf[MACHINE_ID_LEN])
{
	char tmp[128];
	int r;

	if (g->machine_id) {
		if (!valid_machine_id(g->machine_id)) {
			log_warnx("--machine-id %s: expected 32 hexadecimal digits", g->machine_id);
			return -EINVAL;
		}
		snprintf(tmp, sizeof(tmp), "%s", g->machine_id);
	} else {
		r = sysfs_read_attr(AT_FDCWD, "/etc/machine-id", tmp, sizeof(tmp));
		if (r < 0) {
			log_warn(r,
				 "/etc/machine-id: cannot read the machine id that mdevd's UUIDs "
				 "derive from (pass --machine-id)");
			return r;
		}
		if (!valid_machine_id(tmp)) {
			log_warnx("/etc/machine-id: not 32 hexadecimal digits (pass --machine-id)");
			return -EINVAL;
		}
	}
	for (char *p = tmp; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	memcpy(buf, tmp, MACHINE_ID_LEN);
	return 0;
}

int cli_read_policy_file(const char *path, char **data, size_t *len)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	if (streq(path, "-")) {
		fd = dup(STDIN_FILENO);
		if (fd < 0)
			return -errno;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && st.st_size > (off_t)POL_MAX_SIZE)
		return -EFBIG;
	n = fileio_read_fd(fd, POL_MAX_SIZE, 0, data);
	if (n < 0)
		return (int)n;
	*len = (size_t)n;
	return 0;
}

int cli_parse_policy(const char *name, const char *data, size_t len, struct policy **out,
		     struct pol_error *first)
{
	struct pol_report rep = {};
	struct pol_error err = {};
	int r;

	r = pol_parse_report(data, len, out, &err, &rep);
	if (r == -EINVAL && first) {
		*first = err;
		if (rep.n) {
			snprintf(first->path, sizeof(first->path), "%s", rep.diags[0].path);
			snprintf(first->message, sizeof(first->message), "%s",
				 rep.diags[0].message);
		}
	}
	if (r == -EINVAL && rep.n == 0) { /* a syntax error */
		char where[POL_PATH_MAX + 64];

		log_warnx("%s: %s: %s", name, pol_error_where(&err, where, sizeof(where)),
			  err.message);
	} else if (r == -EINVAL) { /* every error, in one go */
		for (size_t i = 0; i < rep.n; i++) {
			char where[POL_PATH_MAX + 64];

			log_warnx("%s: %s: %s", name,
				  pol_diag_where(&rep.diags[i], where, sizeof(where)),
				  rep.diags[i].message);
		}
	} else if (r < 0) {
		log_warn(r, "%s: cannot parse the policy", name);
	}
	pol_report_clear(&rep);
	return r;
}

int cli_load_policy(const char *path, struct policy **out)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	r = cli_read_policy_file(path, &data, &len);
	if (r == -EFBIG) {
		log_warnx("%s: larger than %u MiB: not a policy", path, POL_MAX_SIZE >> 20);
		return r;
	}
	if (r < 0) {
		log_warn(r, "%s: cannot read the policy", path);
		return r;
	}
	return cli_parse_policy(path, data, len, out, NULL);
}

int cli_select_node_types(const char *name, struct policy *pol, const struct pol_label *labels,
			  size_t n_labels, bool labels_known, bool *warned)
{
	char list[256] = "";
	size_t k = 0;
	int r;

	if (pol->n_node_types && !labels_known && !*warned) {
		log_warnx("%s: nodeMediatedDeviceTypes: this node's labels are unknown (give "
			  "--node-labels, or --node-name with the API server): only entries with "
			  "an empty nodeSelector select it",
			  name);
		*warned = true;
	}
	r = pol_select_node_types(pol, labels, n_labels);
	if (r < 0) {
		log_warn(r, "%s: nodeMediatedDeviceTypes", name);
		return r;
	}
	if (!pol->n_node_types)
		return 0;
	for (size_t i = 0; i < pol->n_node_types_selected && k < sizeof(list); i++)
		k += (size_t)snprintf(list + k, sizeof(list) - k, "%s[%zu]", i ? ", " : "",
				      pol->node_types_selected[i]);
	log_info("%s: nodeMediatedDeviceTypes: %zu of %zu entries select this node%s%s; %zu "
		 "mediated device types",
		 name, pol->n_node_types_selected, pol->n_node_types,
		 pol->n_node_types_selected ? ": " : "", list, pol->n_mediated_device_types);
	return 0;
}

int cli_load_node_policy(const char *cmd, const char *path, const char *node_labels,
			 struct policy **out)
{
	_cleanup_(policy_freep) struct policy *pol = NULL;
	struct pol_label *labels = NULL;
	size_t n_labels = 0;
	bool warned = false;
	char why[256] = "";
	int r;

	if (node_labels) {
		r = pol_parse_labels(node_labels, &labels, &n_labels, why, sizeof(why));
		if (r == -EINVAL)
			log_warnx("%s: --node-labels %s: %s", cmd, node_labels, why);
		else if (r < 0)
			log_warn(r, "%s: --node-labels", cmd);
		if (r < 0)
			return r;
	}
	r = cli_load_policy(path, &pol);
	if (r == 0)
		r = cli_select_node_types(path, pol, labels, n_labels, node_labels != NULL,
					  &warned);
	pol_labels_free(labels, n_labels);
	if (r < 0)
		return r;
	*out = steal_ptr(pol);
	return 0;
}

int cli_connect_libvirt(const struct cli_globals *g, const char *uri, bool disabled, bool required,
			bool read_only, struct virt **out)
{
	char err[512] = "";
	int r;

	*out = NULL;
	if (disabled)
		return 0;
	r = virt_open_optional(uri, streq(g->sysfs_root, "/sys"), read_only, out, err, sizeof(err));
	if (r >= 0) {
		if (r > 0)
			log_debug("libvirt: connected to %s", virt_uri(*out));
		return 0;
	}
	if (required) {
		log_warnx("libvirt at %s cannot be reached: %s", uri ? uri : VIRT_DEFAULT_URI, err);
		return r;
	}
	log_warnx("libvirt at %s cannot be reached: %s; only open VFIO groups count as in use "
		  "(pass --no-libvirt to skip libvirt)",
		  uri ? uri : VIRT_DEFAULT_URI, err);
	return 0;
}

int cli_check_policy(const char *path, const struct policy *pol, const struct inventory *inv,
		     unsigned int flags)
{
	struct pol_report rep = {};
	int r = pol_check(pol, inv, &rep);

	for (size_t i = 0; i < rep.n; i++) {
		const struct pol_diag *d = &rep.diags[i];

		if (d->severity == POL_SEVERITY_ERROR) {
			if (!(flags & CLI_CHECK_NO_ERRORS))
				log_warnx("%s: %s: %s", path, d->path, d->message);
		} else if (!(flags & CLI_CHECK_NO_WARNINGS))
			log_warnx("%s: %s: warning: %s", path, d->path, d->message);
	}
	if (r == -ENOMEM)
		log_warn(r, "%s: cannot check the policy", path);
	pol_report_clear(&rep);
	return r;
}

int cli_check_policy_args(const char *cmd, const char **policy_path, int optind, int argc,
			  void (*usage)(FILE *f))
{
	if (!*policy_path)
		*policy_path = CLI_DEFAULT_POLICY;
	if (optind >= argc)
		return EXIT_OK;
	log_warnx("%s: unexpected argument (the policy file goes after --policy)", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

int cli_output_option(const char *cmd, const char *value, enum cli_output *out)
{
	if (cli_parse_output(value, out) < 0) {
		log_warnx("%s: -o %s: expected 'human' or 'json'", cmd, value);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}
