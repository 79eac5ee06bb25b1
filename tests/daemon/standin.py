"""What every tests/daemon/*.py shares: the generated device-plugin stubs, a kubelet
stand-in, a ListAndWatch reader, checks and waits, and Case, which runs one test's body
with the processes it started and reports a failed check with the tails of their logs.

Each script runs as SCRIPT GEN_DIR MDEVD WORK_DIR (tests/daemon/run.sh's py_test); GEN_DIR
holds deviceplugin_pb2*.py generated from mdevd/kubernetes/deviceplugin.proto. Every wait
is for an event, with a deadline (WAIT) that only a hang reaches.
"""
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import deviceplugin_pb2 as pb  # noqa: E402
import deviceplugin_pb2_grpc as pbg  # noqa: E402

MDEVD, WORK = sys.argv[2], sys.argv[3]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MID = "0123456789abcdef0123456789abcdef"
# The samples fixture with tests/vm/policies/kubevirt.json serves these two pools.
MTTY, EDU = "example.com/MTTY_DUAL", "example.com/EDU"
MTTY_SOCK, EDU_SOCK = "mdevd-example.com_MTTY_DUAL.sock", "mdevd-example.com_EDU.sock"
MTTY_UUID = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002"
EDU_BDF = "0000:00:03.0"
WAIT = 30  # seconds: a deadline for hangs, never for speed


class Kubelet(pbg.RegistrationServicer):
    """kubelet's Registration service on PLUGIN_DIR/kubelet.sock. Like kubelet, it dials the
    plugin back (GetDevicePluginOptions) before it answers. With refuse_every=N it refuses
    every Nth Register (UNAVAILABLE), so the plugin retries and logs that."""

    def __init__(self, plugin_dir, refuse_every=0):
        self.dir, self.refuse_every, self.calls = plugin_dir, refuse_every, 0
        self.regs = []  # (time.monotonic(), resource name, endpoint) of each accepted one
        self.cv = threading.Condition()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port("unix:" + os.path.join(plugin_dir, "kubelet.sock"))
        self.server.start()

    def Register(self, req, ctx):
        with self.cv:
            self.calls += 1
            refuse = self.refuse_every and self.calls % self.refuse_every == 0
        if refuse:
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "kubelet stand-in: try again")
        ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, req.endpoint))
        try:
            pbg.DevicePluginStub(ch).GetDevicePluginOptions(pb.Empty(), timeout=WAIT)
        finally:
            ch.close()
        with self.cv:
            self.regs.append((time.monotonic(), req.resource_name, req.endpoint))
            self.cv.notify_all()
        return pb.Empty()

    def wait(self, n, timeout=WAIT):
        """The registrations so far, once there are N (or TIMEOUT passed)."""
        with self.cv:
            self.cv.wait_for(lambda: len(self.regs) >= n, timeout)
            return list(self.regs)

    def stop(self):
        self.server.stop(None).wait()


class Watch:
    """A ListAndWatch stream read on a thread: get() is ("list", sorted IDs), ("end", code)
    or ("timeout", None)."""

    def __init__(self, plugin_dir, sock):
        self.ch = grpc.insecure_channel("unix:" + os.path.join(plugin_dir, sock))
        self.q = queue.Queue()
        self.call = pbg.DevicePluginStub(self.ch).ListAndWatch(pb.Empty())
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        try:
            for msg in self.call:
                self.q.put(("list", sorted(d.ID for d in msg.devices)))
            self.q.put(("end", self.call.code()))
        except grpc.RpcError as e:
            self.q.put(("end", e.code()))

    def get(self, timeout=WAIT):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return ("timeout", None)


def allocate(plugin_dir, sock, ids, timeout=10):
    """One Allocate of IDS (one container) on PLUGIN_DIR/SOCK: its first container's envs.
    A refusal raises grpc.RpcError."""
    ch = grpc.insecure_channel("unix:" + os.path.join(plugin_dir, sock))
    try:
        resp = pbg.DevicePluginStub(ch).Allocate(pb.AllocateRequest(container_requests=[
            pb.ContainerAllocateRequest(devices_ids=ids)]), timeout=timeout)
        return dict(resp.container_responses[0].envs)
    finally:
        ch.close()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_until(cond, what, timeout=WAIT):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= end:
            raise AssertionError("not within %d s: %s" % (timeout, what))
        time.sleep(0.02)


def log_has(path, text):
    with open(path) as f:
        return text in f.read()


def wait_log(path, text, timeout=WAIT):
    wait_until(lambda: log_has(path, text), "a log line %r" % text, timeout)


class Case:
    """One test: the mdevd processes it starts and its kubelet stand-in, ended whatever
    happens; a failed check is printed with the tails of the logs."""

    def __init__(self, plugin_dir):
        self.plugins = plugin_dir
        self.procs, self.logs, self.cleanups = [], [], []
        os.makedirs(plugin_dir, exist_ok=True)
        self.kubelet = None

    def start_kubelet(self, **kw):
        self.kubelet = Kubelet(self.plugins, **kw)
        return self.kubelet

    def restart_kubelet(self, **kw):
        """kubelet's restart: it stops, every socket in the plugin dir is deleted, and a new
        kubelet.sock appears."""
        self.kubelet.stop()
        for name in os.listdir(self.plugins):
            os.remove(os.path.join(self.plugins, name))
        return self.start_kubelet(**kw)

    def mdevd(self, args, log=None, **popen):
        """mdevd ARGS, its stderr into the file LOG (or where popen's stderr says)."""
        if "stderr" not in popen:
            popen["stderr"] = open(log, "w")
        proc = subprocess.Popen([MDEVD] + args, **popen)
        self.procs.append(proc)
        if log:
            self.logs.append(log)
        return proc

    def tail(self, what):
        """Show WHAT on failure: a path, or a function giving the text."""
        self.logs.append(what)

    def run(self, body):
        """BODY(); 0, or 1 with the reason and the logs' tails. Always ends what it started."""
        try:
            body()
            return 0
        except AssertionError as err:
            print("FAIL: %s" % err)
            for log in self.logs:
                text = log() if callable(log) else open(log).read() if \
                    isinstance(log, str) and os.path.exists(log) else None
                if text is not None:
                    print("---- %s (tail)\n%s" % (log if isinstance(log, str) else "log",
                                                 text[-3000:]))
            return 1
        finally:
            for proc in self.procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if self.kubelet:
                self.kubelet.stop()
            for fn in self.cleanups:
                fn()
