#!/usr/bin/python3
"""`mdevd run --metrics-address` and its status socket against the kubelet stand-in.

    observe_e2e.py GEN_DIR MDEVD WORK_DIR      (run by tests/daemon/run.sh)

On a copy of the samples fixture with tests/vm/policies/kubevirt.json, every scrape is
parsed with prometheus_client's text parser (python3-prometheus-client) and checked against
the truth:
  - kubelet absent: /readyz 503, `mdevd status --check` exits 2, mdevd_ready 0;
  - kubelet starts: both plugins register; /readyz 200, --check 0; registrations 1 each;
  - mdevd_devices equals what each ListAndWatch stream received and what the status socket
    says; mdevd_mdevs and mdevd_mdev_available_instances equal the tree's sysfs;
  - Allocate / GetPreferredAllocation counters and histogram counts equal the calls made,
    by result (ok, invalid_argument);
  - reload counters and the generation follow a rejected and an accepted edit;
  - a kubelet restart: kubelet_restarts_total 1, reregistrations 1;
  - a stalled loop (hidden --debug-stall, SIGUSR2): /livez 503, --check exits 1; live again
    after;
  - SIGTERM: exit 0, the status socket is gone.
Prints "# ..." numbers; exits non-zero with the reason on failure.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from standin import (EDU, EDU_SOCK, MDEVD, MID, MTTY, MTTY_SOCK, MTTY_UUID, ROOT, WORK, Case,
                     Watch, allocate, check, grpc, pb, pbg, wait_log, wait_until)
STALL = 6


def http(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    """{(name, frozenset(labels)): value} of one scrape, through the real parser."""
    code, text = http(port, "/metrics")
    check(code == 200, "/metrics: HTTP %d" % code)
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def val(m, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in m, "no sample %s%s in the scrape" % (name, labels))
    return m[key]


def status(sock, *args):
    p = subprocess.run([MDEVD, "status", "--socket", sock] + list(args),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def sysfs_truth(tree):
    """mdevs per (parent, type) and available_instances per (parent, type), from the tree."""
    mdevs = {}
    for u in os.listdir(os.path.join(tree, "bus/mdev/devices")):
        d = os.path.join(tree, "bus/mdev/devices", u)
        typ = os.path.basename(os.path.realpath(os.path.join(d, "mdev_type")))
        parent = os.path.basename(os.path.dirname(os.path.realpath(d)))
        mdevs[(parent, typ)] = mdevs.get((parent, typ), 0) + 1
    avail = {}
    for parent in os.listdir(os.path.join(tree, "class/mdev_bus")):
        td = os.path.join(tree, "class/mdev_bus", parent, "mdev_supported_types")
        for typ in os.listdir(td):
            with open(os.path.join(td, typ, "available_instances")) as f:
                avail[(parent, typ)] = int(f.read())
    return mdevs, avail


def allocate_result(plugins, sock, ids):
    """"ok", or the gRPC status of the refusal in lower case ("invalid_argument")."""
    try:
        allocate(plugins, sock, ids)
        return "ok"
    except grpc.RpcError as e:
        return e.code().name.lower()


def preferred(plugins, sock, available, size):
    ch = grpc.insecure_channel("unix:" + os.path.join(plugins, sock))
    try:
        req = pb.PreferredAllocationRequest(container_requests=[
            pb.ContainerPreferredAllocationRequest(available_deviceIDs=available,
                                                   allocation_size=size)])
        pbg.DevicePluginStub(ch).GetPreferredAllocation(req, timeout=10)
    finally:
        ch.close()


def main():
    tree, plugins = os.path.join(WORK, "sys"), os.path.join(WORK, "plugins")
    policy, log = os.path.join(WORK, "policy.json"), os.path.join(WORK, "mdevd.log")
    sock = os.path.join(WORK, "status.sock")
    shutil.copytree(os.path.join(ROOT, "tests/fixtures/samples"), tree, symlinks=True)
    shutil.copy(os.path.join(ROOT, "tests/vm/policies/kubevirt.json"), policy)
    os.makedirs(os.path.join(WORK, "proc"))
    case = Case(plugins)
    proc = case.mdevd(["--sysfs-root", tree, "--proc-root", os.path.join(WORK, "proc"),
                       "--machine-id", MID, "run", "--policy", policy, "--no-apply",
                       "--device-plugin-dir", plugins, "--metrics-address", "127.0.0.1:0",
                       "--status-socket", sock, "--live-timeout", "1", "--debug-stall",
                       str(STALL)], log)

    def scenario():
        wait_log(log, "ready: serving 2 resources")
        with open(log) as f:
            port = int(re.search(r"metrics: serving .* \(port (\d+)\)", f.read()).group(1))
        check(oct(os.stat(sock).st_mode & 0o777) == "0o600", "status socket mode %o" %
              (os.stat(sock).st_mode & 0o777))

        # kubelet absent: served, not registered, not ready.
        code, body = http(port, "/readyz")
        check(code == 503 and "not registered" in body, "/readyz without kubelet: %d %s" %
              (code, body))
        rc, out, _ = status(sock, "--check")
        check(rc == 2 and "not registered" in out, "--check without kubelet: %d %s" % (rc, out))
        m = scrape(port)
        check(val(m, "mdevd_ready") == 0, "mdevd_ready without kubelet")
        check(val(m, "mdevd_device_plugin_registered", resource=MTTY) == 0, "registered 0")
        check(http(port, "/livez")[0] == 200, "/livez while idle")
        print("# kubelet absent: /readyz 503, status --check 2, mdevd_ready 0")

        # kubelet comes: kubelet.sock appears, both plugins register, ready.
        regs = case.start_kubelet().wait(2, 20)
        check(sorted(r[1] for r in regs) == [EDU, MTTY], "registered: %s" % regs)
        wait_until(lambda: http(port, "/readyz")[0] == 200, "/readyz 200", 20)
        rc, out, _ = status(sock, "--check")
        check(rc == 0 and out.startswith("ready"), "--check with kubelet: %d %s" % (rc, out))
        m = scrape(port)
        check(val(m, "mdevd_ready") == 1, "mdevd_ready with kubelet")
        for r in (EDU, MTTY):
            check(val(m, "mdevd_device_plugin_registered", resource=r) == 1, "registered " + r)
            check(val(m, "mdevd_device_plugin_registrations_total", resource=r) == 1,
                  "registrations " + r)
        check(val(m, "mdevd_kubelet_restarts_total") == 1, "kubelet.sock appeared once")
        print("# kubelet up: registered, /readyz 200, status --check 0")

        # What kubelet received == mdevd_devices == the status socket.
        lists = {}
        for r, s in ((MTTY, MTTY_SOCK), (EDU, EDU_SOCK)):
            w = Watch(plugins, s)
            kind, ids = w.get()
            check(kind == "list", "ListAndWatch %s: %s" % (r, kind))
            lists[r] = ids
            w.ch.close()
        rc, out, _ = status(sock, "-o", "json")
        check(rc == 0, "status -o json: %d" % rc)
        doc = json.loads(out)
        check(doc["source"] == "daemon" and doc["ready"] is True, "status document: %s" % out)
        m = scrape(port)
        for res in doc["resources"]:
            name = res["name"]
            ids = sorted(d["id"] for d in res["devices"])
            check(ids == lists[name], "status %s devices %s, kubelet got %s" %
                  (name, ids, lists[name]))
            check(res["plugin"]["registered"] is True, "status: %s not registered" % name)
            check(val(m, "mdevd_devices", resource=name, health="healthy") == len(lists[name]),
                  "mdevd_devices %s" % name)
            check(val(m, "mdevd_devices", resource=name, health="unhealthy") == 0,
                  "mdevd_devices unhealthy %s" % name)
        mdevs, avail = sysfs_truth(tree)
        for (parent, typ), n in avail.items():
            check(val(m, "mdevd_mdev_available_instances", parent=parent, type=typ,
                      backend="mdev") == n, "available_instances %s %s" % (parent, typ))
            got = (val(m, "mdevd_mdevs", parent=parent, type=typ, owner="mdevd") +
                   val(m, "mdevd_mdevs", parent=parent, type=typ, owner="foreign"))
            check(got == mdevs.get((parent, typ), 0), "mdevd_mdevs %s %s: %s, sysfs %s" %
                  (parent, typ, got, mdevs.get((parent, typ), 0)))
        check(len(doc["mdevs"]) == sum(mdevs.values()), "status mdevs vs sysfs")
        print("# devices: kubelet %s == mdevd_devices == status; mdevs and capacity == sysfs "
              "(%d types)" % ({k: len(v) for k, v in lists.items()}, len(avail)))

        # Allocate and GetPreferredAllocation: counters == the calls made.
        calls = {"ok": 0, "invalid_argument": 0}
        for _ in range(7):
            calls[allocate_result(plugins, MTTY_SOCK, [MTTY_UUID])] += 1
        for _ in range(3):
            calls[allocate_result(plugins, MTTY_SOCK, ["no-such-device"])] += 1
        check(calls == {"ok": 7, "invalid_argument": 3}, "Allocate results: %s" % calls)
        for _ in range(4):
            preferred(plugins, EDU_SOCK, ["0000:00:03.0"], 1)
        m = scrape(port)
        for res, n in (("ok", 7), ("invalid_argument", 3), ("failed_precondition", 0)):
            got = val(m, "mdevd_device_plugin_requests_total", resource=MTTY, method="Allocate",
                      result=res)
            check(got == n, "Allocate %s: %s, made %d" % (res, got, n))
        check(val(m, "mdevd_device_plugin_request_duration_seconds_count", resource=MTTY,
                  method="Allocate") == 10, "Allocate histogram count")
        check(val(m, "mdevd_device_plugin_requests_total", resource=EDU,
                  method="GetPreferredAllocation", result="ok") == 4, "preferred ok")
        check(val(m, "mdevd_device_plugin_request_duration_seconds_count", resource=EDU,
                  method="GetPreferredAllocation") == 4, "preferred histogram count")
        check(val(m, "mdevd_device_plugin_requests_total", resource=EDU, method="Allocate",
                  result="ok") == 0, "EDU Allocate 0")
        print("# Allocate 7 ok + 3 invalid, GetPreferredAllocation 4: counted exactly")

        # Reloads: a rejected edit, then an accepted one.
        with open(policy + ".new", "w") as f:
            f.write("{ not json")
        os.rename(policy + ".new", policy)
        wait_log(log, "new policy rejected")
        m = scrape(port)
        check(val(m, "mdevd_policy_reloads_total", result="rejected") == 1, "rejected 1")
        check(val(m, "mdevd_policy_reloads_total", result="ok") == 0, "ok 0")
        check(val(m, "mdevd_policy_generation") == 1, "generation 1")
        doc = json.loads(status(sock, "-o", "json")[1])
        check(doc["last_reload"]["result"] == "rejected", "status last_reload: %s" %
              doc["last_reload"])
        shutil.copy(os.path.join(ROOT, "tests/vm/policies/kubevirt.json"), policy + ".new")
        os.rename(policy + ".new", policy)
        wait_log(log, "policy reloaded: generation 2")
        wait_until(lambda: scrape(port).get(
            ("mdevd_policy_generation", frozenset())) == 2, "generation 2 scraped", 20)
        m = scrape(port)
        check(val(m, "mdevd_policy_reloads_total", result="ok") == 1, "ok 1")
        check(val(m, "mdevd_policy_reloads_total", result="rejected") == 1, "rejected stays 1")
        check(val(m, "mdevd_reconciles_total") >= 2, "reconciles")
        print("# reloads: rejected 1, ok 1, generation 2")

        # kubelet restarts: sockets deleted, kubelet.sock re-created, registered again.
        case.restart_kubelet().wait(2, 20)
        wait_until(lambda: all(
            scrape(port).get(("mdevd_device_plugin_reregistrations_total",
                              frozenset({("resource", r)}))) == 1 for r in (EDU, MTTY)),
            "re-registered", 20)
        m = scrape(port)
        check(val(m, "mdevd_kubelet_restarts_total") == 2, "kubelet restarts")
        wait_until(lambda: http(port, "/readyz")[0] == 200, "ready again", 20)
        print("# kubelet restart: kubelet_restarts_total 2, reregistrations 1 each, ready")

        # A stuck loop: /livez and status --check fail while it lasts.
        proc.send_signal(signal.SIGUSR2)
        wait_log(log, "stalling the event loop")
        t0 = time.monotonic()
        code, body = http(port, "/livez")
        check(code == 503, "/livez during the stall: %d %s" % (code, body))
        rc, _, err = status(sock, "--check", "--timeout", "1")
        check(rc == 1 and "did not answer" in err, "--check during the stall: %d %s" % (rc, err))
        check(time.monotonic() - t0 < STALL, "the stall ended before the probes were seen")
        # Metrics keep being served from their own thread.
        check(val(scrape(port), "mdevd_ready") == 1, "scrape during the stall")
        wait_log(log, "runs again after the stall", STALL + 10)
        wait_until(lambda: http(port, "/livez")[0] == 200, "/livez again", 20)
        print("# stalled loop: /livez 503, status --check 1, scrape still served; live after")

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        check(rc == 0, "exit status %d" % rc)
        check(not os.path.exists(sock), "status socket left behind")
        rc, _, err = status(sock, "--check", "--timeout", "1")
        check(rc == 1, "--check with no daemon: %d" % rc)
        print("# SIGTERM: exit 0, socket removed; --check then exits 1")

    return case.run(scenario)


if __name__ == "__main__":
    sys.exit(main())
