/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vfio-pci binding and giving back; pci_bind.h has the steps and their source. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdevd/macro.h"
#include "node/pci_bind.h"
#include "node/sysfs.h"

struct pci_inflight {
	pthread_mutex_t lock;
	unsigned int refs;
	char **paths; /* writes started and not returned yet */
	size_t n;
};

int pci_inflight_new(struct pci_inflight **out)
{
	struct pci_inflight *in = calloc(1, sizeof(*in));

	if (!in)
		return -ENOMEM;
	pthread_mutex_init(&in->lock, NULL);
	in->refs = 1;
	*out = in;
	return 0;
}

void pci_inflight_unref(struct pci_inflight *in)
{
	bool last;

	if (!in)
		return;
	pthread_mutex_lock(&in->lock);
	last = --in->refs == 0;
	pthread_mutex_unlock(&in->lock);
	if (!last)
		return;
	for (size_t i = 0; i < in->n; i++)
		free(in->paths[i]);
	free(in->paths);
	pthread_mutex_destroy(&in->lock);
	free(in);
}

size_t pci_inflight_count(struct pci_inflight *in)
{
	size_t n;

	pthread_mutex_lock(&in->lock);
	n = in->n;
	pthread_mutex_unlock(&in->lock);
	return n;
}

/* Take @path in @in, with a reference for the write's thread: 0, -EALREADY, -ENOMEM. */
static int inflight_take(struct pci_inflight *in, const char *path)
{
	char **n, *p;
	int r = 0;

	pthread_mutex_lock(&in->lock);
	for (size_t i = 0; i < in->n && r == 0; i++)
		if (streq(in->paths[i], path))
			r = -EALREADY;
	if (r == 0) {
		p = strdup(path);
		n = p ? realloc(in->paths, (in->n + 1) * sizeof(*n)) : NULL;
		if (!n) {
			free(p);
			r = -ENOMEM;
		} else {
			in->paths = n;
			in->paths[in->n++] = p;
			in->refs++;
		}
	}
	pthread_mutex_unlock(&in->lock);
	return r;
}

/* Give @path back and drop the thread's reference. */
static void inflight_give(struct pci_inflight *in, const char *path)
{
	pthread_mutex_lock(&in->lock);
	for (size_t i = 0; i < in->n; i++) {
		if (streq(in->paths[i], path)) {
			free(in->paths[i]);
			in->paths[i] = in->paths[--in->n];
			break;
		}
	}
	pthread_mutex_unlock(&in->lock);
	pci_inflight_unref(in);
}

/* One write on its own thread. The thread owns the job; the caller only its socket end. */
struct write_job {
	int dirfd;
	int sock; /* the thread's end: it sends the result, then closes */
	char *path;
	char *value;
	struct pci_inflight *inflight; /* a reference of the thread's own, or NULL */
};

static void *write_thread(void *arg)
{
	struct write_job *j = arg;
	int r = sysfs_write_attr(j->dirfd, j->path, j->value);

	if (j->inflight)
		inflight_give(j->inflight, j->path);
	/* MSG_NOSIGNAL: a caller that gave up has closed its end; no SIGPIPE for that. */
	(void)send(j->sock, &r, sizeof(r), MSG_NOSIGNAL);
	close(j->sock);
	close(j->dirfd);
	free(j->path);
	free(j->value);
	free(j);
	return NULL;
}

int pci_write_with_timeout(int dirfd, const char *path, const char *value, unsigned int timeout_ms,
			   struct pci_inflight *inflight)
{
	struct write_job *j;
	_cleanup_close_ int mine = -1;
	int sv[2], r, result = 0;
	pthread_attr_t attr;
	pthread_t t;
	struct pollfd pfd;

	if (inflight) {
		r = inflight_take(inflight, path);
		if (r < 0)
			return r;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		if (inflight)
			inflight_give(inflight, path);
		return -ENOMEM;
	}
	j->inflight = inflight;
	j->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	j->path = strdup(path);
	j->value = strdup(value);
	if (j->dirfd < 0 || !j->path || !j->value ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = j->dirfd < 0 ? -errno : -ENOMEM;
		if (inflight)
			inflight_give(inflight, path);
		if (j->dirfd >= 0)
			close(j->dirfd);
		free(j->path);
		free(j->value);
		free(j);
		return r;
	}
	mine = sv[0];
	j->sock = sv[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, write_thread, j);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		if (inflight)
			inflight_give(inflight, path);
		close(j->sock);
		close(j->dirfd);
		free(j->path);
		free(j->value);
		free(j);
		return -r;
	}
	pfd = (struct pollfd){.fd = mine, .events = POLLIN};
	do {
		r = poll(&pfd, 1, timeout_ms ? (int)timeout_ms : PCI_BIND_TIMEOUT_MS);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	if (recv(mine, &result, sizeof(result), 0) != sizeof(result))
		return -EIO;
	return result;
}

static unsigned int timeout_of(const struct pci_bind_opts *o)
{
	return o->timeout_ms ? o->timeout_ms : PCI_BIND_TIMEOUT_MS;
}

static int read_driver(int sysfs_fd, const char *bdf, char *buf, size_t size)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver", bdf);
	r = sysfs_read_link_name(sysfs_fd, path, buf, size);
	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

/* Unbind @bdf from @driver through the device's driver link, with the timeout. */
static int unbind(const struct pci_bind_opts *o, const char *bdf, const char *driver, char *why,
		  size_t size)
{
	char path[128];
	int r;

	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver/unbind", bdf);
	r = pci_write_with_timeout(o->sysfs_fd, path, bdf, timeout_of(o), o->inflight);
	if (r == -EALREADY)
		snprintf(why, size,
			 "%s: an earlier unbind from %s is still blocked in the kernel: the host "
			 "driver is busy; stop what uses it, then the next reconcile completes the "
			 "binding",
			 bdf, driver);
	else if (r == -ETIMEDOUT)
		snprintf(why, size,
			 "%s: unbind from %s did not return within %u ms: the host driver is "
			 "busy (a process or the driver itself still uses the device); stop what "
			 "uses it, then the next reconcile completes the binding",
			 bdf, driver, timeout_of(o));
	else if (r < 0)
		snprintf(why, size, "%s: unbind from %s failed: %s", bdf, driver, strerror(-r));
	return r;
}

static int probe(const struct pci_bind_opts *o, const char *bdf, char *why, size_t size)
{
	int r = pci_write_with_timeout(o->sysfs_fd, "bus/pci/drivers_probe", bdf, timeout_of(o),
				       NULL);

	if (r == -ETIMEDOUT)
		snprintf(why, size, "%s: drivers_probe did not return within %u ms", bdf,
			 timeout_of(o));
	else if (r < 0 && r != -ENODEV && r != -EINVAL)
		snprintf(why, size, "%s: drivers_probe failed: %s", bdf, strerror(-r));
	else
		r = 0; /* probe "fails" when no driver matches; the driver link tells */
	return r;
}

int pci_bind_vfio(const struct pci_bind_opts *o, const char *bdf, int group, char *why, size_t size)
{
	char path[128], driver[64];
	struct stat st;
	int r;

	why[0] = '\0';
	if (faccessat(o->sysfs_fd, "bus/pci/drivers/vfio-pci", F_OK, 0) < 0) {
		snprintf(why, size,
			 "%s: vfio-pci is not loaded (no bus/pci/drivers/vfio-pci): run 'modprobe "
			 "vfio-pci' and add vfio-pci to /etc/modules-load.d/vfio-pci.conf",
			 bdf);
		return -ENOENT;
	}
	r = read_driver(o->sysfs_fd, bdf, driver, sizeof(driver));
	if (r < 0) {
		snprintf(why, size, "%s: cannot read its driver link: %s", bdf, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", bdf);
	r = sysfs_write_attr(o->sysfs_fd, path, "vfio-pci");
	if (r < 0) {
		snprintf(why, size, "%s: cannot write driver_override: %s", bdf, strerror(-r));
		return r;
	}
	if (driver[0] && !streq(driver, "vfio-pci")) {
		r = unbind(o, bdf, driver, why, size);
		if (r < 0)
			return r;
	}
	if (!streq(driver, "vfio-pci")) {
		r = probe(o, bdf, why, size);
		if (r < 0)
			return r;
	}
	r = read_driver(o->sysfs_fd, bdf, driver, sizeof(driver));
	if (r < 0 || !streq(driver, "vfio-pci")) {
		snprintf(why, size,
			 "%s: after drivers_probe it is on %s, not vfio-pci (the kernel log says "
			 "why; an SR-IOV PF with VFs enabled is refused)",
			 bdf, r < 0 || !driver[0] ? "no driver" : driver);
		return -ENODEV;
	}
	if (group >= 0 && o->dev_fd >= 0) {
		snprintf(path, sizeof(path), "vfio/%d", group);
		if (fstatat(o->dev_fd, path, &st, 0) < 0) {
			snprintf(why, size,
				 "%s: bound to vfio-pci but /dev/vfio/%d did not appear (is udev "
				 "running? is the IOMMU on?)",
				 bdf, group);
			return -ENXIO;
		}
	}
	return 0;
}

int pci_give_back(const struct pci_bind_opts *o, const char *bdf, char *out_driver, size_t dsize,
		  char *why, size_t size)
{
	char path[128], driver[64];
	int r;

	why[0] = '\0';
	snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", bdf);
	r = sysfs_write_attr(o->sysfs_fd, path, "\n");
	if (r < 0) {
		snprintf(why, size, "%s: cannot clear driver_override: %s", bdf, strerror(-r));
		return r;
	}
	r = read_driver(o->sysfs_fd, bdf, driver, sizeof(driver));
	if (r < 0) {
		snprintf(why, size, "%s: cannot read its driver link: %s", bdf, strerror(-r));
		return r;
	}
	if (streq(driver, "vfio-pci")) {
		r = unbind(o, bdf, driver, why, size);
		if (r < 0)
			return r;
	}
	if (!driver[0] || streq(driver, "vfio-pci")) {
		r = probe(o, bdf, why, size);
		if (r < 0)
			return r;
	}
	r = read_driver(o->sysfs_fd, bdf, driver, sizeof(driver));
	if (r < 0)
		driver[0] = '\0';
	snprintf(out_driver, dsize, "%s", driver);
	return 0;
}
