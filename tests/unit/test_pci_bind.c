/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pci_bind, vfio_state and vfio_apply on a copy of the samples fixture tree (libpci reads
 * it): the writes of a bind and a give-back in the kernel's order, the verification that
 * catches a drivers_probe that bound nothing, an unbind that blocks (a FIFO as the unbind
 * file: its open blocks until a reader comes, as a busy driver's unbind does), the
 * ownership file, a device whose ids changed at an address mdevd had bound, and what keeps a
 * function mdevd bound from being given back: its group or its iommufd cdev held open (also
 * when opened during the pass), or the daemon's device plugins having handed it to kubelet.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "fstree.h"
#include "apply/vfio_apply.h"
#include "apply/vfio_state.h"
#include "apply/vfio_udev.h"
#include "daemon/vfio_worker.h"
#include "mdevd/policy.h"
#include "node/pci_bind.h"
#include "util/fileio.h"
#include "util/log.h"

struct env {
	struct fstree sys, proc, dev;
	char state[256];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char cmd[512];

	fstree_init(&e->sys, "sys");
	fstree_init(&e->proc, "proc");
	fstree_init(&e->dev, "dev");
	snprintf(cmd, sizeof(cmd), "cp -a " FIXTURES "/samples/. %s/", e->sys.dir);
	assert_int_equal(system(cmd), 0);
	fstree_file(&e->sys, "bus/pci/drivers_probe", "");
	fstree_file(&e->sys, "bus/pci/drivers/e1000e/unbind", "");
	fstree_file(&e->sys, "bus/pci/drivers/vfio-pci/unbind", "");
	fstree_file(&e->sys, "bus/pci/devices/0000:00:02.0/driver_override", "(null)\n");
	fstree_file(&e->sys, "bus/pci/devices/0000:00:03.0/driver_override", "vfio-pci\n");
	fstree_file(&e->dev, "vfio/2", "");
	snprintf(e->state, sizeof(e->state), "%s/var/lib/mdevd/vfio-bound", e->proc.dir);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	fstree_free(&e->sys);
	fstree_free(&e->proc);
	fstree_free(&e->dev);
	free(e);
	return 0;
}

/*
 * @rel starts with @want. sysfs stores what one write(2) at offset 0 gives it; a fixture
 * file keeps what was after it, so only the beginning is what mdevd wrote.
 */
static void expect_file(struct env *e, const char *rel, const char *want)
{
	char buf[256] = "";
	FILE *f = fopen(fstree_path(&e->sys, rel), "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	if (strncmp(buf, want, strlen(want)))
		print_error("%s: \"%s\", expected \"%s\"\n", rel, buf, want);
	assert_memory_equal(buf, want, strlen(want));
}

static void test_bind_verifies(void **state)
{
	struct env *e = *state;
	struct pci_bind_opts o = {.sysfs_fd = e->sys.fd, .dev_fd = e->dev.fd, .timeout_ms = 5000};
	char why[512];

	/* The fixture's kernel binds nothing on drivers_probe: the driver link tells. */
	assert_int_equal(pci_bind_vfio(&o, "0000:00:02.0", 1, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "0000:00:02.0: after drivers_probe it is on e1000e"));
	expect_file(e, "bus/pci/devices/0000:00:02.0/driver_override", "vfio-pci");
	expect_file(e, "bus/pci/drivers/e1000e/unbind", "0000:00:02.0");
	expect_file(e, "bus/pci/drivers_probe", "0000:00:02.0");
	/* Already on vfio-pci: nothing unbound, the VFIO node checked. */
	assert_int_equal(pci_bind_vfio(&o, "0000:00:03.0", 2, why, sizeof(why)), 0);
	assert_int_equal(access(fstree_path(&e->sys, "bus/pci/drivers/vfio-pci/unbind"), F_OK), 0);
	{
		struct stat st;

		assert_int_equal(stat(fstree_path(&e->sys, "bus/pci/drivers/vfio-pci/unbind"), &st),
				 0);
		assert_int_equal(st.st_size, 0); /* not unbound */
	}
	assert_int_equal(pci_bind_vfio(&o, "0000:00:03.0", 7, why, sizeof(why)), -ENXIO);
	assert_non_null(strstr(why, "/dev/vfio/7 did not appear"));
}

static void test_bind_needs_vfio_pci(void **state)
{
	struct env *e = *state;
	struct pci_bind_opts o = {.sysfs_fd = e->sys.fd, .dev_fd = -1};
	char why[512], cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s/bus/pci/drivers/vfio-pci", e->sys.dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(pci_bind_vfio(&o, "0000:00:02.0", 1, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "modprobe vfio-pci"));
	/* Nothing was written. */
	expect_file(e, "bus/pci/devices/0000:00:02.0/driver_override", "(null)\n");
}

static void test_give_back(void **state)
{
	struct env *e = *state;
	struct pci_bind_opts o = {.sysfs_fd = e->sys.fd, .dev_fd = -1};
	char why[512], driver[64];

	assert_int_equal(
		pci_give_back(&o, "0000:00:03.0", driver, sizeof(driver), why, sizeof(why)), 0);
	expect_file(e, "bus/pci/devices/0000:00:03.0/driver_override", "\n");
	expect_file(e, "bus/pci/drivers/vfio-pci/unbind", "0000:00:03.0");
	expect_file(e, "bus/pci/drivers_probe", "0000:00:03.0");
	/* The fixture's driver link does not move: the caller is told what it sees. */
	assert_string_equal(driver, "vfio-pci");
}

static void *release_fifo(void *arg)
{
	int fd = open(arg, O_RDONLY); /* lets the blocked writer's open return */
	char buf[64];

	if (fd >= 0) {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	return NULL;
}

static void test_busy_unbind_times_out(void **state)
{
	struct env *e = *state;
	struct pci_bind_opts o = {.sysfs_fd = e->sys.fd, .dev_fd = -1, .timeout_ms = 200};
	const char *fifo = fstree_path(&e->sys, "bus/pci/drivers/e1000e/unbind");
	char why[512], path[1024];
	pthread_t t;

	snprintf(path, sizeof(path), "%s", fifo);
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* The caller gets control back with a report naming the function; the write is
	 * still blocked in its own thread. */
	assert_int_equal(pci_bind_vfio(&o, "0000:00:02.0", 1, why, sizeof(why)), -ETIMEDOUT);
	assert_non_null(strstr(why, "0000:00:02.0: unbind from e1000e did not return within "
				    "200 ms: the host driver is busy"));
	/* The driver lets go: the background write completes and its thread ends. */
	assert_int_equal(pthread_create(&t, NULL, release_fifo, path), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

/* With a memory of blocked writes, a retry does not start a second blocked write. */
static void test_busy_unbind_not_retried(void **state)
{
	struct env *e = *state;
	struct pci_inflight *in = NULL;
	struct pci_bind_opts o = {.sysfs_fd = e->sys.fd, .dev_fd = -1, .timeout_ms = 200};
	char why[512], path[1024];
	pthread_t t;

	snprintf(path, sizeof(path), "%s", fstree_path(&e->sys, "bus/pci/drivers/e1000e/unbind"));
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(pci_inflight_new(&in), 0);
	o.inflight = in;
	assert_int_equal(pci_bind_vfio(&o, "0000:00:02.0", 1, why, sizeof(why)), -ETIMEDOUT);
	assert_int_equal(pci_inflight_count(in), 1);
	assert_int_equal(pci_bind_vfio(&o, "0000:00:02.0", 1, why, sizeof(why)), -EALREADY);
	assert_non_null(
		strstr(why, "0000:00:02.0: an earlier unbind from e1000e is still blocked"));
	assert_int_equal(pci_inflight_count(in), 1);
	/* The driver lets go: the blocked write returns and is forgotten. */
	assert_int_equal(pthread_create(&t, NULL, release_fifo, path), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	for (int i = 0; i < 3000 && pci_inflight_count(in); i++)
		usleep(10000); /* waits for an event (the thread's end), bounded generously */
	assert_int_equal(pci_inflight_count(in), 0);
	pci_inflight_unref(in);
}

static void test_state_file(void **state)
{
	struct env *e = *state;
	struct vfio_state s = {0}, r = {0};
	struct vfio_owned a = {.address = "0000:00:05.0", .vendor_id = 0x1234, .device_id = 0x11e8};
	struct vfio_owned b = {.address = "0000:00:04.0",
			       .vendor_id = 0x8086,
			       .device_id = 0x10d3,
			       .driver = "e1000e"};
	unsigned int skipped = 9;
	FILE *f;

	assert_int_equal(vfio_state_load(e->state, &r, &skipped), 0); /* absent: empty */
	assert_int_equal(r.n, 0);
	assert_int_equal(vfio_state_put(&s, &a), 0);
	assert_int_equal(vfio_state_put(&s, &b), 0);
	assert_int_equal(vfio_state_save(e->state, &s), 0);
	assert_int_equal(vfio_state_load(e->state, &r, &skipped), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(skipped, 0);
	assert_string_equal(r.entries[0].address, "0000:00:04.0"); /* sorted */
	assert_string_equal(r.entries[0].driver, "e1000e");
	assert_string_equal(r.entries[1].driver, "");
	assert_int_equal(r.entries[1].device_id, 0x11e8);
	vfio_state_release(&r);
	/* A torn or edited line is skipped, the rest kept. */
	f = fopen(e->state, "a");
	fputs("0000:00:0\ngarbage\n", f);
	fclose(f);
	assert_int_equal(vfio_state_load(e->state, &r, &skipped), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(skipped, 2);
	vfio_state_release(&r);
	assert_true(vfio_state_drop(&s, "0000:00:05.0"));
	assert_false(vfio_state_drop(&s, "0000:00:05.0"));
	assert_int_equal(vfio_state_save(e->state, &s), 0);
	assert_int_equal(vfio_state_load(e->state, &r, NULL), 0);
	assert_int_equal(r.n, 1);
	vfio_state_release(&r);
	vfio_state_release(&s);
}

static struct vfio_apply_opts apply_opts(struct env *e)
{
	return (struct vfio_apply_opts){
		.sysfs_fd = e->sys.fd,
		.sysfs_path = e->sys.dir,
		.proc_fd = e->proc.fd,
		.dev_fd = e->dev.fd,
		.state_path = e->state,
		.timeout_ms = 5000,
	};
}

static struct policy *parse(const char *json)
{
	struct policy *pol = NULL;

	assert_int_equal(pol_parse(json, strlen(json), &pol, NULL), 0);
	return pol;
}

static void put_state(struct env *e, const char *addr, uint16_t v, uint16_t d)
{
	struct vfio_state s = {0};
	struct vfio_owned o = {.vendor_id = v, .device_id = d};

	snprintf(o.address, sizeof(o.address), "%s", addr);
	assert_int_equal(vfio_state_put(&s, &o), 0);
	assert_int_equal(vfio_state_save(e->state, &s), 0);
	vfio_state_release(&s);
}

#define EDU_OVERRIDE "bus/pci/devices/0000:00:03.0/driver_override"

enum give_back_outcome {
	LEFT_ALONE, /* not mdevd's: neither kept nor given back */
	KEPT,	    /* mdevd's and in use: stays on vfio-pci */
	GIVEN_BACK, /* mdevd's and free: driver_override cleared */
};

/*
 * One pass with a policy that names no function, so 0000:00:03.0 (the edu, on vfio-pci) is
 * a candidate for give-back: vfio_apply(), or the daemon's vfio_worker_pass() when
 * @allocated is given (what its device plugins handed to kubelet). Asserts @want.
 */
static void give_back_pass(struct env *e, const struct vfio_apply_opts *o,
			   const struct vfio_worker_allocated *allocated,
			   enum give_back_outcome want)
{
	struct vfio_worker_libvirt lv = {.disabled = true};
	struct policy *pol = parse("{}");
	struct vfio_apply_result res;

	if (allocated)
		assert_int_equal(vfio_worker_pass(o, &lv, allocated, pol, &res), 0);
	else
		assert_int_equal(vfio_apply(o, pol, &res), 0);
	assert_int_equal(res.kept, want == KEPT);
	assert_int_equal(res.given_back, want == GIVEN_BACK);
	expect_file(e, EDU_OVERRIDE, want == GIVEN_BACK ? "\n" : "vfio-pci\n");
	policy_free(pol);
}

static void expect_state_empty(struct env *e)
{
	struct vfio_state s;

	assert_int_equal(vfio_state_load(e->state, &s, NULL), 0);
	assert_int_equal(s.n, 0);
	vfio_state_release(&s);
}

static void test_apply_gives_back_only_its_own(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);

	/* 03.0 is on vfio-pci, but mdevd did not bind it: left alone. */
	give_back_pass(e, &o, NULL, LEFT_ALONE);
	/* The ownership file says mdevd bound it: given back, and forgotten. */
	put_state(e, "0000:00:03.0", 0x1234, 0x11e8);
	give_back_pass(e, &o, NULL, GIVEN_BACK);
	expect_state_empty(e);
}

static void test_apply_in_use_kept(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);

	/* A process holds /dev/vfio/2 open: the function is kept on vfio-pci. */
	fstree_link(&e->proc, "4242/fd/7", "/dev/vfio/2");
	put_state(e, "0000:00:03.0", 0x1234, 0x11e8);
	give_back_pass(e, &o, NULL, KEPT);
}

/* QEMU with iommufd opens only /dev/vfio/devices/vfioN: that keeps the function too. */
static void test_apply_cdev_in_use_kept(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);

	fstree_dir(&e->sys, "bus/pci/devices/0000:00:03.0/vfio-dev/vfio5");
	fstree_link(&e->proc, "4242/fd/7", "/dev/vfio/devices/vfio5");
	fstree_link(&e->proc, "4242/fd/8", "/dev/iommu");
	put_state(e, "0000:00:03.0", 0x1234, 0x11e8);
	give_back_pass(e, &o, NULL, KEPT);
	/* Another device's cdev is open, not this one's: given back. */
	assert_int_equal(unlink(fstree_path(&e->proc, "4242/fd/7")), 0);
	fstree_link(&e->proc, "4242/fd/7", "/dev/vfio/devices/vfio6");
	give_back_pass(e, &o, NULL, GIVEN_BACK);
}

/* Opens the function's group while the pass runs, after the view read /proc. */
static const char *open_group_now(void *data, const char *address)
{
	struct env *e = data;

	if (streq(address, "0000:00:03.0"))
		fstree_link(&e->proc, "4343/fd/3", "/dev/vfio/2");
	return NULL;
}

static void test_apply_opened_during_pass_kept(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);

	o.in_use = open_group_now;
	o.in_use_data = e;
	put_state(e, "0000:00:03.0", 0x1234, 0x11e8);
	give_back_pass(e, &o, NULL, KEPT);
}

/* The daemon's pass: what its device plugins handed to kubelet is never given back. */
static void test_worker_allocated_kept(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);
	char *mine[] = {(char *)"0000:00:03.0"}, *other[] = {(char *)"0000:00:02.0"};

	put_state(e, "0000:00:03.0", 0x1234, 0x11e8);
	give_back_pass(e, &o, &(struct vfio_worker_allocated){.ids = mine, .n = 1}, KEPT);
	/* Allocated: another function only. */
	give_back_pass(e, &o, &(struct vfio_worker_allocated){.ids = other, .n = 1}, GIVEN_BACK);
}

static void test_apply_ids_changed(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);

	/* mdevd bound an e1000e at 03.0; an edu sits there now: not mdevd's, left alone. */
	put_state(e, "0000:00:03.0", 0x8086, 0x10d3);
	give_back_pass(e, &o, NULL, LEFT_ALONE);
	expect_state_empty(e);
}

static void test_apply_records_before_binding(void **state)
{
	struct env *e = *state;
	struct vfio_apply_opts o = apply_opts(e);
	struct policy *pol = parse("{\"mdevd\": {\"vfioPci\": {\"devices\": [\"8086:10d3\"]}}}");
	struct vfio_apply_result res;
	struct vfio_state s;

	/* The fixture binds nothing, so the bind fails its verification, but ownership was
	 * recorded first (with the host driver it had), and the next pass retries. */
	assert_int_equal(vfio_apply(&o, pol, &res), 0);
	assert_int_equal(res.failed, 1);
	assert_int_equal(res.bound, 0);
	assert_int_equal(vfio_state_load(e->state, &s, NULL), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.entries[0].address, "0000:00:02.0");
	assert_string_equal(s.entries[0].driver, "e1000e");
	vfio_state_release(&s);
	policy_free(pol);
}

static void read_text(const char *path, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;

	assert_true(fileio_read_at(AT_FDCWD, path, size - 1, 0, &text) >= 0);
	snprintf(buf, size, "%s", text);
}

static void test_udev_rule(void **state)
{
	struct env *e = *state;
	struct inventory *inv = NULL;
	char *keep[] = {(char *)"0000:00:03.0"}, *missing[] = {(char *)"0000:00:09.0"};
	char rules[300], why[512], buf[2048], edited[2048];
	FILE *f;

	snprintf(rules, sizeof(rules), "%s/70-mdevd-vfio-pci.rules", e->proc.dir);
	assert_int_equal(inventory_load(e->sys.fd, e->sys.dir, INVENTORY_PCI, NULL, NULL, &inv), 0);
	assert_int_equal(vfio_udev_write(rules, inv, keep, 1, why, sizeof(why)), 0);
	read_text(rules, buf, sizeof(buf));
	/*
	 * On add: the override, and a host driver that won the race unbound again. On bind by
	 * another driver: the same, only while the override names vfio-pci (not given back).
	 */
	static const char run[] = "RUN+=\"/bin/sh -c 'modprobe -b vfio-pci; if [ -e "
				  "/sys/bus/pci/devices/%k/driver ] && "
				  "[ ! /sys/bus/pci/devices/%k/driver -ef "
				  "/sys/bus/pci/drivers/vfio-pci ]; then echo %k "
				  "> /sys/bus/pci/devices/%k/driver/unbind; fi; echo %k > "
				  "/sys/bus/pci/drivers_probe'\"\n";
	static const char *const matches[] = {
		"ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"0000:00:03.0\", "
		"ATTR{vendor}==\"0x1234\", ATTR{device}==\"0x11e8\", "
		"ATTR{driver_override}=\"vfio-pci\", ",
		"ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==\"0000:00:03.0\", "
		"DRIVER!=\"vfio-pci\", ATTR{vendor}==\"0x1234\", ATTR{device}==\"0x11e8\", "
		"ATTR{driver_override}==\"vfio-pci\", ",
	};
	char want[1024];

	for (size_t i = 0; i < ARRAY_SIZE(matches); i++) {
		snprintf(want, sizeof(want), "%s%s", matches[i], run);
		assert_non_null(strstr(buf, want));
	}
	/* Written again: the same file, not appended. */
	assert_int_equal(vfio_udev_write(rules, inv, keep, 1, why, sizeof(why)), 0);
	read_text(rules, edited, sizeof(edited));
	assert_string_equal(buf, edited);
	/* The rule was written for an e1000e at 03.0; an edu sits there now: refused. */
	{
		char *p = strstr(buf, "0x1234\", ATTR{device}==\"0x11e8");

		assert_non_null(p);
		static const char other[] = "0x8086\", ATTR{device}==\"0x10d3";

		memcpy(p, other, sizeof(other) - 1);
	}
	f = fopen(rules, "w");
	fputs(buf, f);
	fclose(f);
	assert_int_equal(vfio_udev_write(rules, inv, keep, 1, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, "0000:00:03.0: "));
	assert_non_null(strstr(why, "binds 8086:10d3 at this address, but 1234:11e8 is there now"));
	read_text(rules, edited, sizeof(edited));
	assert_string_equal(buf, edited); /* nothing written */
	assert_int_equal(vfio_udev_write(rules, inv, missing, 1, why, sizeof(why)), -ENOENT);
	/* An empty list leaves a file with no rules (functions given back leave it). */
	unlink(rules);
	assert_int_equal(vfio_udev_write(rules, inv, keep, 0, why, sizeof(why)), 0);
	read_text(rules, buf, sizeof(buf));
	assert_null(strstr(buf, "ACTION"));
	inventory_free(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bind_verifies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_needs_vfio_pci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_unbind_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_unbind_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_gives_back_only_its_own, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_in_use_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_cdev_in_use_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_opened_during_pass_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_worker_allocated_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_ids_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_records_before_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udev_rule, setup, teardown),
	};

	log_set_quiet(true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
