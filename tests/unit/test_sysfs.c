/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sysfs helpers against the fixture trees: ok, absent (-ENOENT) and garbage (-EINVAL). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "mdevd/macro.h"
#include "node/sysfs.h"

#define MTTY "devices/virtual/mtty/mtty/mdev_supported_types/"

static int open_tree(const char *name)
{
	int fd = -1;

	assert_int_equal(sysfs_open_root(name, &fd), 0);
	assert_true(fd >= 0);
	return fd;
}

static void test_open_root(void **state)
{
	int fd = 1234;

	assert_int_equal(sysfs_open_root(FIXTURES "/nonexistent", &fd), -ENOENT);
	assert_int_equal(fd, 1234); /* out-param untouched on error */
	assert_int_equal(sysfs_open_root(FIXTURES "/make-tree.py", &fd), -ENOTDIR);
}

static void test_read_attr(void **state)
{
	_cleanup_close_ int root = open_tree(FIXTURES "/samples");
	char buf[64], tiny[4];

	/* Trailing newline stripped. */
	assert_int_equal(sysfs_read_attr(root, MTTY "mtty-2/name", buf, sizeof(buf)), 16);
	assert_string_equal(buf, "Dual port serial");
	/* Absent attribute: -ENOENT, the "absent" answer for optional attributes. */
	assert_int_equal(sysfs_read_attr(root, MTTY "mtty-2/description", buf, sizeof(buf)),
			 -ENOENT);
	/* Too small a buffer. */
	assert_int_equal(sysfs_read_attr(root, MTTY "mtty-2/name", tiny, sizeof(tiny)), -EFBIG);
	/* Through a symlinked directory, as class/mdev_bus entries are. */
	assert_int_equal(sysfs_read_attr(root,
					 "class/mdev_bus/mtty/mdev_supported_types/mtty-1/"
					 "device_api",
					 buf, sizeof(buf)),
			 8);
	assert_string_equal(buf, "vfio-pci");
}

static void test_read_numbers(void **state)
{
	_cleanup_close_ int root = open_tree(FIXTURES "/broken");
	_cleanup_close_ int nv = open_tree(FIXTURES "/nvidia");
	unsigned int u = 77;
	int i = 77;

	assert_int_equal(sysfs_read_uint(root, MTTY "mtty-1/available_instances", &u), 0);
	assert_int_equal(u, 24);
	/* Garbage and negative counts: -EINVAL, out untouched. */
	u = 77;
	assert_int_equal(sysfs_read_uint(root, MTTY "mtty-9/available_instances", &u), -EINVAL);
	assert_int_equal(sysfs_read_uint(root, MTTY "mtty-2/available_instances", &u), -EINVAL);
	assert_int_equal(u, 77);
	/* Absent. */
	assert_int_equal(sysfs_read_int(root, "bus/pci/devices/0000:00:03.0/numa_node", &i),
			 -ENOENT);
	assert_int_equal(i, 77);
	/* Signed values. */
	assert_int_equal(sysfs_read_int(nv, "bus/pci/devices/0000:3b:00.0/numa_node", &i), 0);
	assert_int_equal(i, 0);
	assert_int_equal(sysfs_read_int(nv, "bus/pci/devices/0000:00:02.0/numa_node", &i), 0);
	assert_int_equal(i, -1);
	assert_int_equal(sysfs_read_uint(nv, "bus/pci/devices/0000:3b:00.0/sriov_totalvfs", &u), 0);
	assert_int_equal(u, 16);
}

/* The pure halves of the readers (also fuzzed: tests/fuzz/fuzz_sysfs.c). */
static void test_trim_and_parse(void **state)
{
	char buf[16];
	long v = 77;

	memcpy(buf, "24\n", 3);
	assert_int_equal(sysfs_attr_trim(buf, 3), 2);
	assert_string_equal(buf, "24");
	memcpy(buf, "GRID T4-1Q \t\n", 13);
	assert_int_equal(sysfs_attr_trim(buf, 13), 10);
	assert_string_equal(buf, "GRID T4-1Q");
	memcpy(buf, " \n\n", 3);
	assert_int_equal(sysfs_attr_trim(buf, 3), 0);
	assert_string_equal(buf, "");
	assert_int_equal(sysfs_attr_trim(buf, 0), 0);
	/* Only trailing white space goes; a NUL inside stays where it is. */
	memcpy(buf, " 5\0x\n", 5);
	assert_int_equal(sysfs_attr_trim(buf, 5), 4);
	assert_memory_equal(buf, " 5\0x\0", 5);

	assert_int_equal(sysfs_parse_long(" -1\t", INT_MIN, INT_MAX, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(sysfs_parse_long("+7", 0, UINT_MAX, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(sysfs_parse_long("4294967295", 0, UINT_MAX, &v), 0);
	assert_int_equal(v, 4294967295L);
	v = 77;
	assert_int_equal(sysfs_parse_long("", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("  ", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("1 2", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("0x1", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("11", 0, 10, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("2147483648", INT_MIN, INT_MAX, &v), -EINVAL);
	assert_int_equal(sysfs_parse_long("99999999999999999999", 0, LONG_MAX, &v), -EINVAL);
	assert_int_equal(v, 77);
}

static void test_links(void **state)
{
	_cleanup_close_ int root = open_tree(FIXTURES "/samples");
	char buf[256], tiny[2];

	assert_int_equal(sysfs_read_link_name(root, "bus/pci/devices/0000:00:03.0/iommu_group", buf,
					      sizeof(buf)),
			 1);
	assert_string_equal(buf, "2");
	assert_int_equal(
		sysfs_read_link_name(root, "bus/pci/devices/0000:00:03.0/driver", buf, sizeof(buf)),
		8);
	assert_string_equal(buf, "vfio-pci");
	assert_int_equal(
		sysfs_read_link_name(root, "bus/pci/devices/0000:00:00.0/driver", buf, sizeof(buf)),
		-ENOENT);
	assert_int_equal(sysfs_read_link_name(root, "bus/pci/devices/0000:00:03.0/driver", tiny,
					      sizeof(tiny)),
			 -EFBIG);

	assert_true(sysfs_read_link(root, "class/mdev_bus/mtty", buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "../../devices/virtual/mtty/mtty");
	assert_int_equal(sysfs_read_link(root, "class/mdev_bus/nothing", buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(sysfs_read_link(root, MTTY "mtty-1/name", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sysfs_read_link(root, "class/mdev_bus/mtty", tiny, sizeof(tiny)), -EFBIG);
}

static void test_dirs(void **state)
{
	_cleanup_close_ int root = open_tree(FIXTURES "/samples");
	char **names = NULL;
	size_t n = 99;

	assert_int_equal(sysfs_list_dir(root, "class/mdev_bus", &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "mbochs"); /* sorted */
	assert_string_equal(names[1], "mdpy");
	assert_string_equal(names[2], "mtty");
	sysfs_names_free(names, n);
	assert_int_equal(sysfs_list_dir(root, "class/nothing", &names, &n), -ENOENT);

	n = 99;
	assert_int_equal(sysfs_count_dir(root, MTTY "mtty-1/devices", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sysfs_count_dir(root, "bus/pci/devices", &n), 0);
	assert_int_equal(n, 3);
	n = 99;
	assert_int_equal(sysfs_count_dir(root,
					 "devices/virtual/mdpy/mdpy/mdev_supported_types/"
					 "mdpy-hd/devices",
					 &n),
			 -ENOENT);
	assert_int_equal(n, 99);
}

/* A whole file, larger than one read and than its first buffer; absent is -ENOENT. */
static void test_read_file(void **state)
{
	_cleanup_close_ int root = open_tree(FIXTURES);
	char *buf = NULL;
	ssize_t n;

	n = sysfs_read_file(root, "make-tree.py", 1u << 20, &buf);
	assert_true(n > 8192);
	assert_int_equal(strlen(buf), (size_t)n);
	assert_non_null(strstr(buf, "def main():"));
	free(buf);
	buf = NULL;
	n = sysfs_read_file(root, "make-tree.py", 4096, &buf); /* cut at the limit */
	assert_int_equal(n, 4096);
	assert_int_equal(strlen(buf), 4096);
	free(buf);
	buf = NULL;
	assert_int_equal(sysfs_read_file(root, "nonexistent", 4096, &buf), -ENOENT);
	assert_null(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_root),    cmocka_unit_test(test_read_attr),
		cmocka_unit_test(test_read_numbers), cmocka_unit_test(test_links),
		cmocka_unit_test(test_dirs),	     cmocka_unit_test(test_trim_and_parse),
		cmocka_unit_test(test_read_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
