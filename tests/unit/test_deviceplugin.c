/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp: the device-plugin logic without transport. Requests are packed and replies
 * unpacked with the protobuf-c code generated from mdevd/kubernetes/deviceplugin.proto, exactly
 * as the gRPC adapter hands them over. tests/kubelet/ covers the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MDEVD_TEST_FIXTURE_INVENTORY
#include "testutil.h"
#include "mdevd/policy.h"
#include "mdevd/resource.h"
#include "kubernetes/deviceplugin.h"
#include "mdevd/kubernetes/deviceplugin.pb-c.h"

#define A1     "a1a1a1a1-0000-4000-8000-000000000001"
#define A2     "a2a2a2a2-0000-4000-8000-000000000002"
#define B1     "b1b1b1b1-0000-4000-8000-000000000001"
#define B2     "b2b2b2b2-0000-4000-8000-000000000002"
#define B3     "b3b3b3b3-0000-4000-8000-000000000003"
#define C1     "c1c1c1c1-0000-4000-8000-000000000001"
#define NV     "nvidia.com/GRID_T4-1Q"
#define NV_ENV "MDEV_PCI_RESOURCE_NVIDIA_COM_GRID_T4-1Q"

/*
 * One vGPU per VF (NVIDIA Ampere+), VFs of two PFs on NUMA node 0 (3b: A1, A2; 3c: C1) and
 * of one on node 1 (af: B1..B3): each mdev has its own parent, the PF is the card.
 */
#define NV_DEVICE(id_, group, node, vf, pf)                                                        \
	{                                                                                          \
		.id = id_, .iommu_group = group, .numa_node = node, .parent = vf, .card = pf,      \
		.healthy = true                                                                    \
	}

static struct resource_device nv_devices[] = {
	NV_DEVICE(A1, 41, 0, "0000:3b:00.4", "0000:3b:00.0"),
	NV_DEVICE(A2, 42, 0, "0000:3b:00.5", "0000:3b:00.0"),
	NV_DEVICE(B1, 51, 1, "0000:af:00.4", "0000:af:00.0"),
	NV_DEVICE(B2, 52, 1, "0000:af:00.5", "0000:af:00.0"),
	NV_DEVICE(B3, 53, 1, "0000:af:00.6", "0000:af:00.0"),
	NV_DEVICE(C1, 45, 0, "0000:3c:00.4", "0000:3c:00.0"),
};

static const struct resource_pool nv_pool = {
	.name = NV,
	.kind = RESOURCE_MDEV,
	.devices = nv_devices,
	.n_devices = ARRAY_SIZE(nv_devices),
};

static struct dp_plugin *nv_plugin(void)
{
	struct dp_plugin *p = dp_plugin_new(NV, RESOURCE_MDEV);

	assert_non_null(p);
	assert_int_equal(dp_plugin_set_pool(p, &nv_pool, -1, false), 1);
	return p;
}

static V1beta1__ListAndWatchResponse *get_list(struct dp_plugin *p)
{
	struct dp_bytes b = {};
	V1beta1__ListAndWatchResponse *l;

	assert_int_equal(dp_plugin_list(p, &b), 0);
	l = v1beta1__list_and_watch_response__unpack(NULL, b.len, b.data);
	free(b.data);
	assert_non_null(l);
	return l;
}

/* Allocate one container with @ids; returns the reply (status, unpacked response or NULL). */
static V1beta1__AllocateResponse *allocate(struct dp_plugin *p, const char **ids, size_t n,
					   struct dp_reply *reply)
{
	V1beta1__ContainerAllocateRequest cr = V1BETA1__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__ContainerAllocateRequest *crp = &cr;
	V1beta1__AllocateRequest req = V1BETA1__ALLOCATE_REQUEST__INIT;
	uint8_t buf[4096];
	size_t len;
	V1beta1__AllocateResponse *resp = NULL;

	cr.devices_ids = (char **)ids;
	cr.n_devices_ids = n;
	req.container_requests = &crp;
	req.n_container_requests = 1;
	len = v1beta1__allocate_request__pack(&req, buf);
	*reply = (struct dp_reply){};
	dp_plugin_call(p, DP_RPC_ALLOCATE, buf, len, reply);
	if (reply->status == DP_STATUS_OK) {
		resp = v1beta1__allocate_response__unpack(NULL, reply->msg.len, reply->msg.data);
		assert_non_null(resp);
	}
	return resp;
}

static void reply_clear(struct dp_reply *r)
{
	free(r->msg.data);
	free(r->details);
	*r = (struct dp_reply){};
}

static void test_socket_names(void **state)
{
	char buf[DP_SOCKET_PATH_MAX], dir[120];

	assert_int_equal(dp_socket_name(DP_DEFAULT_DIR, NV, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "mdevd-nvidia.com_GRID_T4-1Q.sock");
	/* A long directory: the name is hashed, and still fits the 108-byte limit. */
	memset(dir, 'd', 70);
	dir[0] = '/';
	dir[70] = '\0';
	assert_int_equal(dp_socket_name(dir, "example.com/a-very-long-resource-name-for-testing",
					buf, sizeof(buf)),
			 0);
	assert_int_equal(strncmp(buf, "mdevd-", 6), 0);
	assert_int_equal(strlen(buf), strlen("mdevd-") + 16 + strlen(".sock"));
	assert_true(strlen(dir) + 1 + strlen(buf) < DP_SOCKET_PATH_MAX);
	/* Deterministic, and different names hash apart. */
	{
		char again[DP_SOCKET_PATH_MAX], other[DP_SOCKET_PATH_MAX];

		assert_int_equal(dp_socket_name(dir,
						"example.com/a-very-long-resource-name-for-testing",
						again, sizeof(again)),
				 0);
		assert_string_equal(buf, again);
		assert_int_equal(dp_socket_name(dir,
						"example.com/a-very-long-resource-name-for-testinG",
						other, sizeof(other)),
				 0);
		assert_string_not_equal(buf, other);
	}
	/* A directory that leaves no room even for the hash. */
	memset(dir, 'd', 100);
	dir[100] = '\0';
	assert_int_equal(dp_socket_name(dir, NV, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_options_and_register(void **state)
{
	struct dp_plugin *p = nv_plugin();
	V1beta1__DevicePluginOptions *o;
	V1beta1__RegisterRequest *rr;
	struct dp_reply reply = {};
	struct dp_bytes b = {};

	dp_plugin_call(p, DP_RPC_GET_DEVICE_PLUGIN_OPTIONS, (const uint8_t *)"", 0, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	o = v1beta1__device_plugin_options__unpack(NULL, reply.msg.len, reply.msg.data);
	assert_non_null(o);
	assert_true(o->get_preferred_allocation_available);
	assert_false(o->pre_start_required);
	v1beta1__device_plugin_options__free_unpacked(o, NULL);
	reply_clear(&reply);

	dp_plugin_call(p, DP_RPC_PRE_START_CONTAINER, (const uint8_t *)"", 0, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	reply_clear(&reply);

	assert_int_equal(dp_plugin_register_request(p, "mdevd-nvidia.com_GRID_T4-1Q.sock", &b), 0);
	rr = v1beta1__register_request__unpack(NULL, b.len, b.data);
	assert_non_null(rr);
	assert_string_equal(rr->version, "v1beta1");
	assert_string_equal(rr->endpoint, "mdevd-nvidia.com_GRID_T4-1Q.sock");
	assert_string_equal(rr->resource_name, NV);
	assert_non_null(rr->options);
	assert_true(rr->options->get_preferred_allocation_available);
	v1beta1__register_request__free_unpacked(rr, NULL);
	free(b.data);
	dp_plugin_free(p);
}

static void test_list(void **state)
{
	struct resource_device devs[] = {
		{.id = "0000:00:03.0",
		 .iommu_group = 2,
		 .numa_node = -1,
		 .card = "x",
		 .healthy = true},
		{.id = "0000:00:04.0", .iommu_group = -1, .numa_node = 1, .card = "y"},
	};
	struct resource_pool pool = {
		.name = "example.com/edu", .kind = RESOURCE_PCI, .devices = devs, .n_devices = 2};
	struct dp_plugin *p = dp_plugin_new(pool.name, pool.kind);
	V1beta1__ListAndWatchResponse *l;

	l = get_list(p); /* nothing yet */
	assert_int_equal(l->n_devices, 0);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);

	assert_int_equal(dp_plugin_set_pool(p, &pool, -1, false), 1);
	assert_int_equal(dp_plugin_set_pool(p, &pool, -1, false), 0); /* unchanged */
	l = get_list(p);
	assert_int_equal(l->n_devices, 2);
	assert_string_equal(l->devices[0]->id, "0000:00:03.0");
	assert_string_equal(l->devices[0]->health, "Healthy");
	assert_null(l->devices[0]->topology); /* NUMA -1: left out */
	assert_string_equal(l->devices[1]->id, "0000:00:04.0");
	assert_string_equal(l->devices[1]->health, "Unhealthy");
	assert_non_null(l->devices[1]->topology);
	assert_int_equal(l->devices[1]->topology->n_nodes, 1);
	assert_int_equal(l->devices[1]->topology->nodes[0]->id, 1);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);

	/* Stopping: an empty list. */
	assert_int_equal(dp_plugin_set_pool(p, NULL, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 0);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	dp_plugin_free(p);
}

static void assert_specs(const V1beta1__ContainerAllocateResponse *c, const char *const *want,
			 size_t n)
{
	assert_int_equal(c->n_devices, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c->devices[i]->container_path, want[i]);
		assert_string_equal(c->devices[i]->host_path, want[i]);
		assert_string_equal(c->devices[i]->permissions, "mrw");
	}
}

static void test_allocate(void **state)
{
	struct dp_plugin *p = nv_plugin();
	const char *ids[] = {B2, A1};
	static const char *const specs[] = {"/dev/vfio/vfio", "/dev/vfio/52", "/dev/vfio/41"};
	struct dp_reply reply;
	V1beta1__AllocateResponse *r = allocate(p, ids, 2, &reply);

	assert_int_equal(reply.status, DP_STATUS_OK);
	assert_int_equal(r->n_container_responses, 1);
	assert_int_equal(r->container_responses[0]->n_envs, 1);
	assert_string_equal(r->container_responses[0]->envs[0]->key, NV_ENV);
	assert_string_equal(r->container_responses[0]->envs[0]->value, B2 "," A1);
	assert_specs(r->container_responses[0], specs, ARRAY_SIZE(specs));
	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);
	dp_plugin_free(p);
}

static void test_allocate_errors(void **state)
{
	struct dp_plugin *p = nv_plugin();
	const char *unknown[] = {A1, "0000:00:03.0"};
	const char *twice[] = {A1, A1};
	struct dp_reply reply;

	assert_null(allocate(p, unknown, 2, &reply));
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(reply.details, "\"0000:00:03.0\""));
	reply_clear(&reply);

	assert_null(allocate(p, twice, 2, &reply));
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	reply_clear(&reply);

	/* Malformed protobuf, for every unary method. */
	for (int rpc = DP_RPC_GET_DEVICE_PLUGIN_OPTIONS; rpc <= DP_RPC_PRE_START_CONTAINER; rpc++) {
		static const uint8_t junk[] = {0x0a, 0x05, 0xff};

		if (rpc == DP_RPC_LIST_AND_WATCH)
			continue;
		dp_plugin_call(p, rpc, junk, sizeof(junk), &reply);
		assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
		reply_clear(&reply);
	}
	dp_plugin_free(p);
}

/*
 * More than 4096 IDs in one container request: INVALID_ARGUMENT, for Allocate and
 * GetPreferredAllocation, in any container of the request, and nothing leaks (found by
 * tests/fuzz/fuzz_deviceplugin.c: GetPreferredAllocation leaked its answer array for a
 * refused container; `make check-asan` runs this under LeakSanitizer).
 */
static void test_too_many_ids(void **state)
{
	V1beta1__ContainerPreferredAllocationRequest pcr[2] = {
		V1BETA1__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT,
		V1BETA1__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT};
	V1beta1__ContainerPreferredAllocationRequest *pcrp[2] = {&pcr[0], &pcr[1]};
	V1beta1__PreferredAllocationRequest preq = V1BETA1__PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__ContainerAllocateRequest acr = V1BETA1__CONTAINER_ALLOCATE_REQUEST__INIT;
	V1beta1__ContainerAllocateRequest *acrp = &acr;
	V1beta1__AllocateRequest areq = V1BETA1__ALLOCATE_REQUEST__INIT;
	const char *one[] = {A1};
	struct dp_plugin *p = nv_plugin();
	struct dp_reply reply = {};
	char **ids = calloc(4097, sizeof(*ids));
	uint8_t *buf;
	size_t len;

	assert_non_null(ids);
	for (size_t i = 0; i < 4097; i++)
		ids[i] = (char *)(i % 2 ? A1 : A2);
	buf = malloc(4097 * 40 + 64);
	assert_non_null(buf);

	/* The first container is fine, the second asks too much: refused as a whole. */
	pcr[0].available_deviceids = (char **)one;
	pcr[0].n_available_deviceids = 1;
	pcr[0].allocation_size = 1;
	pcr[1].available_deviceids = ids;
	pcr[1].n_available_deviceids = 4097;
	pcr[1].allocation_size = 1;
	preq.container_requests = pcrp;
	preq.n_container_requests = 2;
	len = v1beta1__preferred_allocation_request__pack(&preq, buf);
	dp_plugin_call(p, DP_RPC_GET_PREFERRED_ALLOCATION, buf, len, &reply);
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(reply.details, "4096"));
	reply_clear(&reply);
	/* The same for must-include IDs. */
	pcr[1].available_deviceids = NULL;
	pcr[1].n_available_deviceids = 0;
	pcr[1].must_include_deviceids = ids;
	pcr[1].n_must_include_deviceids = 4097;
	len = v1beta1__preferred_allocation_request__pack(&preq, buf);
	dp_plugin_call(p, DP_RPC_GET_PREFERRED_ALLOCATION, buf, len, &reply);
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	reply_clear(&reply);
	/* 4096 is still answered. */
	pcr[1].n_must_include_deviceids = 4096;
	len = v1beta1__preferred_allocation_request__pack(&preq, buf);
	dp_plugin_call(p, DP_RPC_GET_PREFERRED_ALLOCATION, buf, len, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	reply_clear(&reply);

	acr.devices_ids = ids;
	acr.n_devices_ids = 4097;
	areq.container_requests = &acrp;
	areq.n_container_requests = 1;
	len = v1beta1__allocate_request__pack(&areq, buf);
	dp_plugin_call(p, DP_RPC_ALLOCATE, buf, len, &reply);
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(reply.details, "4097 device IDs"));
	reply_clear(&reply);

	free(buf);
	free(ids);
	dp_plugin_free(p);
}

/* Allocated devices that leave the pool stay listed as unhealthy, and are refused. */
static void test_allocated_kept_unhealthy(void **state)
{
	struct dp_plugin *p = nv_plugin();
	const char *ids[] = {B2};
	struct resource_pool smaller = nv_pool;
	struct resource_device devs[4];
	V1beta1__ListAndWatchResponse *l;
	struct dp_reply reply;
	V1beta1__AllocateResponse *r = allocate(p, ids, 1, &reply);

	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);

	/* B2 (allocated) and B3 (not) leave the pool. */
	memcpy(devs, nv_devices, 3 * sizeof(*devs)); /* A1 A2 B1 */
	devs[3] = nv_devices[5];		     /* C1 */
	smaller.devices = devs;
	smaller.n_devices = 4;
	assert_int_equal(dp_plugin_set_pool(p, &smaller, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 5);
	assert_string_equal(l->devices[3]->id, B2);
	assert_string_equal(l->devices[3]->health, "Unhealthy");
	assert_int_equal(l->devices[3]->topology->nodes[0]->id, 1);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);

	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(reply.details, B2));
	reply_clear(&reply);
	ids[0] = B3;
	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	reply_clear(&reply);

	/* Still kept on the next update; healthy again once it is back. */
	assert_int_equal(dp_plugin_set_pool(p, &smaller, -1, false), 0);
	assert_int_equal(dp_plugin_set_pool(p, &nv_pool, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 6);
	for (size_t i = 0; i < l->n_devices; i++)
		assert_string_equal(l->devices[i]->health, "Healthy");
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	dp_plugin_free(p);
}

/*
 * A listed device that is still on the node but unserved (unbound from vfio-pci) stays listed,
 * unhealthy, and Allocate refuses it with the reason; once truly gone (and never allocated)
 * it vanishes; a device that was never listed is not added because it is unserved.
 */
static void test_unserved_kept_unhealthy(void **state)
{
	struct resource_device devs[] = {
		{.id = "0000:00:03.0",
		 .iommu_group = 2,
		 .numa_node = 1,
		 .card = "0000:00:03.0",
		 .healthy = true},
		{.id = "0000:00:04.0",
		 .iommu_group = 3,
		 .numa_node = -1,
		 .card = "0000:00:04.0",
		 .healthy = true},
	};
	struct resource_unserved unbound[] = {
		{.id = "0000:00:03.0", .reason = "bound to no driver, not vfio-pci"},
		{.id = "0000:00:05.0", .reason = "bound to pci-stub, not vfio-pci"},
	};
	struct resource_pool pool = {
		.name = "example.com/edu", .kind = RESOURCE_PCI, .devices = devs, .n_devices = 2};
	struct resource_pool left = pool;
	struct dp_plugin *p = dp_plugin_new(pool.name, pool.kind);
	const char *ids[] = {"0000:00:03.0"};
	V1beta1__ListAndWatchResponse *l;
	V1beta1__AllocateResponse *r;
	struct dp_reply reply;

	assert_int_equal(dp_plugin_set_pool(p, &pool, -1, false), 1);

	/* 03.0 unbound from vfio-pci: unserved; 04.0 hot-removed: gone; 05.0 never listed. */
	left.devices = NULL;
	left.n_devices = 0;
	left.unserved = unbound;
	left.n_unserved = ARRAY_SIZE(unbound);
	assert_int_equal(dp_plugin_set_pool(p, &left, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 1);
	assert_string_equal(l->devices[0]->id, "0000:00:03.0");
	assert_string_equal(l->devices[0]->health, "Unhealthy");
	assert_non_null(l->devices[0]->topology);
	assert_int_equal(l->devices[0]->topology->nodes[0]->id, 1);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);

	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(reply.details, "\"0000:00:03.0\""));
	assert_non_null(strstr(reply.details, "bound to no driver, not vfio-pci"));
	reply_clear(&reply);
	ids[0] = "0000:00:04.0"; /* gone: unknown */
	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	reply_clear(&reply);
	ids[0] = "0000:00:05.0"; /* unserved but never listed: unknown */
	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_INVALID_ARGUMENT);
	reply_clear(&reply);

	/* Unchanged on the next update; Healthy again when rebound. */
	assert_int_equal(dp_plugin_set_pool(p, &left, -1, false), 0);
	pool.n_devices = 1;
	assert_int_equal(dp_plugin_set_pool(p, &pool, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 1);
	assert_string_equal(l->devices[0]->health, "Healthy");
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	ids[0] = "0000:00:03.0";
	r = allocate(p, ids, 1, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);

	/* Unbound again, then removed from the node: allocated, so kept (left the pool). */
	assert_int_equal(dp_plugin_set_pool(p, &left, -1, false), 1);
	left.n_unserved = 0;
	assert_int_equal(dp_plugin_set_pool(p, &left, -1, false), 0); /* still Unhealthy */
	l = get_list(p);
	assert_int_equal(l->n_devices, 1);
	assert_string_equal(l->devices[0]->health, "Unhealthy");
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	assert_null(allocate(p, ids, 1, &reply));
	assert_int_equal(reply.status, DP_STATUS_FAILED_PRECONDITION);
	assert_non_null(strstr(reply.details, "it left the pool"));
	reply_clear(&reply);

	/* Stopping: nothing kept. */
	assert_int_equal(dp_plugin_set_pool(p, NULL, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 0);
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	dp_plugin_free(p);
}

/* An unserved mdev (its UUID now served by an earlier pool) is kept too; a gone one is not. */
static void test_unserved_mdev(void **state)
{
	struct resource_unserved other[] = {{.id = B1, .reason = "already served as \"x/y\""}};
	struct resource_pool smaller = nv_pool;
	struct dp_plugin *p = nv_plugin();
	V1beta1__ListAndWatchResponse *l;

	smaller.devices = nv_devices; /* A1 A2 only: B1 unserved, B2 B3 C1 gone */
	smaller.n_devices = 2;
	smaller.unserved = other;
	smaller.n_unserved = 1;
	assert_int_equal(dp_plugin_set_pool(p, &smaller, -1, false), 1);
	l = get_list(p);
	assert_int_equal(l->n_devices, 3);
	assert_string_equal(l->devices[0]->id, A1);
	assert_string_equal(l->devices[0]->health, "Healthy");
	assert_string_equal(l->devices[1]->id, A2);
	assert_string_equal(l->devices[2]->id, B1);
	assert_string_equal(l->devices[2]->health, "Unhealthy");
	v1beta1__list_and_watch_response__free_unpacked(l, NULL);
	dp_plugin_free(p);
}

/* iommufd: /dev/vfio/devices/vfioN per device with a cdev, then /dev/iommu. */
static void test_allocate_iommufd(void **state)
{
	char root[] = "/tmp/mdevd-dp-XXXXXX", path[256];
	struct resource_device devs[] = {
		{.id = "0000:00:03.0",
		 .iommu_group = 2,
		 .numa_node = -1,
		 .card = "a",
		 .healthy = true},
		{.id = "0000:00:04.0",
		 .iommu_group = 3,
		 .numa_node = -1,
		 .card = "b",
		 .healthy = true},
		{.id = "0000:00:04.1",
		 .iommu_group = 3,
		 .numa_node = -1,
		 .card = "b",
		 .healthy = true},
	};
	struct resource_pool pool = {
		.name = "example.com/edu", .kind = RESOURCE_PCI, .devices = devs, .n_devices = 3};
	static const char *const with[] = {"/dev/vfio/vfio", "/dev/vfio/3",
					   "/dev/vfio/devices/vfio7", "/dev/vfio/2", "/dev/iommu"};
	static const char *const without[] = {"/dev/vfio/vfio", "/dev/vfio/3", "/dev/vfio/2"};
	const char *ids[] = {"0000:00:04.0", "0000:00:03.0", "0000:00:04.1"};
	struct dp_plugin *p = dp_plugin_new(pool.name, pool.kind);
	V1beta1__AllocateResponse *r;
	struct dp_reply reply;
	int fd;

	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "mkdir -p %s/bus/pci/devices/0000:00:04.0/vfio-dev/vfio7",
		 root);
	assert_int_equal(system(path), 0);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);

	assert_int_equal(dp_plugin_set_pool(p, &pool, fd, true), 1);
	r = allocate(p, ids, 3, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	assert_string_equal(r->container_responses[0]->envs[0]->key,
			    "PCI_RESOURCE_EXAMPLE_COM_EDU");
	assert_string_equal(r->container_responses[0]->envs[0]->value,
			    "0000:00:04.0,0000:00:03.0,0000:00:04.1");
	/* One spec per group, even for two functions in one group. */
	assert_specs(r->container_responses[0], with, ARRAY_SIZE(with));
	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);

	/* The kernel without iommufd (no /dev/iommu): groups only. */
	dp_plugin_set_pool(p, &pool, fd, false);
	r = allocate(p, ids, 3, &reply);
	assert_specs(r->container_responses[0], without, ARRAY_SIZE(without));
	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);

	close(fd);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	assert_int_equal(system(path), 0);
	dp_plugin_free(p);
}

/*
 * NVIDIA vendor-specific VFIO, from the mixed fixture through resource_build(): the VFs that
 * hold L40S-12Q form a PCI pool (mdevNameSelector), and Allocate answers with KubeVirt's PCI
 * contract: PCI_RESOURCE_<NAME> = the VF addresses, their groups, their iommufd cdevs and
 * /dev/iommu (the fixture's configured VFs have vfio-dev/vfio0 and vfio1).
 */
static void test_allocate_vendor_vfio_pool(void **state)
{
	static const char json[] =
		"{\"permittedHostDevices\": {\"mediatedDevices\": [{\"mdevNameSelector\": "
		"\"NVIDIA L40S-12Q\", \"resourceName\": \"nvidia.com/L40S-12Q\", "
		"\"externalResourceProvider\": true}]}}";
	static const char *const with[] = {"/dev/vfio/vfio",	      "/dev/vfio/502",
					   "/dev/vfio/devices/vfio1", "/dev/vfio/501",
					   "/dev/vfio/devices/vfio0", "/dev/iommu"};
	const char *ids[] = {"0000:41:00.5", "0000:41:00.4"};
	_cleanup_(inventory_freep) struct inventory *inv = fixture_inventory("mixed");
	_cleanup_(policy_freep) struct policy *pol = NULL;
	_cleanup_(resource_set_freep) struct resource_set *set = NULL;
	const struct resource_pool *pool;
	struct pol_error err;
	struct dp_plugin *p;
	V1beta1__AllocateResponse *r;
	struct dp_reply reply;
	int fd;

	assert_int_equal(pol_parse(json, strlen(json), &pol, &err), 0);
	assert_int_equal(resource_build(inv, pol, &set), 0);
	pool = resource_get_pool(set, "nvidia.com/L40S-12Q");
	assert_non_null(pool);
	assert_int_equal(pool->kind, RESOURCE_PCI);
	assert_int_equal(pool->n_devices, 2);
	assert_string_equal(pool->devices[0].id, "0000:41:00.4");
	assert_string_equal(pool->devices[0].card, "0000:41:00.0");
	assert_string_equal(resource_device_physfn(&pool->devices[0]), "0000:41:00.0");
	assert_int_equal(pool->devices[0].numa_node, 1);
	fd = open(FIXTURES "/mixed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	p = dp_plugin_new(pool->name, pool->kind);
	assert_int_equal(dp_plugin_set_pool(p, pool, fd, true), 1);
	r = allocate(p, ids, 2, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	assert_string_equal(r->container_responses[0]->envs[0]->key,
			    "PCI_RESOURCE_NVIDIA_COM_L40S-12Q");
	assert_string_equal(r->container_responses[0]->envs[0]->value, "0000:41:00.5,0000:41:00.4");
	assert_specs(r->container_responses[0], with, ARRAY_SIZE(with));
	v1beta1__allocate_response__free_unpacked(r, NULL);
	reply_clear(&reply);
	close(fd);
	dp_plugin_free(p);
}

/* GetPreferredAllocation for one container; @want NULL-terminated. */
static void check_preferred(struct dp_plugin *p, const char **avail, size_t n_avail,
			    const char **must, size_t n_must, int size, const char *const *want)
{
	V1beta1__ContainerPreferredAllocationRequest cr =
		V1BETA1__CONTAINER_PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__ContainerPreferredAllocationRequest *crp = &cr;
	V1beta1__PreferredAllocationRequest req = V1BETA1__PREFERRED_ALLOCATION_REQUEST__INIT;
	V1beta1__PreferredAllocationResponse *resp;
	struct dp_reply reply = {};
	uint8_t buf[4096];
	size_t len, n_want = 0;

	cr.available_deviceids = (char **)avail;
	cr.n_available_deviceids = n_avail;
	cr.must_include_deviceids = (char **)must;
	cr.n_must_include_deviceids = n_must;
	cr.allocation_size = size;
	req.container_requests = &crp;
	req.n_container_requests = 1;
	len = v1beta1__preferred_allocation_request__pack(&req, buf);
	dp_plugin_call(p, DP_RPC_GET_PREFERRED_ALLOCATION, buf, len, &reply);
	assert_int_equal(reply.status, DP_STATUS_OK);
	resp = v1beta1__preferred_allocation_response__unpack(NULL, reply.msg.len, reply.msg.data);
	assert_non_null(resp);
	assert_int_equal(resp->n_container_responses, 1);
	while (want[n_want])
		n_want++;
	assert_int_equal(resp->container_responses[0]->n_deviceids, n_want);
	for (size_t i = 0; i < n_want; i++)
		assert_string_equal(resp->container_responses[0]->deviceids[i], want[i]);
	v1beta1__preferred_allocation_response__free_unpacked(resp, NULL);
	reply_clear(&reply);
}

static void test_preferred(void **state)
{
	struct dp_plugin *p = nv_plugin();
	const char *all[] = {B3, A1, C1, B1, A2, B2};
	const char *rev[] = {B2, A2, B1, C1, A1, B3};
	static const struct {
		const char *must[3];
		int size;
		const char *want[7];
	} cases[] = {
		/* Node 0 and node 1 both have 3: the lower node; then the fuller card. */
		{{}, 1, {A1}},
		{{}, 2, {A1, A2}},
		{{}, 3, {A1, A2, C1}},
		/* No node has 4: the one with the most (tie: lower), then the rest. */
		{{}, 4, {A1, A2, C1, B1}},
		{{}, 6, {A1, A2, C1, B1, B2, B3}},
		{{}, 9, {A1, A2, C1, B1, B2, B3}}, /* more than available: all of them */
		{{B2}, 1, {B2}},
		{{B2}, 2, {B2, B1}}, /* the must-include's node and PF */
		{{C1}, 2, {C1, A1}}, /* C1's PF has no other: fewest cards on the node */
		{{B3, A2}, 3, {B3, A2, A1}},
		{{B3, B1}, 1, {B3, B1}}, /* must-include beyond the size: all of them */
		{{B3, B3}, 2, {B3, B1}}, /* duplicates dropped */
	};
	const char *kept[] = {A1, A2, B1, C1};
	struct resource_pool smaller = nv_pool;
	struct resource_device devs[6];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n_must = 0;

		while (n_must < 3 && cases[i].must[n_must])
			n_must++;
		check_preferred(p, all, 6, (const char **)cases[i].must, n_must, cases[i].size,
				cases[i].want);
		check_preferred(p, rev, 6, (const char **)cases[i].must, n_must, cases[i].size,
				cases[i].want);
	}
	/* Unknown IDs come last; unhealthy ones are never preferred. */
	{
		const char *avail[] = {"zzz", B1, "aaa"};
		static const char *const want[] = {B1, "aaa", "zzz", NULL};

		check_preferred(p, avail, 3, NULL, 0, 3, want);
	}
	memcpy(devs, nv_devices, sizeof(devs));
	devs[0].healthy = false; /* A1 */
	smaller.devices = devs;
	assert_int_equal(dp_plugin_set_pool(p, &smaller, -1, false), 1);
	{
		static const char *const want[] = {A2, C1, NULL};

		check_preferred(p, kept, 4, NULL, 0, 2, want);
	}
	dp_plugin_free(p);
}

/*
 * Preference goes by card, not by parent: VFs of one PF are different parents on one card.
 * Grouped by parent, B1 (0000:3b:00.4 sorts first) would win both requests.
 */
static void test_preferred_by_card(void **state)
{
	struct resource_device devs[] = {
		NV_DEVICE(A1, 41, 0, "0000:af:00.4", "0000:af:00.0"),
		NV_DEVICE(A2, 42, 0, "0000:af:00.5", "0000:af:00.0"),
		NV_DEVICE(B1, 51, 0, "0000:3b:00.4", "0000:3b:00.0"),
	};
	struct resource_pool pool = {
		.name = NV, .kind = RESOURCE_MDEV, .devices = devs, .n_devices = ARRAY_SIZE(devs)};
	struct dp_plugin *p = dp_plugin_new(NV, RESOURCE_MDEV);
	const char *avail[] = {B1, A2, A1}, *must[] = {A1};
	static const char *const same_card[] = {A1, A2, NULL}, *const fullest[] = {A1, NULL};

	assert_non_null(p);
	assert_int_equal(dp_plugin_set_pool(p, &pool, -1, false), 1);
	check_preferred(p, avail, 3, must, 1, 2, same_card); /* the must-include's card */
	check_preferred(p, avail, 3, NULL, 0, 1, fullest);   /* the card with the most */
	dp_plugin_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_names),
		cmocka_unit_test(test_options_and_register),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_allocate),
		cmocka_unit_test(test_allocate_errors),
		cmocka_unit_test(test_too_many_ids),
		cmocka_unit_test(test_allocated_kept_unhealthy),
		cmocka_unit_test(test_unserved_kept_unhealthy),
		cmocka_unit_test(test_unserved_mdev),
		cmocka_unit_test(test_allocate_iommufd),
		cmocka_unit_test(test_allocate_vendor_vfio_pool),
		cmocka_unit_test(test_preferred),
		cmocka_unit_test(test_preferred_by_card),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
