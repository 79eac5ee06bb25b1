#!/usr/bin/python3
"""`mdevd run` with its device plugins against a kubelet stand-in (Python grpcio).

    kubelet_e2e.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

On a copy of the samples fixture with tests/vm/policies/kubevirt.json: the daemon registers both pools
with kubelet; a ListAndWatch stream sees a reconcile (SIGHUP after the tree changed);
a policy edit that drops a resource ends that plugin (empty list, socket removed); a
kubelet restart (sockets deleted, kubelet.sock re-created) is followed by registration
(the time is printed, not judged: make bench measures speed); SIGTERM sends empty lists,
removes the sockets and exits 0. Every wait is for an event, with a deadline (WAIT, 30 s)
that only a hang reaches. Prints "# ..." numbers; exits non-zero with the reason on failure.
"""
import os
import shutil
import signal
import sys
import time

from standin import (EDU, EDU_BDF, EDU_SOCK, MTTY, MTTY_SOCK, MTTY_UUID, ROOT, WAIT, WORK, Case,
                     Watch, check, wait_log, wait_until)


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy, log = os.path.join(WORK, "policy.json"), os.path.join(WORK, "mdevd.log")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    shutil.copy(os.path.join(ROOT, "tests/vm/policies/kubevirt.json"), policy)
    os.makedirs(os.path.join(WORK, "proc"))
    case = Case(plugins)
    case.start_kubelet()
    proc = case.mdevd(["--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"), "run",
                       "--policy", policy, "--no-apply", "--device-plugin-dir", plugins], log)

    def body():
        regs = case.kubelet.wait(2)
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
        check(e.get() == ("list", [EDU_BDF]), "first EDU list")
        with open(policy + ".new", "w") as f:
            f.write('{"permittedHostDevices": {"mediatedDevices": [{"mdevNameSelector": '
                    '"Dual port serial", "resourceName": "%s"}]}}' % MTTY)
        os.rename(policy + ".new", policy)
        check(e.get() == ("list", []), "EDU: no empty list after it left the policy")
        check(e.get()[0] == "end", "EDU stream did not end")
        wait_log(log, "resource example.com/EDU: no longer served")
        wait_until(lambda: not os.path.exists(os.path.join(plugins, EDU_SOCK)),
                   "the EDU socket removed")

        # kubelet restarts: deletes every socket, creates kubelet.sock again.
        w.ch.close()
        t0 = time.monotonic()
        regs = case.restart_kubelet().wait(1)
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

    return case.run(body)


if __name__ == "__main__":
    sys.exit(main())
