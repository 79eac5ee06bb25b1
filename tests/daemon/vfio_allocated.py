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
import subprocess
import sys

from kubelet_e2e import EDU, EDU_SOCK, ROOT, Kubelet, check, wait_log, pb, pbg, grpc

MDEVD, WORK = sys.argv[2], sys.argv[3]
BDF = "0000:00:03.0"


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
    os.makedirs(plugins)
    os.makedirs(os.path.join(WORK, "proc"))
    kubelet = Kubelet(plugins)
    argv = [MDEVD, "--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"),
            "--dev-root", WORK, "run", "--policy", policy, "--device-plugin-dir", plugins,
            "--vfio-state", state, "--no-libvirt"]
    log = os.path.join(WORK, "mdevd.log")
    proc = subprocess.Popen(argv, stderr=open(log, "w"))
    try:
        kubelet.wait(1, 10)
        wait_log(log, "ready: serving 1 resources")
        ch = grpc.insecure_channel("unix:" + os.path.join(plugins, EDU_SOCK))
        resp = pbg.DevicePluginStub(ch).Allocate(pb.AllocateRequest(container_requests=[
            pb.ContainerAllocateRequest(devices_ids=[BDF])]), timeout=10)
        ch.close()
        check(dict(resp.container_responses[0].envs).get("PCI_RESOURCE_EXAMPLE_COM_EDU") == BDF,
              "Allocate: %s" % resp)
        with open(policy + ".new", "w") as f:
            f.write("{%s}" % served)
        os.rename(policy + ".new", policy)
        wait_log(log, "policy reloaded: generation 2")
        wait_log(log, "%s: kept on vfio-pci: no longer in the policy but in use (handed to "
                 "kubelet by Allocate, not released)" % BDF)
        check("given back to the host" not in read(log), "given back while allocated")
        check(read(override) == "vfio-pci\n", "driver_override: %r" % read(override))
        check(BDF in read(state), "the ownership file lost %s" % BDF)
        print("# %s stays on vfio-pci while allocated" % BDF)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=30) == 0, "exit status")

        # The control: a new daemon has allocated nothing, so it gives the function back.
        log2 = os.path.join(WORK, "mdevd2.log")
        proc = subprocess.Popen(argv, stderr=open(log2, "w"))
        wait_log(log2, "%s: given back to the host" % BDF)
        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=30) == 0, "exit status")
        # Read after the exit: the file is rewritten just after that log line.
        check(BDF not in read(state), "the ownership file still names %s" % BDF)
        print("# without the Allocate, %s is given back" % BDF)
    except AssertionError as err:
        print("FAIL: %s" % err)
        for path in (log, os.path.join(WORK, "mdevd2.log")):
            if os.path.exists(path):
                print("---- %s (tail)\n%s" % (path, read(path)[-2500:]))
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
        kubelet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
