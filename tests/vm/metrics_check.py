#!/usr/bin/python3
"""Check a scrape of `mdevd run --metrics-address` against the guest's truth.

    metrics_check.py BEFORE AFTER STATUS_JSON EVENTS EXPECT_JSON   (tests/vm/guest-daemon.sh)

BEFORE, AFTER: two scrapes (curl .../metrics), parsed with prometheus_client's text parser.
STATUS_JSON: `mdevd status -o json` taken with AFTER. EVENTS: the kubelet stand-in's event
file ("US list RES ID:HEALTH ..."). EXPECT_JSON: what the test did between the scrapes:
{"allocate": {RES: {RESULT: N}}, "preferred": {RES: N}, "reloads": {"ok": N, "rejected": N}}.
Checks, naming the metric on failure:
  - mdevd_devices{resource,health} == the last ListAndWatch list kubelet got == the status
    socket's devices;
  - mdevd_mdevs (summed over owner) and mdevd_mdev_available_instances == /sys now;
  - the Allocate / GetPreferredAllocation counters and histogram counts grew by exactly the
    calls made; the reload counters and the generation by exactly the edits;
  - every plugin registered, mdevd_ready 1; uevents counted.
Prints "# ..." lines; exits 1 with the reasons.
"""
import json
import os
import sys

from prometheus_client.parser import text_string_to_metric_families

errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


def parse(path):
    out = {}
    with open(path) as f:
        for fam in text_string_to_metric_families(f.read()):
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def get(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def last_lists(events):
    lists = {}
    with open(events) as f:
        for line in f:
            w = line.split()
            if len(w) >= 3 and w[1] == "list":
                lists[w[2]] = sorted(w[3:])
    return lists


def sysfs():
    mdevs, avail = {}, {}
    for u in os.listdir("/sys/bus/mdev/devices"):
        d = os.path.join("/sys/bus/mdev/devices", u)
        typ = os.path.basename(os.path.realpath(os.path.join(d, "mdev_type")))
        parent = os.path.basename(os.path.dirname(os.path.realpath(d)))
        mdevs[(parent, typ)] = mdevs.get((parent, typ), 0) + 1
    for parent in os.listdir("/sys/class/mdev_bus"):
        td = os.path.join("/sys/class/mdev_bus", parent, "mdev_supported_types")
        for typ in os.listdir(td):
            with open(os.path.join(td, typ, "available_instances")) as f:
                avail[(parent, typ)] = int(f.read())
    return mdevs, avail


def main():
    before, after = parse(sys.argv[1]), parse(sys.argv[2])
    with open(sys.argv[3]) as f:
        status = json.load(f)
    lists = last_lists(sys.argv[4])
    with open(sys.argv[5]) as f:
        expect = json.load(f)

    check(get(after, "mdevd_ready") == 1, "mdevd_ready is %s, want 1" % get(after, "mdevd_ready"))
    check(status["ready"] is True, "status: not ready: %s" % status.get("not_ready"))
    for res in status["resources"]:
        name = res["name"]
        served = sorted("%s:%s" % (d["id"], d["health"]) for d in res["devices"])
        check(served == lists.get(name), "%s: status socket %s, kubelet's last list %s" %
              (name, served, lists.get(name)))
        for health in ("Healthy", "Unhealthy"):
            n = sum(1 for w in lists.get(name, []) if w.endswith(":" + health))
            got = get(after, "mdevd_devices", resource=name, health=health.lower())
            check(got == n, "mdevd_devices{resource=%s,health=%s} = %s, kubelet has %d" %
                  (name, health.lower(), got, n))
        check(get(after, "mdevd_device_plugin_registered", resource=name) == 1,
              "%s: mdevd_device_plugin_registered != 1" % name)
        check(res["plugin"] and res["plugin"]["registered"], "%s: status: not registered" % name)
    print("# mdevd_devices == kubelet's last lists == status socket: %s" %
          {r["name"]: len(r["devices"]) for r in status["resources"]})

    mdevs, avail = sysfs()
    for (parent, typ), n in sorted(avail.items()):
        got = get(after, "mdevd_mdev_available_instances", parent=parent, type=typ,
                  backend="mdev")
        check(got == n, "mdevd_mdev_available_instances{%s,%s} = %s, sysfs %d" %
              (parent, typ, got, n))
        live = sum(get(after, "mdevd_mdevs", parent=parent, type=typ, owner=o) or 0
                   for o in ("mdevd", "foreign"))
        check(live == mdevs.get((parent, typ), 0), "mdevd_mdevs{%s,%s} = %s, sysfs %d" %
              (parent, typ, live, mdevs.get((parent, typ), 0)))
    check(len(status["mdevs"]) == sum(mdevs.values()), "status mdevs %d, sysfs %d" %
          (len(status["mdevs"]), sum(mdevs.values())))
    owned = sum(v for (n, ls), v in after.items() if n == "mdevd_mdevs" and
                ("owner", "mdevd") in ls)
    print("# mdevd_mdevs == sysfs: %d live (%d owned), capacity of %d types == "
          "available_instances" % (sum(mdevs.values()), owned, len(avail)))

    def delta(name, **labels):
        return (get(after, name, **labels) or 0) - (get(before, name, **labels) or 0)

    for res, results in expect.get("allocate", {}).items():
        for result, n in results.items():
            d = delta("mdevd_device_plugin_requests_total", resource=res, method="Allocate",
                      result=result)
            check(d == n, "Allocate %s %s: +%s, the test made %d" % (res, result, d, n))
        d = delta("mdevd_device_plugin_request_duration_seconds_count", resource=res,
                  method="Allocate")
        check(d == sum(results.values()), "Allocate %s histogram: +%s" % (res, d))
    for res, n in expect.get("preferred", {}).items():
        d = delta("mdevd_device_plugin_requests_total", resource=res,
                  method="GetPreferredAllocation", result="ok")
        check(d == n, "GetPreferredAllocation %s: +%s, the test made %d" % (res, d, n))
    rel = expect.get("reloads", {})
    for result in ("ok", "rejected"):
        d = delta("mdevd_policy_reloads_total", result=result)
        check(d == rel.get(result, 0), "reloads %s: +%s, want +%d" % (result, d,
                                                                        rel.get(result, 0)))
    d = delta("mdevd_policy_generation")
    check(d == rel.get("ok", 0), "generation: +%s, want +%d" % (d, rel.get("ok", 0)))
    check(get(after, "mdevd_policy_generation") == status["generation"],
          "generation: metrics %s, status %s" % (get(after, "mdevd_policy_generation"),
                                                 status["generation"]))
    check((get(after, "mdevd_uevents_total") or 0) > 0, "no uevents counted")
    check(get(after, "mdevd_uevents_total") >= status["uevents"] - 1000 and
          get(after, "mdevd_reconciles_total") > 0, "reconciles / uevents")
    print("# deltas == the calls and edits made: %s; %d uevents, %d reconciles" %
          (json.dumps(expect, sort_keys=True), get(after, "mdevd_uevents_total"),
           get(after, "mdevd_reconciles_total")))
    for e in errors:
        print("FAIL: " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
