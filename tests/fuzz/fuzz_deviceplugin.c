/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the device-plugin request path: the bytes gRPC hands to the handler
 * (dp_plugin_call(): protobuf-c decode, then Allocate / GetPreferredAllocation /
 * GetDevicePluginOptions / PreStartContainer with whatever IDs the message carries), against
 * two plugins built in memory for each input: an mdev pool shaped like an NVIDIA node (VFs of
 * three PFs on two NUMA nodes, one device without an IOMMU group) and a PCI pool, both read
 * for iommufd cdevs from a small temporary sysfs tree. Between calls the pools may change
 * (devices leave, some unserved, allocated ones kept unhealthy) or stop.
 *
 * Input: up to 16 records [op][len lo][len hi][len bytes of message] (a short last record
 * takes what is left). op bits 0-2: 0 Allocate, 1 GetPreferredAllocation, 2 Options,
 * 3 PreStart, 4 ListAndWatch's list, 5 the smaller pool, 6 the full pool, 7 no pool
 * (stopping); bit 3: the PCI plugin, else the mdev one; bit 4: ask for ListAndWatch as a
 * unary call (refused). Seeds: tests/fuzz/make-seeds.py (encoded requests as kubelet sends
 * them). Built and run by `make fuzz` (docs/fuzzing.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kubernetes/deviceplugin.h"
#include "mdevd/kubernetes/deviceplugin.pb-c.h"

#define A1 "a1a1a1a1-0000-4000-8000-000000000001"
#define A2 "a2a2a2a2-0000-4000-8000-000000000002"
#define B1 "b1b1b1b1-0000-4000-8000-000000000001"
#define B2 "b2b2b2b2-0000-4000-8000-000000000002"
#define B3 "b3b3b3b3-0000-4000-8000-000000000003"
#define C1 "c1c1c1c1-0000-4000-8000-000000000001"
#define D1 "d1d1d1d1-0000-4000-8000-000000000001"

#define MDEV(id_, group, node, vf, pf)                                                             \
	{                                                                                          \
		.id = id_, .iommu_group = group, .numa_node = node, .parent = vf, .card = pf,      \
		.healthy = (group) >= 0                                                            \
	}
#define PCI(id_, group, node, pf)                                                                  \
	{                                                                                          \
		.id = id_, .iommu_group = group, .numa_node = node, .card = pf,                    \
		.healthy = (group) >= 0                                                            \
	}

static struct resource_device mdevs[] = {
	MDEV(A1, 41, 0, "0000:3b:00.4", "0000:3b:00.0"),
	MDEV(A2, 42, 0, "0000:3b:00.5", "0000:3b:00.0"),
	MDEV(B1, 51, 1, "0000:af:00.4", "0000:af:00.0"),
	MDEV(B2, 52, 1, "0000:af:00.5", "0000:af:00.0"),
	MDEV(B3, 53, 1, "0000:af:00.6", "0000:af:00.0"),
	MDEV(C1, 45, 0, "0000:3c:00.4", "0000:3c:00.0"),
	MDEV(D1, -1, -1, "mtty", "mtty"),
};
static struct resource_device pcis[] = {
	PCI("0000:00:03.0", 2, 1, "0000:00:03.0"),
	PCI("0000:00:04.0", 3, -1, "0000:00:04.0"),
	PCI("0000:00:04.1", 3, -1, "0000:00:04.0"),
	PCI("0000:65:00.0", 7, 0, "0000:65:00.0"),
};
static struct resource_unserved mdev_unserved[] = {
	{.id = B1, .reason = (char *)"already served as \"nvidia.com/GRID_T4-2Q\""},
};
static struct resource_unserved pci_unserved[] = {
	{.id = "0000:00:03.0", .reason = (char *)"bound to no driver, not vfio-pci"},
	{.id = "0000:00:05.0", .reason = (char *)"bound to pci-stub, not vfio-pci"},
};

/* [0]: the full pool, [1]: the smaller one (devices gone, some unserved). */
static const struct resource_pool mdev_pools[2] = {
	{.name = (char *)"nvidia.com/GRID_T4-1Q",
	 .kind = RESOURCE_MDEV,
	 .devices = mdevs,
	 .n_devices = sizeof(mdevs) / sizeof(mdevs[0])},
	{.name = (char *)"nvidia.com/GRID_T4-1Q",
	 .kind = RESOURCE_MDEV,
	 .devices = mdevs,
	 .n_devices = 2,
	 .unserved = mdev_unserved,
	 .n_unserved = 1},
};
static const struct resource_pool pci_pools[2] = {
	{.name = (char *)"example.com/edu",
	 .kind = RESOURCE_PCI,
	 .devices = pcis,
	 .n_devices = sizeof(pcis) / sizeof(pcis[0])},
	{.name = (char *)"example.com/edu",
	 .kind = RESOURCE_PCI,
	 .devices = pcis + 1,
	 .n_devices = 2,
	 .unserved = pci_unserved,
	 .n_unserved = 2},
};

static int sysfs_fd = -1;
static char sysfs_root[] = "/tmp/mdevd-fuzz-dp-XXXXXX";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mkdirs(const char *rel)
{
	char path[512];

	for (const char *s = rel; (s = strchr(s, '/')); s++) {
		snprintf(path, sizeof(path), "%s/%.*s", sysfs_root, (int)(s - rel), rel);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/%s", sysfs_root, rel);
	if (mkdir(path, 0755) < 0)
		abort();
}

static void remove_tree(void)
{
	char cmd[sizeof(sysfs_root) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", sysfs_root);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_deviceplugin: could not remove %s\n", sysfs_root);
}

/* iommufd cdevs for one mdev and one PCI function, as Linux >= 6.6 has them. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (!mkdtemp(sysfs_root))
		abort();
	atexit(remove_tree);
	mkdirs("bus/mdev/devices/" A2 "/vfio-dev/vfio3");
	mkdirs("bus/pci/devices/0000:00:04.0/vfio-dev/vfio7");
	sysfs_fd = open(sysfs_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sysfs_fd < 0)
		abort();
	return 0;
}

static bool in_ids(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static void check_allocate(const uint8_t *msg, size_t len, const struct dp_reply *reply)
{
	V1beta1__AllocateRequest *req = v1beta1__allocate_request__unpack(NULL, len, msg);
	V1beta1__AllocateResponse *resp;

	if (!req) {
		if (reply->status != DP_STATUS_INVALID_ARGUMENT)
			abort();
		return;
	}
	if (reply->status != DP_STATUS_OK) {
		v1beta1__allocate_request__free_unpacked(req, NULL);
		return;
	}
	resp = v1beta1__allocate_response__unpack(NULL, reply->msg.len, reply->msg.data);
	if (!resp || resp->n_container_responses != req->n_container_requests)
		abort();
	for (size_t i = 0; i < req->n_container_requests; i++) {
		const V1beta1__ContainerAllocateRequest *cr = req->container_requests[i];
		const V1beta1__ContainerAllocateResponse *c = resp->container_responses[i];
		char *joined;
		size_t total = 1;

		if (cr->n_devices_ids == 0) {
			if (c->n_envs || c->n_devices)
				abort();
			continue;
		}
		/* The env var: exactly the requested IDs, in request order. */
		for (size_t j = 0; j < cr->n_devices_ids; j++)
			total += strlen(cr->devices_ids[j]) + 1;
		joined = calloc(1, total);
		if (!joined)
			abort();
		for (size_t j = 0; j < cr->n_devices_ids; j++) {
			if (j)
				strcat(joined, ",");
			strcat(joined, cr->devices_ids[j]);
		}
		if (c->n_envs != 1 || strcmp(c->envs[0]->value, joined) != 0)
			abort();
		free(joined);
		if (c->n_devices < 2 || strcmp(c->devices[0]->host_path, "/dev/vfio/vfio") != 0)
			abort();
		for (size_t j = 0; j < c->n_devices; j++)
			if (strcmp(c->devices[j]->host_path, c->devices[j]->container_path) ||
			    strcmp(c->devices[j]->permissions, "mrw"))
				abort();
	}
	v1beta1__allocate_response__free_unpacked(resp, NULL);
	v1beta1__allocate_request__free_unpacked(req, NULL);
}

static void check_preferred(const uint8_t *msg, size_t len, const struct dp_reply *reply)
{
	V1beta1__PreferredAllocationRequest *req =
		v1beta1__preferred_allocation_request__unpack(NULL, len, msg);
	V1beta1__PreferredAllocationResponse *resp;

	if (!req) {
		if (reply->status != DP_STATUS_INVALID_ARGUMENT)
			abort();
		return;
	}
	if (reply->status != DP_STATUS_OK) {
		v1beta1__preferred_allocation_request__free_unpacked(req, NULL);
		return;
	}
	resp = v1beta1__preferred_allocation_response__unpack(NULL, reply->msg.len,
							      reply->msg.data);
	if (!resp || resp->n_container_responses != req->n_container_requests)
		abort();
	for (size_t i = 0; i < req->n_container_requests; i++) {
		const V1beta1__ContainerPreferredAllocationRequest *cr = req->container_requests[i];
		const V1beta1__ContainerPreferredAllocationResponse *c =
			resp->container_responses[i];
		size_t n_must = 0, size = cr->allocation_size > 0 ? (size_t)cr->allocation_size : 0;

		/* The must-include IDs first, as given (once each); then only available ones. */
		for (size_t j = 0; j < cr->n_must_include_deviceids; j++) {
			const char *id = cr->must_include_deviceids[j];

			if (in_ids(cr->must_include_deviceids, j, id))
				continue;
			if (n_must >= c->n_deviceids || strcmp(c->deviceids[n_must], id))
				abort();
			n_must++;
		}
		if (c->n_deviceids > (n_must > size ? n_must : size))
			abort();
		for (size_t j = 0; j < c->n_deviceids; j++) {
			if (in_ids(c->deviceids, j, c->deviceids[j]))
				abort();
			if (j >= n_must && !in_ids(cr->available_deviceids,
						   cr->n_available_deviceids, c->deviceids[j]))
				abort();
		}
	}
	v1beta1__preferred_allocation_response__free_unpacked(resp, NULL);
	v1beta1__preferred_allocation_request__free_unpacked(req, NULL);
}

static void check_list(struct dp_plugin *p)
{
	V1beta1__ListAndWatchResponse *l;
	struct dp_bytes b = {};

	if (dp_plugin_list(p, &b) < 0)
		return;
	l = v1beta1__list_and_watch_response__unpack(NULL, b.len, b.data);
	if (!l)
		abort();
	for (size_t i = 0; i < l->n_devices; i++) {
		const V1beta1__Device *d = l->devices[i];

		if (strcmp(d->health, "Healthy") && strcmp(d->health, "Unhealthy"))
			abort();
		if (i && strcmp(l->devices[i - 1]->id, d->id) >= 0)
			abort();
	}
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	free(b.data);
}

static void call(struct dp_plugin *p, enum dp_rpc rpc, const uint8_t *msg, size_t len)
{
	struct dp_reply reply = {};

	dp_plugin_call(p, rpc, msg, len, &reply);
	switch (reply.status) {
	case DP_STATUS_OK:
		if (!reply.msg.data || reply.details)
			abort();
		break;
	case DP_STATUS_INVALID_ARGUMENT:
	case DP_STATUS_FAILED_PRECONDITION:
	case DP_STATUS_INTERNAL:
		/* A refusal says why. */
		if (reply.msg.data || !reply.details || !reply.details[0])
			abort();
		break;
	case DP_STATUS_NOT_FOUND:
	case DP_STATUS_UNIMPLEMENTED:
	case DP_STATUS_UNAVAILABLE:
		abort();
	}
	if (rpc == DP_RPC_ALLOCATE)
		check_allocate(msg, len, &reply);
	else if (rpc == DP_RPC_GET_PREFERRED_ALLOCATION)
		check_preferred(msg, len, &reply);
	else if (rpc == DP_RPC_LIST_AND_WATCH && reply.status != DP_STATUS_INTERNAL)
		abort();
	free(reply.msg.data);
	free(reply.details);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dp_rpc rpcs[] = {DP_RPC_ALLOCATE, DP_RPC_GET_PREFERRED_ALLOCATION,
					   DP_RPC_GET_DEVICE_PLUGIN_OPTIONS,
					   DP_RPC_PRE_START_CONTAINER};
	struct dp_plugin *plugins[2];
	const struct resource_pool *pools[2] = {mdev_pools, pci_pools};

	plugins[0] = dp_plugin_new(mdev_pools[0].name, RESOURCE_MDEV);
	plugins[1] = dp_plugin_new(pci_pools[0].name, RESOURCE_PCI);
	if (!plugins[0] || !plugins[1])
		abort();
	for (int k = 0; k < 2; k++)
		if (dp_plugin_set_pool(plugins[k], &pools[k][0], sysfs_fd, k == 0) != 1)
			abort();

	for (int rec = 0; rec < 16 && size >= 3; rec++) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;
		struct dp_plugin *p = plugins[(op >> 3) & 1];
		const struct resource_pool *pool = pools[(op >> 3) & 1];
		uint8_t *msg;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		/* An exact copy, so that ASan sees a read past the message. */
		msg = malloc(len ? len : 1);
		if (!msg)
			abort();
		memcpy(msg, data, len);
		data += len;
		size -= len;

		if (op & 0x10) {
			call(p, DP_RPC_LIST_AND_WATCH, msg, len);
		} else {
			switch (op & 7) {
			case 0:
			case 1:
			case 2:
			case 3:
				call(p, rpcs[op & 7], msg, len);
				break;
			case 4:
				check_list(p);
				break;
			case 5:
			case 6:
				if (dp_plugin_set_pool(p, &pool[(op & 7) == 5], sysfs_fd, true) < 0)
					abort();
				break;
			case 7:
				if (dp_plugin_set_pool(p, NULL, sysfs_fd, true) < 0)
					abort();
				break;
			}
		}
		free(msg);
	}
	dp_plugin_free(plugins[0]);
	dp_plugin_free(plugins[1]);
	return 0;
}
