/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_common: steps several commands share. Each logs its own failure with the
 * file or path it concerns, so callers only map the result to an exit status.
 */
#pragma once

#include <stdio.h>

#include "cli/cli.h"
#include "mdevd/policy.h"

#define MACHINE_ID_LEN 33 /* 32 hex digits + NUL */

/* Open the sysfs root from --sysfs-root into *fd. Returns 0 or -errno (logged). */
int cli_open_sysfs(const struct cli_globals *g, int *fd);

/* Open the proc root from --proc-root into *fd. Returns 0 or -errno (logged). */
int cli_open_proc(const struct cli_globals *g, int *fd);

/*
 * The machine id used to derive UUIDs: --machine-id, else /etc/machine-id
 * (systemd's format: 32 lower-case hex digits). Returns 0, or -EINVAL / -errno (logged,
 * with the fix: "pass --machine-id").
 */
int cli_machine_id(const struct cli_globals *g, char buf[MACHINE_ID_LEN]);

/*
 * cli_read_policy_file - read all of @path ("-": standard input), at most POL_MAX_SIZE
 * bytes. On success *data is a new NUL-terminated buffer (free()) of *len bytes.
 * Returns 0, -EFBIG when larger, -EISDIR, -ENOMEM or -errno from open/read. Logs nothing.
 */
int cli_read_policy_file(const char *path, char **data, size_t *len);

/*
 * Read and parse the policy file @path ("-": standard input; at most POL_MAX_SIZE bytes). On
 * success *out is a new policy (policy_free()). A rejected policy is logged as "<path>:
 * <$.json.path>: <reason>". Returns 0, -EINVAL (rejected), -EFBIG, -ENOMEM or -errno from reading.
 */
int cli_load_policy(const char *path, struct policy **out);

/*
 * cli_select_node_types - pick @pol's mediatedDevicesConfiguration.nodeMediatedDeviceTypes
 * entries for this node, as KubeVirt does (pol_select_node_types() with @labels, @n_labels;
 * borrowed, NULL and 0 for none), and say so: which entries select the node and how many
 * mediated device types result (info, only when the policy has entries). When it has entries
 * and the labels are not known (!@labels_known), warns that only entries with an empty
 * nodeSelector select the node, once: when *@warned is false, then sets it. @name names the
 * policy in messages. Returns 0 or -ENOMEM (logged).
 */
int cli_select_node_types(const char *name, struct policy *pol, const struct pol_label *labels,
			  size_t n_labels, bool labels_known, bool *warned);

/*
 * cli_load_node_policy - cli_load_policy() of @path, then cli_select_node_types() with the
 * labels @node_labels gives ("k=v,k2=v2", the --node-labels form; NULL: not known). The
 * policy plan and apply act on. Returns 0, -EINVAL (a rejected policy or bad @node_labels,
 * logged as "@cmd: --node-labels ...: why"), or another -errno (logged).
 */
int cli_load_node_policy(const char *cmd, const char *path, const char *node_labels,
			 struct policy **out);

/*
 * cli_parse_policy - cli_load_policy() of a document in memory (@data, @len; borrowed), named
 * @name in the messages ("KubeVirt kubevirt/kubevirt"). On -EINVAL @first (may be NULL)
 * holds the first error. Returns 0, -EINVAL or -ENOMEM.
 */
int cli_parse_policy(const char *name, const char *data, size_t len, struct policy **out,
		     struct pol_error *first);

struct virt;

/*
 * cli_connect_libvirt - the libvirt connection for what domains name: @uri (--connect),
 * or qemu:///system when its socket exists and the sysfs root is the real /sys (a test
 * tree is not the node libvirt describes); none when @disabled (--no-libvirt). One that
 * cannot be reached is reported once; then only open VFIO groups count as in use.
 * @read_only: a read-only connection. Returns 0 (*out may stay NULL: no libvirt) or
 * -errno (logged) when @required and it cannot be reached.
 */
int cli_connect_libvirt(const struct cli_globals *g, const char *uri, bool disabled, bool required,
			bool read_only, struct virt **out);

/* What cli_check_policy() leaves out of the log. */
enum cli_check_flags {
	CLI_CHECK_NO_WARNINGS = 1 << 0,
	CLI_CHECK_NO_ERRORS = 1 << 1, /* the caller reports them another way */
};

/*
 * cli_check_policy - pol_check() @pol (read from @path) against @inv and log what it
 * finds: every error as "<path>: <$.json.path>: <reason>", and every warning as
 * "<path>: <$.json.path>: warning: <reason>", less what @flags (enum cli_check_flags)
 * leave out. Returns 0 (the policy may be applied here, possibly with warnings), -EINVAL
 * (it has errors) or -ENOMEM (logged).
 */
int cli_check_policy(const char *path, const struct policy *pol, const struct inventory *inv,
		     unsigned int flags);

/*
 * cli_output_option - a command's -o / --output @value (cli_parse_output()) into *@out.
 * On an unknown format logs "@cmd: -o VALUE: expected 'human' or 'json'" and returns
 * EXIT_USAGE (*@out untouched); otherwise returns EXIT_OK.
 */
int cli_output_option(const char *cmd, const char *value, enum cli_output *out);

/* The policy file of the commands that take --policy, when none is given. */
#define CLI_DEFAULT_POLICY "/etc/mdevd/policy.json"

/*
 * cli_check_policy_args - after getopt, for the commands that take `--policy FILE` and no
 * operand (@optind, @argc as getopt left them). Sets *@policy_path to CLI_DEFAULT_POLICY
 * when the option was not given. When an operand is left, logs "@cmd: unexpected
 * argument", prints @usage to stderr and returns EXIT_USAGE; otherwise returns EXIT_OK.
 */
int cli_check_policy_args(const char *cmd, const char **policy_path, int optind, int argc,
			  void (*usage)(FILE *f));
