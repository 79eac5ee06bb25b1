#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Device-plugin numbers, for docs/benchmarks.md (no asserts):
  - Allocate latency p50/p99 with 32 concurrent clients (one channel and thread each);
  - idle RSS of `mdevd dp-serve` serving 8 plugins.

    PYTHONPATH=<grpc_tools output> perf.py [MDEVD]     (tests/kubelet/run.sh --perf does this)

The Allocate numbers here are mostly the Python client's own cost (grpcio, the GIL, 32 threads
on the same cores as mdevd): tests/bench/dp-bench.sh measures the issue-3 targets with a gRPC
core C client (tests/bench/dp-alloc.c) and compares with a zero-work C server.
"""
import json
import os
import signal
import sys
import threading
import time

import grpc

import deviceplugin_pb2 as pb
import deviceplugin_pb2_grpc as pbg
import kubelet_test as kt

CLIENTS = 32
SECONDS = 5


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def rss_parts(pid):
    """"RssAnon N, RssFile N" (KiB): the file-backed part is mostly libgrpc and its libraries."""
    parts = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssFile"):
                parts[k] = v.split()[0]
    return ", ".join("%s %s" % (k, parts.get(k, "?")) for k in ("RssAnon", "RssFile"))


def main():
    mdevd = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                            os.path.join(kt.ROOT, "mdevd/mdevd"))
    e = kt.Env(mdevd, False)
    try:
        # 8 resource names: the 3 of the functional tests and 5 more (empty pools serve too).
        pol = json.loads(json.dumps(kt.POLICY))
        for i in range(5):
            pol["permittedHostDevices"]["mediatedDevices"].append(
                {"mdevNameSelector": "Dual port serial %d" % i,
                 "resourceName": "example.com/extra%d" % i})
        with open(e.policy, "w") as f:
            json.dump(pol, f)
        e.start_kubelet()
        e.start()
        regs = e.kubelet.wait(8, 20)
        assert len(regs) == 8, "registered %d of 8" % len(regs)
        time.sleep(2)
        idle = rss_kib(e.proc.pid)
        idle_parts = rss_parts(e.proc.pid)

        lat = []
        lock = threading.Lock()
        stop = time.monotonic() + SECONDS
        ids = [kt.A1, kt.A2, kt.B1, kt.B2, kt.B3, kt.C1]

        def client(n):
            ch = grpc.insecure_channel("unix:" + os.path.join(e.dir, kt.NV_SOCK))
            stub = pbg.DevicePluginStub(ch)
            req = pb.AllocateRequest(container_requests=[
                pb.ContainerAllocateRequest(devices_ids=[ids[n % len(ids)]])])
            stub.Allocate(req, timeout=5)  # connect first
            mine = []
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                stub.Allocate(req, timeout=5)
                mine.append(time.perf_counter() - t0)
            ch.close()
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        busy = rss_kib(e.proc.pid)
        lat.sort()
        p50 = lat[len(lat) // 2] * 1000
        p99 = lat[int(len(lat) * 0.99)] * 1000
        print("Allocate, %d concurrent clients, %d s: %d calls (%.0f/s), p50 %.2f ms, "
              "p99 %.2f ms (client-side, Python grpcio)" %
              (CLIENTS, SECONDS, len(lat), len(lat) / SECONDS, p50, p99))
        print("RSS with 8 plugins: idle %d KiB (%s), after the Allocate run %d KiB" %
              (idle, idle_parts, busy))
        e.proc.send_signal(signal.SIGTERM)
        e.proc.wait(timeout=30)
    finally:
        e.cleanup()


if __name__ == "__main__":
    main()
