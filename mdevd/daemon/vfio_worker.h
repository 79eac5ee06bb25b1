/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfio_worker: the daemon's vfio-pci passes (apply/vfio_apply.h) on one thread of their
 * own, so that an unbind that blocks in the kernel (a busy host driver) never holds up the
 * epoll loop, and with it ListAndWatch updates, reloads and signals. The loop kicks a pass
 * with the running policy (copied: a reload may free it meanwhile) and learns of its end
 * through an eventfd in its epoll set; a kick while a pass runs makes one more pass, with
 * the newest policy, when it ends. Each write that may block has its own timeout inside
 * the pass (pci_bind.h), so a pass ends with a report naming the function.
 */
#pragma once

#include <stdbool.h>

#include "apply/vfio_apply.h"
#include "mdevd/policy.h"

struct vfio_worker;

/* libvirt, asked before each pass which PCI functions its domains name (in use). */
struct vfio_worker_libvirt {
	const char *uri;  /* --connect, or NULL: the default when its socket exists; borrowed */
	bool try_default; /* try the default URI (the real /sys only) */
	bool disabled;	  /* --no-libvirt */
};

/*
 * What the device plugins handed to kubelet by Allocate (dp_manager_allocated(): PCI
 * addresses, UUIDs), as the loop read it when it kicked the pass: kubelet never says when a
 * pod lets go, so such a function stays in use, never given back, while this daemon serves
 * it. The loop owns the plugins, so it reads this on its own thread; an Allocate that comes
 * after the kick and races the give-back of a function leaving the policy is not seen.
 */
struct vfio_worker_allocated {
	char **ids;
	size_t n;
};

/*
 * vfio_worker_pass - one vfio_apply() pass with libvirt's view of the domains (a fresh
 * read-only connection; an unreachable libvirt only loses that view) and @allocated
 * (borrowed; NULL: nothing allocated). The start pass runs it on the loop's thread, the
 * worker on its own. Returns what vfio_apply() returns.
 */
int vfio_worker_pass(const struct vfio_apply_opts *opts, const struct vfio_worker_libvirt *lv,
		     const struct vfio_worker_allocated *allocated, const struct policy *pol,
		     struct vfio_apply_result *res);

/*
 * vfio_worker_new - the worker, without its thread yet: the first vfio_worker_kick() starts
 * it, so a daemon whose policies bind nothing runs no extra thread. @opts and @lv are copied
 * (their pointers are borrowed for the worker's life). Returns 0 or -errno.
 */
int vfio_worker_new(const struct vfio_apply_opts *opts, const struct vfio_worker_libvirt *lv,
		    struct vfio_worker **out);

/* vfio_worker_fd - the eventfd that becomes readable when a pass ended (borrowed). */
int vfio_worker_fd(const struct vfio_worker *w);

/*
 * vfio_worker_kick - run a pass for @pol (copied) with @allocated (its contents taken over on
 * success, left to the caller on error; NULL: nothing allocated); starts the thread on the
 * first call (call it with the signals the loop reads blocked). A kick while a pass is
 * queued replaces both. Returns 0, -ENOMEM, or -EAGAIN when the thread cannot be started.
 */
int vfio_worker_kick(struct vfio_worker *w, const struct policy *pol,
		     struct vfio_worker_allocated *allocated);

/* vfio_worker_allocated_release - free what @a holds and empty it. */
void vfio_worker_allocated_release(struct vfio_worker_allocated *a);

/*
 * vfio_worker_collect - on the eventfd: drain it and copy the last pass's result to @res.
 * Returns true when a pass ended since the last call, and whether it changed a binding
 * in *@changed (a reconcile should read the PCI functions again).
 */
bool vfio_worker_collect(struct vfio_worker *w, struct vfio_apply_result *res, bool *changed);

/* vfio_worker_busy - is a pass running or queued? */
bool vfio_worker_busy(struct vfio_worker *w);

/*
 * vfio_worker_free - stop the thread after the pass it is in (a write blocked in the kernel
 * has its own thread and timeout, so this waits at most one timeout) and free everything.
 */
void vfio_worker_free(struct vfio_worker *w);
