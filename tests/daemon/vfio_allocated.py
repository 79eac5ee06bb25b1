#!/usr/bin/python3
"""A function handed to kubelet by Allocate is never given back.

    vfio_allocated.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

On a copy of the samples fixture, the ownership file says mdevd bound 0000:00:03.0 (the
EDU, on vfio-pci) and the policy names it in mdevd.vfioPci; `mdevd run` serves it as
example.com/EDU. A kubelet stand-in's Allocate hands it out; the policy then drops it from
vfioPci. No process holds its group or cdev open, so only the unreleased Allocate keeps it:
the daemon must log it kept, leave driver_override and the ownership file alone. A daemon
started again with the same policy has allocated nothing, and gives it back: the control.
"""
import os
import shutil
import signal
import sys

from standin import EDU, EDU_BDF, EDU_SOCK, ROOT, WORK, Case, allocate, check, log_has, wait_log

BDF = EDU_BDF


def read(path):
    with open(path) as f:
        return f.read()


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy, state = os.path.join(WORK, "policy.json"), os.path.join(WORK, "vfio-bound")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    for f in ("bus/pci/drivers_probe", "bus/pci/drivers/vfio-pci/unbind"):
        open(os.path.join(tree, f), "w").close()
    override = os.path.join(tree, "bus/pci/devices", BDF, "driver_override")
    with open(override, "w") as f:
        f.write("vfio-pci\n")
    with open(state, "w") as f:
        f.write("%s 1234:11e8 -\n" % BDF)
    served = '"permittedHostDevices": {"pciHostDevices": [{"pciVendorSelector": ' \
             '"1234:11e8", "resourceName": "%s"}]}' % EDU
    with open(policy, "w") as f:
        f.write('{%s, "mdevd": {"vfioPci": {"devices": ["%s"]}}}' % (served, BDF))
    os.makedirs(os.path.join(WORK, "proc"))
    case = Case(plugins)
    case.start_kubelet()
    args = ["--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"), "--dev-root", WORK,
            "run", "--policy", policy, "--device-plugin-dir", plugins, "--vfio-state", state,
            "--no-libvirt"]
    log, log2 = os.path.join(WORK, "mdevd.log"), os.path.join(WORK, "mdevd2.log")

    def body():
        proc = case.mdevd(args, log)
        case.kubelet.wait(1, 10)
        wait_log(log, "ready: serving 1 resources")
        envs = allocate(plugins, EDU_SOCK, [BDF])
        check(envs.get("PCI_RESOURCE_EXAMPLE_COM_EDU") == BDF, "Allocate: %s" % envs)
        with open(policy + ".new", "w") as f:
            f.write("{%s}" % served)
        os.rename(policy + ".new", policy)
        wait_log(log, "policy reloaded: generation 2")
        wait_log(log, "%s: kept on vfio-pci: no longer in the policy but in use (handed to "
                 "kubelet by Allocate, not released)" % BDF)
        check(not log_has(log, "given back to the host"), "given back while allocated")
        check(read(override) == "vfio-pci\n", "driver_override: %r" % read(override))
        check(BDF in read(state), "the ownership file lost %s" % BDF)
        print("# %s stays on vfio-pci while allocated" % BDF)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=30) == 0, "exit status")

        # The control: a new daemon has allocated nothing, so it gives the function back.
        proc = case.mdevd(args, log2)
        wait_log(log2, "%s: given back to the host" % BDF)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=30) == 0, "exit status")
        # Read after the exit: the file is rewritten just after that log line.
        check(BDF not in read(state), "the ownership file still names %s" % BDF)
        print("# without the Allocate, %s is given back" % BDF)

    return case.run(body)


if __name__ == "__main__":
    sys.exit(main())
