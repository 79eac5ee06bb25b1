/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vgpu_vfio (the applier's NVIDIA vendor-VFIO steps) and apply_policy() on copies of the
 * L40S fixture: write and read back, idempotence, a VF taken meanwhile, a card that filled,
 * the driver refusing an id (errno by name), a read-back that differs (rolled back to 0),
 * freeing only what nothing holds (group or iommufd cdev); and per generation, NVIDIA's
 * published maximum per GPU of each type reached exactly by "max" (A100 and A40 on mdev, L40S,
 * H100 and H200 on vendor VFIO).
 *
 * A fixture file does not change when written as the driver's lists do: where a test needs
 * that, it recomputes the lists as the driver would (driver_sim(): the rule make-tree.py's
 * vgpu_lists() builds the trees with, NVIDIA's published max counts) from the applier's
 * after_step hook, or runs make-tree.py's own stand-in (sim-serve): for the mdev generations
 * that one also turns a written create / remove into an mdev appearing or going, and
 * recomputes available_instances on every VF of the card (a test backend calls it after each
 * write). Two tests point current_vgpu_type at a real kernel attribute that behaves like
 * a refusing or rounding driver: /proc/self/oom_score_adj (range -1000..1000: EINVAL for
 * 1153) and /proc/self/oom_adj (written 10, reads back 9).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "apply/apply.h"
#include "apply/vgpu_vfio.h"
#include "mdevd/inventory.h"
#include "mdevd/macro.h"
#include "mdevd/policy.h"
#include "node/mdev_lifecycle.h"
#include "node/nvidia_vgpu.h"
#include "node/sysfs.h"

#define MACHINE_ID "0123456789abcdef0123456789abcdef"

struct tree {
	char root[64], proc[64], run[64];
	int sysfs_fd, proc_fd;
	/* make-tree.py sim-serve, started on first use: one line in, "ok" back per sim. */
	pid_t sim_pid;
	FILE *sim_in, *sim_out;
};

static int setup_tree(void **state, const char *fixture)
{
	struct tree *t = calloc(1, sizeof(*t));
	char cmd[512];

	strcpy(t->root, "/tmp/mdevd-test-vgpu-XXXXXX");
	strcpy(t->proc, "/tmp/mdevd-test-proc-XXXXXX");
	strcpy(t->run, "/tmp/mdevd-test-run-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	assert_non_null(mkdtemp(t->proc));
	assert_non_null(mkdtemp(t->run));
	snprintf(cmd, sizeof(cmd), "cp -a " FIXTURES "/%s/. %s/", fixture, t->root);
	assert_int_equal(system(cmd), 0);
	setenv("MDEVD_RUN_DIR", t->run, 1);
	t->sysfs_fd = open(t->root, O_RDONLY | O_DIRECTORY);
	t->proc_fd = open(t->proc, O_RDONLY | O_DIRECTORY);
	assert_true(t->sysfs_fd >= 0 && t->proc_fd >= 0);
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_tree(state, "l40s");
}

static int setup_h200(void **state)
{
	return setup_tree(state, "h200");
}

static int setup_h100(void **state)
{
	return setup_tree(state, "h100");
}

static int setup_a100(void **state)
{
	return setup_tree(state, "a100");
}

static int setup_a40(void **state)
{
	return setup_tree(state, "a40");
}

static int teardown(void **state)
{
	struct tree *t = *state;
	char cmd[256];

	if (t->sim_pid > 0) {
		int status;

		fclose(t->sim_in); /* EOF: the stand-in ends */
		fclose(t->sim_out);
		assert_int_equal(waitpid(t->sim_pid, &status, 0), t->sim_pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(t->sysfs_fd);
	close(t->proc_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s %s", t->root, t->proc, t->run);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static unsigned int current(struct tree *t, const char *vf)
{
	char path[128];
	unsigned int v = 99999;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
	assert_int_equal(sysfs_read_uint(t->sysfs_fd, path, &v), 0);
	return v;
}

static void test_set_read_back_and_free(void **state)
{
	struct tree *t = *state;
	char why[256] = "";

	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 1153, why, sizeof(why)),
		0);
	assert_int_equal(current(t, "0000:41:00.4"), 1153);
	/* Again: already so, nothing written. */
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 1153, why, sizeof(why)),
		0);
	/* Another type on a VF that holds one: EBUSY, the VF keeps its type. */
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 1155, why, sizeof(why)),
		-EBUSY);
	assert_non_null(strstr(why, "EBUSY"));
	assert_int_equal(current(t, "0000:41:00.4"), 1153);
	/* Free: 0 is written and read back. */
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 0, why, sizeof(why)), 0);
	assert_int_equal(current(t, "0000:41:00.4"), 0);
	/* A VF that does not exist. */
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:09.0", 1153, why, sizeof(why)),
		-ENOENT);
}

static void test_card_filled_meanwhile(void **state)
{
	struct tree *t = *state;
	char why[256] = "";

	/* The full card's VFs list the header alone: 12Q is no longer creatable there. */
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:c1:00.0", "0000:c1:00.6", 1153, why, sizeof(why)),
		-ENOSPC);
	assert_non_null(strstr(why, "no longer offers 1153"));
	assert_int_equal(current(t, "0000:c1:00.6"), 0);
}

/* Point a VF's current_vgpu_type at @target (a /proc/self attribute) and list @list. */
static void fake_driver(struct tree *t, const char *vf, const char *target, const char *list)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/nvidia/current_vgpu_type", t->root, vf);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/nvidia/creatable_vgpu_types", t->root,
		 vf);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(list, f);
	fclose(f);
}

static bool reads_zero(const char *path)
{
	char buf[32];

	return sysfs_read_attr(AT_FDCWD, path, buf, sizeof(buf)) > 0 && streq(buf, "0");
}

static void test_driver_refuses_errno_by_name(void **state)
{
	struct tree *t = *state;
	char why[256] = "";

	if (!reads_zero("/proc/self/oom_score_adj"))
		skip(); /* the runner set our OOM score: the stand-in would not read 0 */
	fake_driver(t, "0000:41:00.4", "/proc/self/oom_score_adj",
		    "ID    : vGPU Name\n1153  : NVIDIA L40S-12Q\n");
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 1153, why, sizeof(why)),
		-EINVAL);
	assert_non_null(strstr(why, "refused 1153"));
	assert_non_null(strstr(why, "EINVAL"));
	assert_true(reads_zero("/proc/self/oom_score_adj"));
}

static void test_mismatched_read_back_rolled_back(void **state)
{
	struct tree *t = *state;
	char why[256] = "";

	if (!reads_zero("/proc/self/oom_adj"))
		skip(); /* the runner set our OOM score: the stand-in would not read 0 */
	/* oom_adj stores 10 as oom_score_adj 588 and reads back 588 * 17 / 1000 = 9. */
	fake_driver(t, "0000:41:00.4", "/proc/self/oom_adj", "ID : vGPU Name\n10 : stand-in\n");
	assert_int_equal(
		vgpu_vfio_set(t->sysfs_fd, "0000:41:00.0", "0000:41:00.4", 10, why, sizeof(why)),
		-EIO);
	/*
	 * The roll-back writes 0; lowering an OOM score needs CAP_SYS_RESOURCE, which a
	 * container's root may lack: then the failed roll-back is reported by its errno.
	 */
	if (reads_zero("/proc/self/oom_adj"))
		assert_string_equal(why,
				    "wrote 10, but current_vgpu_type reads 9; rolled back to 0");
	else
		assert_true(streq(why, "wrote 10, but current_vgpu_type reads 9; rolling back to 0 "
				       "failed: EACCES") ||
			    streq(why, "wrote 10, but current_vgpu_type reads 9; rolling back to 0 "
				       "failed: EPERM"));
}

static struct policy *parse(const char *json)
{
	struct policy *pol = NULL;
	struct pol_error err;

	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), 0);
	return pol;
}

/*
 * The driver's side, as make-tree.py's vgpu_lists() computes it: after each step, every VF
 * of the stepped card lists again what the L40S (48 GB, 32 VFs) can still take: every type
 * when the card is empty; else, on a free VF, the card's one type while fewer than NVIDIA's
 * maximum (min(32, 48 / framebuffer GB), from the name: "NVIDIA L40S-12Q" -> 4) exist; nothing
 * on a configured VF or a full card.
 */
static const char L40S_LIST[] = "ID    : vGPU Name\n";

static unsigned int l40s_max(const char *name)
{
	const char *dash = strrchr(name, '-');
	unsigned int gb = dash ? (unsigned int)atoi(dash + 1) : 0;

	return gb ? (48 / gb < 32 ? 48 / gb : 32) : 0;
}

static void driver_sim(void *data, const struct plan_action *a)
{
	struct tree *t = data;
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	struct nvidia_vgpu_entry *all = NULL;
	const struct mdev_parent *card;
	size_t n_all = 0, used = 0;
	unsigned int kind = 0, max = 0;
	char path[256], buf[4096];
	int r;

	/* The full list, as the fixture's fresh card printed it. */
	r = sysfs_read_attr(AT_FDCWD,
			    FIXTURES "/l40s/bus/pci/devices/0000:41:00.4/nvidia/"
				     "creatable_vgpu_types",
			    buf, sizeof(buf));
	assert_true(r > 0);
	assert_int_equal(nvidia_vgpu_parse_types(buf, (size_t)r, &all, &n_all, NULL), 0);
	assert_int_equal(inventory_load(t->sysfs_fd, t->root, INVENTORY_TYPES, NULL, NULL, &inv),
			 0);
	card = inventory_get_parent(inv, a->parent);
	assert_non_null(card);
	for (size_t i = 0; i < card->n_vfs; i++) {
		if (!card->vfs[i].current_type)
			continue;
		used++;
		kind = card->vfs[i].current_type;
	}
	for (size_t k = 0; k < n_all; k++)
		if (all[k].id == kind)
			max = l40s_max(all[k].name);
	for (size_t i = 0; i < card->n_vfs; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/nvidia/creatable_vgpu_types",
			 t->root, card->vfs[i].address);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(L40S_LIST, f);
		for (size_t k = 0; k < n_all && !card->vfs[i].current_type; k++)
			if (!used || (all[k].id == kind && used < max))
				fprintf(f, "%-6u: %s\n", all[k].id, all[k].name);
		fclose(f);
	}
	nvidia_vgpu_entries_free(all, n_all);
}

static struct apply_options options(struct tree *t)
{
	return (struct apply_options){
		.sysfs_fd = t->sysfs_fd,
		.sysfs_path = t->root,
		.proc_fd = t->proc_fd,
		.machine_id = MACHINE_ID,
		.after_step = driver_sim,
		.after_step_data = t,
	};
}

static unsigned int count_type(struct tree *t, const char *card, unsigned int id)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	const struct mdev_parent *p;
	unsigned int n = 0;

	assert_int_equal(inventory_load(t->sysfs_fd, t->root, INVENTORY_TYPES, NULL, NULL, &inv),
			 0);
	p = inventory_get_parent(inv, card);
	assert_non_null(p);
	for (size_t i = 0; i < p->n_vfs; i++)
		n += p->vfs[i].current_type == id;
	return n;
}

static void test_apply_issue_policy(void **state)
{
	struct tree *t = *state;
	_cleanup_(policy_freep) struct policy *pol =
		parse("{\"mdevd\": {\"layouts\": [{\"parents\": [\"10de:26b9\"], \"types\": "
		      "{\"NVIDIA L40S-12Q\": 4}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;

	/* A dry run counts the VFs it would configure (plan's exit status) and writes nothing. */
	o.dry_run = true;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.would_create, 4);
	assert_int_equal(res.would_remove, 2);
	assert_int_equal(res.created + res.removed + res.failed, 0);
	assert_int_equal(current(t, "0000:41:00.4"), 0);
	assert_int_equal(count_type(t, "0000:c1:00.0", 1155), 2);
	o.dry_run = false;
	/* Round 1 frees the full card's 24Q and fills the fresh card; the driver relists the
	 * freed card, and round 2 fills it too. */
	memset(&res, 0, sizeof(res));
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.created, 8);
	assert_int_equal(res.removed, 2);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.shortfall, 0);
	assert_int_equal(count_type(t, "0000:41:00.0", 1153), 4);
	assert_int_equal(count_type(t, "0000:c1:00.0", 1153), 4);
	assert_int_equal(count_type(t, "0000:c1:00.0", 1155), 0);
	assert_int_equal(current(t, "0000:41:00.4"), 1153);
	assert_int_equal(current(t, "0000:41:00.7"), 1153);
	assert_int_equal(current(t, "0000:41:01.0"), 0);
	/* Both cards are full now and list nothing: the names come from the catalogue file. */
	memset(&res, 0, sizeof(res));
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.created + res.removed + res.failed, 0);
}

static void test_apply_max_gives_nvidia_counts(void **state)
{
	struct tree *t = *state;
	static const struct {
		const char *name;
		unsigned int id, max;
	} counts[] = {
		{"NVIDIA L40S-48Q", 1156, 1}, {"NVIDIA L40S-24Q", 1155, 2},
		{"NVIDIA L40S-12Q", 1153, 4}, {"NVIDIA L40S-8Q", 1152, 6},
		{"NVIDIA L40S-4Q", 1150, 12}, {"NVIDIA L40S-2Q", 1148, 24},
		{"NVIDIA L40S-1Q", 1147, 32},
	};

	for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
		char json[256];
		_cleanup_(policy_freep) struct policy *pol = NULL;
		struct apply_options o = options(t);
		struct apply_result res;

		/* "max" on the fresh card: the driver's shrinking lists stop it at NVIDIA's count.
		 */
		snprintf(json, sizeof(json),
			 "{\"mdevd\": {\"layouts\": [{\"parents\": [\"0000:41:00.0\"], \"types\": "
			 "{\"%s\": \"max\"}}]}}",
			 counts[i].name);
		pol = parse(json);
		assert_int_equal(apply_policy(&o, pol, &res), 0);
		assert_int_equal(count_type(t, "0000:41:00.0", counts[i].id), counts[i].max);
		assert_int_equal(res.failed, 0);
	}
}

/*
 * The other card models through make-tree.py's own driver rule (sim): vendor VFIO lists, and
 * for the mdev generations a written create / remove made real and every VF's
 * available_instances computed again.
 */
static void run_sim(struct tree *t)
{
	char line[16];

	if (t->sim_pid == 0) {
		int in[2], out[2];

		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
		assert_int_equal(pipe2(out, O_CLOEXEC), 0);
		t->sim_pid = fork();
		assert_true(t->sim_pid >= 0);
		if (t->sim_pid == 0) {
			dup2(in[0], STDIN_FILENO);
			dup2(out[1], STDOUT_FILENO);
			execlp("python3", "python3", "tests/fixtures/make-tree.py", "--out",
			       t->root, "sim-serve", (char *)NULL);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		t->sim_in = fdopen(in[1], "w");
		t->sim_out = fdopen(out[0], "r");
		assert_true(t->sim_in && t->sim_out);
	}
	fputs("sim\n", t->sim_in);
	fflush(t->sim_in);
	assert_non_null(fgets(line, sizeof(line), t->sim_out));
	assert_string_equal(line, "ok\n");
}

static void python_sim(void *data, const struct plan_action *a)
{
	run_sim(data);
}

static void test_apply_max_h200_mig_backed(void **state)
{
	struct tree *t = *state;
	_cleanup_(policy_freep) struct policy *pol =
		parse("{\"mdevd\": {\"layouts\": [{\"parents\": [\"0000:18:00.0\"], \"types\": "
		      "{\"NVIDIA H200X-1-18C\": \"max\"}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;

	/* 3 of NVIDIA's 7 H200X-1-18C per GPU exist; "max" adds 4 and stops at the driver's list.
	 */
	o.after_step = python_sim;
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(res.created, 4);
	assert_int_equal(res.failed, 0);
	assert_int_equal(count_type(t, "0000:18:00.0", 1414), 7);
}

/*
 * NVIDIA's published maximum per GPU of one type, by name, and the id the fixture's driver
 * gives it (tests/fixtures/make-tree.py's tables).
 */
struct published {
	const char *name, *id;
	unsigned int max;
};

/* Instances of @type_id on @card: the card itself (vendor VFIO) or the VFs of that PF (mdev). */
static unsigned int count_on_card(struct tree *t, const char *card, const char *type_id,
				  unsigned int *others)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	unsigned int n = 0;

	assert_int_equal(inventory_load(t->sysfs_fd, t->root, INVENTORY_TYPES | INVENTORY_MDEVS,
					NULL, NULL, &inv),
			 0);
	*others = 0;
	for (size_t i = 0; i < inv->n_mdevs; i++) {
		const struct mdev_instance *m = &inv->mdevs[i];
		const struct mdev_parent *p = inventory_get_parent(inv, m->parent);

		if (!p || !(streq(p->name, card) || (p->physfn && streq(p->physfn, card))))
			continue;
		if (streq(m->type_id, type_id))
			n++;
		else
			(*others)++;
	}
	return n;
}

/* What the planner would still do for @pol on the node as it is now. */
static size_t planned_creates(struct tree *t, const struct policy *pol)
{
	_cleanup_(inventory_freep) struct inventory *inv = NULL;
	_cleanup_(plan_freep) struct plan *plan = NULL;
	struct plan_context ctx = {.machine_id = MACHINE_ID};

	assert_int_equal(inventory_load(t->sysfs_fd, t->root, INVENTORY_TYPES | INVENTORY_MDEVS,
					NULL, NULL, &inv),
			 0);
	assert_int_equal(plan_build(inv, pol, &ctx, &plan), 0);
	return plan->n_create;
}

/*
 * For each type in turn, "max" on @parents (one layout; removeUnowned clears what the fixture
 * holds and the previous type): the planner and the applier, with the driver stand-in after
 * each write, reach exactly NVIDIA's count on @card, hold no other type there, and a plan
 * afterwards finds nothing more to create.
 */
static void assert_published_counts(struct tree *t, const char *parents, const char *card,
				    const struct published *counts, size_t n,
				    const struct apply_options *base)
{
	for (size_t i = 0; i < n; i++) {
		char json[384];
		_cleanup_(policy_freep) struct policy *pol = NULL;
		struct apply_options o = *base;
		struct apply_result res;
		unsigned int others;

		snprintf(json, sizeof(json),
			 "{\"mdevd\": {\"removeUnowned\": true, \"layouts\": [{\"parents\": "
			 "[\"%s\"], \"types\": {\"%s\": \"max\"}}]}}",
			 parents, counts[i].name);
		pol = parse(json);
		assert_int_equal(apply_policy(&o, pol, &res), 0);
		if (count_on_card(t, card, counts[i].id, &others) != counts[i].max)
			fail_msg("%s: %u instances, NVIDIA publishes %u", counts[i].name,
				 count_on_card(t, card, counts[i].id, &others), counts[i].max);
		assert_int_equal(others, 0);
		assert_int_equal(res.failed, 0);
		assert_int_equal(planned_creates(t, pol), 0);
	}
}

/* The mdev generations' driver: a create or remove written, then make-tree.py's sim. */
static int sim_create(void *data, const struct plan_action *a, char *why, size_t size)
{
	struct tree *t = data;
	int r = lifecycle_create(t->sysfs_fd, a->parent, a->type_id, a->uuid);

	if (r == 0)
		run_sim(t);
	return r;
}

static int sim_remove(void *data, const struct plan_action *a, char *why, size_t size)
{
	struct tree *t = data;
	int r = lifecycle_remove(t->sysfs_fd, a->uuid);

	if (r == 0)
		run_sim(t);
	return r;
}

static struct apply_options mdev_options(struct tree *t, struct apply_backend *b)
{
	struct apply_options o = options(t);

	*b = (struct apply_backend){
		.name = "driver stand-in",
		.create = sim_create,
		.remove = sim_remove,
		.data = t,
	};
	o.backend = b;
	o.after_step = NULL;
	return o;
}

static void test_a100_published_counts(void **state)
{
	struct tree *t = *state;
	/* A100 PCIe 40GB, time-sliced C-series, equal-size mode: 16 VFs, one vGPU each. */
	static const struct published counts[] = {
		{"GRID A100-40C", "nvidia-473", 1}, {"GRID A100-20C", "nvidia-472", 2},
		{"GRID A100-10C", "nvidia-471", 4}, {"GRID A100-8C", "nvidia-470", 5},
		{"GRID A100-5C", "nvidia-469", 8},  {"GRID A100-4C", "nvidia-468", 10},
	};
	struct apply_backend b;
	struct apply_options o = mdev_options(t, &b);

	assert_published_counts(t, "10de:20f1", "0000:ca:00.0", counts, ARRAY_SIZE(counts), &o);
}

static void test_a100_one_per_vf_stops_at_ten(void **state)
{
	struct tree *t = *state;
	/* One A100-4C on each of the 16 VFs: every VF offers one, the card holds 10. */
	_cleanup_(policy_freep) struct policy *pol =
		parse("{\"mdevd\": {\"layouts\": [{\"parents\": [\"10de:20f1\"], \"types\": "
		      "{\"GRID A100-4C\": 1}}]}}");
	struct apply_backend b;
	struct apply_options o = mdev_options(t, &b);
	struct apply_result res;
	unsigned int others;

	/*
	 * The fixture's 4 foreign A100-4C (VFs 0-3) are kept; 6 more fit, the other 6 VFs read
	 * 0. The shortfall counts mdevd's own: 16 asked, 6 made (a foreign one fills its VF).
	 */
	assert_int_equal(apply_policy(&o, pol, &res), 0);
	assert_int_equal(count_on_card(t, "0000:ca:00.0", "nvidia-468", &others), 10);
	assert_int_equal(res.created, 6);
	assert_int_equal(res.failed, 0);
	assert_int_equal(res.shortfall, 10);
	assert_int_equal(planned_creates(t, pol), 0);
}

static void test_a40_published_counts(void **state)
{
	struct tree *t = *state;
	/* A40, Q-series, equal-size mode: 32 VFs, one vGPU each. */
	static const struct published counts[] = {
		{"NVIDIA A40-48Q", "nvidia-566", 1}, {"NVIDIA A40-24Q", "nvidia-565", 2},
		{"NVIDIA A40-16Q", "nvidia-564", 3}, {"NVIDIA A40-12Q", "nvidia-563", 4},
		{"NVIDIA A40-8Q", "nvidia-562", 6},  {"NVIDIA A40-6Q", "nvidia-561", 8},
		{"NVIDIA A40-4Q", "nvidia-560", 12},
	};
	struct apply_backend b;
	struct apply_options o = mdev_options(t, &b);

	assert_published_counts(t, "10de:2235", "0000:25:00.0", counts, ARRAY_SIZE(counts), &o);
}

static void test_h100_published_counts(void **state)
{
	struct tree *t = *state;
	/* H100 PCIe 80GB: time-sliced (equal-size mode) and MIG-backed C-series, 32 VFs. */
	static const struct published counts[] = {
		{"NVIDIA H100-80C", "1307", 1},	    {"NVIDIA H100-40C", "1306", 2},
		{"NVIDIA H100-20C", "1305", 4},	    {"NVIDIA H100-16C", "1304", 6},
		{"NVIDIA H100-10C", "1303", 8},	    {"NVIDIA H100-8C", "1302", 10},
		{"NVIDIA H100-5C", "1301", 16},	    {"NVIDIA H100-4C", "1300", 20},
		{"NVIDIA H100-7-80C", "1314", 1},   {"NVIDIA H100-4-40C", "1313", 1},
		{"NVIDIA H100-3-40C", "1312", 2},   {"NVIDIA H100-2-20C", "1311", 3},
		{"NVIDIA H100-1-20C", "1310", 4},   {"NVIDIA H100-1-10C", "1308", 7},
		{"NVIDIA H100-1-10CME", "1309", 1},
	};
	struct apply_options o = options(t);

	o.after_step = python_sim;
	assert_published_counts(t, "0000:17:00.0", "0000:17:00.0", counts, ARRAY_SIZE(counts), &o);
}

static void test_free_skips_vf_held_by_cdev(void **state)
{
	struct tree *t = *state;
	_cleanup_(policy_freep) struct policy *fill = parse(
		"{\"mdevd\": {\"layouts\": [{\"parents\": [\"0000:c1:00.0\"], \"types\": {}}]}}");
	struct apply_options o = options(t);
	struct apply_result res;
	char path[128];

	/* QEMU (pid 4242) holds c1:00.4's iommufd cdev vfio40, not its group. */
	snprintf(path, sizeof(path), "%s/4242", t->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/fd", t->proc);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/fd/9", t->proc);
	assert_int_equal(symlink("/dev/vfio/devices/vfio40", path), 0);
	assert_int_equal(apply_policy(&o, fill, &res), 0);
	assert_int_equal(res.removed, 1);
	assert_int_equal(res.kept_in_use, 1);
	assert_int_equal(current(t, "0000:c1:00.4"), 1155);
	assert_int_equal(current(t, "0000:c1:00.5"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_read_back_and_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_filled_meanwhile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_refuses_errno_by_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatched_read_back_rolled_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_apply_issue_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_max_gives_nvidia_counts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_skips_vf_held_by_cdev, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_max_h200_mig_backed, setup_h200,
						teardown),
		cmocka_unit_test_setup_teardown(test_h100_published_counts, setup_h100, teardown),
		cmocka_unit_test_setup_teardown(test_a100_published_counts, setup_a100, teardown),
		cmocka_unit_test_setup_teardown(test_a100_one_per_vf_stops_at_ten, setup_a100,
						teardown),
		cmocka_unit_test_setup_teardown(test_a40_published_counts, setup_a40, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
