#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The metrics benchmarks of issue 15 (numbers, no asserts), run by tests/bench/metrics-bench.sh:

  1. scrape latency: `mdevd run --metrics-address` serving 8 device plugins with 1 000
     devices (8 mdev types x 125 mdevs on one parent; kubelet is tests/bench/dp-watch -k,
     one ListAndWatch stream per plugin held open), N sequential GET /metrics, each on a new
     TCP connection (Python's http.client; its own cost is in the figure): p50 / p99 / max.
  2. idle, the same daemon with metrics off and on (nobody scraping): VmRSS and voluntary
     context switches summed over /proc/PID/task/* over IDLE seconds, per thread.
     Targets: +0 wakeups, < 1 MB RSS.

    metrics-bench.py MDEVD BINDIR [--idle SECONDS] [--scrapes N] [--json FILE]
                     [--doc FILE --machine TEXT --command TEXT]

--doc writes the figures between the metrics-bench markers of FILE (docs/benchmarks.md).
"""
import http.client
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_tree = load("make_tree", "tests/fixtures/make-tree.py")
dpb = load("dp_bench", "tests/bench/dp-bench.py")

POOLS = 8
PER_POOL = 125
PARENT = "devices/virtual/mtty/mtty"


def uuid(pool, i):
    return "%08x-0000-4000-8000-%012x" % (0xc0000000 + pool, i + 1)


def build(tmp):
    root = os.path.join(tmp, "sys")
    t = make_tree.fresh(root)
    t.mdev_parent("mtty", PARENT, "mtty")
    for p in range(POOLS):
        t.mdev_type(PARENT, "mtty-%d" % (p + 1), "Bench type %d" % p, 4)
        for i in range(PER_POOL):
            t.mdev(uuid(p, i), PARENT, "mtty-%d" % (p + 1), group=1000 + p * PER_POOL + i)
    policy = {"permittedHostDevices": {"mediatedDevices": [
        {"mdevNameSelector": "Bench type %d" % p, "resourceName": "example.com/bench%d" % p}
        for p in range(POOLS)]}}
    with open(os.path.join(tmp, "policy.json"), "w") as f:
        json.dump(policy, f)
    return root


def start(mdevd, bindir, tmp, root, metrics, procs):
    """kubelet stand-in, the daemon, one ListAndWatch stream per plugin, added to @procs.
    Returns the daemon and the metrics port (None without metrics)."""
    d = os.path.join(tmp, "dp-%s" % ("on" if metrics else "off"))
    os.mkdir(d)
    kl = subprocess.Popen([os.path.join(bindir, "dp-watch"), "-k", d], stdout=subprocess.PIPE,
                          text=True)
    procs.append(kl)
    kll = dpb.Lines(kl)
    kll.wait(lambda l: l[0] == "kubelet")
    logp = os.path.join(tmp, "mdevd-%s.log" % ("on" if metrics else "off"))
    args = [mdevd, "--sysfs-root", root, "--proc-root", os.path.join(tmp, "proc"), "run",
            "--policy", os.path.join(tmp, "policy.json"), "--no-apply", "--no-libvirt",
            "--device-plugin-dir", d, "--no-status-socket"]
    if metrics:
        args += ["--metrics-address", "127.0.0.1:0"]
    md = subprocess.Popen(args, stderr=open(logp, "w"))
    procs.append(md)
    kll.wait(lambda l: l[0] == "registered" and int(l[1]) == POOLS, 60)
    w = subprocess.Popen([os.path.join(bindir, "dp-watch")] +
                         [os.path.join(d, "mdevd-example.com_bench%d.sock" % p)
                          for p in range(POOLS)], stdout=subprocess.PIPE, text=True)
    procs.append(w)
    wl = dpb.Lines(w)
    end = time.monotonic() + 60
    while time.monotonic() < end:  # every stream holds its full list, in any order
        with wl.cv:
            full = {int(l[1]) for l in wl.lines if l[0] == "list" and int(l[3]) == PER_POOL}
        if len(full) == POOLS:
            break
        time.sleep(0.05)
    else:
        sys.exit("metrics-bench: the ListAndWatch streams did not all get %d devices" % PER_POOL)
    port = None
    if metrics:
        end = time.monotonic() + 30
        while port is None and time.monotonic() < end:
            m = re.search(r"metrics: serving .* \(port (\d+)\)", open(logp).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
    return md, port


def stop(procs):
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def scrape_once(port):
    t0 = time.perf_counter_ns()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    r = c.getresponse()
    body = r.read()
    c.close()
    t1 = time.perf_counter_ns()
    if r.status != 200:
        sys.exit("metrics-bench: /metrics answered %d" % r.status)
    return (t1 - t0) / 1e6, body


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: metrics-bench.py MDEVD BINDIR [--idle S] [--scrapes N] [--json FILE]")
    mdevd, bindir = args[0], args[1]
    seconds, scrapes, json_out, doc = 60, 1000, None, {}
    i = 2
    while i + 1 < len(args):
        if args[i] == "--idle":
            seconds = int(args[i + 1])
        elif args[i] == "--scrapes":
            scrapes = int(args[i + 1])
        elif args[i] == "--json":
            json_out = args[i + 1]
        elif args[i] in ("--doc", "--machine", "--command"):
            doc[args[i][2:]] = args[i + 1]
        else:
            sys.exit("metrics-bench: unknown option %s" % args[i])
        i += 2
    res = {"pools": POOLS, "per_pool": PER_POOL, "idle_seconds": seconds, "scrapes": scrapes,
           "idle": []}
    tmp = tempfile.mkdtemp(prefix="mmb", dir="/tmp")  # short: socket paths hold 108 bytes
    try:
        root = build(tmp)
        os.mkdir(os.path.join(tmp, "proc"))
        for metrics in (False, True):
            procs = []
            try:
                md, port = start(mdevd, bindir, tmp, root, metrics, procs)
                fg = dpb.Foreign(procs)
                label = "metrics %s" % ("on, nobody scraping" if metrics else "off")
                res["idle"].append(dpb.idle(md.pid, seconds, label, "mdevd", fg))
                if metrics:
                    lat, body = [], b""
                    fg.start()
                    for _ in range(scrapes):
                        ms, body = scrape_once(port)
                        lat.append(ms)
                    other = fg.stop()
                    series = sum(1 for line in body.decode().splitlines()
                                 if line and not line.startswith("#"))
                    res["scrape"] = {
                        "n": scrapes, "bytes": len(body), "series": series,
                        "p50": dpb.pct(lat, 50), "p90": dpb.pct(lat, 90),
                        "p99": dpb.pct(lat, 99), "max": max(lat), "other_cpu_pct": other}
                    print("scrape, %d plugins / %d devices: %d scrapes of %d bytes (%d series); "
                          "ms: p50 %.2f p90 %.2f p99 %.2f max %.2f; other work %.0f %% of a CPU"
                          % (POOLS, POOLS * PER_POOL, scrapes, len(body), series,
                             res["scrape"]["p50"], res["scrape"]["p90"], res["scrape"]["p99"],
                             res["scrape"]["max"], other))
                    sys.stdout.flush()
                    res["idle"].append(dpb.idle(md.pid, seconds, "metrics on, after the scrapes",
                                                "mdevd", fg))
            finally:
                stop(procs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    off, on = res["idle"][0], res["idle"][1]
    # gRPC core's own timer threads tick about once a second whatever mdevd does; mdevd's
    # threads (the event loop, libmicrohttpd's) are the ones metrics could wake.
    def ours(i):
        return sum(v for n, _, v in i["per_thread"] if n in ("mdevd", "MHD-single"))

    res["delta"] = {"rss_kib": on["VmRSS"] - off["VmRSS"],
                    "voluntary": on["voluntary"] - off["voluntary"],
                    "ours": ours(on) - ours(off), "ours_on": ours(on),
                    "threads": on["threads"] - off["threads"]}
    print("metrics on vs off, idle: %+d KiB VmRSS, %+d voluntary context switches in %d s, "
          "%+d thread" % (res["delta"]["rss_kib"], res["delta"]["voluntary"], seconds,
                          res["delta"]["threads"]))
    if json_out or "doc" in doc:
        with open(json_out or os.path.join(bindir, "metrics-bench.json"), "w") as f:
            json.dump(res, f, indent=1)
    if "doc" in doc:
        write_doc(doc, res)
    return 0


BEGIN, END = "<!-- metrics-bench:begin -->", "<!-- metrics-bench:end -->"


def write_doc(doc, res):
    sc, d = res["scrape"], res["delta"]
    rows = "\n".join(
        "| %s | %d | %d | %d | %d (%.2f/s) | %s |" % (
            i["label"], i["VmRSS"], i["RssAnon"], i["threads"], i["voluntary"],
            i["voluntary"] / i["seconds"],
            ", ".join("%s %d" % (n, v) for n, _, v in i["per_thread"] if v))
        for i in res["idle"])
    ok = lambda good: "met" if good else "TARGET MISSED"  # noqa: E731
    off_files = dict((f, k) for f, k in res["idle"][0]["files"])
    extra = [(f, k) for f, k in res["idle"][1]["files"] if f not in off_files]
    anon = res["idle"][1]["RssAnon"] - res["idle"][0]["RssAnon"]
    pss = res["idle"][1]["Pss"] - res["idle"][0]["Pss"]
    libs = ", ".join("%s %d" % fk for fk in sorted(extra, key=lambda x: -x[1])) or "none"
    text = f"""{BEGIN}
## Metrics (issue 15)

`{doc.get("command", "tests/bench/metrics-bench.sh --doc")}` on {doc.get("machine", "?")}.
`mdevd run --no-apply` on a fixture tree of one mdev parent with {res["pools"]} types x
{res["per_pool"]} mdevs = {res["pools"] * res["per_pool"]} devices in {res["pools"]} pools, each
served as a device plugin to the kubelet stand-in `tests/bench/dp-watch -k`, which also holds
one ListAndWatch stream per plugin, as kubelet does.

**Scrape latency**, {sc["n"]} sequential `GET /metrics`, each on a new TCP connection from
Python's `http.client` (its own cost included), {sc["bytes"]} bytes, {sc["series"]} series:
p50 {sc["p50"]:.2f} ms, p90 {sc["p90"]:.2f} ms, **p99 {sc["p99"]:.2f} ms**, max
{sc["max"]:.2f} ms (other work on the machine meanwhile: {sc["other_cpu_pct"]:.0f} % of a CPU).

**Idle**, {res["idle_seconds"]} s each, nobody scraping unless said (VmRSS and RssAnon in KiB;
voluntary context switches summed over every thread, and the threads that had any):

| daemon | VmRSS | RssAnon | threads | wakeups | per thread |
|---|---|---|---|---|---|
{rows}

Metrics on vs off, idle: **{d["ours"]:+d} wakeups of mdevd's own threads** (the event loop
and libmicrohttpd's `MHD-single`: {d["ours_on"]} in {res["idle_seconds"]} s with metrics on;
target +0: {ok(d["ours"] <= 0)}); all threads {d["voluntary"]:+d}, the rest being gRPC core's
timer threads (`grpc_global_tim`, `timer_manager`), which tick about once a second either way;
**{d["rss_kib"]:+d} KiB VmRSS** (target < 1 MB: {ok(d["rss_kib"] < 1024)}), {d["threads"]:+d}
thread (libmicrohttpd's, asleep in epoll_wait without a timeout). Of the RSS, {anon:+d} KiB
is anonymous memory (the server, the snapshot, buffers) and the rest file pages of the
libraries mapped only with metrics on (KiB resident): {libs}. Debian's libmicrohttpd12 links
GnuTLS, so loading it maps GnuTLS and its dependencies although mdevd serves plain HTTP;
those pages are shared with every other process that maps them (Pss {pss:+d} KiB).
{END}"""
    with open(doc["doc"]) as f:
        cur = f.read()
    if BEGIN in cur and END in cur:
        cur = cur[:cur.index(BEGIN)] + text + cur[cur.index(END) + len(END):]
    else:
        cur = cur.rstrip("\n") + "\n\n" + text + "\n"
    with open(doc["doc"], "w") as f:
        f.write(cur)
    print("metrics-bench: wrote %s" % doc["doc"])


if __name__ == "__main__":
    sys.exit(main())
