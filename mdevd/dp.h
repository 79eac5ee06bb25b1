/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dp: the Kubernetes device-plugin endpoints (v1beta1), one per resource pool.
 * The daemon's main thread owns the manager and calls it; gRPC's threads stay
 * inside the gRPC adapter (dp_grpc.c) and never call back into the daemon except
 * through the eventfd given at creation.
 *
 * Source of truth: k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1 (api.proto,
 * constants.go) and KubeVirt's env-var contract for external providers (DESIGN.md).
 */
#pragma once

#include "mdevd/resource.h"

struct dp_manager;

/*
 * dp_manager_new - prepare to serve plugins under @plugin_dir (kubelet.sock lives
 * there). Serves nothing until dp_manager_update(). Returns 0, -ENOMEM, or -errno.
 */
int dp_manager_new(const char *plugin_dir, struct dp_manager **out);

/*
 * dp_manager_update - make the served plugins match @set: a new pool starts a
 * plugin (serve, then Register with kubelet), a pool that is gone sends an empty
 * list and stops, a changed pool sends its new full list to every ListAndWatch
 * stream. The manager copies what it needs from @set. Returns 0 or -errno.
 */
int dp_manager_update(struct dp_manager *m, const struct resource_set *set);

/*
 * dp_manager_kubelet_restarted - kubelet deleted our sockets and re-created
 * kubelet.sock: serve again on new sockets and register again. Returns 0 or -errno.
 */
int dp_manager_kubelet_restarted(struct dp_manager *m);

/* dp_manager_free - send every stream an empty list, stop, remove our sockets. */
void dp_manager_free(struct dp_manager *m);
