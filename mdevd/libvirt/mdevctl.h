/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mdevctl: persistent mdev definitions in mdevctl's format, so that a node without
 * libvirt gets its mdevs back after a reboot (mdevctl's udev rule and systemd unit
 * start every definition with "start": "auto" when its parent appears).
 *
 *   <dir>/<parent>/<uuid>   {"mdev_type": "<type id>", "start": "auto", "attrs": []}
 *
 * <dir> is /etc/mdevctl.d (mdevctl 1.x) unless told otherwise (mdevd's --mdevctl-dir).
 * Files are written whole (a temp file, fsync, rename), so an interrupted write
 * never leaves a half definition. Nothing here logs.
 */
#pragma once

#define MDEVCTL_DEFAULT_DIR "/etc/mdevctl.d"

/*
 * mdevctl_define - write the definition of @uuid (@type_id on @parent) under @dir,
 * creating <dir>/<parent> when needed. An identical definition is left as it is.
 * Returns 0, -EINVAL (a name with '/' or starting with '.'), or -errno.
 */
int mdevctl_define(const char *dir, const char *parent, const char *type_id, const char *uuid);

/*
 * mdevctl_undefine - remove the definition of @uuid on @parent under @dir.
 * Returns 0 (also when there was none), -EINVAL, or -errno.
 */
int mdevctl_undefine(const char *dir, const char *parent, const char *uuid);
