#!/usr/bin/python3
"""A kubelet stand-in for the real-kernel guest (tests/vm/guest-daemon.sh).

    kubelet_guest.py GEN_DIR serve PLUGIN_DIR EVENTS [MAX_SECONDS]
    kubelet_guest.py GEN_DIR allocate SOCKET ID...

GEN_DIR holds deviceplugin_pb2*.py generated from mdevd/kubernetes/deviceplugin.proto.

serve: kubelet's Registration service on PLUGIN_DIR/kubelet.sock, as in
tests/daemon/standin.py: a Register dials the plugin back (GetDevicePluginOptions)
before it answers, then a ListAndWatch stream is opened on the plugin, as kubelet does.
Every event is appended to EVENTS, one line each, flushed at once, stamped with the
wall clock in microseconds (CLOCK_REALTIME, the clock of bash's $EPOCHREALTIME, so the
shell can measure from the moment it wrote to sysfs to the moment a list arrived):

    US ready
    US register RESOURCE ENDPOINT
    US list RESOURCE [ID:HEALTH ...]      (IDs sorted; no IDs: the empty list)
    US end RESOURCE CODE                  (the stream ended: OK, UNAVAILABLE, ...)

It stops on SIGTERM, when its parent goes away, or after MAX_SECONDS (default 900):
it never outlives the test.

allocate: one Allocate call with the IDs in one container request; prints
"OK ENV=VALUE SPEC ..." or "ERROR CODE DETAILS". Exits 0 either way, 2 on a transport
failure.
"""
import os
import signal
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import deviceplugin_pb2 as pb  # noqa: E402
import deviceplugin_pb2_grpc as pbg  # noqa: E402


class Events:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def put(self, *words):
        line = " ".join([str(time.time_ns() // 1000)] + [str(w) for w in words])
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


class Kubelet(pbg.RegistrationServicer):
    def __init__(self, plugin_dir, events):
        self.dir = plugin_dir
        self.events = events
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port("unix:" + os.path.join(plugin_dir, "kubelet.sock"))
        self.server.start()

    def Register(self, req, ctx):
        ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, req.endpoint))
        try:
            pbg.DevicePluginStub(ch).GetDevicePluginOptions(pb.Empty(), timeout=60)
        finally:
            ch.close()
        self.events.put("register", req.resource_name, req.endpoint)
        threading.Thread(target=self.watch, args=(req.resource_name, req.endpoint),
                         daemon=True).start()
        return pb.Empty()

    def watch(self, resource, endpoint):
        ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, endpoint))
        call = pbg.DevicePluginStub(ch).ListAndWatch(pb.Empty())
        try:
            for msg in call:
                self.events.put("list", resource,
                                *sorted("%s:%s" % (d.ID, d.health) for d in msg.devices))
            self.events.put("end", resource, call.code().name)
        except grpc.RpcError as e:
            self.events.put("end", resource, e.code().name)
        finally:
            ch.close()


def serve(plugin_dir, events_path, max_seconds):
    events = Events(events_path)
    kubelet = Kubelet(plugin_dir, events)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    end = time.monotonic() + max_seconds
    events.put("ready")
    while not stop.is_set() and time.monotonic() < end and os.getppid() == parent:
        stop.wait(0.5)
    kubelet.server.stop(None).wait()
    return 0


def allocate(sock, ids):
    ch = grpc.insecure_channel("unix:" + sock)
    req = pb.AllocateRequest(container_requests=[pb.ContainerAllocateRequest(devices_ids=ids)])
    try:
        resp = pbg.DevicePluginStub(ch).Allocate(req, timeout=60)
    except grpc.RpcError as e:
        if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            print("TRANSPORT %s %s" % (e.code().name, e.details()))
            return 2
        print("ERROR %s %s" % (e.code().name, e.details()))
        return 0
    finally:
        ch.close()
    c = resp.container_responses[0]
    words = ["%s=%s" % kv for kv in sorted(c.envs.items())]
    words += [d.host_path for d in c.devices]
    print("OK " + " ".join(words))
    return 0


def main():
    if len(sys.argv) >= 5 and sys.argv[2] == "serve":
        return serve(sys.argv[3], sys.argv[4], float(sys.argv[5]) if len(sys.argv) > 5 else 900)
    if len(sys.argv) >= 5 and sys.argv[2] == "allocate":
        return allocate(sys.argv[3], sys.argv[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
