#!/usr/bin/python3
"""`mdevd run` with its device plugins against a kubelet stand-in (Python grpcio).

    kubelet_e2e.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

GEN_DIR holds deviceplugin_pb2*.py generated from mdevd/kubernetes/deviceplugin.proto. On a copy of
the samples fixture with tests/vm/policies/kubevirt.json: the daemon registers both pools
with kubelet; a ListAndWatch stream sees a reconcile (SIGHUP after the tree changed);
a policy edit that drops a resource ends that plugin (empty list, socket removed); a
kubelet restart (sockets deleted, kubelet.sock re-created) is followed by registration
(the time is printed, not judged: make bench measures speed); SIGTERM sends empty lists,
removes the sockets and exits 0. Every wait is for an event, with a deadline (WAIT, 30 s)
that only a hang reaches. Prints "# ..." numbers; exits non-zero with the reason on failure.
"""
import os
import queue
import shutil
import signal
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
MTTY, EDU = "example.com/MTTY_DUAL", "example.com/EDU"
MTTY_SOCK, EDU_SOCK = "mdevd-example.com_MTTY_DUAL.sock", "mdevd-example.com_EDU.sock"
MTTY_UUID = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1002"
WAIT = 30  # seconds: a deadline for hangs, never for speed


class Kubelet(pbg.RegistrationServicer):
    """kubelet's Registration service: dials the plugin back before answering."""

    def __init__(self, plugin_dir):
        self.dir = plugin_dir
        self.regs = []
        self.cv = threading.Condition()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port("unix:" + os.path.join(plugin_dir, "kubelet.sock"))
        self.server.start()

    def Register(self, req, ctx):
        ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, req.endpoint))
        try:
            pbg.DevicePluginStub(ch).GetDevicePluginOptions(pb.Empty(), timeout=WAIT)
        finally:
            ch.close()
        with self.cv:
            self.regs.append((time.monotonic(), req.resource_name, req.endpoint))
            self.cv.notify_all()
        return pb.Empty()

    def wait(self, n, timeout):
        with self.cv:
            self.cv.wait_for(lambda: len(self.regs) >= n, timeout)
            return list(self.regs)

    def stop(self):
        self.server.stop(None).wait()


class Watch:
    """A ListAndWatch stream read on a thread."""

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


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_log(path, text, timeout=WAIT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(path) as f:
            if text in f.read():
                return
        time.sleep(0.02)
    raise AssertionError("no log line %r within %d s" % (text, timeout))


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy, log = os.path.join(WORK, "policy.json"), os.path.join(WORK, "mdevd.log")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    shutil.copy(os.path.join(ROOT, "tests/vm/policies/kubevirt.json"), policy)
    os.makedirs(plugins)
    os.makedirs(os.path.join(WORK, "proc"))
    kubelet = Kubelet(plugins)
    proc = subprocess.Popen([MDEVD, "--sysfs-root", tree, "--proc-root",
                             os.path.join(WORK, "proc"), "run", "--policy", policy,
                             "--no-apply", "--device-plugin-dir", plugins],
                            stderr=open(log, "w"))
    try:
        regs = kubelet.wait(2, WAIT)
        check(sorted(r[1] for r in regs) == [EDU, MTTY], "registered: %s" % regs)
        wait_log(log, "ready: serving 2 resources")
        print("# registered with kubelet: %s" % ", ".join(sorted(r[1] for r in regs)))

        w = Watch(plugins, MTTY_SOCK)
        check(w.get() == ("list", [MTTY_UUID]), "first MTTY list")
        # The mdev vanishes from the tree; SIGHUP reconciles (fixtures send no uevents).
        os.remove(os.path.join(tree, "bus/mdev/devices", MTTY_UUID))
        proc.send_signal(signal.SIGHUP)
        kind, ids = w.get()
        check((kind, ids) == ("list", []), "MTTY list after the mdev went: %s %s" % (kind, ids))
        print("# reconcile reached the ListAndWatch stream")

        # A policy edit drops EDU: its plugin sends an empty list and goes away.
        e = Watch(plugins, EDU_SOCK)
        check(e.get() == ("list", ["0000:00:03.0"]), "first EDU list")
        with open(policy + ".new", "w") as f:
            f.write('{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": '
                    '"Dual port serial", "resourceName": "%s"}]}}' % MTTY)
        os.rename(policy + ".new", policy)
        check(e.get() == ("list", []), "EDU: no empty list after it left the policy")
        check(e.get()[0] == "end", "EDU stream did not end")
        wait_log(log, "resource example.com/EDU: no longer served")
        end = time.monotonic() + WAIT
        while os.path.exists(os.path.join(plugins, EDU_SOCK)) and time.monotonic() < end:
            time.sleep(0.02)
        check(not os.path.exists(os.path.join(plugins, EDU_SOCK)), "EDU socket left behind")

        # kubelet restarts: deletes every socket, creates kubelet.sock again.
        w.ch.close()
        kubelet.stop()
        for name in os.listdir(plugins):
            os.remove(os.path.join(plugins, name))
        t0 = time.monotonic()
        kubelet = Kubelet(plugins)
        regs = kubelet.wait(1, WAIT)
        check([r[1] for r in regs] == [MTTY], "re-registered: %s" % regs)
        took = regs[0][0] - t0
        print("# kubelet restart -> registered again in %.0f ms" % (took * 1000))

        # SIGTERM: empty list, stream ends, sockets removed, exit 0.
        w = Watch(plugins, MTTY_SOCK)
        check(w.get()[0] == "list", "MTTY list after the restart")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        check(w.get() == ("list", []), "no empty list at shutdown")
        rc = proc.wait(timeout=WAIT)
        print("# SIGTERM -> exit %d in %.0f ms (with device plugins)" %
              (rc, (time.monotonic() - t0) * 1000))
        check(rc == 0, "exit status %d" % rc)
        left = sorted(n for n in os.listdir(plugins) if n != "kubelet.sock")
        check(left == [], "sockets left behind: %s" % left)
    except AssertionError as err:
        print("FAIL: %s" % err)
        with open(log) as f:
            print("---- mdevd log (tail)\n" + f.read()[-2500:])
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
        kubelet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
