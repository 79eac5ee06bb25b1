/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * inuse: a fake proc tree (pids with fd links) in a temp dir. The links point at
 * paths that need not exist: inuse only reads link targets, as on real /proc.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "node/inuse.h"

struct fake_proc {
	char dir[64];
	int fd;
};

static void add_fd(struct fake_proc *p, const char *pid, const char *fd, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", p->dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/fd", p->dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/fd/%s", p->dir, pid, fd);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	struct fake_proc *p = calloc(1, sizeof(*p));

	strcpy(p->dir, "/tmp/mdevd-test-proc-XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	add_fd(p, "1", "0", "/dev/null");
	add_fd(p, "1", "1", "socket:[1234]");
	add_fd(p, "42", "3", "/dev/vfio/vfio");
	add_fd(p, "42", "4", "/dev/vfio/17");
	add_fd(p, "42", "5", "/dev/vfio/3");
	add_fd(p, "77", "9", "/dev/vfio/17");
	add_fd(p, "77", "10", "/dev/vfio/devices/vfio0");
	add_fd(p, "77", "11", "/dev/vfio/12abc");
	add_fd(p, "78", "3", "/dev/vfio/devices/vfio40");
	add_fd(p, "78", "4", "/dev/vfio/devices/vfio4x");
	/* Not a pid: ignored even though it has an fd dir. */
	add_fd(p, "self", "1", "/dev/vfio/99");
	p->fd = open(p->dir, O_RDONLY | O_DIRECTORY);
	assert_true(p->fd >= 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct fake_proc *p = *state;
	char cmd[128];

	close(p->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
	assert_int_equal(system(cmd), 0);
	free(p);
	return 0;
}

static void test_scan_finds_groups(void **state)
{
	struct fake_proc *p = *state;
	struct inuse in;

	assert_int_equal(inuse_scan(p->fd, &in), 0);
	/* Sorted and unique: 3 and 17 (17 is held twice); vfio container, cdevs, junk ignored. */
	assert_int_equal(in.n_groups, 2);
	assert_int_equal(in.groups[0], 3);
	assert_int_equal(in.groups[1], 17);
	assert_int_equal(in.unreadable, 0);
	assert_true(inuse_has_group(&in, 17));
	assert_true(inuse_has_group(&in, 3));
	assert_false(inuse_has_group(&in, 99));
	assert_false(inuse_has_group(&in, 12));
	assert_false(inuse_has_group(&in, -1));
	inuse_release(&in);
}

static void write_file(struct fake_proc *p, const char *name, const char *data, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_holders(void **state)
{
	static const char libvirt_qemu[] = "/usr/bin/qemu-system-x86_64\0-name\0"
					   "guest=vm1,debug-threads=on\0-S\0";
	static const char plain_qemu[] = "qemu-system-x86_64\0-m\0512\0-name\0lab,process=q\0";
	struct fake_proc *p = *state;
	const struct inuse_holder *h;
	struct inuse in;
	char buf[128];

	write_file(p, "42/comm", "qemu-system-x86\n", 16);
	write_file(p, "42/cmdline", libvirt_qemu, sizeof(libvirt_qemu) - 1);
	write_file(p, "77/cmdline", plain_qemu, sizeof(plain_qemu) - 1);
	assert_int_equal(inuse_scan(p->fd, &in), 0);
	/* each group names the first process found holding it */
	assert_int_equal(in.n_holders, 2);
	h = inuse_get_holder(&in, 3);
	assert_non_null(h);
	assert_int_equal(h->pid, 42);
	assert_string_equal(h->comm, "qemu-system-x86");
	assert_string_equal(h->guest, "vm1");
	assert_string_equal(inuse_holder_str(h, buf, sizeof(buf)),
			    "pid 42 (qemu-system-x86, guest vm1)");
	h = inuse_get_holder(&in, 17);
	assert_non_null(h);
	assert_true(h->pid == 42 || h->pid == 77);
	assert_null(inuse_get_holder(&in, 99));
	inuse_release(&in);
	assert_int_equal(in.n_holders, 0);

	/* -name NAME[,...] without guest=, and no comm file */
	write_file(p, "42/cmdline", plain_qemu, sizeof(plain_qemu) - 1);
	assert_int_equal(inuse_scan(p->fd, &in), 0);
	h = inuse_get_holder(&in, 3);
	assert_string_equal(h->guest, "lab");
	inuse_release(&in);
}

static void test_group_is_open(void **state)
{
	struct fake_proc *p = *state;

	assert_int_equal(inuse_group_is_open(p->fd, 17), 1);
	assert_int_equal(inuse_group_is_open(p->fd, 4), 0);
}

static void test_empty_proc(void **state)
{
	char dir[] = "/tmp/mdevd-test-proc-XXXXXX";
	struct inuse in;
	int fd;

	assert_non_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(inuse_scan(fd, &in), 0);
	assert_int_equal(in.n_groups, 0);
	assert_false(inuse_has_group(&in, 0));
	inuse_release(&in);
	close(fd);
	rmdir(dir);
}

static void test_real_proc_sees_own_open_file(void **state)
{
	/* The real /proc: no VFIO here, but the scan must run through without error. */
	struct inuse in;
	int fd = open("/proc", O_RDONLY | O_DIRECTORY);

	assert_true(fd >= 0);
	assert_int_equal(inuse_scan(fd, &in), 0);
	inuse_release(&in);
	close(fd);
}

/* iommufd: QEMU opens only /dev/vfio/devices/vfioN; those count by N, apart from groups. */
static void test_cdevs(void **state)
{
	struct fake_proc *p = *state;
	struct inuse in;

	assert_int_equal(inuse_scan(p->fd, &in), 0);
	assert_int_equal(in.n_cdevs, 2);
	assert_int_equal(in.cdevs[0], 0);
	assert_int_equal(in.cdevs[1], 40);
	assert_true(inuse_has_cdev(&in, 40));
	assert_false(inuse_has_cdev(&in, 4));
	assert_false(inuse_has_group(&in, 40));
	inuse_release(&in);
	assert_int_equal(inuse_device_is_open(p->fd, -1, true, 40), 1);
	assert_int_equal(inuse_device_is_open(p->fd, 18, true, 41), 0);
	assert_int_equal(inuse_device_is_open(p->fd, 18, false, 40), 0);
	assert_int_equal(inuse_device_is_open(p->fd, 17, true, 41), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_finds_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_holders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_is_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdevs, setup, teardown),
		cmocka_unit_test(test_empty_proc),
		cmocka_unit_test(test_real_proc_sees_own_open_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
