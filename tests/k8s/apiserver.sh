#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/apiserver.sh — `mdevd run` following a REAL kube-apiserver (and etcd), both on
# 127.0.0.1 only, built from the Go module proxy by tests/k8s/build.sh (Kubernetes at the
# release tests/k8s/go.mod pins). What it proves:
#   - the KubeVirt CR's spec.configuration becomes the policy (through the same parser as a
#     file); only externalResourceProvider entries are served, `status` says who serves
#     each; an edit re-plans live (a pciHostDevices entry added, then removed);
#   - a garbage edit is rejected, logged once, shown by `status`, and the last good policy
#     keeps serving; fixing it is taken;
#   - a label change on the watched Node switches the nodeMediatedDeviceTypes entry;
#   - the HyperConverged CR (pciDeviceSelector, as the OpenShift guide edits it);
#   - kube-apiserver restarted (the watch resumes or re-lists after 410 Gone), and a revoked
#     service-account token (401, logged once; a new token in the file is picked up) are
#     survived;
#   - Events on the Node (kube_recorder.h): a garbage edit posts PolicyRejected, which
#     `kubectl get events` and `kubectl describe node` show; a repeat of it raises the count
#     of the same Event; a device kubelet is listed Unhealthy (the edu function unbound from
#     vfio-pci in a copy of the fixture tree, then SIGHUP) posts DeviceUnhealthy, counted in
#     mdevd_node_events_total;
#   - the client certificate of mdevd's group needs nothing beyond
#     deploy/kubernetes/rbac.yaml's ClusterRole (the Events included).
# The CRDs are minimal: kubevirt.io/v1 KubeVirt and hco.kubevirt.io/v1beta1 HyperConverged
# with an open schema (x-kubernetes-preserve-unknown-fields: true), not the published
# schemas (those come with the operators' Go modules, not fetched here): the server keeps
# whatever the CR says, so a garbage edit reaches mdevd as it would reach virt-handler
# without a validating webhook.
#
# The control plane's setup (certificates, kubeconfigs, etcd, kube-apiserver, the CRDs and
# RBAC) is tests/k8s/cluster-lib.sh, which tests/vm/guest-cluster.sh runs in the guest too.
#
# Waits are for a log line or a status field, with a deadline (WAIT, default 60 s) that only
# a hang reaches; nothing asserts on time. Needs root (CI is root) and the built binaries.
# Prints "ok N - desc" / "not ok N - desc" and ends with "N passed, N failed".
# Environment: MDEVD (default mdevd/mdevd), KEEP=1 keeps the work dir, WAIT.
set -u
cd "$(dirname "$0")/../.." || exit 1
repo=$PWD
MDEVD=${MDEVD:-$repo/mdevd/mdevd}
case $MDEVD in /*) ;; *) MDEVD=$repo/$MDEVD ;; esac
WAIT=${WAIT:-60}
MID=0123456789abcdef0123456789abcdef
n=0 passed=0 failed=0

die() { # the cluster cannot be had: one failure, and why
	echo "apiserver tests: $*"
	echo "0 passed, 1 failed"
	exit 1
}
[ "$(id -u)" = 0 ] || die "must run as root (kube-apiserver and etcd on loopback ports, like CI)"
[ -x "$MDEVD" ] || die "$MDEVD is not built (run make)"
for c in openssl python3 curl; do
	command -v $c >/dev/null || die "$c is needed (scripts/deps.sh)"
done
bins=$(tests/k8s/build.sh kube-apiserver etcd kubectl) ||
	die "tests/k8s/build.sh kube-apiserver etcd kubectl failed: the binaries cannot be built (Go and the module proxy are needed)"
eval "$bins"
kbin=$K8S_BIN
for b in kube-apiserver etcd kubectl; do
	[ -x "$kbin/$b" ] || die "$kbin/$b is missing after build.sh"
done

work=$(mktemp -d /tmp/mdevd-apiserver.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The control plane: tests/k8s/cluster-lib.sh, shared with the guest's cluster
# (tests/vm/guest-cluster.sh).
. tests/k8s/cluster-lib.sh
cluster_init || die "no free loopback ports"
out=$(cluster_pki) || die "$out"
cluster_kubeconfig "$work/mdevd.kubeconfig" "client-certificate: mdevd.crt" "client-key: mdevd.key"
cp "$pki/mdevd.crt" "$pki/mdevd.key" "$work/" # relative names: next to the kubeconfig
cluster_kubeconfig "$work/token.kubeconfig" "tokenFile: $work/token"

cluster_start_etcd
cluster_start_apiserver
t0=$SECONDS
cluster_api_ready "$WAIT" || { tail -20 "$work/apiserver.log"; die "kube-apiserver did not become ready on $server"; }
echo "# kube-apiserver and etcd ready on 127.0.0.1 in $((SECONDS - t0)) s"

# ------------------------------------------------------------ the cluster's objects
out=$(cluster_objects "$WAIT") || die "$out"
kc apply -f - >/dev/null <<EOF || die "the Node cannot be created"
apiVersion: v1
kind: Node
metadata:
  name: test-node
  labels: {kubernetes.io/hostname: test-node, mdevd-test/pool: dual}
EOF
# Two entries, one served by mdevd (external), one by virt-handler; per-node types.
kc apply -f - >/dev/null <<EOF || die "the KubeVirt CR cannot be created"
apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata: {name: kubevirt, namespace: kubevirt}
spec:
  configuration:
    developerConfiguration: {featureGates: [HostDevices]}
    permittedHostDevices:
      mediatedDevices:
      - {mdevNameSelector: Dual port serial, resourceName: example.com/MTTY_DUAL, externalResourceProvider: true}
      - {mdevNameSelector: Single port serial, resourceName: example.com/MTTY_SINGLE}
    mediatedDevicesConfiguration:
      mediatedDeviceTypes: [mtty-2]
      nodeMediatedDeviceTypes:
      - nodeSelector: {mdevd-test/pool: single}
        mediatedDeviceTypes: [mtty-1]
EOF

# ------------------------------------------------------------ helpers
say() { printf '%s\n' "$*"; }
check() { # check DESCRIPTION FUNCTION
	n=$((n + 1))
	local st=0
	# In this shell, not a subshell: a test restarts servers the next ones use.
	"$2" >"$work/check.out" 2>&1 || st=$?
	if [ $st = 0 ]; then
		passed=$((passed + 1))
		say "ok $n - $1"
		grep '^#' "$work/check.out"
	else
		failed=$((failed + 1))
		say "not ok $n - $1"
		tail -20 "$work/check.out" | sed 's/^/#   /'
		tail -15 "$log" | sed 's/^/#   log: /'
	fi
}
fail() { echo "FAIL: $*"; return 1; }
. "$repo/tests/wait.sh" # wait_for SECONDS COMMAND..., wait_exit SECONDS PID
quiet() { "$@" >/dev/null 2>&1; }
wait_ok() { wait_for "$WAIT" quiet "$@"; } # wait_ok COMMAND...: until it succeeds, within WAIT
logged() { grep -Eq -- "$1" "$log"; }
count() { grep -Ec -- "$1" "$log" || true; }
wait_log() { wait_ok logged "$1" || fail "no log line /$1/ within $WAIT s"; }
# status EXPR: the daemon's status document, EXPR evaluated on it as d (Python)
status() {
	"$MDEVD" status --socket "$sock" -o json 2>/dev/null |
		python3 -c "import json,sys; d=json.load(sys.stdin); r=$1; print(r); sys.exit(0 if r else 1)"
}
wait_status() { wait_ok status "$1" || { status "d.get('$2')" 2>/dev/null; fail "status never had: $1"; }; }
generation() { status "d['generation']"; }
# events REASON EXPR: the Node's Events of REASON as the list e, EXPR evaluated on it (Python)
events() {
	kc get events -n default --field-selector "involvedObject.name=test-node,reason=$1" -o json |
		python3 -c "import json,sys; e=json.load(sys.stdin)['items']; r=($2); print(r); sys.exit(0 if r else 1)"
}
wait_events() { wait_ok events "$1" "$2" || { events "$1" "e"; fail "no $1 Event with: $2"; }; }

tree=$work/tree
mkdir -p "$tree/proc"
cp -a tests/fixtures/samples "$tree/sys"
start_mdevd() { # start_mdevd NAME ARGS...: its log is $work/NAME.log
	local name=$1
	shift
	"$MDEVD" --sysfs-root "$tree/sys" --proc-root "$tree/proc" --machine-id $MID run \
		--no-apply --no-device-plugins --no-libvirt --resync 0 \
		--status-socket "$work/$name.sock" "$@" 2>"$work/$name.log" &
	pids+=($!)
	mdevd_pid=$!
	log=$work/$name.log sock=$work/$name.sock
}

# ------------------------------------------------------------ tests
start_mdevd kv --policy-source kubevirt --kubeconfig "$work/mdevd.kubeconfig" --node-name test-node
kv_pid=$mdevd_pid

t_first_policy() {
	wait_log 'policy reloaded: generation 2 \(KubeVirt CR, from KubeVirt kubevirt/kubevirt\)' || return 1
	wait_status "d['ready'] is False or d['ready'] is True" || return 1
	status "[h['served_by'] for h in d['host_devices']] == ['mdevd', 'virt-handler']" ||
		fail "who serves what" || return 1
	status "[r['name'] for r in d['resources']] == ['example.com/MTTY_DUAL']" ||
		fail "only the external entry is served" || return 1
	status "d['mediated_device_types'] == ['mtty-2'] and d['cluster']['labels']['mdevd-test/pool'] == 'dual'" ||
		fail "types and labels" || return 1
	status "d['policy_source'] == 'kubevirt' and d['cluster']['cr'] == 'kubevirt/kubevirt'"
}
check "the KubeVirt CR is the policy; only externalResourceProvider entries are served" t_first_policy

t_cr_edit() {
	local g
	g=$(generation) || return 1
	kc patch kubevirt kubevirt -n kubevirt --type json -p '[{"op": "add",
		"path": "/spec/configuration/permittedHostDevices/pciHostDevices",
		"value": [{"pciVendorSelector": "1234:11E8", "resourceName": "example.com/EDU",
		           "externalResourceProvider": true}]}]' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 1))" generation || return 1
	status "'example.com/EDU' in [r['name'] for r in d['resources']]" ||
		fail "the new entry is not served" || return 1
	kc patch kubevirt kubevirt -n kubevirt --type json -p '[{"op": "remove",
		"path": "/spec/configuration/permittedHostDevices/pciHostDevices"}]' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 2))" generation || return 1
	status "[r['name'] for r in d['resources']] == ['example.com/MTTY_DUAL']"
}
check "a CR edit re-plans live: a pciHostDevices entry added, then removed" t_cr_edit

t_status_update_ignored() {
	local g r0
	g=$(generation) || return 1
	r0=$(count 'reloading the policy')
	# Metadata and status changes are not the policy: no reload.
	kc annotate kubevirt kubevirt -n kubevirt mdevd-test/touched=1 >/dev/null || return 1
	kc patch kubevirt kubevirt -n kubevirt --type merge -p '{"status": {"phase": "Deployed"}}' >/dev/null || return 1
	# Then an edit that is: the reload after it proves the ones before were seen.
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"developerConfiguration": {"featureGates": ["HostDevices", "GPU"]}}}}' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 1))" generation || return 1
	[ "$(count 'reloading the policy')" = $((r0 + 1)) ] || fail "reloaded for a metadata or status change"
}
check "metadata and status updates of the CR do not reload" t_status_update_ignored

t_garbage() {
	local g
	g=$(generation) || return 1
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"mediatedDevicesConfiguration": {"mediatedDeviceTypes": "mtty-2"}}}}' >/dev/null || return 1
	wait_log 'KubeVirt kubevirt/kubevirt: new policy rejected; still running policy generation' || return 1
	status "d['last_reload']['result'] == 'rejected' and d['generation'] == $g" || return 1
	status "'mediatedDeviceTypes' in d['last_reload']['error']" || return 1
	status "[r['name'] for r in d['resources']] == ['example.com/MTTY_DUAL']" ||
		fail "the last good policy is not serving" || return 1
	# A status write on the bad CR is not a new rejection.
	kc patch kubevirt kubevirt -n kubevirt --type merge -p '{"status": {"phase": "Deploying"}}' >/dev/null || return 1
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["mtty-2"]}}}}' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 1)) and d['last_reload']['result'] == 'ok'" generation || return 1
	[ "$(count 'new policy rejected')" = 1 ] || fail "the rejection was logged $(count 'new policy rejected') times"
}
check "a garbage CR edit is rejected once, reported, and the last good policy serves" t_garbage

t_event_rejected() {
	local g uid mine
	g=$(generation) || return 1
	uid=$(kc get node test-node -o jsonpath='{.metadata.uid}') || return 1
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"mediatedDevicesConfiguration": {"mediatedDeviceTypes": "mtty-2"}}}}' >/dev/null || return 1
	mine="[x for x in e if x['message'].endswith('still running policy generation $g')]"
	wait_events PolicyRejected "len($mine) == 1 and $mine[0]['count'] == 1" || return 1
	events PolicyRejected "[(x['type'], x['source'], x['involvedObject']['kind'], x['involvedObject']['uid'])
		for x in $mine] == [('Warning', {'component': 'mdevd', 'host': 'test-node'}, 'Node', '$uid')]" ||
		fail "the Event's type, source or involvedObject" || return 1
	events PolicyRejected "'mediatedDeviceTypes' in $mine[0]['message'] and
		$mine[0]['message'].startswith('KubeVirt kubevirt/kubevirt: new policy rejected: ')" ||
		fail "the message does not say what was rejected and why" || return 1
	# The same garbage again (another field edited): the count of the same Event, not a new one.
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"developerConfiguration": {"featureGates": ["HostDevices", "Other"]}}}}' >/dev/null || return 1
	wait_log "KubeVirt kubevirt/kubevirt: new policy rejected; still running policy generation $g" || return 1
	wait_events PolicyRejected "len($mine) == 1 and $mine[0]['count'] == 2" || return 1
	events PolicyRejected "$mine[0]['lastTimestamp'] >= $mine[0]['firstTimestamp']" || return 1
	# kubectl describe node: the Event beside the capacity, with its count.
	kc describe node test-node >"$work/describe" || return 1
	sed -n '/^Events:/,$p' "$work/describe" | grep -E 'Warning +PolicyRejected +.*\(x2 over .*mdevd' ||
		{ cat "$work/describe"; fail "kubectl describe node does not show the Event"; } || return 1
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"mediatedDevicesConfiguration": {"mediatedDeviceTypes": ["mtty-2"]}}}}' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 1)) and d['last_reload']['result'] == 'ok'" generation || return 1
	logged 'node test-node: Events: ' && fail "a post failed: $(grep 'Events: ' "$log")"
	return 0
}
check "a garbage edit posts a PolicyRejected Event on the Node; a repeat raises its count" t_event_rejected

t_labels() {
	local g
	g=$(generation) || return 1
	kc label node test-node mdevd-test/pool=single --overwrite >/dev/null || return 1
	wait_status "d['mediated_device_types'] == ['mtty-1']" mediated_device_types || return 1
	status "d['node_mediated_device_types']['selected'] == [0] and d['generation'] == $((g + 1))" || return 1
	kc label node test-node mdevd-test/pool=dual --overwrite >/dev/null || return 1
	wait_status "d['mediated_device_types'] == ['mtty-2']" mediated_device_types || return 1
	status "d['node_mediated_device_types']['selected'] == []"
}
check "a node label change switches the nodeMediatedDeviceTypes entry live" t_labels

t_restart() {
	local g w0
	g=$(generation) || return 1
	w0=$(count 'retrying with backoff')
	kill -TERM "$api_pid"
	wait "$api_pid" 2>/dev/null
	wait_log 'kubevirts.kubevirt.io: .*retrying with backoff' || return 1
	wait_status "d['cluster']['cr_watch'] != 'ok'" cluster || return 1
	# Let it retry a few times (backoff doubles from 0.5 s): each failure is logged once.
	sleep 3
	[ "$(count "kubevirts.kubevirt.io: .*Couldn't connect")" = 1 ] ||
		fail "the failure was logged $(count "kubevirts.kubevirt.io: .*Couldn't connect") times" || return 1
	cluster_start_apiserver
	cluster_api_ready "$WAIT" || fail "kube-apiserver did not come back" || return 1
	wait_log 'kubevirts.kubevirt.io: the API server answers again' || return 1
	# Each watch retries on its own backoff (doubling to 30 s), and a server just back may
	# still refuse with 403 until its RBAC caches have synced (seen under load): the
	# deadline covers two full backoff steps past that, for hangs only.
	WAIT=$((WAIT * 3)) wait_status "d['cluster']['cr_watch'] == 'ok' and d['cluster']['node_watch'] == 'ok'" cluster || return 1
	# The restarted server's watch cache starts at etcd's newest revision: resuming from an
	# older one is 410 Gone, and the watch lists again.
	logged 'kubevirts.kubevirt.io: (the watch expired \(410 Gone|resourceVersion .* is gone \(410\))' ||
		fail "no 410 Gone after the restart" || return 1
	wait_log 'kubevirts.kubevirt.io: listed' || return 1
	kc patch kubevirt kubevirt -n kubevirt --type json -p '[{"op": "add",
		"path": "/spec/configuration/permittedHostDevices/pciHostDevices",
		"value": [{"pciVendorSelector": "1234:11e8", "resourceName": "example.com/EDU",
		           "externalResourceProvider": true}]}]' >/dev/null || return 1
	wait_status "'example.com/EDU' in [r['name'] for r in d['resources']]" resources || return 1
	echo "# $(($(count 'retrying with backoff') - w0)) failure lines for 2 watches while the server was down"
}
check "kube-apiserver restarted: the failure is logged once, 410 Gone lists again, the watches resume" t_restart

t_two_crs() {
	local g
	g=$(generation) || return 1
	kc create -f - >/dev/null <<EOF || return 1
apiVersion: kubevirt.io/v1
kind: KubeVirt
metadata: {name: other, namespace: mdevd}
spec: {}
EOF
	kc patch kubevirt kubevirt -n kubevirt --type merge -p \
		'{"spec": {"configuration": {"developerConfiguration": {"featureGates": ["HostDevices"]}}}}' >/dev/null || return 1
	wait_status "d['generation'] == $((g + 1))" generation || return 1
	logged '2 KubeVirt CRs in the cluster: following kubevirt/kubevirt' || return 1
	kc delete kubevirt other -n mdevd >/dev/null || return 1
	status "d['cluster']['cr'] == 'kubevirt/kubevirt'"
}
check "two KubeVirt CRs: the first is followed, and that is said" t_two_crs

t_hco() {
	local hlog
	cluster_hco <<EOF || return 1
  permittedHostDevices:
    mediatedDevices:
    - {mdevNameSelector: Dual port serial, resourceName: example.com/MTTY_DUAL, externalResourceProvider: true}
EOF
	start_mdevd hco --policy-source hyperconverged --kubeconfig "$work/mdevd.kubeconfig" --node-labels mdevd-test/pool=dual
	wait_log 'policy reloaded: generation 2 \(HyperConverged CR' || return 1
	# The OpenShift guide's edit: add a pciDeviceSelector entry, then remove it.
	kc patch hyperconverged kubevirt-hyperconverged -n openshift-cnv --type json -p '[{"op": "add",
		"path": "/spec/permittedHostDevices/pciHostDevices",
		"value": [{"pciDeviceSelector": "1234:11E8", "resourceName": "example.com/EDU",
		           "externalResourceProvider": true}]}]' >/dev/null || return 1
	wait_status "'example.com/EDU' in [r['name'] for r in d['resources']]" resources || return 1
	kc patch hyperconverged kubevirt-hyperconverged -n openshift-cnv --type json -p '[{"op": "remove",
		"path": "/spec/permittedHostDevices/pciHostDevices"}]' >/dev/null || return 1
	wait_status "[r['name'] for r in d['resources']] == ['example.com/MTTY_DUAL']" resources || return 1
	kill -TERM "$mdevd_pid"
	wait "$mdevd_pid"
}
check "the HyperConverged CR: pciDeviceSelector added and removed re-plans" t_hco

t_token() {
	kc create serviceaccount mdevd-token -n mdevd >/dev/null || return 1
	kc create clusterrolebinding mdevd-token --clusterrole mdevd --serviceaccount mdevd:mdevd-token >/dev/null || return 1
	kc create token mdevd-token -n mdevd >"$work/token" || return 1
	# Short watches, so that the revoked token is seen at the next reconnect.
	start_mdevd tok --policy-source kubevirt --kubeconfig "$work/token.kubeconfig" --node-name test-node --watch-timeout 2
	wait_log 'policy reloaded: generation 2' || return 1
	# Revoked: the service account is deleted; its tokens stop authenticating.
	kc delete serviceaccount mdevd-token -n mdevd >/dev/null || return 1
	wait_log 'kubevirts.kubevirt.io: .*HTTP 401' || return 1
	sleep 3 # several retries: still one line
	[ "$(count 'kubevirts.kubevirt.io: .*HTTP 401')" = 1 ] ||
		fail "the 401 was logged $(count 'kubevirts.kubevirt.io: .*HTTP 401') times" || return 1
	status "'401' in d['cluster']['cr_watch']" || return 1
	# A new token in the same file (as kubelet rotates it) is read at the next request.
	kc create serviceaccount mdevd-token -n mdevd >/dev/null || return 1
	kc create token mdevd-token -n mdevd >"$work/token.new" && mv "$work/token.new" "$work/token" || return 1
	wait_log 'kubevirts.kubevirt.io: the API server answers again' || return 1
	wait_status "d['cluster']['cr_watch'] == 'ok'" cluster || return 1
	kill -TERM "$mdevd_pid"
	wait "$mdevd_pid"
}
check "a revoked token: 401 logged once, a new token in the file is picked up" t_token

t_event_unhealthy() {
	local t2=$work/tree2 port dev=bus/pci/devices/0000:00:03.0
	mkdir -p "$t2/proc" "$work/dp"
	cp -a tests/fixtures/samples "$t2/sys"
	# The CR serves example.com/EDU whatever the tests before left in it.
	kc patch kubevirt kubevirt -n kubevirt --type json -p '[{"op": "add",
		"path": "/spec/configuration/permittedHostDevices/pciHostDevices",
		"value": [{"pciVendorSelector": "1234:11e8", "resourceName": "example.com/EDU",
		           "externalResourceProvider": true}]}]' >/dev/null || return 1
	# Device plugins on (no kubelet: they serve unregistered), metrics on a free port.
	"$MDEVD" --sysfs-root "$t2/sys" --proc-root "$t2/proc" --machine-id $MID run \
		--no-apply --no-libvirt --resync 0 --device-plugin-dir "$work/dp" \
		--metrics-address 127.0.0.1:0 --status-socket "$work/dp.sock" \
		--policy-source kubevirt --kubeconfig "$work/mdevd.kubeconfig" --node-name test-node \
		2>"$work/dp.log" &
	pids+=($!)
	mdevd_pid=$!
	log=$work/dp.log sock=$work/dp.sock
	wait_log 'policy reloaded: generation 2' || return 1
	wait_status "'example.com/EDU' in [r['name'] for r in d['resources']]" resources || return 1
	port=$(sed -n 's/.*metrics: serving .* (port \([0-9]*\)).*/\1/p' "$log" | head -1)
	[ -n "$port" ] || fail "no metrics port in the log" || return 1
	events DeviceUnhealthy "not [x for x in e if '0000:00:03.0' in x['message']]" ||
		fail "an Unhealthy Event before the device was" || return 1
	# Out of band: the edu function leaves vfio-pci; kubelet is told it is Unhealthy.
	rm "$t2/sys/$dev/driver" "$t2/sys/bus/pci/drivers/vfio-pci/0000:00:03.0" 2>/dev/null
	[ ! -e "$t2/sys/$dev/driver" ] || fail "the fixture's driver link is still there" || return 1
	kill -HUP "$mdevd_pid"
	wait_events DeviceUnhealthy "[x for x in e if x['message'] == 'device 0000:00:03.0 of resource example.com/EDU is Unhealthy: bound to no driver, not vfio-pci' and x['type'] == 'Warning']" || return 1
	curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" || fail "no /metrics" || return 1
	grep -E '^mdevd_node_events_total\{result="posted"\} [1-9]' "$work/metrics" ||
		fail "posted Events not counted: $(grep node_events "$work/metrics")" || return 1
	grep -E '^mdevd_node_events_total\{result="(failed|dropped)"\} 0$' "$work/metrics" | wc -l | grep -qx 2 ||
		fail "failed or dropped Events: $(grep node_events "$work/metrics")" || return 1
	# Another reconcile: still Unhealthy, not reported again.
	kill -HUP "$mdevd_pid"
	wait_log 'reloading the policy from the KubeVirt CR \(SIGHUP\)' || return 1
	wait_status "d['generation'] == 4" generation || return 1
	events DeviceUnhealthy "[x['count'] for x in e if '0000:00:03.0' in x['message']] == [1]" ||
		fail "the Unhealthy device was reported again" || return 1
	kill -TERM "$mdevd_pid"
	wait "$mdevd_pid"
}
check "a device turned Unhealthy posts DeviceUnhealthy on the Node, once" t_event_unhealthy

t_stop() {
	log=$work/kv.log sock=$work/kv.sock
	kill -TERM "$kv_pid"
	wait_exit "$WAIT" "$kv_pid" || { fail "mdevd did not stop within $WAIT s"; return 1; }
	wait "$kv_pid" || fail "mdevd exited $?"
}
check "SIGTERM stops mdevd with its watches open" t_stop

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
