#!/usr/bin/python3
"""Whole log records under load: `mdevd -v run` with its device plugins while 1 000 Allocates,
policy reloads and kubelet restarts run at once, its stderr the journal's way.

    log_stress.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

stderr is one end of a stream socket pair, as journald gives a service, and $JOURNAL_STREAM
names it, so every record must be "<N>mdevd: ..." with N the sd-daemon(3) priority. Threads
of mdevd that log meanwhile: the main loop (reloads, reconciles, plugin list updates, kubelet
restarts) and gRPC's (registrations, some of which the kubelet stand-in refuses, so they are
retried and logged). Here 8 client threads send 1 000 Allocates between them, one thread
rewrites the policy and sends SIGHUP, one restarts kubelet (re-creates kubelet.sock). At the
end, every line read must parse as one record, and both threads' kinds of records must be
there (else the test proved nothing). Nothing here is timed: each step waits for its event.
Prints "# ..." figures; exits non-zero with the reason on failure.
"""
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time

from standin import MTTY, MTTY_SOCK, MTTY_UUID, ROOT, WORK, Case, check, grpc, pb, pbg

ALLOCATES, CLIENTS, RELOADS, RESTARTS = 1000, 8, 30, 10
KUBELET_RESTARTED = re.compile(r"kubelet (\(re\))?restarted")
# One record: the priority, the program's prefix, then text with no second record in it.
RECORD = re.compile(r"^<([3-7])>mdevd: (?!.*<[0-7]>mdevd: )(?!mdevd: ).*[^\s]$")
REFUSE_EVERY = 3  # the kubelet stand-in refuses every third Register: mdevd retries, logs


class Reader(threading.Thread):
    """Reads mdevd's stderr (our end of the socket pair) into lines."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.buf, self.lines = sock, b"", []
        self.cv = threading.Condition()
        self.start()

    def run(self):
        while True:
            b = self.sock.recv(65536)
            if not b:
                break
            with self.cv:
                self.buf += b
                *done, self.buf = self.buf.split(b"\n")
                self.lines += [x.decode(errors="replace") for x in done]
                self.cv.notify_all()

    def wait(self, pred, timeout=60):
        with self.cv:
            return self.cv.wait_for(lambda: any(pred(x) for x in self.lines), timeout)

    def wait_more(self, pred, before, timeout=60):
        """Wait until more than @before lines satisfy @pred."""
        with self.cv:
            return self.cv.wait_for(lambda: self.count(pred) > before, timeout)

    def count(self, pred):
        with self.cv:
            return sum(1 for x in self.lines if pred(x))


def allocates(plugins, n, errors, side_done, counts):
    ch = grpc.insecure_channel("unix:" + os.path.join(plugins, MTTY_SOCK))
    stub = pbg.DevicePluginStub(ch)
    req = pb.AllocateRequest(container_requests=[
        pb.ContainerAllocateRequest(devices_ids=[MTTY_UUID])])
    done = 0
    # At least @n, and on until the reloads and restarts are over: they overlap throughout.
    while done < n or not side_done.is_set():
        try:
            r = stub.Allocate(req, timeout=60, wait_for_ready=True)
        except grpc.RpcError as e:
            # A kubelet restart makes mdevd serve its plugins anew: calls in flight on the old
            # server end CANCELLED, new ones find no socket for a moment (UNAVAILABLE).
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                            grpc.StatusCode.DEADLINE_EXCEEDED):
                time.sleep(0.01)
                continue
            errors.append(str(e))
            return
        env = dict(r.container_responses[0].envs)
        if env != {"MDEV_PCI_RESOURCE_EXAMPLE_COM_MTTY_DUAL": MTTY_UUID}:
            errors.append("wrong answer %s" % env)
            return
        done += 1
    counts.append(done)
    ch.close()


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy = os.path.join(WORK, "policy.json")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    shutil.copy(os.path.join(ROOT, "tests/vm/policies/kubevirt.json"), policy)
    full = open(policy).read()
    os.makedirs(os.path.join(WORK, "proc"))
    case = Case(plugins)
    case.start_kubelet(refuse_every=REFUSE_EVERY)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    st = os.fstat(theirs.fileno())
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    proc = case.mdevd(["-v", "--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"),
                       "run", "--policy", policy, "--no-apply", "--no-libvirt",
                       "--device-plugin-dir", plugins], stderr=theirs.fileno(), env=env)
    theirs.close()
    log = Reader(ours)
    case.tail(lambda: "\n".join(log.lines[-30:]))

    def body():
        check(log.wait(lambda x: "mdevd: ready" in x), "not ready within 60 s")
        check(case.kubelet.wait(1, 60), "no plugin registered within 60 s")
        errors, counts, side_done = [], [], threading.Event()
        t0 = time.monotonic()
        clients = [threading.Thread(target=allocates,
                                    args=(plugins, ALLOCATES // CLIENTS, errors, side_done,
                                          counts)) for _ in range(CLIENTS)]
        for t in clients:
            t.start()

        def reloads():
            # Renames of the policy (inotify) alternate with SIGHUPs; the policy alternates
            # between both pools and MTTY only, and ends with both. Each waits for its reload.
            mtty = ('{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": '
                    '"Dual port serial", "resourceName": "%s"}]}}' % MTTY)
            for i in range(RELOADS):
                before = log.count(lambda x: "policy reloaded" in x)
                if i % 2 == 0 or i == RELOADS - 1:
                    with open(policy + ".new", "w") as f:
                        f.write(mtty if i % 4 == 0 and i != RELOADS - 1 else full)
                    os.rename(policy + ".new", policy)
                else:
                    proc.send_signal(signal.SIGHUP)
                log.wait_more(lambda x: "policy reloaded" in x, before, 30)

        def restarts():
            for _ in range(RESTARTS):
                before = log.count(lambda x: KUBELET_RESTARTED.search(x))
                case.restart_kubelet(refuse_every=REFUSE_EVERY)
                log.wait_more(lambda x: KUBELET_RESTARTED.search(x), before, 30)
                case.kubelet.wait(1, 30)

        side = [threading.Thread(target=reloads), threading.Thread(target=restarts)]
        for t in side:
            t.start()
        for t in side:
            t.join()
        side_done.set()
        for t in clients:
            t.join()
        took = time.monotonic() - t0
        check(not errors, "Allocate failed: %s" % errors[:3])
        check(sum(counts) >= ALLOCATES, "only %d Allocates answered" % sum(counts))
        print("# %d Allocates from %d clients, %d reloads, %d kubelet restarts in %.1f s"
              % (sum(counts), CLIENTS, RELOADS, RESTARTS, took))
        check(proc.poll() is None, "mdevd died")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        log.join(timeout=30)
        check(rc == 0, "exit status %d" % rc)
        lines = log.lines + ([log.buf.decode(errors="replace")] if log.buf else [])
        bad = [x for x in lines if not RECORD.match(x)]
        prio = {}
        for x in lines:
            m = RECORD.match(x)
            if m:
                prio[m.group(1)] = prio.get(m.group(1), 0) + 1
        print("# %d log lines, by priority: %s; %d do not parse" %
              (len(lines), ", ".join("<%s> %d" % kv for kv in sorted(prio.items())), len(bad)))
        check(not bad, "lines that are not one record: %r" % bad[:5])
        # Both sides logged meanwhile: the main loop's reloads, gRPC's registrations.
        reloaded = sum(1 for x in lines if "policy reloaded" in x)
        registered = sum(1 for x in lines if re.search(r"register(ed|ing) .* kubelet", x))
        refused = sum(1 for x in lines if "registering" in x and "failed" in x)
        print("# %d reload, %d registration (%d refused) records" %
              (reloaded, registered, refused))
        check(reloaded >= RELOADS // 2, "only %d reloads logged" % reloaded)
        check(registered >= RESTARTS, "only %d registration records" % registered)
        check(refused >= 1, "no refused registration was logged")
        check(prio.get("4", 0) >= 1 and prio.get("6", 0) >= 1 and prio.get("7", 0) >= 1,
              "not every priority seen: %s" % prio)

    return case.run(body)


if __name__ == "__main__":
    sys.exit(main())
