#!/bin/sh
# The device plugins against a kubelet stand-in: Python grpcio (Debian python3-grpcio,
# python3-grpc-tools) plays kubelet's Registration service and calls mdevd's plugins.
#   tests/kubelet/run.sh [--valgrind] [MDEVD]
#   tests/kubelet/run.sh --perf [MDEVD]      Allocate p50/p99 and idle RSS (numbers, no asserts)
# --valgrind runs mdevd under valgrind (memcheck, leaks) for the whole pass.
# Ends with "N passed, N failed"; exits non-zero when a test failed.
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3 # Debian's: the one that sees python3-grpcio
if ! $PY -c 'import grpc, grpc_tools' 2>/dev/null; then
	echo "tests/kubelet: needs python3-grpcio and python3-grpc-tools (scripts/deps.sh)"
	echo "0 passed, 1 failed"
	exit 1
fi
gen=$(mktemp -d /tmp/mdevd-kl-gen.XXXXXX) || exit 1
trap 'rm -rf "$gen"' EXIT
$PY -m grpc_tools.protoc -Imdevd/kubernetes --python_out="$gen" --grpc_python_out="$gen" \
	mdevd/kubernetes/deviceplugin.proto || { echo "0 passed, 1 failed"; exit 1; }
if [ "$1" = "--perf" ]; then
	shift
	PYTHONPATH="$gen:tests/kubelet" exec $PY tests/kubelet/perf.py "$@"
fi
PYTHONPATH="$gen" $PY tests/kubelet/kubelet_test.py "$@"
