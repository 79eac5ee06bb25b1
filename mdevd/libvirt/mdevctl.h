/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevctl: persistent mdev definitions in mdevctl's format, so that a node without
 * libvirt gets its mdevs back after a reboot (mdevctl's udev rule and systemd unit
 * start every definition with "start": "auto" when its parent appears).
 *
 *   <dir>/<parent>/<uuid>   {"mdev_type": "<type id>", "start": "auto", "attrs": []}
 *
 * <dir> is /etc/mdevctl.d (mdevctl 1.x) unless told otherwise (mdevd's --mdevctl-dir).
 * Files are written whole (a temp file ".<uuid>.tmp" in the same directory, fsync,
 * rename, fsync of the directory), so an interrupted write never leaves a half
 * definition; mdevctl_reconcile() deletes the temp file a killed run left. Nothing
 * here logs.
 */
#pragma once

#include <stdbool.h>

#define MDEVCTL_DEFAULT_DIR "/etc/mdevctl.d"

/*
 * mdevctl_define - write the definition of @uuid (@type_id on @parent) under @dir,
 * creating <dir>/<parent> when needed. An identical definition is left as it is.
 * Returns 0, -EINVAL (a name with '/' or starting with '.'), or -errno.
 */
int mdevctl_define(const char *dir, const char *parent, const char *type_id, const char *uuid);

/*
 * mdevctl_undefine - remove the definition of @uuid on @parent under @dir, and fsync
 * <dir>/<parent>. Returns 0 (also when there was none), -EINVAL, or -errno.
 */
int mdevctl_undefine(const char *dir, const char *parent, const char *uuid);

/*
 * Asked by mdevctl_reconcile() for each definition <dir>/@parent/@name: return true to
 * keep it, false to delete it. @name is the file's name (a UUID for mdevctl's files,
 * but whatever is there is asked about). Must not touch @dir.
 */
typedef bool (*mdevctl_keep_fn)(void *data, const char *parent, const char *name);

struct mdevctl_reconcile_result {
	unsigned int removed;	   /* definitions deleted because @keep said so */
	unsigned int temp_removed; /* temp files ".<name>.tmp" of an interrupted define */
};

/*
 * mdevctl_reconcile - bring the definitions under @dir in line with what @keep wants:
 * walks every <dir>/<parent>/<name>, deletes the temp files mdevctl_define() leaves
 * when it is killed before its rename, asks @keep about every other entry whose name
 * neither starts with '.' nor is "." or "..", and deletes those it refuses. Each
 * directory something was deleted from is fsync()ed. Entries of @dir that are not
 * directories are left alone. A @dir that does not exist holds nothing: 0.
 * @out (may be NULL): the counts, written on success.
 * Returns 0, -EINVAL (@dir or @keep NULL), or the first -errno met (opendir, unlink,
 * fsync, -ENAMETOOLONG); the walk goes on past a failure, so what can be done is done.
 */
int mdevctl_reconcile(const char *dir, mdevctl_keep_fn keep, void *data,
		      struct mdevctl_reconcile_result *out);
