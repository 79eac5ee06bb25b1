#!/usr/bin/python3
"""`mdevd run` on NVIDIA vendor-specific VFIO (vGPU 17+) with its device plugins against a
kubelet stand-in.

    vgpu_e2e.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

On a copy of the L40S fixture with a policy of 4 x L40S-12Q on card 0000:41:00.0: the daemon
makes the 4 lowest VFs vGPUs and serves them as nvidia.com/L40S-12Q; kubelet is handed
0000:41:00.7 (Allocate: PCI_RESOURCE_NVIDIA_COM_L40S-12Q); the policy then shrinks to 2, and
mdevd frees 0000:41:00.6 but keeps 0000:41:00.7, which kubelet holds (an Allocate is never
given back). Prints "# ..." lines; exits non-zero with the reason on failure.
"""
import json
import os
import shutil
import signal
import sys

from standin import MID, ROOT, WORK, Case, Watch, allocate, check, wait_log, wait_until

RES = "nvidia.com/L40S-12Q"
SOCK = "mdevd-nvidia.com_L40S-12Q.sock"
VFS = ["0000:41:00.4", "0000:41:00.5", "0000:41:00.6", "0000:41:00.7"]


def policy(count):
    return {"mdevd": {"layouts": [{"parents": ["0000:41:00.0"],
                                   "types": {"NVIDIA L40S-12Q": count}}]},
            "permittedHostDevices": {"mediatedDevices": [
                {"mdevNameSelector": "NVIDIA L40S-12Q", "resourceName": RES,
                 "externalResourceProvider": True}]}}


def write_policy(path, count):
    with open(path + ".new", "w") as f:
        json.dump(policy(count), f)
    os.rename(path + ".new", path)


def current(tree, vf):
    with open(os.path.join(tree, "bus/pci/devices", vf, "nvidia/current_vgpu_type")) as f:
        return int(f.read().strip() or 0)


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    pol, log = os.path.join(WORK, "policy.json"), os.path.join(WORK, "mdevd.log")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/l40s"), tree, symlinks=True)
    write_policy(pol, 4)
    os.makedirs(os.path.join(WORK, "proc"))
    env = dict(os.environ, MDEVD_RUN_DIR=os.path.join(WORK, "run"))
    case = Case(plugins)
    case.start_kubelet()
    proc = case.mdevd(["--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"),
                       "--machine-id", MID, "run", "--policy", pol, "--device-plugin-dir",
                       plugins], log, env=env)

    def body():
        wait_until(lambda: all(current(tree, vf) == 1153 for vf in VFS), "4 VFs become 12Q")
        check(current(tree, "0000:41:01.0") == 0, "a fifth VF was configured")
        regs = case.kubelet.wait(1, 20)
        check([r[1] for r in regs] == [RES], "registered: %s" % regs)
        # Fixture trees send no uevents: SIGHUP re-reads the node the apply changed.
        proc.send_signal(signal.SIGHUP)
        w = Watch(plugins, SOCK)
        wait_until(lambda: w.get(timeout=1) == ("list", VFS), "the pool lists the 4 VFs")
        print("# 4 x L40S-12Q on %s..%s, served as %s" % (VFS[0], VFS[-1], RES))

        envs = allocate(plugins, SOCK, [VFS[3]], timeout=5)
        check(envs == {"PCI_RESOURCE_NVIDIA_COM_L40S-12Q": VFS[3]}, "Allocate envs %s" % envs)

        # Shrink to 2: slots 3 and 2 (.7, .6) go, but kubelet holds .7.
        write_policy(pol, 2)
        wait_until(lambda: current(tree, VFS[2]) == 0, "0000:41:00.6 freed")
        wait_log(log, "kept %s (1153 on 0000:41:00.0): in use: kubelet allocated it to a pod"
                 % VFS[3], 20)
        check(current(tree, VFS[3]) == 1153, "the allocated VF was freed")
        check(current(tree, VFS[0]) == 1153 and current(tree, VFS[1]) == 1153,
              "the kept slots changed")
        print("# shrink to 2: %s freed, %s kept (allocated to a pod)" % (VFS[2], VFS[3]))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        check(rc == 0, "exit status %d" % rc)

    return case.run(body)


if __name__ == "__main__":
    sys.exit(main())
