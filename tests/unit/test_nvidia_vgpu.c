/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nvidia_vgpu: the creatable_vgpu_types parser (both formats drivers print, the header
 * alone, garbage), and the reader on the generation fixtures (tests/fixtures/make-tree.py):
 * one parent per card, the catalogue, free VFs, configured VFs as instances, names borrowed
 * from a card of the same model, an id nobody names, the H100's time-sliced and MIG-backed
 * types, the T4 and A100 cards left to mdev.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MDEVD_TEST_FIXTURE_INVENTORY
#include "testutil.h"

#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "node/nvidia_vgpu.h"
#include "node/sysfs.h"

static int parse(const char *text, struct nvidia_vgpu_entry **e, size_t *n, unsigned int *line)
{
	return nvidia_vgpu_parse_types(text, strlen(text), e, n, line);
}

static void test_parse_header_table(void **state)
{
	struct nvidia_vgpu_entry *e = NULL;
	size_t n = 0;

	assert_int_equal(parse("ID    : vGPU Name\n1145  : NVIDIA L40S-1B\n"
			       "1153  : NVIDIA L40S-12Q\n2164  : NVIDIA L40S-3B\n",
			       &e, &n, NULL),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].id, 1145);
	assert_string_equal(e[0].name, "NVIDIA L40S-1B");
	assert_int_equal(e[1].id, 1153);
	assert_string_equal(e[1].name, "NVIDIA L40S-12Q");
	assert_int_equal(e[2].id, 2164);
	nvidia_vgpu_entries_free(e, n);
}

static void test_parse_other_formats(void **state)
{
	struct nvidia_vgpu_entry *e = NULL;
	size_t n = 0;

	/* No header (vgpu-device-manager's example), blanks, CRLF, no colon. */
	assert_int_equal(parse("\n  1414\t:   NVIDIA H200X-1-18C  \r\n\n1428 NVIDIA H200X-141C", &e,
			       &n, NULL),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].id, 1414);
	assert_string_equal(e[0].name, "NVIDIA H200X-1-18C");
	assert_int_equal(e[1].id, 1428);
	assert_string_equal(e[1].name, "NVIDIA H200X-141C");
	nvidia_vgpu_entries_free(e, n);
}

static void test_parse_header_alone(void **state)
{
	struct nvidia_vgpu_entry *e = (void *)1;
	size_t n = 99;

	assert_int_equal(parse("ID    : vGPU Name\n", &e, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(e);
	n = 99;
	assert_int_equal(parse("", &e, &n, NULL), 0);
	assert_int_equal(n, 0);
}

static void test_parse_garbage(void **state)
{
	static const struct {
		const char *text;
		unsigned int line;
	} bad[] = {
		{"ID : vGPU Name\nnot a line\n", 2},
		{"1153 : NVIDIA L40S-12Q\nID : vGPU Name\n", 2}, /* a header only comes first */
		{"1153 :\n", 1},				 /* no name */
		{"1153\n", 1},
		{"0 : none\n", 1},   /* 0 means "no type" */
		{"-5 : minus\n", 1}, /* header-like first line, then ok? */
		{"4294967296 : too big\n", 1},
		{"1153x : NVIDIA L40S-12Q\n", 1},
		{"1153 : a\n1153 : b\n", 2}, /* duplicate */
	};
	struct nvidia_vgpu_entry *e = NULL;
	size_t n = 0;
	unsigned int line = 0;
	char longname[300];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = parse(bad[i].text, &e, &n, &line);

		/* "-5 : minus" is a header line (its first field is no number): accepted, empty. */
		if (i == 5) {
			assert_int_equal(r, 0);
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(r, -EINVAL);
		assert_int_equal(line, bad[i].line);
	}
	memset(longname, 'x', sizeof(longname));
	memcpy(longname, "1 : ", 4);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(parse(longname, &e, &n, &line), -EINVAL);
	/* A NUL byte inside the buffer. */
	assert_int_equal(nvidia_vgpu_parse_types("1 : a\n\0002 : b\n", 13, &e, &n, &line), -EINVAL);
	assert_int_equal(line, 2);
}

static void test_type_id(void **state)
{
	unsigned int v = 7;

	assert_int_equal(nvidia_vgpu_type_id("1153", &v), 0);
	assert_int_equal(v, 1153);
	assert_int_equal(nvidia_vgpu_type_id("0", &v), -EINVAL);
	assert_int_equal(nvidia_vgpu_type_id("nvidia-222", &v), -EINVAL);
	assert_int_equal(nvidia_vgpu_type_id("", &v), -EINVAL);
	assert_int_equal(v, 1153);
}

static const struct mdev_type *type_named(const struct mdev_parent *p, const char *name)
{
	for (size_t i = 0; i < p->n_types; i++)
		if (streq(p->types[i].name, name))
			return &p->types[i];
	return NULL;
}

static void test_l40s_cards(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("l40s");
	const struct mdev_parent *fresh = inventory_get_parent(inv, "0000:41:00.0");
	const struct mdev_parent *full = inventory_get_parent(inv, "0000:c1:00.0");
	const struct mdev_type *t;

	assert_int_equal(inv->n_parents, 2);
	assert_non_null(fresh);
	assert_int_equal(fresh->backend, PARENT_BACKEND_NVIDIA_VGPU);
	assert_int_equal(fresh->vendor_id, 0x10de);
	assert_int_equal(fresh->device_id, 0x26b9);
	assert_int_equal(fresh->n_vfs, 32);
	assert_string_equal(fresh->vfs[0].address, "0000:41:00.4");
	assert_string_equal(fresh->vfs[31].address, "0000:41:04.3");
	/* The full list: 1145-1166 and 2164, each creatable on every one of 32 free VFs. */
	assert_int_equal(fresh->n_types, 23);
	for (unsigned int id = 1145; id <= 1166; id++) {
		char buf[8];

		snprintf(buf, sizeof(buf), "%u", id);
		t = inventory_get_type(fresh, buf);
		assert_non_null(t);
		assert_int_equal(t->available_instances, 32);
		assert_int_equal(t->n_instances, 0);
	}
	t = inventory_get_type(fresh, "1153");
	assert_string_equal(t->name, "NVIDIA L40S-12Q");
	assert_string_equal(t->device_api, "vfio-pci");
	assert_string_equal(inventory_get_type(fresh, "2164")->name, "NVIDIA L40S-3B");

	/* The full card: 2 x 24Q, every list the header alone; the name comes from card 41. */
	assert_non_null(full);
	assert_int_equal(full->n_types, 1);
	t = type_named(full, "NVIDIA L40S-24Q");
	assert_non_null(t);
	assert_string_equal(t->id, "1155");
	assert_int_equal(t->available_instances, 0);
	assert_int_equal(t->n_instances, 2);
	assert_null(t->description);
	for (size_t i = 0; i < full->n_vfs; i++)
		assert_int_equal(full->vfs[i].n_creatable, 0);

	/* The configured VFs are the instances: identity = VF address, parent = the card. */
	assert_int_equal(inv->n_mdevs, 2);
	assert_string_equal(inv->mdevs[0].uuid, "0000:c1:00.4");
	assert_string_equal(inv->mdevs[0].parent, "0000:c1:00.0");
	assert_string_equal(inv->mdevs[0].type_id, "1155");
	assert_int_equal(inv->mdevs[0].backend, PARENT_BACKEND_NVIDIA_VGPU);
	assert_int_equal(inv->mdevs[0].iommu_group, 601);
	assert_true(inv->mdevs[0].has_vfio_cdev);
	assert_int_equal(inv->mdevs[0].vfio_cdev, 40);
	assert_non_null(inventory_get_mdev(inv, "0000:c1:00.5"));
}

static void test_h200_mig_and_unknown_id(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("h200");
	const struct mdev_parent *p = inventory_get_parent(inv, "0000:18:00.0");
	const struct mdev_parent *full = inventory_get_parent(inv, "0000:9a:00.0");
	const struct mdev_type *t;

	assert_non_null(p);
	/* 3 of 7 H200X-1-18C exist: the 13 free VFs list only that type (no header line). */
	assert_int_equal(p->n_types, 1);
	t = inventory_get_type(p, "1414");
	assert_string_equal(t->name, "NVIDIA H200X-1-18C");
	assert_int_equal(t->n_instances, 3);
	assert_int_equal(t->available_instances, 13);
	/* The full card's H200X-141C: no VF on the node lists 1428, so its name is unknown. */
	t = inventory_get_type(full, "1428");
	assert_non_null(t);
	assert_string_equal(t->name, "1428");
	assert_non_null(t->description);
	assert_non_null(strstr(t->description, "name is unknown"));
	assert_int_equal(t->n_instances, 1);
	assert_int_equal(inv->n_mdevs, 4);
}

static void test_h100_cards(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("h100");
	const struct mdev_parent *fresh = inventory_get_parent(inv, "0000:17:00.0");
	const struct mdev_parent *busy = inventory_get_parent(inv, "0000:65:00.0");
	const struct mdev_type *t;

	/* H100 PCIe 80GB: vendor VFIO; the fresh card lists the 8 time-sliced and 7 MIG-backed. */
	assert_int_equal(inv->n_parents, 2);
	assert_non_null(fresh);
	assert_int_equal(fresh->backend, PARENT_BACKEND_NVIDIA_VGPU);
	assert_int_equal(fresh->device_id, 0x2331);
	assert_int_equal(fresh->n_vfs, 32);
	assert_int_equal(fresh->n_types, 15);
	for (size_t k = 0; k < fresh->n_types; k++)
		assert_int_equal(fresh->types[k].available_instances, 32);
	assert_non_null(type_named(fresh, "NVIDIA H100-4C"));
	assert_non_null(type_named(fresh, "NVIDIA H100-80C"));
	assert_non_null(type_named(fresh, "NVIDIA H100-7-80C"));
	/* 2 of 7 H100-1-10C exist: the 30 free VFs list only that type. */
	assert_non_null(busy);
	assert_int_equal(busy->n_types, 1);
	t = type_named(busy, "NVIDIA H100-1-10C");
	assert_non_null(t);
	assert_int_equal(t->n_instances, 2);
	assert_int_equal(t->available_instances, 30);
	assert_int_equal(inv->n_mdevs, 2);
	assert_string_equal(inv->mdevs[0].uuid, "0000:65:00.4");
	assert_string_equal(inv->mdevs[0].parent, "0000:65:00.0");
	assert_true(inv->mdevs[0].has_vfio_cdev);
}

static void test_mixed_backends(void **state)
{
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	const struct mdev_parent *t4 = inventory_get_parent(inv, "0000:3b:00.0");
	const struct mdev_parent *l40s = inventory_get_parent(inv, "0000:41:00.0");

	assert_int_equal(inv->n_parents, 2);
	assert_int_equal(t4->backend, PARENT_BACKEND_MDEV);
	assert_int_equal(t4->n_types, 13);
	assert_int_equal(t4->n_vfs, 0);
	assert_string_equal(parent_backend_str(t4->backend), "mdev");
	assert_int_equal(l40s->backend, PARENT_BACKEND_NVIDIA_VGPU);
	assert_string_equal(parent_backend_str(l40s->backend), "nvidia-vgpu");
	/* 2 of 4 12Q exist: the free VFs list 12Q alone. */
	assert_int_equal(l40s->n_types, 1);
	assert_int_equal(inventory_get_type(l40s, "1153")->available_instances, 30);
}

static void test_mdev_generations_untouched(void **state)
{
	_cleanup_(inventory_freep) struct inventory *t4 = fixture_inventory("t4");
	_cleanup_(inventory_freep) struct inventory *a100 = fixture_inventory("a100");
	_cleanup_(inventory_freep) struct inventory *a40 = fixture_inventory("a40");
	const struct mdev_parent *busy = inventory_get_parent(t4, "0000:af:00.0");
	const struct mdev_parent *fresh = inventory_get_parent(t4, "0000:3b:00.0");
	static const struct {
		const char *name;
		unsigned int max;
	} t4_q[] = {{"GRID T4-1Q", 16},
		    {"GRID T4-2Q", 8},
		    {"GRID T4-4Q", 4},
		    {"GRID T4-8Q", 2},
		    {"GRID T4-16Q", 1}};
	size_t free_vfs = 0;

	/* T4: types on the PF, NVIDIA's max counts on a fresh card; time-sliced on the busy one. */
	assert_int_equal(t4->n_parents, 2);
	for (size_t i = 0; i < ARRAY_SIZE(t4_q); i++)
		assert_int_equal(type_named(fresh, t4_q[i].name)->available_instances, t4_q[i].max);
	assert_int_equal(type_named(busy, "GRID T4-1Q")->available_instances, 15);
	for (size_t k = 0; k < busy->n_types; k++)
		if (!streq(busy->types[k].name, "GRID T4-1Q"))
			assert_int_equal(busy->types[k].available_instances, 0);
	/* A100: 16 VF parents grouped by their PF, one vGPU each; 4 of 10 A100-4C exist. */
	assert_int_equal(a100->n_parents, 16);
	for (size_t i = 0; i < a100->n_parents; i++) {
		const struct mdev_parent *p = &a100->parents[i];

		assert_int_equal(p->backend, PARENT_BACKEND_MDEV);
		assert_string_equal(p->physfn, "0000:ca:00.0");
		free_vfs += type_named(p, "GRID A100-4C")->available_instances;
		assert_int_equal(type_named(p, "GRID A100-8C")->available_instances, 0);
	}
	assert_int_equal(free_vfs, 12);
	assert_int_equal(a100->n_mdevs, 4);
	/* A40: full at the documented 12 x A40-4Q: no VF can take anything more. */
	assert_int_equal(a40->n_mdevs, 12);
	for (size_t i = 0; i < a40->n_parents; i++)
		for (size_t k = 0; k < a40->parents[i].n_types; k++)
			assert_int_equal(a40->parents[i].types[k].available_instances, 0);
}

struct reports {
	unsigned int n;
	char last[512];
};

static void collect(void *userdata, const char *path, int err, const char *what)
{
	struct reports *r = userdata;

	r->n++;
	snprintf(r->last, sizeof(r->last), "%s: %s (%d)", path, what, err);
}

static void put(const char *root, const char *vf, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/nvidia/%s", root, vf, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_garbage_reported_vf_left_out(void **state)
{
	char root[] = "/tmp/mdevd-test-nv-XXXXXX", cmd[256];
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	struct reports reps = {};
	const struct mdev_parent *p;
	_cleanup_close_ int fd = -1;

	assert_non_null(mkdtemp(root));
	snprintf(cmd, sizeof(cmd), "cp -a " FIXTURES "/mixed/. %s/", root);
	assert_int_equal(system(cmd), 0);
	/* A configured VF whose type reads garbage, a free VF whose list is garbage. */
	put(root, "0000:41:00.5", "current_vgpu_type", "twelve\n");
	put(root, "0000:41:00.6", "creatable_vgpu_types",
	    "ID : vGPU Name\n1153 NVIDIA L40S-12Q\nx\n");
	assert_int_equal(sysfs_open_root(root, &fd), 0);
	assert_int_equal(
		inventory_load(fd, root, INVENTORY_TYPES | INVENTORY_MDEVS, collect, &reps, &inv),
		0);
	assert_int_equal(reps.n, 2);
	assert_non_null(strstr(reps.last, "0000:41:00.6"));
	assert_non_null(strstr(reps.last, "line 3"));
	p = inventory_get_parent(inv, "0000:41:00.0");
	assert_non_null(p);
	/* Only 41:00.4 is a vGPU now; 30 - 1 (41:00.6) free VFs offer 12Q. */
	assert_int_equal(inv->n_mdevs, 1);
	assert_string_equal(inv->mdevs[0].uuid, "0000:41:00.4");
	assert_int_equal(inventory_get_type(p, "1153")->available_instances, 29);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_header_table),
		cmocka_unit_test(test_parse_other_formats),
		cmocka_unit_test(test_parse_header_alone),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_type_id),
		cmocka_unit_test(test_l40s_cards),
		cmocka_unit_test(test_h200_mig_and_unknown_id),
		cmocka_unit_test(test_h100_cards),
		cmocka_unit_test(test_mixed_backends),
		cmocka_unit_test(test_mdev_generations_untouched),
		cmocka_unit_test(test_garbage_reported_vf_left_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
