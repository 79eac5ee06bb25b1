#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device-plugin benchmarks of issue 3 (numbers, no asserts), run by tests/bench/dp-bench.sh:

  1. Allocate latency, 32 concurrent clients on one plugin socket (tests/bench/dp-alloc, gRPC
     core C API), against mdevd and against the floor server (dp-watch -f, bare gRPC core):
     target p99 mdevd / floor <= 1.10 closed loop, and the paced rate up to which p99 < 1 ms.
  2. change -> ListAndWatch: an mdev appears in (or leaves) the fixture tree, SIGHUP, time
     until the C client (tests/bench/dp-watch) holds the new list: target p99 < 50 ms. The
     fixture tree sends no uevents, so this is "SIGHUP -> list" (dp-serve re-reads the node
     and the policy on SIGHUP; `mdevd run` reaches the same update after a uevent; the
     real-kernel uevent figures come from tests/vm/guest-daemon.sh).
  3. idle with 8 plugins, with and without a ListAndWatch client per plugin: VmRSS (target
     < 12 MB) and voluntary context switches summed over /proc/PID/task/* over IDLE seconds,
     per thread (targets: the program's own threads none beyond the safety-net timer; the
     whole process mdevd - floor = 0).

    dp-bench.py MDEVD BINDIR [--idle SECONDS] [--changes N] [--calls N] [--env VAR=VALUE]...
                [--json FILE]
    dp-bench.py MDEVD BINDIR --closed ROUNDS [--calls N]

--closed runs only the closed-loop Allocate comparison of 1., ROUNDS runs of each server
interleaved, and prints each server's median p99 and server CPU per call and the ratio of
the p99 medians: the quick way to compare two builds of mdevd (MDEVD=...) on one machine.

--env sets a variable for mdevd only (e.g. MALLOC_ARENA_MAX=1). --json also writes every
figure to FILE, for tests/bench/dp-report.py (which `make bench` uses to write
docs/benchmarks.md). Each measured phase also records the CPU other work on the machine took
meanwhile (busy time in /proc/stat minus this process tree's): the machine may be small and
shared, and the Allocate figures are sensitive to it.

The node is a fixture tree built with tests/fixtures/make-tree.py: one mdev parent with 8
types, 4 mdevs each, one pool (resource name) per type; kubelet is dp-watch -k (accepts
every Register).
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("make_tree",
                                              os.path.join(ROOT, "tests/fixtures/make-tree.py"))
make_tree = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_tree)

POOLS = 8
PER_POOL = 4
PARENT = "devices/virtual/mtty/mtty"
EXTRA = "ffffffff-0000-4000-8000-000000000001"  # the mdev the change test adds and removes


def uuid(pool, i):
    return "%08x-0000-4000-8000-%012x" % (0xb0000000 + pool, i + 1)


def build(tmp):
    root = os.path.join(tmp, "sys")
    t = make_tree.fresh(root)
    t.mdev_parent("mtty", PARENT, "mtty")
    for p in range(POOLS):
        t.mdev_type(PARENT, "mtty-%d" % (p + 1), "Bench type %d" % p, 16)
        for i in range(PER_POOL):
            t.mdev(uuid(p, i), PARENT, "mtty-%d" % (p + 1), group=100 + p * PER_POOL + i)
    policy = {"permittedHostDevices": {"mediatedDevices": [
        {"mdevNameSelector": "Bench type %d" % p, "resourceName": "example.com/bench%d" % p}
        for p in range(POOLS)]}}
    with open(os.path.join(tmp, "policy.json"), "w") as f:
        json.dump(policy, f)
    return t, root


def sock(d, p):
    return os.path.join(d, "mdevd-example.com_bench%d.sock" % p)


class Lines:
    """A child's stdout lines, read on a thread."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.split())
                self.cv.notify_all()

    def wait(self, pred, timeout=20):
        """The first line from now on (index >= start) that pred accepts."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(self.start, len(self.lines)):
                    if pred(self.lines[i]):
                        self.start = i + 1
                        return self.lines[i]
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching line within %d s" % timeout)
                self.cv.wait(left)

    start = 0


def tasks(pid):
    """{tid: (name, voluntary, nonvoluntary)} of every thread of @pid."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            st = open("/proc/%d/task/%s/status" % (pid, tid)).read()
        except OSError:
            continue
        f = dict(l.split(":", 1) for l in st.splitlines() if ":" in l)
        out[tid] = (f["Name"].strip(), int(f["voluntary_ctxt_switches"]),
                    int(f["nonvoluntary_ctxt_switches"]))
    return out


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def memory(pid):
    """{"VmRSS", "RssAnon", "RssFile", "Pss"} of @pid, in KiB (Pss -1 if unreadable)."""
    f = {}
    for line in open("/proc/%d/status" % pid):
        k, _, v = line.partition(":")
        f[k] = v.split()[0] if v.split() else ""
    pss = -1
    try:
        for line in open("/proc/%d/smaps_rollup" % pid):
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return {"VmRSS": int(f["VmRSS"]), "RssAnon": int(f["RssAnon"]),
            "RssFile": int(f["RssFile"]), "Pss": pss}


def libs(pid):
    """[[file, Rss KiB]] of @pid's file mappings (shared libraries, the binary), largest
    first, from /proc/PID/smaps."""
    rss, name = {}, None
    try:
        for line in open("/proc/%d/smaps" % pid):
            f = line.split()
            if not f[0].endswith(":"):  # a mapping's header: range perms offset dev inode [path]
                name = os.path.basename(f[5]) if len(f) > 5 and f[5].startswith("/") else None
            elif f[0] == "Rss:" and name:
                rss[name] = rss.get(name, 0) + int(f[1])
    except OSError:
        return []
    return sorted(([k, v] for k, v in rss.items()), key=lambda kv: -kv[1])


def memory_str(m):
    return "VmRSS %d KiB (RssAnon %d, RssFile %d), Pss %d KiB" % (
        m["VmRSS"], m["RssAnon"], m["RssFile"], m["Pss"])


HZ = os.sysconf("SC_CLK_TCK")
NCPU = sum(1 for l in open("/proc/stat") if l[:3] == "cpu" and l[3].isdigit())  # online


def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


class Foreign:
    """The CPU that work outside this process tree took between start() and stop(): the
    machine's busy time (wall time x CPUs less the idle and iowait time of /proc/stat, which a
    tickless kernel keeps exactly) less ours (this process, its waited children, and the live
    ones in @procs)."""

    def __init__(self, procs):
        self.procs = procs

    def snap(self):
        f = open("/proc/stat").readline().split()
        idle = (int(f[4]) + int(f[5])) / HZ
        t = os.times()
        ours = t.user + t.system + t.children_user + t.children_system
        for p in self.procs:
            if p.poll() is None:
                try:
                    ours += cpu_ticks(p.pid) / HZ  # all its threads, exited ones included
                except OSError:
                    pass
        return time.monotonic(), idle, ours

    def start(self):
        self.t0 = self.snap()

    def stop(self):
        """The other work's CPU since start(), as a percentage of one CPU."""
        t1 = self.snap()
        wall = t1[0] - self.t0[0]
        busy = wall * NCPU - (t1[1] - self.t0[1])
        other = busy - (t1[2] - self.t0[2])
        return max(0.0, other / wall * 100.0) if wall > 0 else 0.0


def idle(pid, seconds, label, who, fg):
    time.sleep(2)  # let start-up and connects settle
    a, rss0 = tasks(pid), rss_kib(pid)
    main = a.get(str(pid), ("?", 0, 0))[0]
    fg.start()
    time.sleep(seconds)
    other = fg.stop()
    b, mem = tasks(pid), memory(pid)
    per = []
    for tid, (name, v, nv) in sorted(b.items(), key=lambda x: int(x[0])):
        v0, nv0 = a.get(tid, (name, 0, 0))[1:]
        per.append([name, int(tid), v - v0])
    vol = sum(v for _, v, _ in b.values()) - sum(v for _, v, _ in a.values())
    print("idle, %s, %d s: %s (%d at the start), %d threads, voluntary ctxt switches %d "
          "(%.2f/s); per thread: %s" % (label, seconds, memory_str(mem), rss0, len(b), vol,
                                        vol / seconds,
                                        ", ".join("%s/%d %d" % tuple(t) for t in per)))
    sys.stdout.flush()
    return dict(mem, label=label, who=who, seconds=seconds, rss_start=rss0, threads=len(b),
                voluntary=vol, main_thread=main, per_thread=per, other_cpu_pct=other,
                files=libs(pid))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100.0))]


ALLOC_RE = re.compile(
    r"Allocate: (?P<clients>\d+) clients x (?P<calls>\d+) calls \((?P<devices>\d+) devices\), "
    r"(?:closed loop|paced at (?P<rate>\d+) calls/s): (?P<total>\d+) calls in (?P<secs>[\d.]+) s, "
    r"(?P<cps>\d+) calls/s; latency ms: p50 (?P<p50>[\d.]+) p90 (?P<p90>[\d.]+) "
    r"p99 (?P<p99>[\d.]+) p99\.9 (?P<p999>[\d.]+) max (?P<max>[\d.]+); failed (?P<failed>\d+)")
WARMUP = 50  # dp-alloc's untimed calls per client (its -w default)
# The closed-loop target is a ratio of two p99s of runs of about a second each: one burst of
# scheduling noise on 2 shared CPUs moves it by half (1.09 and 1.60 on the same quiet
# machine, minutes apart). So it is judged on the medians of this many runs of each server,
# interleaved (mdevd, floor, mdevd, ...), the first of them the table's.
CLOSED_ROUNDS = 5


def allocate(alloc, args, server, pid, path, fg):
    """One dp-alloc run against @path; its figures, with the server's CPU per call."""
    c0 = cpu_ticks(pid)
    fg.start()
    r = subprocess.run([alloc] + args + [path], stdout=subprocess.PIPE, text=True)
    other = fg.stop()
    c1 = cpu_ticks(pid)
    line = r.stdout.strip()
    m = ALLOC_RE.search(line)
    if r.returncode != 0 or not m:
        sys.exit("dp-bench: dp-alloc %s %s failed (exit %d): %s" %
                 (" ".join(args), path, r.returncode, line))
    res = {k: (float(v) if "." in v else int(v)) for k, v in m.groupdict().items() if v}
    res.setdefault("rate", None)
    # The server's CPU covers the whole run: connects, the warm-up calls and the timed ones.
    res["server_cpu_us"] = (c1 - c0) * 1e6 / HZ / (res["clients"] * (res["calls"] + WARMUP))
    res["server"] = server
    res["other_cpu_pct"] = other
    print("%s: %s; server CPU %.1f us/call; other work %.0f %% of a CPU" %
          (server, line, res["server_cpu_us"], other))
    sys.stdout.flush()
    return res


def closed_loop(calls):
    """dp-alloc's arguments for the closed-loop run: 32 clients, @calls timed calls each."""
    return ["-c", "32", "-n", str(calls)]


def with_floor(bindir, tmp, d, md, procs):
    """Start the floor plugin (dp-watch -f: gRPC core answering a fixed message, no plugin
    work); [(name, pid, socket)] of mdevd's first plugin and the floor, in the order runs
    alternate."""
    path = os.path.join(tmp, "floor")
    fl = subprocess.Popen([os.path.join(bindir, "dp-watch"), "-f", path],
                          stdout=subprocess.PIPE, text=True)
    procs.append(fl)
    Lines(fl).wait(lambda l: l[0] == "floor")
    return [("mdevd", md.pid, sock(d, 0)), ("floor", fl.pid, path)]


def closed_only(bindir, tmp, d, md, procs, fg, calls, rounds):
    """--closed: @rounds closed-loop runs of mdevd and the floor, interleaved; the medians."""
    servers = with_floor(bindir, tmp, d, md, procs)
    alloc = os.path.join(bindir, "dp-alloc")
    runs = {"mdevd": [], "floor": []}
    for _ in range(rounds):
        for name, pid, path in servers:
            runs[name].append(allocate(alloc, closed_loop(calls), name, pid, path, fg))
    med = {name: (statistics.median(r["p99"] for r in runs[name]),
                  statistics.median(r["server_cpu_us"] for r in runs[name])) for name in runs}
    for name in runs:
        print("%s: median of %d closed-loop runs: p99 %.3f ms, server CPU %.2f us/call" %
              ((name, rounds) + med[name]))
    print("p99 mdevd / floor: %.3f (per run %s)" % (
        med["mdevd"][0] / med["floor"][0],
        ", ".join("%.2f" % (m["p99"] / f["p99"]) for m, f in zip(runs["mdevd"], runs["floor"]))))


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: dp-bench.py MDEVD BINDIR [--idle S] [--changes N] [--calls N] "
                 "[--env VAR=VALUE]... [--json FILE] | --closed ROUNDS [--calls N]")
    mdevd, bindir = args[0], args[1]
    seconds, changes, calls, env = 60, 50, 2000, dict(os.environ)
    closed = 0
    extra_env = []
    json_out = None
    i = 2
    while i + 1 < len(args):
        if args[i] == "--idle":
            seconds = int(args[i + 1])
        elif args[i] == "--changes":
            changes = int(args[i + 1])
        elif args[i] == "--calls":
            calls = int(args[i + 1])
        elif args[i] == "--env":
            k, v = args[i + 1].split("=", 1)
            env[k] = v
            extra_env.append(args[i + 1])
        elif args[i] == "--json":
            json_out = args[i + 1]
        elif args[i] == "--closed":
            closed = int(args[i + 1])
        else:
            break
        i += 2
    if i != len(args):
        sys.exit("usage: dp-bench.py MDEVD BINDIR [--idle S] [--changes N] [--calls N] "
                 "[--env VAR=VALUE]... [--json FILE] | --closed ROUNDS [--calls N]")

    res = {"idle_seconds": seconds, "changes": changes, "calls": calls, "env": extra_env,
           "pools": POOLS, "per_pool": PER_POOL, "warmup": WARMUP, "idle": [], "allocate": [],
           "closed_rounds": []}
    tmp = tempfile.mkdtemp(prefix="mdb", dir="/tmp")  # short: socket paths hold 108 bytes
    procs = []
    fg = Foreign(procs)
    try:
        t, root = build(tmp)
        d = os.path.join(tmp, "dp")
        os.mkdir(d)
        kl = subprocess.Popen([os.path.join(bindir, "dp-watch"), "-k", d],
                              stdout=subprocess.PIPE, text=True)
        procs.append(kl)
        kll = Lines(kl)
        kll.wait(lambda l: l[0] == "kubelet")
        log = open(os.path.join(tmp, "mdevd.log"), "w")
        md = subprocess.Popen([mdevd, "--sysfs-root", root, "dp-serve", "--policy",
                               os.path.join(tmp, "policy.json"), "--device-plugin-dir", d],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.append(md)
        kll.wait(lambda l: l[0] == "registered" and int(l[1]) == POOLS)
        print("mdevd dp-serve: %d plugins registered%s" %
              (POOLS, (" (env " + " ".join(extra_env) + ")") if extra_env else ""))
        if closed:
            closed_only(bindir, tmp, d, md, procs, fg, calls, closed)
            return

        # 3. idle, no ListAndWatch client.
        res["idle"].append(idle(md.pid, seconds, "8 plugins, no client", "mdevd", fg))

        # 3. idle, one ListAndWatch stream per plugin (what kubelet holds).
        w = subprocess.Popen([os.path.join(bindir, "dp-watch")] +
                             [sock(d, p) for p in range(POOLS)],
                             stdout=subprocess.PIPE, text=True)
        procs.append(w)
        wl = Lines(w)
        for p in range(POOLS):
            wl.wait(lambda l, p=p: l[0] == "list" and int(l[1]) == p)
        wl.start = 0
        res["idle"].append(idle(md.pid, seconds, "8 plugins, 8 ListAndWatch streams", "mdevd",
                                fg))

        # 2. SIGHUP -> list, alternating an added and a removed mdev in pool 0.
        lat = []
        parent_dev = PARENT
        fg.start()
        for k in range(changes):
            if k % 2 == 0:
                t.mdev(EXTRA, parent_dev, "mtty-1", group=99)
                want = PER_POOL + 1
            else:
                os.remove(os.path.join(root, "bus/mdev/devices", EXTRA))
                os.remove(os.path.join(root, parent_dev, "mdev_supported_types/mtty-1/devices",
                                       EXTRA))
                shutil.rmtree(os.path.join(root, parent_dev, EXTRA))
                want = PER_POOL
            t0 = time.monotonic_ns()
            md.send_signal(signal.SIGHUP)
            l = wl.wait(lambda l: l[0] == "list" and int(l[1]) == 0 and int(l[3]) == want)
            lat.append((int(l[2]) - t0) / 1e6)
            time.sleep(0.05)
        res["sighup"] = {"samples": lat, "p50": pct(lat, 50), "p99": pct(lat, 99),
                         "max": max(lat), "min": min(lat), "other_cpu_pct": fg.stop()}
        print("SIGHUP -> ListAndWatch list (re-read node + policy, %d pools, %d changes): "
              "p50 %.2f ms, p99 %.2f ms, max %.2f ms" %
              (POOLS, changes, pct(lat, 50), pct(lat, 99), max(lat)))
        sys.stdout.flush()

        # 1. Allocate: 32 clients closed loop (the target), 1 client (the service time), 32
        # clients paced from 2000 to 20000 calls/s; then the same against the floor plugin
        # (dp-watch -f: gRPC core answering a fixed message, no plugin work), to tell mdevd's
        # share from gRPC's.
        alloc = os.path.join(bindir, "dp-alloc")
        servers = with_floor(bindir, tmp, d, md, procs)
        floor_pid = servers[1][1]
        # The paced sweep finds the load up to which 32 clients see p99 < 1 ms (a closed
        # loop has no such point: its latency is 32 / throughput by construction).
        paced = max(calls // 8, 100)
        runs = [closed_loop(calls), ["-c", "1", "-n", str(calls * 8)]]
        runs += [["-c", "32", "-n", str(paced * r // 2000), "-r", str(r)]
                 for r in (2000, 5000, 10000, 15000, 20000)]
        for name, pid, path in servers:
            for a in runs:
                res["allocate"].append(allocate(alloc, a, name, pid, path, fg))
        for _ in range(CLOSED_ROUNDS - 1):
            for name, pid, path in servers:
                res["closed_rounds"].append(allocate(alloc, runs[0], name, pid, path, fg))
        res["after_allocate"] = memory(md.pid)
        print("mdevd after the Allocate runs: %s" % memory_str(res["after_allocate"]))
        res["idle"].append(idle(floor_pid, seconds,
                                "floor plugin (dp-watch -f, gRPC core C server), no client",
                                "floor", fg))

        md.send_signal(signal.SIGTERM)
        md.wait(timeout=30)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        if os.environ.get("KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if json_out:
        with open(json_out + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(json_out + ".tmp", json_out)


if __name__ == "__main__":
    main()
