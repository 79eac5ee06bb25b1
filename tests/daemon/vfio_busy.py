#!/usr/bin/python3
"""A busy host driver does not stall the device plugins.

    vfio_busy.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

On a copy of the samples fixture, `mdevd run` serves example.com/EDU (0000:00:03.0, on
vfio-pci) to a kubelet stand-in. The policy is then edited to bind 0000:00:02.0 (e1000e) to
vfio-pci, and the e1000e driver's `unbind` file is a FIFO nobody reads: the kernel write
blocks in open(2), as a busy driver's unbind does. The daemon must report, naming the
function, that the unbind did not return (--bind-timeout 1), while that write stays blocked
in the background; and meanwhile and afterwards Allocate and a new ListAndWatch answer, a
reload is still served, and SIGTERM still exits 0. Nothing here asserts a duration.
"""
import os
import signal
import shutil
import sys

from standin import (EDU, EDU_BDF, EDU_SOCK, ROOT, WORK, Case, Watch, allocate, check,
                     wait_log)

BDF = "0000:00:02.0"


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy, log = os.path.join(WORK, "policy.json"), os.path.join(WORK, "mdevd.log")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    served = '"permittedHostDevices": {"pciHostDevices": [{"pciVendorSelector": ' \
             '"1234:11e8", "resourceName": "%s"}]}' % EDU
    with open(policy, "w") as f:
        f.write("{%s}" % served)
    fifo = os.path.join(tree, "bus/pci/drivers/e1000e/unbind")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)
    os.makedirs(os.path.join(WORK, "proc"))
    case = Case(plugins)
    case.start_kubelet()
    proc = case.mdevd(["--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"),
                       "--dev-root", WORK, "run", "--policy", policy, "--device-plugin-dir",
                       plugins, "--vfio-state", os.path.join(WORK, "vfio-bound"),
                       "--bind-timeout", "1"], log)

    def unblock():
        # Let the write that is still blocked (if the process lives on) go.
        try:
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass

    case.cleanups.append(unblock)

    def body():
        regs = case.kubelet.wait(1, 10)
        check([r[1] for r in regs] == [EDU], "registered: %s" % regs)
        wait_log(log, "ready: serving 1 resources")
        wait_log(log, "doctor: ")
        w = Watch(plugins, EDU_SOCK)
        check(w.get() == ("list", [EDU_BDF]), "first EDU list")

        with open(policy + ".new", "w") as f:
            f.write('{%s, "mdevd": {"vfioPci": {"devices": ["%s"]}}}' % (served, BDF))
        os.rename(policy + ".new", policy)
        wait_log(log, "policy reloaded: generation 2")
        wait_log(log, "%s: unbind from e1000e did not return within 1000 ms: the host "
                 "driver is busy" % BDF, timeout=60)
        print("# the blocked unbind was reported, naming %s" % BDF)
        # The abandoned write is still blocked on the FIFO; the plugins answer regardless.
        envs = allocate(plugins, EDU_SOCK, [EDU_BDF])
        check(envs.get("PCI_RESOURCE_EXAMPLE_COM_EDU") == EDU_BDF,
              "Allocate while the unbind blocks: %s" % envs)
        w2 = Watch(plugins, EDU_SOCK)
        check(w2.get() == ("list", [EDU_BDF]), "ListAndWatch while the unbind blocks")
        print("# Allocate and ListAndWatch answered while the unbind was blocked")
        # The loop still reconciles: SIGHUP reloads and the stream stays up.
        proc.send_signal(signal.SIGHUP)
        wait_log(log, "policy reloaded: generation 3")
        check(proc.poll() is None, "the daemon died")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        check(rc == 0, "exit status %d" % rc)

    return case.run(body)


if __name__ == "__main__":
    sys.exit(main())
