/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vfio-pci worker thread; vfio_worker.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli/cli_vfio.h"
#include "daemon/vfio_worker.h"
#include "libvirt/libvirt_client.h"
#include "node/pci_bind.h"
#include "mdevd/macro.h"
#include "util/log.h"

struct vfio_worker {
	struct vfio_apply_opts opts;
	struct vfio_worker_libvirt lv;
	int event_fd;
	pthread_t thread;
	bool started; /* the thread starts on the first kick: none for a policy that binds nothing
		       */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Under @lock: */
	struct policy *next; /* the policy of the next pass; NULL: none queued */
	struct vfio_worker_allocated next_allocated; /* what was allocated when it was queued */
	bool running, stop;
	bool have_result;
	struct vfio_apply_result result;
	/* Refusals logged once over the worker's life (vfio_apply_opts.refusals_seen). */
	char **seen;
	size_t n_seen;
};

static void *worker_main(void *arg)
{
	struct vfio_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct vfio_apply_result res;
		struct vfio_worker_allocated allocated;
		struct policy *pol;
		uint64_t one = 1;
		int r;

		while (!w->next && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		pol = steal_ptr(w->next);
		allocated = w->next_allocated;
		w->next_allocated = (struct vfio_worker_allocated){0};
		w->running = true;
		pthread_mutex_unlock(&w->lock);

		r = vfio_worker_pass(&w->opts, &w->lv, &allocated, pol, &res);
		if (r < 0)
			log_warn(r, "vfio-pci: cannot apply the bindings");
		else if (res.bound || res.given_back || res.failed)
			log_info("vfio-pci: %u bound, %u given back, %u refused, %u kept in use, "
				 "%u failed",
				 res.bound, res.given_back, res.refused, res.kept, res.failed);
		policy_free(pol);
		vfio_worker_allocated_release(&allocated);

		pthread_mutex_lock(&w->lock);
		w->running = false;
		w->result = res;
		w->have_result = true;
		if (write(w->event_fd, &one, sizeof(one)) < 0) {
			/* eventfd full (2^64 - 1): the loop will still read it */
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void vfio_worker_allocated_release(struct vfio_worker_allocated *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->ids[i]);
	free(a->ids);
	*a = (struct vfio_worker_allocated){0};
}

/* What a pass counts as in use beyond /proc: an unreleased Allocate, then libvirt's domains. */
struct pass_in_use {
	const struct vfio_worker_allocated *allocated;
	struct cli_vfio_domains *doms;
};

static const char *pass_in_use(void *data, const char *address)
{
	const struct pass_in_use *p = data;

	for (size_t i = 0; p->allocated && i < p->allocated->n; i++)
		if (streq(p->allocated->ids[i], address))
			return "handed to kubelet by Allocate, not released";
	return cli_vfio_domain_in_use(p->doms, address);
}

int vfio_worker_pass(const struct vfio_apply_opts *opts, const struct vfio_worker_libvirt *lv,
		     const struct vfio_worker_allocated *allocated, const struct policy *pol,
		     struct vfio_apply_result *res)
{
	struct vfio_apply_opts o = *opts;
	struct cli_vfio_domains doms;
	struct pass_in_use in_use = {.allocated = allocated, .doms = &doms};
	struct virt *virt = NULL;
	char err[256];
	int r;

	if (!lv->disabled &&
	    virt_open_optional(lv->uri, lv->try_default, true, &virt, err, sizeof(err)) < 0)
		log_debug("vfio-pci: libvirt cannot be reached (%s): only open VFIO groups count "
			  "as in use",
			  err);
	cli_vfio_domains_load(virt, &doms);
	o.in_use = pass_in_use;
	o.in_use_data = &in_use;
	r = vfio_apply(&o, pol, res);
	cli_vfio_domains_release(&doms);
	virt_close(virt);
	return r;
}

int vfio_worker_new(const struct vfio_apply_opts *opts, const struct vfio_worker_libvirt *lv,
		    struct vfio_worker **out)
{
	struct vfio_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->opts = *opts;
	w->lv = *lv;
	r = pci_inflight_new(&w->opts.inflight);
	if (r < 0) {
		free(w);
		return r;
	}
	w->opts.refusals_seen = &w->seen;
	w->opts.n_refusals_seen = &w->n_seen;
	w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->event_fd < 0) {
		r = -errno;
		pci_inflight_unref(w->opts.inflight);
		free(w);
		return r;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	*out = w;
	return 0;
}

int vfio_worker_fd(const struct vfio_worker *w)
{
	return w->event_fd;
}

int vfio_worker_kick(struct vfio_worker *w, const struct policy *pol,
		     struct vfio_worker_allocated *allocated)
{
	struct policy *copy = NULL;
	int r = pol_vfio_copy(pol, &copy);

	if (r < 0)
		return r;
	if (!w->started) {
		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r != 0) {
			policy_free(copy);
			return -r;
		}
		w->started = true;
	}
	pthread_mutex_lock(&w->lock);
	policy_free(w->next);
	w->next = copy;
	vfio_worker_allocated_release(&w->next_allocated);
	if (allocated) {
		w->next_allocated = *allocated;
		*allocated = (struct vfio_worker_allocated){0};
	}
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

bool vfio_worker_collect(struct vfio_worker *w, struct vfio_apply_result *res, bool *changed)
{
	uint64_t v;
	bool had;

	while (read(w->event_fd, &v, sizeof(v)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	had = w->have_result;
	if (had) {
		*res = w->result;
		*changed = w->result.bound || w->result.given_back;
		w->have_result = false;
	}
	pthread_mutex_unlock(&w->lock);
	return had;
}

bool vfio_worker_busy(struct vfio_worker *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->running || w->next;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

void vfio_worker_free(struct vfio_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (w->started)
		pthread_join(w->thread, NULL);
	policy_free(w->next);
	vfio_worker_allocated_release(&w->next_allocated);
	for (size_t i = 0; i < w->n_seen; i++)
		free(w->seen[i]);
	free(w->seen);
	close(w->event_fd);
	pci_inflight_unref(w->opts.inflight); /* blocked write threads keep theirs */
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}
