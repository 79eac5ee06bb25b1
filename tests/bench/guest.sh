#!/bin/sh
# tests/bench/guest.sh — the inventory comparison inside the real-kernel guest (QEMU,
# Debian's 6.1 kernel, the sample mdev drivers, live sysfs): runs tests/vm/guest-bench.sh
# through the VM harness and writes its figures between the guest-bench markers of
# docs/benchmarks.md. Part of `make bench`.
set -eu
cd "$(dirname "$0")/../.."
runs=${1:-30}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "bench: real-kernel guest, $runs runs per command (tests/vm/guest-bench.sh)"
tests/vm/run.sh tests/vm/guest-bench.sh "$runs" >"$log" 2>&1 || {
	tail -30 "$log"
	echo "bench: the guest bench failed" >&2
	exit 1
}
grep -E '^(bench |# guest-bench)' "$log" | sed 's/\r$//'
accel=TCG
grep -Eq 'vmx|svm' /proc/cpuinfo && [ -e /dev/kvm ] && accel=KVM
/usr/bin/python3 - "$log" "$runs" "$accel" <<'PY'
import re, sys, datetime, subprocess
log, runs, accel = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
head = ""
for line in open(log, errors="replace"):
    line = line.strip()
    if line.startswith("# guest-bench:"):
        head = line[2:]
    m = re.match(r"bench (.+?)\s+runs=(\d+) total_ms=(\d+) mean_ms=([\d.]+)", line)
    if m:
        rows[m.group(1).strip()] = float(m.group(4))
def ratio(a, b):
    return "%.2f" % (rows[a] / rows[b]) if a in rows and b in rows and rows[b] else "n/a"
model = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                       capture_output=True, text=True).stdout.strip()
out = ["", "**Command:** `make bench` (`tests/bench/guest.sh`: `tests/vm/run.sh "
       "tests/vm/guest-bench.sh %s`) — %s UTC." % (runs, datetime.datetime.utcnow()
                                                 .strftime("%Y-%m-%d %H:%M")),
       "",
       "**Guest:** QEMU q35 under %s on the host above (%s), 2 vCPUs, 1 GiB; %s. "
       "Live sysfs with the kernel's sample parents (mtty, mdpy, mbochs: 8 types) and 4 "
       "live mdevs. Each command runs %s times back to back; the mean is the loop's wall "
       "time over the count. Under TCG absolute times are inflated by emulation: compare "
       "the ratios." % (accel, model, head, runs),
       "",
       "| command | mean (ms) |", "|---|---:|"]
for k, v in rows.items():
    out.append("| `%s` | %.2f |" % (k, v))
out += ["", "| ratio | value |", "|---|---:|",
        "| mdevctl types / mdevd types | %s |" % ratio("mdevctl types --dumpjson", "mdevd types -o json"),
        "| mdevctl list / mdevd list | %s |" % ratio("mdevctl list --dumpjson", "mdevd list -o json"),
        ""]
doc = open("docs/benchmarks.md").read()
b, e = "<!-- guest-bench:begin -->", "<!-- guest-bench:end -->"
if b not in doc or e not in doc:
    sys.exit("docs/benchmarks.md has no guest-bench markers: run tests/bench/run.sh first")
doc = doc[:doc.index(b) + len(b)] + "\n".join(out) + doc[doc.index(e):]
open("docs/benchmarks.md", "w").write(doc)
print("bench: guest figures written to docs/benchmarks.md")
PY
