#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/k8s/cluster-lib.sh — a test cluster's control plane on 127.0.0.1, sourced by
# tests/k8s/apiserver.sh (on the host) and tests/vm/guest-cluster.sh (in the real-kernel
# guest, beside the real kubelet): openssl certificates, kubeconfigs, etcd, kube-apiserver
# with envtest's flags, the minimal KubeVirt / HyperConverged CRDs, the namespaces and
# deploy/kubernetes/rbac.yaml. Every address is a loopback one.
#
# The caller sets, before sourcing or before the first call:
#   work       a private directory (certificates in $work/pki, etcd's data in $work/etcd)
#   kbin       the directory of kube-apiserver, etcd and kubectl (tests/k8s/build.sh's K8S_BIN)
#   repo       the repository (for deploy/kubernetes/rbac.yaml)
#   logs       where etcd.log and apiserver.log go (default $work)
# and gets:
#   pki, server, P_ETCD, P_PEER, P_API   from cluster_init
#   etcd_pid, api_pid                    from cluster_start_etcd, cluster_start_apiserver
#                                        (also appended to the array pids, when it is one)
# Functions return non-zero on failure and say why on stdout; the caller decides.

# cluster_init: three free loopback ports (bound, read, closed: the servers take them right
# after) and the API server's URL.
cluster_init() {
	pki=$work/pki
	read -r P_ETCD P_PEER P_API < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])') || return 1
	server=https://127.0.0.1:$P_API
}

# cluster_cert NAME SUBJECT [EXT-FILE]: $pki/NAME.{key,crt}, signed by the test CA.
cluster_cert() {
	(
		cd "$pki" || exit 1
		openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null &&
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
				-out "$1.crt" ${3:+-extfile "$3"} 2>/dev/null
	) && [ -s "$pki/$1.crt" ] || { echo "openssl could not make the certificate $1 ($2)"; return 1; }
}

# cluster_client_cert NAME SUBJECT: a client certificate (the O= of SUBJECT is its group).
cluster_client_cert() { cluster_cert "$1" "$2" "$pki/client.ext"; }

# cluster_pki: the CA, the API server's serving certificate (127.0.0.1, localhost), the
# admin (system:masters), mdevd's identity (group mdevd:nodes, bound by cluster_objects to
# rbac.yaml's ClusterRole and nothing more), the service-account signing key, and the
# admin's kubeconfig $work/admin.kubeconfig (for kc). Needs cluster_init first.
cluster_pki() {
	mkdir -p "$pki" || return 1
	(
		cd "$pki" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
			-subj "/CN=mdevd-test-ca" 2>/dev/null || exit 1
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl genrsa -out sa.key 2048 2>/dev/null &&
			openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	) || { echo "openssl could not make the CA or the service-account key"; return 1; }
	cluster_cert apiserver "/CN=kube-apiserver" "$pki/server.ext" &&
		cluster_client_cert admin "/O=system:masters/CN=mdevd-test-admin" &&
		cluster_client_cert mdevd "/O=mdevd:nodes/CN=mdevd-test" &&
		cluster_kubeconfig "$work/admin.kubeconfig" "client-certificate: $pki/admin.crt" \
			"client-key: $pki/admin.key"
}

# cluster_kubeconfig FILE USER-LINES...: a kubeconfig for $server, trusting the test CA,
# whose one user is USER-LINES (e.g. "client-certificate: F" "client-key: F", "tokenFile: F").
cluster_kubeconfig() {
	local f=$1
	shift
	{
		echo "apiVersion: v1"
		echo "kind: Config"
		echo "clusters:"
		echo "- name: test"
		echo "  cluster: {server: \"$server\", certificate-authority: $pki/ca.crt}"
		echo "contexts:"
		echo "- name: test"
		echo "  context: {cluster: test, user: u}"
		echo "current-context: test"
		echo "users:"
		echo "- name: u"
		echo "  user:"
		printf '    %s\n' "$@"
	} >"$f"
}

# kc ARGS...: kubectl as the admin.
kc() { "$kbin/kubectl" --kubeconfig "$work/admin.kubeconfig" --request-timeout=20s "$@"; }

_cluster_pid() { # _cluster_pid VAR PID
	printf -v "$1" '%s' "$2"
	if declare -p pids 2>/dev/null | grep -q '^declare -a'; then pids+=("$2"); fi
}

cluster_start_etcd() {
	"$kbin/etcd" --name default --data-dir "$work/etcd" \
		--listen-client-urls "http://127.0.0.1:$P_ETCD" \
		--advertise-client-urls "http://127.0.0.1:$P_ETCD" \
		--listen-peer-urls "http://127.0.0.1:$P_PEER" \
		--initial-advertise-peer-urls "http://127.0.0.1:$P_PEER" \
		--initial-cluster "default=http://127.0.0.1:$P_PEER" \
		--unsafe-no-fsync >>"${logs:-$work}/etcd.log" 2>&1 &
	_cluster_pid etcd_pid $!
}

# envtest's flags, on loopback: TLS with the test CA, service-account tokens signed by our
# key; authorization Node,RBAC, so a kubelet with a system:node:NAME certificate (group
# system:nodes) may register its Node and report its status, as on a real cluster.
cluster_start_apiserver() {
	"$kbin/kube-apiserver" --etcd-servers "http://127.0.0.1:$P_ETCD" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$P_API" \
		--cert-dir "$work/apiserver-certs" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
		--service-account-issuer "$server" --service-account-key-file "$pki/sa.pub" \
		--service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range 10.0.0.0/24 --allow-privileged=true \
		--enable-priority-and-fairness=false --disable-admission-plugins ServiceAccount \
		>>"${logs:-$work}/apiserver.log" 2>&1 &
	_cluster_pid api_pid $!
}

# cluster_api_ready SECONDS: until /readyz answers (a wall-clock deadline, for hangs only:
# under TCG a counted poll is several times slower than its sleep).
cluster_api_ready() {
	local end=$((SECONDS + $1))
	while :; do
		curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
			"$server/readyz" >/dev/null 2>&1 && return 0
		kill -0 "$api_pid" 2>/dev/null || { echo "kube-apiserver exited"; return 1; }
		[ "$SECONDS" -lt "$end" ] || { echo "kube-apiserver not ready on $server in $1 s"; return 1; }
		sleep 0.25
	done
}

# cluster_hco: applies the HyperConverged CR as HCO names it (openshift-cnv /
# kubevirt-hyperconverged); its spec is stdin (YAML, indented two spaces).
cluster_hco() {
	{
		printf 'apiVersion: hco.kubevirt.io/v1beta1\nkind: HyperConverged\n'
		printf 'metadata: {name: kubevirt-hyperconverged, namespace: openshift-cnv}\nspec:\n'
		cat
	} | kc apply -f - >/dev/null
}

_cluster_crd() { # _cluster_crd GROUP VERSION KIND PLURAL
	cat <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $4.$1}
spec:
  group: $1
  names: {kind: $3, plural: $4, singular: ${4%s}, listKind: ${3}List}
  scope: Namespaced
  versions:
  - name: $2
    served: true
    storage: true
    # Minimal, not the published schema: every field is kept as written.
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
EOF
}

# cluster_objects SECONDS: the CRDs (kubevirt.io/v1 KubeVirt, hco.kubevirt.io/v1beta1
# HyperConverged; minimal, an open schema) established, the namespaces mdevd, kubevirt and
# openshift-cnv, deploy/kubernetes/rbac.yaml with its service account, and the group of
# mdevd's client certificate bound to exactly that ClusterRole.
cluster_objects() {
	{
		_cluster_crd kubevirt.io v1 KubeVirt kubevirts
		echo ---
		_cluster_crd hco.kubevirt.io v1beta1 HyperConverged hyperconvergeds
	} >"$work/crds.yaml"
	kc apply -f "$work/crds.yaml" >/dev/null || { echo "the CRDs cannot be created"; return 1; }
	kc wait --for condition=established --timeout="$1s" crd/kubevirts.kubevirt.io \
		crd/hyperconvergeds.hco.kubevirt.io >/dev/null || { echo "the CRDs are not established"; return 1; }
	local ns
	for ns in mdevd kubevirt openshift-cnv; do
		kc create namespace $ns >/dev/null || { echo "namespace $ns cannot be created"; return 1; }
	done
	kc apply -f "$repo/deploy/kubernetes/rbac.yaml" >/dev/null ||
		{ echo "deploy/kubernetes/rbac.yaml does not apply"; return 1; }
	kc create serviceaccount mdevd -n mdevd >/dev/null &&
		kc create clusterrolebinding mdevd-test-group --clusterrole mdevd --group mdevd:nodes >/dev/null ||
		{ echo "the service account or the group's binding cannot be created"; return 1; }
}
