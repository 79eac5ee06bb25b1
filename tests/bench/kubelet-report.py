#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""kubelet's view of mdevd: the figures of tests/vm/guest-kubelet.sh's bench mode.

    kubelet-report.py summary RAW OUT.json     (in the guest) RAW has lines "start US",
                                               "create US", "remove US"; prints "# bench"
                                               lines and writes p50/p99/max per kind
    kubelet-report.py doc JSON DOC --machine M --command C
                                               writes the kubelet-bench section of DOC
                                               (between its markers) from JSON

Numbers, no verdicts: issue 12 states no target for these; the device plugins' own
change -> ListAndWatch target is in the dp-bench section.
"""
import json
import sys
import time


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(raw, out):
    d = {}
    for line in open(raw):
        kind, us = line.split()
        d.setdefault(kind, []).append(int(us) / 1000)
    res = {"start_to_allocatable_ms": round(d["start"][0], 1)}
    for kind in ("create", "remove"):
        xs = d.get(kind, [])
        res[kind] = {"n": len(xs), "p50_ms": round(pct(xs, 50), 1),
                     "p99_ms": round(pct(xs, 99), 1), "max_ms": round(max(xs), 1)}
    with open(out, "w") as f:
        json.dump(res, f)
    print("# bench mdevd start -> allocatable in kubelet: %.1f ms" % res["start_to_allocatable_ms"])
    for kind in ("create", "remove"):
        r = res[kind]
        print("# bench mdev %s in sysfs -> kubelet's allocatable count: p50 %.1f ms, p99 %.1f ms,"
              " max %.1f ms (%d changes)" % (kind, r["p50_ms"], r["p99_ms"], r["max_ms"], r["n"]))
    return 0


def doc(src, path, machine, command):
    r = json.load(open(src))
    lines = [
        "<!-- kubelet-bench:begin -->",
        "### kubelet's view (issue 12)",
        "",
        "`%s`, %s, %s. In the real-kernel guest (TCG): the real kubelet v1.36.3 standalone "
        "with containerd, mdevd `run` serving mtty mdevs; kubelet read through its "
        "pod-resources API (`GetAllocatableResources`, polled every millisecond on one "
        "connection, `tests/k8s/podresources watch`). No target is stated for these."
        % (command, time.strftime("%Y-%m-%d", time.gmtime()), machine),
        "",
        "| what | n | p50 | p99 | max |",
        "|---|---|---|---|---|",
        "| mdevd start -> the resource allocatable in kubelet | 1 | %.1f ms | | |"
        % r["start_to_allocatable_ms"],
    ]
    for kind in ("create", "remove"):
        x = r[kind]
        lines.append("| mdev %s in sysfs -> kubelet's allocatable count changes | %d | %.1f ms "
                     "| %.1f ms | %.1f ms |" % (kind, x["n"], x["p50_ms"], x["p99_ms"], x["max_ms"]))
    lines.append("<!-- kubelet-bench:end -->")
    text = open(path).read()
    section = "\n".join(lines)
    a, b = "<!-- kubelet-bench:begin -->", "<!-- kubelet-bench:end -->"
    if a in text and b in text:
        text = text[:text.index(a)] + section + text[text.index(b) + len(b):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(path, "w") as f:
        f.write(text)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "summary":
        return summary(argv[2], argv[3])
    if len(argv) == 8 and argv[1] == "doc" and argv[4] == "--machine" and argv[6] == "--command":
        return doc(argv[2], argv[3], argv[5], argv[7])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
