#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Golden-file tests of the mdevd CLI on the fixture trees under tests/fixtures/.
#
#   tests/cli/run.sh            run every case, end with "N passed, N failed"
#   UPDATE=1 tests/cli/run.sh   rewrite the golden files from the current output (review the diff!)
#   MDEVD=path tests/cli/run.sh use another binary (default: mdevd/mdevd)
#
# A case is: a name, the exit status it must give, and mdevd's arguments. stdout is compared
# with golden/NAME.out and stderr with golden/NAME.err (an absent .err means stderr must be
# empty). Runs from the repository root, so fixture paths in messages are stable.
cd "$(dirname "$0")/../.." || exit 1
MDEVD=${MDEVD:-mdevd/mdevd}
GOLDEN=tests/cli/golden
F=tests/fixtures
passed=0
failed=0
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# NVIDIA vGPU type names mdevd remembers (node/nvidia_vgpu.h): none, so output is stable.
export MDEVD_RUN_DIR="$tmp/run"
. tests/lib/golden.sh

# case NAME RC ARGS...
case_() {
	name=$1
	want_rc=$2
	shift 2
	# shellcheck disable=SC2086 # PREFIX: a command that runs mdevd (setpriv ...), or nothing
	${PREFIX:-} "$MDEVD" "$@" >"$tmp/out.raw" 2>"$tmp/err.raw"
	rc=$?
	# the scratch dir's name varies: TMP in the golden files
	sed "s|$tmp|TMP|g" "$tmp/out.raw" >"$tmp/out"
	sed "s|$tmp|TMP|g" "$tmp/err.raw" >"$tmp/err"
	golden_compare "$name" "$want_rc" "$rc"
	if [ "$ok" -eq 1 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

# types
case_ samples-types-json 0 --sysfs-root $F/samples types -o json
case_ samples-types-human 0 --sysfs-root $F/samples types
case_ nvidia-types-json 0 --sysfs-root $F/nvidia types --output json
case_ nvidia-types-human 0 --sysfs-root $F/nvidia types
case_ broken-types-json 0 --sysfs-root $F/broken types -o json
# list (an empty proc root: no process holds a group)
mkdir "$tmp/proc"
case_ samples-list-json 0 --sysfs-root $F/samples --proc-root "$tmp/proc" list -o json
case_ samples-list-human 0 --sysfs-root $F/samples --proc-root "$tmp/proc" list
case_ nvidia-list-json 0 --sysfs-root $F/nvidia --proc-root "$tmp/proc" list -o json
case_ broken-list-human 0 --sysfs-root $F/broken --proc-root "$tmp/proc" list
# pci (names from Debian 12's pci.ids)
case_ samples-pci-json 0 --sysfs-root $F/samples pci -o json
case_ samples-pci-human 0 --sysfs-root $F/samples pci
case_ nvidia-pci-vendor-json 0 --sysfs-root $F/nvidia pci --vendor 10DE:1eb8 -o json
case_ broken-pci-human 0 --sysfs-root $F/broken pci
# status (a fixed machine id and an empty proc root: stable UUIDs, nothing in use)
ST="--proc-root $tmp/proc --machine-id 0123456789abcdef0123456789abcdef"
case_ nvidia-status-human 2 --sysfs-root $F/nvidia $ST status --policy tests/cli/policies/nvidia-status.json
case_ nvidia-status-json 2 --sysfs-root $F/nvidia $ST status --policy tests/cli/policies/nvidia-status.json -o json
case_ samples-status-human 2 --sysfs-root $F/samples $ST status --policy tests/vm/policies/kubevirt.json
# vfio-pci: status shows each named function's decision; apply on a fixture tree needs its
# own ownership file; doctor's usage
case_ samples-status-vfio-human 0 --sysfs-root $F/samples $ST status --policy tests/cli/policies/samples-vfio.json
case_ samples-apply-vfio-no-state 64 --sysfs-root $F/samples $ST apply --policy tests/cli/policies/samples-vfio.json --dry-run
case_ doctor-extra-arg 64 doctor now
# NVIDIA generations (tests/fixtures/make-tree.py): T4 mdev on the PF, A100/A40 mdev on VFs,
# L40S, H100 and H200 vendor-specific VFIO, a mixed node
for gen in t4 a100 a40 l40s h100 h200 mixed; do
	case_ $gen-types-human 0 --sysfs-root $F/$gen types
	case_ $gen-list-human 0 --sysfs-root $F/$gen list --no-libvirt
done
case_ l40s-types-json 0 --sysfs-root $F/l40s types -o json
case_ h200-types-json 0 --sysfs-root $F/h200 types -o json
case_ h100-types-json 0 --sysfs-root $F/h100 types -o json
case_ h100-list-json 0 --sysfs-root $F/h100 list --no-libvirt -o json
case_ h100-pci-human 0 --sysfs-root $F/h100 pci
case_ h100-pci-json 0 --sysfs-root $F/h100 pci -o json
case_ mixed-list-json 0 --sysfs-root $F/mixed list --no-libvirt -o json
case_ mixed-pci-human 0 --sysfs-root $F/mixed pci
case_ mixed-pci-json 0 --sysfs-root $F/mixed pci --vendor 10de:26b9 -o json
# NVIDIA vendor VFIO: the issue's policy planned on the L40S tree and the mixed node, status
VP=tests/cli/policies/l40s-12q.json
case_ l40s-plan-human 2 --sysfs-root $F/l40s $ST plan --policy $VP --no-libvirt
case_ l40s-plan-json 2 --sysfs-root $F/l40s $ST plan --policy $VP --no-libvirt -o json
case_ mixed-status-human 2 --sysfs-root $F/mixed $ST status --policy $VP
case_ mixed-status-json 2 --sysfs-root $F/mixed $ST status --policy $VP -o json
echo '{}' >"$tmp/empty.json"
case_ h200-status-human 0 --sysfs-root $F/h200 $ST status --policy "$tmp/empty.json"
case_ h200-status-json 0 --sysfs-root $F/h200 $ST status --policy "$tmp/empty.json" -o json
case_ h100-status-human 0 --sysfs-root $F/h100 $ST status --policy "$tmp/empty.json"
case_ h100-status-json 0 --sysfs-root $F/h100 $ST status --policy "$tmp/empty.json" -o json
# ...and applied to a copy of the L40S tree. Writing current_vgpu_type does not change the
# copy's lists as the driver would: `make-tree.py sim` recomputes them between the runs.
# Round 1 frees the full card, whose lists stay empty until the driver (sim) relists: exit 3.
cp -a $F/l40s "$tmp/l40s"
export MDEVD_RUN_DIR="$tmp/run-apply"
case_ l40s-apply 3 --sysfs-root "$tmp/l40s" $ST apply --policy $VP --no-libvirt
python3 tests/fixtures/make-tree.py --out "$tmp/l40s" sim
case_ l40s-apply-again 0 --sysfs-root "$tmp/l40s" $ST apply --policy $VP --no-libvirt
python3 tests/fixtures/make-tree.py --out "$tmp/l40s" sim
case_ l40s-applied-list 0 --sysfs-root "$tmp/l40s" list --no-libvirt
case_ l40s-applied-plan 0 --sysfs-root "$tmp/l40s" $ST plan --policy $VP --no-libvirt
export MDEVD_RUN_DIR="$tmp/run"
# vfio-pci never takes a vGPU function: every VF of a vendor-VFIO card (configured or free,
# overrideHostOwned or not) and an mdev parent (overridable only while it has no live mdevs)
case_ l40s-status-vfio-human 0 --sysfs-root $F/l40s $ST status --policy tests/cli/policies/l40s-vfio.json
case_ mixed-status-vfio-human 0 --sysfs-root $F/mixed $ST status --policy tests/cli/policies/mixed-vfio.json
case_ mixed-status-vfio-json 0 --sysfs-root $F/mixed $ST status --policy tests/cli/policies/mixed-vfio.json -o json
case_ t4-pci-human 0 --sysfs-root $F/t4 pci
# errors and usage
case_ missing-root 1 --sysfs-root $F/nonexistent types
case_ bad-output 64 --sysfs-root $F/samples types -o yaml
case_ bad-vendor 64 --sysfs-root $F/samples pci --vendor 10de:
case_ extra-arg 64 --sysfs-root $F/samples list now
case_ types-help 0 types --help

# create: every argument checked before anything is written (on a copy: it writes)
cp -a $F/samples "$tmp/rw"
RW="--sysfs-root $tmp/rw --proc-root $tmp/proc"
case_ create-parent-traversal 1 $RW create --parent ../../../evil --type x
case_ create-parent-unknown 1 $RW create --parent 0000:99:00.0 --type mtty-2
case_ create-type-unknown 1 $RW create --parent mtty --type mtty-9
case_ create-uuid-bad 64 $RW create --parent mtty --type mtty-2 --uuid not-a-uuid
case_ create-uuid-exists 1 $RW create --parent mtty --type mtty-2 \
	--uuid 83B8F4F2-509F-382F-3C1E-E6BFE0FA1001
case_ create-by-type-name 0 $RW create --parent mtty --type "Dual port serial" \
	--uuid 11111111-2222-4333-8444-555555555555
case_ create-json 0 $RW create --parent mtty --type mtty-1 -o json \
	--uuid 11111111-2222-4333-8444-666666666666
cp -a $F/nvidia "$tmp/rw-nvidia"
case_ create-short-pci-address 0 --sysfs-root "$tmp/rw-nvidia" create --parent 3b:00.0 \
	--type "GRID T4-1Q" --uuid 11111111-2222-4333-8444-555555555555
if [ "$(cat "$tmp/rw-nvidia/devices/pci0000:00/0000:3b:00.0/mdev_supported_types/nvidia-230/create" \
	2>/dev/null)" != 11111111-2222-4333-8444-555555555555 ]; then
	echo "FAIL create-short-pci-address: the UUID was not written to 0000:3b:00.0's nvidia-230"
	failed=$((failed + 1))
fi
if [ "$(cat "$tmp/rw/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create" 2>/dev/null)" != \
	11111111-2222-4333-8444-555555555555 ]; then
	echo "FAIL create-by-type-name: the UUID was not written to mtty-2/create"
	failed=$((failed + 1))
fi
# apply --dry-run: what it would do, with plan's exit statuses (2: changes pending)
case_ samples-apply-dry-run 2 --sysfs-root $F/samples $ST apply --dry-run --no-libvirt \
	--policy tests/cli/policies/fleet.json
case_ samples-apply-dry-run-json 2 --sysfs-root $F/samples $ST apply --dry-run --no-libvirt -q \
	-o json --policy tests/cli/policies/fleet.json
case_ samples-plan-fleet 2 --sysfs-root $F/samples $ST plan --no-libvirt \
	--policy tests/cli/policies/fleet.json
case_ nvidia-plan-fleet 2 --sysfs-root $F/nvidia $ST plan --no-libvirt \
	--policy tests/cli/policies/fleet.json
# nodeMediatedDeviceTypes outside Kubernetes: --node-labels picks the entries, as KubeVirt
# does; without labels only the cluster-wide list applies, and that is said
NT=tests/cli/policies/node-types.yaml
case_ samples-plan-node-types-unlabelled 2 --sysfs-root $F/samples $ST plan --no-libvirt --policy $NT
case_ samples-plan-node-types-labelled 2 --sysfs-root $F/samples $ST plan --no-libvirt --policy $NT \
	--node-labels zone=a,mdevd.example.com/tty=dual
case_ samples-apply-dry-run-node-types 2 --sysfs-root $F/samples $ST apply --dry-run --no-libvirt \
	-o json --policy $NT --node-labels mdevd.example.com/tty=dual
case_ plan-bad-node-labels 1 --sysfs-root $F/samples $ST plan --no-libvirt --policy $NT \
	--node-labels =dual
case_ samples-policy-check-fleet 2 --sysfs-root $F/samples policy check tests/cli/policies/fleet.json
case_ nvidia-policy-check-fleet 2 --sysfs-root $F/nvidia policy check tests/cli/policies/fleet.json
case_ samples-policy-check-fleet-json 2 --sysfs-root $F/samples policy check -o json \
	tests/cli/policies/fleet.json
case_ policy-check-fleet-no-node 0 policy check --no-node tests/cli/policies/fleet.json
case_ samples-status-fleet 2 --sysfs-root $F/samples $ST status --policy tests/cli/policies/fleet.json
case_ kubevirt-yaml 1 --sysfs-root $F/samples policy check tests/cli/policies/kubevirt-mistakes.yaml
case_ many-errors 1 policy check --no-node tests/cli/policies/many-errors.yaml
case_ many-errors-json 1 policy check --no-node -o json tests/cli/policies/many-errors.yaml
case_ kubevirt-mdevd-in-spec 1 policy check --no-node tests/cli/policies/kubevirt-mdevd-in-spec.yaml
# One policy for a mixed fleet (T4, L40S, A100, A40, the sample drivers) on every tree but
# nvidia: each node applies its part, what it lacks is a warning of that node (policy check
# exits 2), and a card no rule selects (the H100s, the H200s) is left as it is. NAME:RC, RC
# of plan and apply --dry-run; a run dir per tree, so one tree's vGPU type names are not
# remembered.
MF=tests/cli/policies/mixed-fleet.json
for spec in samples:2 t4:2 a100:2 a40:0 l40s:2 h100:0 h200:0 mixed:2 broken:0; do
	gen=${spec%:*}
	export MDEVD_RUN_DIR="$tmp/run-fleet-$gen"
	case_ $gen-policy-check-mixed-fleet 2 --sysfs-root $F/$gen policy check $MF
	case_ $gen-plan-mixed-fleet "${spec#*:}" --sysfs-root $F/$gen $ST plan --no-libvirt --policy $MF
	case_ $gen-apply-dry-run-mixed-fleet "${spec#*:}" --sysfs-root $F/$gen $ST apply --dry-run \
		--no-libvirt --policy $MF
done
export MDEVD_RUN_DIR="$tmp/run"
# in use: the holder named (pid, command, QEMU's guest name) by list and remove
HP=$tmp/held-proc
mkdir -p "$HP/4242/fd" && ln -s /dev/vfio/10 "$HP/4242/fd/7" && ln -s /dev/vfio/vfio "$HP/4242/fd/6"
echo qemu-system-x86 >"$HP/4242/comm"
printf '/usr/bin/qemu-system-x86_64\0-name\0guest=vm1,debug-threads=on\0-S\0' >"$HP/4242/cmdline"
mkdir -p "$HP/4243/fd" && ln -s /dev/vfio/11 "$HP/4243/fd/3" && echo cat >"$HP/4243/comm"
case_ samples-list-held-human 0 --sysfs-root $F/samples --proc-root "$HP" list
case_ samples-list-held-json 0 --sysfs-root $F/samples --proc-root "$HP" list -o json
case_ samples-status-held 2 --sysfs-root $F/samples --proc-root "$HP" \
	--machine-id 0123456789abcdef0123456789abcdef status --no-libvirt \
	--policy tests/vm/policies/kubevirt.json
case_ remove-held 1 --sysfs-root "$tmp/rw" --proc-root "$HP" remove --no-libvirt \
	83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
# remove: UUIDs in any case; refused when processes cannot be inspected (not root)
case_ remove-uuid-upper-case 0 $RW remove --no-libvirt 83B8F4F2-509F-382F-3C1E-E6BFE0FA1002
case_ remove-json 0 $RW remove --no-libvirt -o json 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
case_ remove-not-a-uuid 64 $RW remove --no-libvirt ../../x
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	# as nobody, with a process whose fd table only root may read
	mkdir -m 755 "$tmp/nobody" && cp -a $F/samples "$tmp/nobody/sys" &&
		mkdir -p "$tmp/nobody/proc/4242/fd" && chmod 755 "$tmp" &&
		chmod -R a+rX "$tmp/nobody" && chmod 700 "$tmp/nobody/proc/4242/fd"
	PREFIX="setpriv --reuid=65534 --regid=65534 --clear-groups" case_ remove-proc-unreadable 1 \
		--sysfs-root "$tmp/nobody/sys" --proc-root "$tmp/nobody/proc" remove --no-libvirt \
		83b8f4f2-509f-382f-3c1e-e6bfe0fa1001
else
	echo "SKIP remove-proc-unreadable: needs root and setpriv(1) to run mdevd as nobody"
fi

# every option of every --help: one meaning per short option, and named in mdevd(8)
if python3 tests/cli/options.py "$MDEVD" >"$tmp/opts" 2>&1; then
	passed=$((passed + 1))
else
	echo "FAIL options: --help and mdevd(8) disagree:"
	sed 's/^/    /' "$tmp/opts"
	failed=$((failed + 1))
fi
# global options after the command; --policy defaults to /etc/mdevd/policy.json
case_ global-after-command 0 list --sysfs-root=$F/samples
case_ global-after-command-no-value 64 list --sysfs-root
case_ policy-default-path 1 --sysfs-root $F/samples $ST plan --no-libvirt
case_ hostdev-c-is-not-count 64 --sysfs-root $F/samples hostdev -c 2 x.com/Y

# --- every example of the docs (README.md, mdevd(8), mdevd-policy(5), policy --help) -------
# tests/cli/examples.py extracts them mechanically (the man pages as groff renders them),
# so an example that stops being valid, or stops doing what its text says, fails here.
# golden/examples/NAME.out holds stdout, stderr and the exit status together.
EX=$tmp/examples
GOLDEN_EX=tests/cli/golden/examples
mkdir -p "$GOLDEN_EX"
# example_ NAME CMD...: run CMD, compare "stdout + stderr + exit N" with the golden file.
example_() {
	name=$1
	shift
	rc=0
	"$@" >"$tmp/ex.out" 2>&1 || rc=$?
	# create without --uuid prints a random (version 4) UUID
	case $name in
	cmd-*) v4='[0-9a-f]\{8\}-[0-9a-f]\{4\}-4[0-9a-f]\{3\}-[89ab][0-9a-f]\{3\}-[0-9a-f]\{12\}' ;;
	*) v4='^$' ;;
	esac
	sed -e "s|$tmp|TMP|g" -e "s/$v4/RANDOM-UUID/g" "$tmp/ex.out" >"$tmp/out"
	echo "exit $rc" >>"$tmp/out"
	: >"$tmp/err"
	[ -n "$UPDATE" ] && cp "$tmp/out" "$GOLDEN_EX/$name.out"
	echo "$name.out" >>"$tmp/ex-seen"
	if [ "$rc" -eq 64 ] || [ "$rc" -ge 124 ]; then
		echo "FAIL example $name: exit status $rc (usage error or timeout): $*"
		sed 's/^/    /' "$tmp/ex.out" | head -10
		failed=$((failed + 1))
	elif ! diff -u "$GOLDEN_EX/$name.out" "$tmp/out" >"$tmp/diff" 2>&1; then
		echo "FAIL example $name: output differs from $GOLDEN_EX/$name.out ($*):"
		head -40 "$tmp/diff"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
}
if ! python3 tests/cli/examples.py "$EX" "$MDEVD"; then
	echo "FAIL examples: tests/cli/examples.py could not extract the docs' examples"
	failed=$((failed + 1))
fi
n_ex=0
for bad in "$EX"/*.bad; do
	[ -e "$bad" ] || continue
	echo "FAIL example $(basename "$bad" .bad): not a valid policy as the reader sees it:"
	sed 's/^/    /' "$bad"
	failed=$((failed + 1))
done
for f in "$EX"/*.json; do
	[ -e "$f" ] || continue
	n=$(basename "$f" .json)
	n_ex=$((n_ex + 1))
	cp "$f" "$tmp/$n.json"
	example_ "$n.no-node" "$MDEVD" policy check --no-node "$tmp/$n.json"
	for tree in samples nvidia t4; do
		example_ "$n.$tree" "$MDEVD" --sysfs-root $F/$tree policy check "$tmp/$n.json"
		example_ "$n.$tree.plan" "$MDEVD" --sysfs-root $F/$tree $ST plan --no-libvirt \
			--policy "$tmp/$n.json"
	done
done
# At least the examples there are today: an extractor that finds none must fail.
if [ "$n_ex" -lt 8 ]; then
	echo "FAIL examples: only $n_ex JSON examples extracted, want at least 8"
	failed=$((failed + 1))
fi
# The example command lines, each run for real on a fresh copy of the samples tree
# (nothing in use, a fixed machine id). Placeholders get fixture values: a policy file
# (README's first example), UUID / BDF (the tree's mdev / PCI function); "> FILE" is
# dropped; libvirt is libvirt's own test driver (test:///default) instead of the host's
# qemu:///system, so the result does not depend on this machine. 'run' is the daemon: its
# options are checked with --help after them.
i=0
while IFS="$(printf '\t')" read -r src cmd; do
	i=$((i + 1))
	rm -rf "$tmp/tree" && cp -a $F/samples "$tmp/tree"
	args=$(printf '%s\n' "$cmd" | sed -e 's/^mdevd //' \
		-e "s|/etc/mdevd/policy.json|$EX/README.md-1.json|g" \
		-e "s|\([ =]\)policy.json|\1$EX/README.md-1.json|g" \
		-e 's/UUID|BDF/83b8f4f2-509f-382f-3c1e-e6bfe0fa1001/; s/ UUID$/ 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001/' \
		-e "s| > *\([^ ]*\)\$||" -e 's|qemu:///system|test:///default|g')
	case $args in run\ *) args="$args --help" ;; esac
	case $args in *--source\ libvirt* | *--backend\ libvirt*) case $args in *--connect*) ;; *) args="$args --connect test:///default" ;; esac ;; esac
	# shellcheck disable=SC2086 # the example's words, split as a shell would
	example_ "cmd-$i-$src" timeout 20 "$MDEVD" --sysfs-root "$tmp/tree" --proc-root "$tmp/proc" \
		--machine-id 0123456789abcdef0123456789abcdef $args
done <"$EX/commands"
# README blocks that show a command's output ("$ mdevd ARGS", then what it prints): run on a
# fresh copy of the samples tree as above, the block must be how the real output starts (a
# block may stop early, saying in its text what follows).
n_tr=0
for t in "$EX"/*.transcript; do
	[ -e "$t" ] || continue
	n_tr=$((n_tr + 1))
	name=$(basename "$t" .transcript)
	rm -rf "$tmp/tree" && cp -a $F/samples "$tmp/tree"
	sed 1d "$t" >"$tmp/tr.want"
	# shellcheck disable=SC2046 # the block's words, split as a shell would
	timeout 20 "$MDEVD" --sysfs-root "$tmp/tree" --proc-root "$tmp/proc" \
		--machine-id 0123456789abcdef0123456789abcdef $(head -1 "$t") >"$tmp/tr.out" 2>&1
	head -n "$(wc -l <"$tmp/tr.want")" "$tmp/tr.out" >"$tmp/tr.got"
	if diff -u "$tmp/tr.want" "$tmp/tr.got" >"$tmp/diff"; then
		passed=$((passed + 1))
	else
		echo "FAIL example $name: README shows other output than mdevd $(head -1 "$t") prints:"
		head -40 "$tmp/diff"
		failed=$((failed + 1))
	fi
done
if [ "$n_tr" -lt 2 ]; then
	echo "FAIL examples: only $n_tr README output blocks extracted, want at least 2"
	failed=$((failed + 1))
fi
# A golden file no example produced any more: the example was removed or renumbered.
for g in "$GOLDEN_EX"/*.out; do
	grep -qxF "$(basename "$g")" "$tmp/ex-seen" && continue
	if [ -n "$UPDATE" ]; then
		rm -f "$g"
	else
		echo "FAIL examples: $g belongs to no example (UPDATE=1 removes it)"
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
