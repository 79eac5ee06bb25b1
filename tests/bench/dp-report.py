#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the device-plugin section of docs/benchmarks.md (between the dp-bench markers) from
the figures of one `tests/bench/dp-bench.sh --doc` run, which `make bench` runs:

  --doc FILE      the document to write; without it, only the verdicts are printed (what
                  `tests/bench/dp-bench.sh` without --doc does after its fixture-tree run)
  --json FILE     what tests/bench/dp-bench.py measured on the fixture tree (--json)
  --guest LOG     the output of `tests/vm/run.sh tests/vm/guest-daemon.sh '^t_dp_'`: the
                  uevent -> ListAndWatch figures of the real-kernel guest ("# ..." lines);
                  required with --doc
  --load0, --load1  /proc/loadavg at the start and the end of the fixture-tree run
  --guest-other P  the CPU other work took during the guest run, % of one CPU
  --waited S, --max-load L  how long dp-bench.sh waited for the load to fall to L
  --args ARGS     the options dp-bench.sh was given (shown in the command line)

Every verdict is computed here from those figures against the targets of issue 3, as issue 9
restated the two that no server can meet on this machine: they are ratios to the bare gRPC
core floor server measured in the same run (Allocate p99 at 32 closed-loop clients: mdevd /
floor <= 1.10, on the medians of interleaved runs; whole-process idle wakeups: mdevd - floor = 0), plus the paced rate up to which
p99 < 1 ms holds, for mdevd against the floor. Nothing is written by hand between the markers. The text after the end marker (the analysis) is
kept as it is. Prints the targets and their verdicts on stdout."""
import argparse
import datetime
import json
import math
import os
import re
import statistics
import subprocess
import sys

BEGIN, END = "<!-- dp-bench:begin -->", "<!-- dp-bench:end -->"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ALLOC_P99_MS = 1.0  # the paced sweep: the highest rate at which Allocate p99 < 1 ms holds
ALLOC_P99_RATIO = 1.10  # Allocate p99, 32 clients closed loop: mdevd / floor <= 1.10
CHANGE_P99_MS = 50.0  # change -> ListAndWatch p99 < 50 ms
RSS_BYTES = 12 * 1000 * 1000  # idle VmRSS < 12 MB, read strictly (not MiB)
OTHER_CPU_PCT = 15.0  # other work at or above this share of one CPU in a phase: "under load"


def sh(cmd):
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True).stdout.strip()


def resync_sec():
    """DAEMON_RESYNC_SEC_DEFAULT from mdevd/daemon/daemon.h: `mdevd run`'s safety-net period."""
    m = re.search(r"#define\s+DAEMON_RESYNC_SEC_DEFAULT\s+(\d+)",
                  open(os.path.join(ROOT, "mdevd/daemon/daemon.h")).read())
    return int(m.group(1)) if m else None


def verdict(ok):
    return "met" if ok else "**TARGET MISSED**"


def f3(x):
    return "%.3f" % x


def kib(x):
    return "{:,}".format(x).replace(",", " ")


def mb(k):
    return "%.1f MB" % (k * 1024 / 1e6)


def guest_figures(path):
    """({name: stats} of the "# ...: min A / p50 B / p99 C / max D ms" lines, {name: ms} of
    the single "# ...: N ms" lines, header facts) from the guest's log."""
    multi, single, facts = {}, {}, {}
    for line in open(path, errors="replace"):
        line = line.rstrip("\r\n")
        m = re.match(r"# (.+?) \((\d+) samples\): min ([\d.]+) / p50 ([\d.]+) / p99 ([\d.]+) / "
                     r"max ([\d.]+) ms$", line)
        if m:
            multi[m.group(1)] = dict(n=int(m.group(2)), min=float(m.group(3)),
                                     p50=float(m.group(4)), p99=float(m.group(5)),
                                     max=float(m.group(6)))
            continue
        m = re.match(r"# (.+): ([\d.]+) ms$", line)
        if m:
            single[m.group(1)] = float(m.group(2))
            continue
        m = re.match(r"# mdevd daemon VM tests: kernel (\S+),", line)
        if m:
            facts["kernel"] = m.group(1)
        m = re.match(r"vm: booting \S+ \((\w+)\)", line)
        if m:
            facts["accel"] = m.group(1).upper()
        m = re.match(r"# (\d+) creates \+ (\d+) removes: (\d+) uevents logged -> (\d+) reconciles",
                     line)
        if m:
            facts["coalesce"] = m.groups()
        m = re.match(r"(\d+) passed, (\d+) failed$", line)
        if m:
            facts["passed"], facts["failed"] = int(m.group(1)), int(m.group(2))
    return multi, single, facts


def run_name(a):
    if a["rate"] is None:
        return "%d client%s, closed loop" % (a["clients"], "s" if a["clients"] > 1 else "")
    return "%d clients, paced at %d calls/s" % (a["clients"], a["rate"])


def woke(idle):
    """The threads that woke in an idle window, by name, and how many slept throughout."""
    hot = ["`%s` %d" % (n, v) for n, _, v in idle["per_thread"] if v > 0]
    cold = [n for n, _, v in idle["per_thread"] if v == 0]
    own = sum(1 for n in cold if n == idle["main_thread"])
    s = ", ".join(hot) if hot else "none"
    if cold:
        s += "; the other %d (%s) 0" % (len(cold), "%d of them %s's own" % (own, idle["who"])
                                         if own else "none of them %s's own" % idle["who"])
    return s


def own_wakeups(idle):
    """Voluntary switches of the threads named like the main thread (the program's own
    threads; gRPC names its threads itself)."""
    return sum(v for n, _, v in idle["per_thread"] if n == idle["main_thread"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--doc")
    ap.add_argument("--json", required=True)
    ap.add_argument("--guest")
    ap.add_argument("--load0", default="?")
    ap.add_argument("--load1", default="?")
    ap.add_argument("--guest-other", type=float, default=None)
    ap.add_argument("--waited", type=int, default=0)
    ap.add_argument("--max-load", type=float, default=0.5)
    ap.add_argument("--args", default="")
    o = ap.parse_args()

    r = json.load(open(o.json))
    if o.doc and not o.guest:
        sys.exit("dp-report: --doc needs --guest (the real-kernel figures)")
    multi, single, facts = guest_figures(o.guest) if o.guest else ({}, {}, {})
    if o.guest and not any(k.startswith("uevent -> ListAndWatch") for k in multi):
        sys.exit("dp-report: %s has no uevent -> ListAndWatch figures (did the t_dp_ tests of "
                 "tests/vm/guest-daemon.sh run?)" % o.guest)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    cpu = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1") or "unknown CPU"
    grpc = sh("dpkg-query -W -f '${Version}' libgrpc29 2>/dev/null") or "unknown"
    nproc, kernel = os.cpu_count(), os.uname().release
    resync = resync_sec()

    alloc = {(a["server"], a["clients"], a["rate"]): a for a in r["allocate"]}
    configs = []
    for a in r["allocate"]:
        if (a["clients"], a["rate"]) not in configs:
            configs.append((a["clients"], a["rate"]))
    md_idle = [i for i in r["idle"] if i["who"] == "mdevd"]
    fl_idle = [i for i in r["idle"] if i["who"] == "floor"]
    T = r["idle_seconds"]

    # ---- load: before, during, after
    other = [(run_name(a) + ", " + a["server"], a["other_cpu_pct"]) for a in r["allocate"]]
    other.append(("SIGHUP → list", r["sighup"]["other_cpu_pct"]))
    other += [("idle, " + i["label"], i["other_cpu_pct"]) for i in r["idle"]]
    if o.guest_other is not None:
        other.append(("the real-kernel guest", o.guest_other))
    worst = max(other, key=lambda kv: kv[1])
    busy = [kv for kv in other if kv[1] >= OTHER_CPU_PCT]
    load0 = float(o.load0.split()[0]) if o.load0 != "?" else 0.0
    loaded = load0 > o.max_load or busy
    waited = (", after waiting %d s in all for the load average to fall to %.2f"
              % (o.waited, o.max_load) if o.waited else "")
    if loaded:
        high = ("the 1-minute load average was %.2f at the start (above %.2f); "
                % (load0, o.max_load) if load0 > o.max_load else "")
        load_note = ("**Taken under load%s:** %sother work on the machine took %d %% of a CPU "
                     "or more in %d of the %d measured phases, up to %.0f %% (%s). Those are the "
                     "figures it moves, the Allocate ones and the guest's most: compare mdevd "
                     "with the floor, measured under the same conditions, rather than with the "
                     "target alone." % (waited, high, OTHER_CPU_PCT, len(busy), len(other),
                                        worst[1], worst[0]))
    else:
        load_note = ("The machine was otherwise quiet%s: other work took at most %.0f %% of a CPU "
                     "during any measured phase (%s)." % (waited, worst[1], worst[0]))

    out = ["", "## Device plugins (issue 3)", ""]
    args = (" " + o.args) if o.args.strip() else ""
    out.append("**Command:** `make bench` (`tests/bench/dp-bench.sh --doc%s`: "
               "`tests/bench/dp-bench.py` on a fixture tree with `--idle %d --changes %d "
               "--calls %d`, then `tests/vm/run.sh tests/vm/guest-daemon.sh '^t_dp_'` in the "
               "real-kernel guest; written by `tests/bench/dp-report.py`) — %s UTC."
               % (args, T, r["changes"], r["calls"], date))
    out.append("")
    out.append("**Machine:** %s, %d CPUs (`nproc`), kernel %s; load average %s at the start of "
               "the fixture-tree run, %s at its end (the bench's own Allocate runs included). "
               "Clients and servers share these %d CPUs. gRPC: Debian's libgrpc29 %s "
               "(`libgrpc_unsecure.so.29`, for mdevd and the bench programs alike)%s. %s"
               % (cpu, nproc, kernel, o.load0, o.load1, nproc, grpc,
                  "; mdevd ran with " + " ".join(r["env"]) if r["env"] else "", load_note))
    out.append("")
    out.append(
        "**Setup:** `mdevd --sysfs-root TREE dp-serve --policy POLICY --device-plugin-dir DIR`, "
        "TREE a fixture tree (`tests/fixtures/make-tree.py`) with one mdev parent, %d types, %d "
        "mdevs each, and a policy with one resource name per type: **%d plugins**. kubelet is "
        "`dp-watch -k DIR` (accepts every Register). The clients are gRPC core C programs, "
        "neither Python nor mdevd's plugin code: `tests/bench/dp-alloc.c` (one channel, one "
        "completion queue and one thread per client; latency from creating the call to its "
        "status; %d untimed warm-up calls per client first) and `tests/bench/dp-watch.c` (one "
        "ListAndWatch stream per plugin, each on its own channel, as kubelet holds them). "
        "The **floor** is `dp-watch -f`: gRPC core on one completion-queue thread, like mdevd, "
        "answering every Allocate with a fixed, pre-packed response, no plugin work: the same "
        "runs against it tell mdevd's cost from gRPC's."
        % (r["pools"], r["per_pool"], r["pools"], r["warmup"]))

    # ---- Allocate
    out += ["", "### Allocate", "",
            "One plugin socket; each cell is **mdevd / floor**.", "",
            "| run | calls/s | p50 (ms) | p90 | p99 | p99.9 | max | server CPU / call (µs) "
            "| other work (% of a CPU) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, rate in configs:
        m, f = alloc[("mdevd", c, rate)], alloc[("floor", c, rate)]
        cells = ["%d / %d" % (m["cps"], f["cps"])]
        for k in ("p50", "p90", "p99", "p999", "max"):
            cells.append("%s / %s" % (f3(m[k]), f3(f[k])))
        cells.append("%.1f / %.1f" % (m["server_cpu_us"], f["server_cpu_us"]))
        cells.append("%.0f / %.0f" % (m["other_cpu_pct"], f["other_cpu_pct"]))
        out.append("| %s | %s |" % (run_name(m), " | ".join(cells)))
    out += ["",
            "Closed loop: each client calls again as soon as its answer arrives, so %d calls are "
            "always in flight and the latency is queueing: by Little's law p50 ≈ clients / "
            "throughput. Paced: the clients together start the given rate of calls on a fixed "
            "schedule and latency counts from the scheduled start, so a late start counts "
            "too; where calls/s falls short of the rate, the system could not keep up and the "
            "latency is the growing backlog. Server CPU is utime + stime of all the server's "
            "threads over the whole run (connects, warm-up and timed calls) per call. Other "
            "work: CPU time taken on the machine outside the bench's processes during the run."
            % configs[0][0]]

    # ---- change -> ListAndWatch
    accel = facts.get("accel", "TCG")
    out += ["", "### Change → ListAndWatch", ""]
    out.append("**Real kernel** (`tests/vm/guest-daemon.sh`, device-plugin tests: `mdevd run` "
               "in the QEMU guest under %s on the host above, 2 vCPUs, kernel %s, the sample "
               "mtty driver and the edu PCI device; kubelet is `tests/vm/kubelet_guest.py`, "
               "Python grpcio). Each figure runs from the sysfs write in the guest to the "
               "kubelet stand-in holding the list that shows it%s; under TCG every instruction "
               "is emulated, so these are upper bounds of what a real node sees. Other work "
               "on the host took %s of a CPU during the guest run."
               % (accel, facts.get("kernel", "?"),
                  " (%s creates + %s removes: %s uevents, coalesced into %s reconciles)"
                  % facts["coalesce"] if "coalesce" in facts else "",
                  "%.0f %%" % o.guest_other if o.guest_other is not None else
                  "an unmeasured share"))
    out += ["", "| uevent → ListAndWatch list | samples | min (ms) | p50 | p99 | max |",
            "|---|---:|---:|---:|---:|---:|"]
    change_rows = []
    for name, s in multi.items():
        label = re.sub(r"^uevent -> ListAndWatch list, ", "", name)
        label = re.sub(r" \((TCG|KVM)\)$", "", label).replace("->", "→")
        if name.startswith("uevent -> ListAndWatch"):
            change_rows.append((label, s))
            out.append("| %s | %d | %.1f | %.1f | %.1f | %.1f |"
                       % (label, s["n"], s["min"], s["p50"], s["p99"], s["max"]))
    singles = []
    for name, v in single.items():
        if name.startswith("uevent -> ListAndWatch list, "):
            label = name[len("uevent -> ListAndWatch list, "):].replace("->", "→")
            singles.append((label, v))
            out.append("| %s | 1 | | %.1f | | |" % (label, v))
    out += ["", "Context from the same run (not change → list):", ""]
    for name, s in multi.items():
        if not name.startswith("uevent -> ListAndWatch"):
            label = re.sub(r" \((TCG|KVM)\)$", "", name).replace("->", "→")
            out.append("- %s: %d samples, min %.1f / p50 %.1f / p99 %.1f / max %.1f ms"
                       % (label, s["n"], s["min"], s["p50"], s["p99"], s["max"]))
    for name, v in single.items():
        if not name.startswith("uevent -> ListAndWatch"):
            out.append("- %s: %.1f ms" % (name.replace("->", "→"), v))
    sg = r["sighup"]
    out += ["", "**Fixture tree** (`dp-serve`, which gets no uevents): an mdev is added to or "
            "removed from pool 0 in the tree, then SIGHUP; dp-serve re-reads the policy and the "
            "whole node, rebuilds the %d pools and sends pool 0's streams the new list; the "
            "time runs from `kill()` to the C client holding it. This is the daemon's side of "
            "the path alone, without the kernel and without emulation." % r["pools"],
            "", "| SIGHUP → list (%d changes) | min (ms) | p50 | p99 | max |" % r["changes"],
            "|---|---:|---:|---:|---:|",
            "| dp-serve, %d plugins | %.2f | %.2f | %.2f | %.2f |"
            % (r["pools"], sg["min"], sg["p50"], sg["p99"], sg["max"])]

    # ---- idle
    out += ["", "### Idle", "",
            "| idle, %d s | VmRSS (KiB) | RssAnon | RssFile | Pss | threads | voluntary "
            "ctxt switches | threads that woke |" % T,
            "|---|---:|---:|---:|---:|---:|---:|---|"]
    for i in r["idle"]:
        name = ("mdevd, " if i["who"] == "mdevd" else "") + i["label"]
        out.append("| %s | %s | %s | %s | %s | %d | %d (%.2f/s) | %s |" % (
            name, kib(i["VmRSS"]), kib(i["RssAnon"]), kib(i["RssFile"]), kib(i["Pss"]),
            i["threads"], i["voluntary"], i["voluntary"] / i["seconds"], woke(i)))
    aa = r["after_allocate"]
    out.append("| mdevd after the Allocate runs | %s | %s | %s | %s | | | |"
               % (kib(aa["VmRSS"]), kib(aa["RssAnon"]), kib(aa["RssFile"]), kib(aa["Pss"])))

    def top(i, n=6):
        return ", ".join("%s %s" % (k, kib(v)) for k, v in i["files"][:n])
    mdi = md_idle[0]
    loaded_libs = [k for k, _ in mdi["files"]]
    tls = [k for k in loaded_libs if re.match(r"lib(crypto|ssl|re2)\.", k)]
    out += ["", "Thread names are as the kernel keeps them (15 characters). A thread counts as "
            "the program's own when it bears the main thread's name. Pss splits the pages "
            "shared with the other gRPC processes running then (the kubelet stand-in, the "
            "watcher, the floor); on a node where mdevd is the only user of libgrpc, Pss ≈ "
            "VmRSS.",
            "", "File-backed RSS by file (KiB), idle without clients:", "",
            "- mdevd: %s" % top(mdi),
            "- floor: %s" % (top(fl_idle[0]) if fl_idle else "not measured"),
            "- mdevd maps libcrypto, libssl or RE2: %s" % (", ".join(tls) if tls else "no")]

    # ---- targets
    def knee(server):
        """The highest paced rate at which p99 < 1 ms, at it and at every lower rate."""
        best = None
        for c, rate in configs:
            if rate is None or c != 32:
                continue
            a = alloc[(server, c, rate)]
            if a["p99"] >= ALLOC_P99_MS:
                break
            best = a
        return best

    rows, summary = [], []

    def target(name, md, fl, ok, note=""):
        """@ok: True (met), False (missed), or a string: the verdict in words."""
        v = ok if isinstance(ok, str) else verdict(ok)
        rows.append("| %s | %s | %s | %s%s |" % (name, md, fl, v, note))
        summary.append("dp-bench: %-52s %s (floor %s): %s%s" % (
            name, re.sub(r"[*`]", "", md), re.sub(r"[*`]", "", fl),
            re.sub(r"[*`]", "", v), re.sub(r"[*`]", "", note)))

    # A closed loop of 32 clients has p99 >= 32 / throughput (Little's law) on any server:
    # judged against the bare gRPC core server of the same run, not against 1 ms.
    # Each a ratio of two ~1 s runs: judged on the medians of the interleaved rounds
    # (dp-bench.py's CLOSED_ROUNDS; the first is the table's), every round's ratio shown.
    rounds = {srv: [alloc[(srv, 32, None)]["p99"]] +
              [a["p99"] for a in r.get("closed_rounds", []) if a["server"] == srv]
              for srv in ("mdevd", "floor")}
    med_m, med_f = statistics.median(rounds["mdevd"]), statistics.median(rounds["floor"])
    ratio = med_m / med_f if med_f > 0 else float("inf")
    each = ", ".join("%.2f" % (m / f) if f > 0 else "inf"
                     for m, f in zip(rounds["mdevd"], rounds["floor"]))
    target("Allocate p99, 32 clients, closed loop: mdevd / floor ≤ %.2f" % ALLOC_P99_RATIO,
           "%s ms" % f3(med_m), "%s ms" % f3(med_f), ratio <= ALLOC_P99_RATIO,
           " (ratio %.2f: medians of %d interleaved runs each; per run %s)" %
           (ratio, len(rounds["mdevd"]), each))
    km, kf = knee("mdevd"), knee("floor")
    rates = [rt for c, rt in configs if rt is not None and c == 32]

    def knee_s(k):
        return ("%d calls/s (p99 %s ms)" % (k["rate"], f3(k["p99"])) if k else
                "none: p99 ≥ 1 ms from %d calls/s" % min(rates))
    # Met when mdevd holds p99 < 1 ms up to the rate the floor does (a rate the floor
    # itself cannot hold is not mdevd's to meet).
    km_rate, kf_rate = (km["rate"] if km else 0), (kf["rate"] if kf else 0)
    target("Allocate p99 < 1 ms, 32 clients paced: the highest rate of %s calls/s where it "
           "holds, mdevd ≥ floor" % "/".join(str(x) for x in rates), knee_s(km), knee_s(kf),
           km_rate >= kf_rate if kf or km else
           "**not judged**: the floor misses it too, at every swept rate (too loaded to tell)",
           " (up to %d calls/s)" % km_rate if km else "")
    for label, s in change_rows:
        target("change → ListAndWatch p99 < 50 ms: uevent, %s, real kernel (%s)" % (label, accel),
               "%.1f ms" % s["p99"], "—", s["p99"] < CHANGE_P99_MS)
    for label, v in singles:
        target("change → ListAndWatch < 50 ms: uevent, %s, real kernel (%s), 1 sample"
               % (label, accel), "%.1f ms" % v, "—", v < CHANGE_P99_MS)
    target("change → ListAndWatch p99 < 50 ms: SIGHUP, fixture tree", "%.2f ms" % sg["p99"], "—",
           sg["p99"] < CHANGE_P99_MS)
    rss = max(i["VmRSS"] for i in md_idle)
    fl_rss = fl_idle[0]["VmRSS"] if fl_idle else None
    target("idle VmRSS < 12 MB (12 000 000 bytes), 8 plugins",
           "%s KiB (%s)" % (kib(rss), mb(rss)),
           "%s KiB (%s)" % (kib(fl_rss), mb(fl_rss)) if fl_rss else "—",
           rss * 1024 < RSS_BYTES)
    # The safety net of `mdevd run` (--resync) may wake it once per period; dp-serve has none.
    allow = math.ceil(T / resync) if resync else 0
    own = max(own_wakeups(i) for i in md_idle)
    fl_own = own_wakeups(fl_idle[0]) if fl_idle else None
    target("no periodic wakeups beyond the safety-net timer: the program's own threads "
           "(≤ %d in %d s)" % (allow, T), "%d in %d s" % (own, T),
           "%d in %d s" % (fl_own, T) if fl_idle else "—", own <= allow)
    # gRPC core's timer threads wake once a second in any gRPC process: the whole process is
    # judged against the floor's, idle without a client like mdevd's first window.
    md_nc = md_idle[0]
    tot = md_nc["voluntary"]
    fl_tot = fl_idle[0]["voluntary"] if fl_idle else None
    grpc_threads = sorted({n for n, _, v in md_nc["per_thread"]
                           if v > 0 and n != md_nc["main_thread"]})
    diff = tot - fl_tot if fl_idle else None
    target("idle wakeups of the whole process, %s: mdevd − floor = 0 in %d s"
           % (md_nc["label"], T), "%d in %d s (%.2f/s)" % (tot, T, tot / T),
           "%d in %d s (%.2f/s)" % (fl_tot, T, fl_tot / T) if fl_idle else "—",
           diff is not None and diff <= 0,
           " (mdevd − floor = %+d%s)" % (diff, "; woke: %s" % ", ".join(
               "`%s`" % n for n in grpc_threads) if grpc_threads else "")
           if diff is not None else " (no floor measured)")

    out += ["", "### Targets", "",
            "Verdicts computed by `tests/bench/dp-report.py` from the figures above. Two "
            "targets of issue 3 no server can meet on this machine are stated against the "
            "floor of the same run (issue 9): Allocate p99 with 32 closed-loop clients as the "
            "ratio mdevd / floor (≤ %.2f; by Little's law p99 ≥ 32 / throughput for any "
            "server), and the whole process's idle wakeups as mdevd − floor (= 0; gRPC core's "
            "timer threads wake once a second in any gRPC process); the paced sweep gives the "
            "rate up to which p99 < 1 ms holds, met when mdevd holds it as far as the floor. "
            "The safety-net allowance is one wakeup per `--resync` period of `mdevd run` "
            "(DAEMON_RESYNC_SEC_DEFAULT, %s s in `mdevd/daemon/daemon.h`), rounded up over the "
            "idle window; dp-serve has no such timer." % (ALLOC_P99_RATIO, resync), "",
            "| target | mdevd | floor | verdict |", "|---|---|---|---|"] + rows
    out.append("")

    if not o.doc:
        for line in summary:
            print(line)
        return
    doc = open(o.doc).read()
    if BEGIN not in doc or END not in doc or doc.index(BEGIN) > doc.index(END):
        sys.exit("dp-report: %s has no dp-bench markers" % o.doc)
    head, tail = doc[:doc.index(BEGIN) + len(BEGIN)], doc[doc.index(END):]
    if not tail[len(END):].strip():
        print("dp-report: warning: %s has nothing after %s: the hand-written analysis that "
              "belongs there is missing" % (o.doc, END), file=sys.stderr)
    tmp = o.doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(head + "\n".join(out) + tail)
    os.replace(tmp, o.doc)
    for line in summary:
        print(line)
    if loaded:
        print("dp-bench: taken under load (other work >= %d %% of a CPU in %d of %d phases, up "
              "to %.0f %%; load average %s at the start)" % (OTHER_CPU_PCT, len(busy), len(other),
                                                             worst[1], o.load0))
    print("dp-bench: written to %s" % os.path.relpath(o.doc))


if __name__ == "__main__":
    main()
