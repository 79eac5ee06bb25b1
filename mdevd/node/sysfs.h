/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sysfs: every sysfs access of mdevd goes through these calls, relative to one
 * root directory fd (STYLE.md rule 6): production passes /sys, tests a fixture tree.
 * Paths are relative ("class/mdev_bus/mtty"). None of these calls logs.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * sysfs_open_root - open @path as the sysfs root. Sets *out_fd (owned by the caller)
 * on success. Returns 0 or -errno from open(2) (-ENOENT, -ENOTDIR, -EACCES).
 */
int sysfs_open_root(const char *path, int *out_fd);

/*
 * sysfs_read_attr - read a whole attribute file @path under @dirfd into @buf
 * (NUL-terminated, trailing white space and newlines stripped). One open, one
 * read, one close for contents shorter than @size.
 * Returns the length (>= 0), -ENOENT when the attribute is absent (optional
 * attributes use this to mean "absent"), -EFBIG when it does not fit @size,
 * or another -errno from open/read.
 */
int sysfs_read_attr(int dirfd, const char *path, char *buf, size_t size);

/*
 * sysfs_attr_trim - what sysfs_read_attr() makes of the @len bytes it read into @buf
 * (@len < the buffer's size, so buf[len] is writable): trailing white space and newlines
 * stripped, NUL-terminated in place. Bytes before the end, NULs too, are kept as they are.
 * Pure (no I/O); exposed for the fuzz target tests/fuzz/fuzz_sysfs.c.
 * Returns the new length (<= @len).
 */
size_t sysfs_attr_trim(char *buf, size_t len);

/*
 * sysfs_parse_long - the decimal number of sysfs_read_uint() / sysfs_read_int(): the
 * NUL-terminated @s with leading/trailing white space ignored, a sign allowed, in
 * [@min, @max]. *out is written only on success. Pure (no I/O).
 * Returns 0, or -EINVAL for an empty string, anything else than one number, or a number
 * out of range (overflow of long included).
 */
int sysfs_parse_long(const char *s, long min, long max, long *out);

/*
 * sysfs_read_uint / sysfs_read_int - read a decimal attribute. Leading/trailing
 * white space is ignored; anything else that is not a number in range gives -EINVAL.
 * *out is written only on success. Returns 0, -EINVAL, or what sysfs_read_attr returns.
 */
int sysfs_read_uint(int dirfd, const char *path, unsigned int *out);
int sysfs_read_int(int dirfd, const char *path, int *out);

/*
 * sysfs_read_link_name - the last path component of the symlink @path (e.g. the
 * group number of ".../iommu_group", the driver of ".../driver"), into @buf.
 * Returns its length, -ENOENT when there is no such link, -EFBIG when @buf is too small,
 * or another -errno from readlinkat(2).
 */
int sysfs_read_link_name(int dirfd, const char *path, char *buf, size_t size);

/*
 * sysfs_read_link - the whole target of the symlink @path (as readlinkat(2) gives it,
 * usually relative), NUL-terminated, into @buf. Returns its length, -ENOENT when there is
 * no such link, -EINVAL when @path is no symlink, -EFBIG when @buf is too small, or
 * another -errno from readlinkat(2).
 */
int sysfs_read_link(int dirfd, const char *path, char *buf, size_t size);

/*
 * sysfs_count_dir - the number of entries (without "." and "..") of directory @path,
 * with one open and getdents but no allocation per name. Sets *n on success.
 * Returns 0, -ENOENT when the directory does not exist, or another -errno.
 */
int sysfs_count_dir(int dirfd, const char *path, size_t *n);

/*
 * sysfs_write_attr - write @value to the attribute @path in a single write(2),
 * as the kernel's store handlers expect. Returns 0 or the negative errno the
 * kernel returned from open/write (for mdev "create": -EEXIST, -EINVAL, -ENOSPC,
 * -EUSERS, -ENODEV, ...).
 */
int sysfs_write_attr(int dirfd, const char *path, const char *value);

/*
 * sysfs_replace_attr - sysfs_write_attr() with O_TRUNC, as the shell's `echo V > attr` does:
 * for an attribute whose value is read back (NVIDIA's current_vgpu_type). sysfs ignores the
 * truncation; in a fixture tree the file then holds exactly @value. Returns as
 * sysfs_write_attr().
 */
int sysfs_replace_attr(int dirfd, const char *path, const char *value);

/*
 * sysfs_list_dir - names in directory @path (without "." and ".."), sorted with
 * strcmp. On success *names is a new array of @*n new strings (free each, then the
 * array; sysfs_names_free() does both). Returns 0, -ENOENT when the directory does
 * not exist, -ENOMEM, or another -errno.
 */
int sysfs_list_dir(int dirfd, const char *path, char ***names, size_t *n);

/* sysfs_names_free - free what sysfs_list_dir() returned. */
void sysfs_names_free(char **names, size_t n);

/*
 * sysfs_read_file - a whole file @path under @dirfd (sysfs or proc: files whose size
 * stat(2) does not tell) into a new NUL-terminated buffer *@out (free()), its first @max
 * bytes when longer (fileio_read_at() with FILEIO_CUT). Returns its length, -ENOENT when
 * absent, -ENOMEM, or another -errno.
 */
ssize_t sysfs_read_file(int dirfd, const char *path, size_t max, char **out);
