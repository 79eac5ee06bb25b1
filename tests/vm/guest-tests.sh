#!/bin/bash
# tests/vm/guest-tests.sh — mdevd against a real kernel: runs inside the test
# VM (tests/vm/run.sh tests/vm/guest-tests.sh [FILTER]). FILTER is a regular
# expression on test function names (e.g. 'types|foreign').
#
# Prints "ok N - desc" / "not ok N - desc" (+ "#" diagnostics) per test and
# ends with "N passed, N failed"; exits non-zero on any failure.
set -eu

: "${MDEVD:?run me through tests/vm/run.sh}" "${REPO:?}" "${RESULTS:=/tmp}"
. "$REPO/tests/vm/lib.sh"
. "$REPO/tests/vm/testlib.sh"
POL=$REPO/tests/vm/policies
filter=${1:-.}
work=$(mktemp -d)
trap '[ -s "$work/pids" ] && xargs -r kill <"$work/pids" 2>/dev/null; rm -rf "$work"' EXIT

n=0 passed=0 failed=0
failures=()

# ------------------------------------------------------------------ helpers
jqo() { jq -r "$@" "$work/out"; } # jq on the last mdevd stdout
# sysfs view of live mdevs: "uuid parent type group" sorted
sys_mdevs() {
	local m l
	for m in /sys/bus/mdev/devices/*; do
		[ -e "$m" ] || continue
		mapfile -t l < <(readlink "$m" "$m/mdev_type" "$m/iommu_group")
		l[0]=${l[0]%/*}
		printf '%s %s %s %s\n' "${m##*/}" "${l[0]##*/}" "${l[1]##*/}" "${l[2]##*/}"
	done | sort
}
sys_uuids() { sys_mdevs | cut -d' ' -f1; }
count() { # count [PARENT [TYPE]] -> live mdevs (globs only: forks are slow under TCG)
	local a
	case $# in
	0) a=(/sys/bus/mdev/devices/*) ;;
	1) a=(/sys/class/mdev_bus/"$1"/mdev_supported_types/*/devices/*) ;;
	*) a=(/sys/class/mdev_bus/"$1"/mdev_supported_types/"$2"/devices/*) ;;
	esac
	if [ -e "${a[0]}" ]; then echo ${#a[@]}; else echo 0; fi
}
avail() { cat "/sys/class/mdev_bus/$1/mdev_supported_types/$2/available_instances"; }
reset_mdevs() {
	vm_mdev_remove_all
	[ "$(count)" = 0 ] || fail "could not remove all mdevs before the test"
}
group_of() { local g; g=$(readlink -f "/sys/bus/mdev/devices/$1/iommu_group"); echo "${g##*/}"; }
new_uuid() { cat /proc/sys/kernel/random/uuid; }
# hold_wait PID: until PID (started as `sleep N 9<>/dev/vfio/G &`) holds the group on fd 9;
# fails when it exits first (the open failed) or after 30 s.
hold_wait() {
	wait_for 30 held_or_gone "$1" && [ -e "/proc/$1/fd/9" ]
}
held_or_gone() { [ -e "/proc/$1/fd/9" ] || ! kill -0 "$1" 2>/dev/null; }

run_test() { # run_test FUNCTION DESCRIPTION
	run_one test "$@" || return 0
	# Leave no held VFIO groups behind: removing an mdev in use blocks. Wait until the
	# holders are gone (their groups closed), however long that takes.
	if [ -s "$work/pids" ]; then
		xargs -r kill <"$work/pids" 2>/dev/null || true
		local p
		for p in $(cat "$work/pids"); do
			wait_exit 30 "$p" || true
		done
		: >"$work/pids"
	fi
}

# -------------------------------------------------------------------- tests
t_binary() {
	[ -x "$MDEVD" ] || fail "$MDEVD is not built"
	md --version
	expect_rc 0
}

t_types() { # (a) the 8 sample types with their capacities
	reset_mdevs
	md types -o json
	expect_rc 0
	jq -e . "$work/out" >/dev/null || fail "types -o json is not JSON"
	local got want
	got=$(jqo '[.[] | .parent as $p | .types[] | "\($p) \(.id) \(.available_instances) \(.device_api)"] | sort | .[]')
	want=$(printf '%s\n' \
		"mbochs mbochs-large 4 vfio-pci" "mbochs mbochs-medium 16 vfio-pci" "mbochs mbochs-small 64 vfio-pci" \
		"mdpy mdpy-hd 4 vfio-pci" "mdpy mdpy-vga 4 vfio-pci" "mdpy mdpy-xga 4 vfio-pci" \
		"mtty mtty-1 24 vfio-pci" "mtty mtty-2 12 vfio-pci" | sort)
	say "got:"
	say "$got"
	[ "$got" = "$want" ] || fail "types differ from the expected 8 sample types; want:
$want"
	[ "$(jqo '.[] | select(.parent=="mtty") | .types[] | select(.id=="mtty-2") | .name')" = "Dual port serial" ] ||
		fail "mtty-2 name is not 'Dual port serial'"
	[ "$(jqo '.[] | select(.parent=="mbochs") | .types[] | select(.id=="mbochs-large") | .description')" = "virtual display, 64 MB video memory" ] ||
		fail "mbochs-large description wrong"
}

t_types_shared() { # (a) shared pools are re-read: mtty ports, mdpy counter, mbochs memory
	reset_mdevs
	new_uuid >/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create
	new_uuid >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/create
	new_uuid >/sys/class/mdev_bus/mbochs/mdev_supported_types/mbochs-large/create
	md types -o json
	expect_rc 0
	local got want
	got=$(jqo '[.[] | .types[] | "\(.id)=\(.available_instances)"] | sort | join(" ")')
	want="mbochs-large=3 mbochs-medium=12 mbochs-small=48 mdpy-hd=3 mdpy-vga=3 mdpy-xga=3 mtty-1=22 mtty-2=11"
	say "got:  $got"
	say "want: $want"
	[ "$got" = "$want" ] || fail "available_instances after one create per parent"
}

t_policy_check() { # policy check: valid files pass, invalid ones fail with a path
	local f
	for f in mixed converge demo kubevirt mtty-2-by-name mbochs-small-max remove-unowned; do
		md policy check "$POL/$f.json"
		expect_rc 0
	done
	md policy check "$POL/invalid-count.json"
	expect_rc 1
	grep -q 'mtty-2\|types\|layouts' "$work/err" || fail "no JSON path in the error message"
	md policy check "$POL/invalid-syntax.json"
	expect_rc 1
	[ -s "$work/err" ] || fail "no message for a syntax error"
}

t_mixed_capacity() { # (b) mtty + mbochs; shared memory decides what fits
	reset_mdevs
	md plan --policy "$POL/mixed.json" -o json
	expect_rc 2
	[ "$(jqo '[.actions[] | select(.action=="create")] | length')" = 11 ] ||
		fail "plan should create 3 mtty-2 + 4 mbochs-large + 4 mbochs-medium"
	md apply --policy "$POL/mixed.json"
	expect_rc 3
	grep -q mbochs "$work/err" || fail "message does not name the parent mbochs"
	grep -q 'mbochs-medium\|mbochs-large' "$work/err" || fail "message does not name the type"
	grep -qi 'ENOSPC\|no space' "$work/err" || fail "message does not say ENOSPC"
	[ "$(count mtty mtty-2)" = 3 ] || fail "expected 3 mtty-2, got $(count mtty mtty-2)"
	local l m
	l=$(count mbochs mbochs-large) m=$(count mbochs mbochs-medium)
	say "created: mbochs-large=$l mbochs-medium=$m"
	[ $((l * 64 + m * 16)) = 256 ] || fail "mbochs memory not filled: large=$l medium=$m"
	[ "$l" -le 4 ] && [ "$m" -le 3 ] || fail "more mbochs than requested"
	# Policy order is large first: all 4 large fit and no medium.
	[ "$l" = 4 ] && [ "$m" = 0 ] || fail "expected the 4 mbochs-large (listed first) to win, got large=$l medium=$m"
	# The kernel's own answer, not mdevd's reading of available_instances: a create by
	# hand on the full parent must come back as ENOSPC, named.
	md create --parent mbochs --type mbochs-small
	expect_rc 1
	grep -q '(ENOSPC)' "$work/err" || fail "kernel refusal not reported as ENOSPC"
	grep -q 'no capacity' "$work/err" || fail "ENOSPC not explained"
	# A UUID already used on another parent: refused before the write (issue 14: create
	# checks its arguments first), naming the mdev and the kernel's EEXIST.
	local used
	md list -o json
	used=$(jqo '.[0].uuid')
	md create --parent mdpy --type mdpy-vga --uuid "$used"
	expect_rc 1
	grep -q 'exists already.*EEXIST' "$work/err" || fail "taken UUID not reported (EEXIST)"
	# Re-applying creates nothing more and reports the same shortfall.
	local before
	before=$(sys_uuids)
	md apply --policy "$POL/mixed.json"
	expect_rc 3
	[ "$(sys_uuids)" = "$before" ] || fail "re-apply changed the set of mdevs"
}

t_converge_noop() { # (c) a policy that fits converges; re-plan/re-apply are no-ops
	reset_mdevs
	md apply --policy "$POL/converge.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 3 ] && [ "$(count mbochs mbochs-large)" = 2 ] &&
		[ "$(count mbochs mbochs-medium)" = 8 ] || fail "wrong counts: $(sys_mdevs)"
	local before
	before=$(sys_uuids)
	md plan --policy "$POL/converge.json" -o json
	expect_rc 0
	[ "$(jqo '[.actions[] | select(.action=="create" or .action=="remove")] | length')" = 0 ] ||
		fail "plan is not empty after apply"
	md plan --policy "$POL/converge.json"
	expect_rc 0
	md apply --policy "$POL/converge.json"
	expect_rc 0
	[ "$(sys_uuids)" = "$before" ] || fail "re-apply changed the set of mdevs"
	md apply --policy "$POL/converge.json" --dry-run
	expect_rc 0
}

t_dry_run() { # apply --dry-run touches nothing
	reset_mdevs
	md apply --policy "$POL/converge.json" --dry-run
	[ "$rc" != 1 ] || fail "dry-run failed"
	[ "$(count)" = 0 ] || fail "dry-run created mdevs: $(sys_mdevs)"
}

t_uuid_stable() { # (d) rmmod/modprobe mtty destroys its mdevs; re-apply gives the same UUIDs
	reset_mdevs
	md apply --policy "$POL/converge.json"
	expect_rc 0
	local before after
	before=$(sys_mdevs | awk '$2=="mtty" {print $1}')
	[ "$(echo "$before" | wc -l)" = 3 ] || fail "expected 3 mtty mdevs"
	rmmod mtty || fail "rmmod mtty failed"
	[ "$(count mtty)" = 0 ] || fail "mtty mdevs survived rmmod"
	[ ! -e /sys/class/mdev_bus/mtty ] || fail "mtty parent still registered"
	vm_modprobe mtty || fail "modprobe mtty failed"
	[ -e /sys/class/mdev_bus/mtty ] || fail "mtty parent did not come back"
	md plan --policy "$POL/converge.json" -o json
	expect_rc 2
	md apply --policy "$POL/converge.json"
	expect_rc 0
	after=$(sys_mdevs | awk '$2=="mtty" {print $1}')
	say "before: $(echo $before)"
	say "after:  $(echo $after)"
	[ "$before" = "$after" ] || fail "UUIDs differ after the module reload"
	local u
	for u in $after; do
		[ "${u:14:1}" = 5 ] || fail "UUID $u is not a version 5 UUID"
	done
}

t_machine_id() { # UUIDs depend on the machine id
	reset_mdevs
	md --machine-id 0123456789abcdef0123456789abcdef plan --policy "$POL/mtty-3.json" -o json
	expect_rc 2
	local a b
	a=$(jqo '[.actions[] | select(.action=="create") | .uuid] | sort | join(" ")')
	md --machine-id fedcba9876543210fedcba9876543210 plan --policy "$POL/mtty-3.json" -o json
	expect_rc 2
	b=$(jqo '[.actions[] | select(.action=="create") | .uuid] | sort | join(" ")')
	say "a: $a"
	say "b: $b"
	[ -n "$a" ] && [ "$a" != "$b" ] || fail "UUIDs do not depend on --machine-id"
}

t_in_use() { # (e) an mdev held open survives a shrink; released, the shrink proceeds
	reset_mdevs
	md apply --policy "$POL/mtty-3.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 3 ] || fail "expected 3 mtty-2"
	md plan --policy "$POL/mtty-1.json" -o json
	expect_rc 2
	local victim g holder
	victim=$(jqo '[.actions[] | select(.action=="remove")][0].uuid')
	[ -n "$victim" ] && [ "$victim" != null ] || fail "plan removes nothing when shrinking 3 -> 1"
	g=$(group_of "$victim")
	[ -c "/dev/vfio/$g" ] || fail "/dev/vfio/$g missing for $victim"
	# Hold the group open in a background process (fd 9 of sleep).
	# Time-limited, so that a wrongly written "remove" (which blocks until
	# the group is released) fails this test instead of hanging the VM; 240 s is
	# far more than the test takes under TCG on a loaded host (run_test ends it).
	sleep 240 9<>"/dev/vfio/$g" &
	holder=$!
	echo $holder >>"$work/pids"
	hold_wait $holder || fail "could not hold /dev/vfio/$g open"
	say "holding /dev/vfio/$g ($victim) in pid $holder"
	md plan --policy "$POL/mtty-1.json" -o json
	[ "$(jqo --arg u "$victim" '[.actions[] | select(.uuid==$u) | .action] | join(",")')" = keep ] ||
		fail "plan does not keep the held mdev $victim"
	jqo --arg u "$victim" '.actions[] | select(.uuid==$u) | .reason' | grep -qi 'use' ||
		fail "plan's reason for $victim does not say it is in use"
	md plan --policy "$POL/mtty-1.json"
	grep -qi 'in use' "$work/out" "$work/err" || fail "human plan does not say 'in use'"
	md apply --policy "$POL/mtty-1.json"
	[ "$rc" != 1 ] || fail "apply errored instead of skipping the mdev in use"
	[ -e "/sys/bus/mdev/devices/$victim" ] || fail "the mdev in use was removed"
	[ "$(count mtty mtty-2)" = 2 ] || fail "expected the free surplus mdev removed and the held one kept: $(count mtty mtty-2) left"
	kill $holder
	wait $holder 2>/dev/null || true
	md plan --policy "$POL/mtty-1.json" -o json
	expect_rc 2
	md apply --policy "$POL/mtty-1.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 1 ] || fail "shrink did not proceed after release"
	[ ! -e "/sys/bus/mdev/devices/$victim" ] || fail "released mdev $victim still there"
}

t_over_capacity() { # (f) 5 mdpy-vga on a counter of 4: clean EUSERS message
	reset_mdevs
	md apply --policy "$POL/mdpy-over.json"
	expect_rc 3
	grep -q mdpy-vga "$work/err" || fail "message does not name the type mdpy-vga"
	grep -q 'mdpy' "$work/err" || fail "message does not name the parent"
	grep -qi 'EUSERS\|too many users' "$work/err" || fail "message does not say EUSERS"
	[ "$(count mdpy mdpy-vga)" = 4 ] || fail "expected 4 mdpy-vga created, got $(count mdpy mdpy-vga)"
	# The kernel's own answer for a fifth: EUSERS, named and explained.
	md create --parent mdpy --type mdpy-xga
	expect_rc 1
	grep -q '(EUSERS)' "$work/err" || fail "kernel refusal not reported as EUSERS"
	grep -q 'no capacity' "$work/err" || fail "EUSERS not explained"
	! grep -qi 'segmentation\|assert\|internal error' "$work/err" || fail "unclean failure"
}

t_max() { # "max" fills the parent
	reset_mdevs
	md apply --policy "$POL/mbochs-small-max.json"
	expect_rc 0
	[ "$(count mbochs mbochs-small)" = 64 ] || fail "expected 64 mbochs-small, got $(count mbochs mbochs-small)"
	md plan --policy "$POL/mbochs-small-max.json"
	expect_rc 0
}

t_by_name() { # a type given by its name ("Dual port serial") on parents "all"
	reset_mdevs
	md apply --policy "$POL/mtty-2-by-name.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 2 ] || fail "expected 2 mtty-2, got: $(sys_mdevs)"
	[ "$(count)" = 2 ] || fail "other mdevs created: $(sys_mdevs)"
}

t_kubevirt() { # KubeVirt mediatedDevicesConfiguration is understood
	reset_mdevs
	md policy check "$POL/kubevirt.json"
	expect_rc 0
	md plan --policy "$POL/kubevirt.json" -o json
	expect_rc 2
	local bad
	bad=$(jqo '[.actions[] | select(.action=="create" and (.type!="mtty-2" or .parent!="mtty"))] | length')
	[ "$bad" = 0 ] || fail "KubeVirt policy plans creates outside mtty/mtty-2"
	[ "$(jqo '[.actions[] | select(.action=="create")] | length')" -ge 1 ] || fail "nothing to create"
}

t_pci() { # (g) edu bound to vfio-pci shows up with its IOMMU group
	md pci -o json
	expect_rc 0
	local bdf g
	bdf=$(vm_pci_find 1234:11e8)
	[ -n "$bdf" ] || fail "no edu device in the guest"
	[ "$(vm_pci_driver "$bdf")" = vfio-pci ] || fail "edu is not bound to vfio-pci in sysfs"
	g=$(readlink -f "/sys/bus/pci/devices/$bdf/iommu_group")
	g=${g##*/}
	say "edu $bdf group $g"
	local got
	got=$(jqo --arg a "$bdf" '[.[] | select(.address==$a)] | if length != 1 then "listed \(length) times" else .[0] |
		"\(.vendor):\(.device) \(.driver) \(.iommu_group | tostring) class=\(.class != null and .class != "") numa=\(has("numa_node"))" end')
	say "pci says: $got"
	[ "$got" = "1234:11e8 vfio-pci $g class=true numa=true" ] ||
		fail "want '1234:11e8 vfio-pci $g class=true numa=true' for $bdf"
	local nic
	nic=$(vm_pci_find 8086:10d3)
	[ "$(jqo --arg a "$nic" '.[] | select(.address==$a) | .driver')" = e1000e ] || fail "e1000e $nic not on e1000e"
	[ "$(jqo 'length')" = "$(ls /sys/bus/pci/devices | wc -l)" ] || fail "pci lists a different number of functions than sysfs"
}

t_foreign() { # (h) a foreign mdev survives; removeUnowned removes it
	reset_mdevs
	local f
	f=$(uuidgen 2>/dev/null || new_uuid)
	echo "$f" >/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create || fail "could not create foreign mdev"
	md plan --policy "$POL/mtty-1.json" -o json
	[ "$(jqo --arg u "$f" '[.actions[] | select(.uuid==$u and .action=="remove")] | length')" = 0 ] ||
		fail "plan removes the foreign mdev"
	md apply --policy "$POL/mtty-1.json"
	[ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "apply failed"
	[ -e "/sys/bus/mdev/devices/$f" ] || fail "foreign mdev $f was removed without removeUnowned"
	md apply --policy "$POL/empty.json"
	[ -e "/sys/bus/mdev/devices/$f" ] || fail "foreign mdev $f was removed by an empty policy"
	md apply --policy "$POL/remove-unowned.json"
	expect_rc 0
	[ ! -e "/sys/bus/mdev/devices/$f" ] || fail "foreign mdev $f survived removeUnowned: true"
	[ "$(count mtty mtty-2)" = 2 ] || fail "expected 2 mtty-2 after remove-unowned policy"
}

t_list() { # (i) list -o json matches /sys/bus/mdev/devices
	reset_mdevs
	md apply --policy "$POL/converge.json"
	new_uuid >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-xga/create
	md list -o json
	expect_rc 0
	local got want
	got=$(jqo '.[] | "\(.uuid) \(.parent) \(.type) \(.iommu_group | tostring)"' | sort)
	want=$(sys_mdevs)
	say "sysfs:"
	say "$want"
	[ "$got" = "$want" ] || fail "list differs from sysfs; list said:
$got"
	reset_mdevs
	md list -o json
	expect_rc 0
	[ "$(jqo 'length')" = 0 ] || fail "list not empty with no mdevs"
}

t_retype() { # KubeVirt re-typing: a type no longer listed loses its (owned) mdevs everywhere
	reset_mdevs
	local held holder g f before_mbochs
	# A foreign mdev on a parent neither policy manages: it stays throughout.
	f=$(new_uuid)
	echo "$f" >/sys/class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create || fail "could not create the foreign mdpy-vga"
	echo '{"mediatedDevicesConfiguration":{"mediatedDeviceTypes":["mtty-2","mbochs-medium"]}}' >"$work/both.json"
	echo '{"mediatedDevicesConfiguration":{"mediatedDeviceTypes":["mbochs-medium"]}}' >"$work/one.json"
	md apply --policy "$work/both.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 12 ] && [ "$(count mbochs mbochs-medium)" = 16 ] ||
		fail "expected 12 mtty-2 + 16 mbochs-medium: $(count mtty mtty-2) + $(count mbochs mbochs-medium)"
	before_mbochs=$(sys_mdevs | awk '$2=="mbochs"')
	# The plan says what goes and why: mtty offers no listed type, yet its mdevs are mdevd's.
	md plan --policy "$work/one.json" -o json
	expect_rc 2
	[ "$(jqo '[.actions[] | select(.action=="remove" and .parent=="mtty" and .type=="mtty-2")] | length')" = 12 ] ||
		fail "plan does not remove the 12 mtty-2"
	[ "$(jqo '[.actions[] | select(.action=="remove" and .parent!="mtty")] | length')" = 0 ] ||
		fail "plan removes something besides the mtty-2"
	[ "$(jqo '[.actions[] | select(.action=="create")] | length')" = 0 ] || fail "plan creates something"
	# One of them held open (as a VM would): it stays, the other 11 go.
	held=$(sys_mdevs | awk '$3=="mtty-2" {print $1; exit}')
	g=$(group_of "$held")
	sleep 240 9<>"/dev/vfio/$g" &
	holder=$!
	echo $holder >>"$work/pids"
	hold_wait $holder || fail "could not hold /dev/vfio/$g open"
	md apply --policy "$work/one.json"
	[ "$rc" != 1 ] || fail "apply failed"
	[ "$(count mtty mtty-2)" = 1 ] && [ -e "/sys/bus/mdev/devices/$held" ] ||
		fail "expected only the held mtty-2 $held left: $(count mtty mtty-2) left"
	kill $holder
	wait $holder 2>/dev/null || true
	md apply --policy "$work/one.json"
	expect_rc 0
	[ "$(count mtty mtty-2)" = 0 ] || fail "the released mtty-2 was not removed"
	[ "$(sys_mdevs | awk '$2=="mbochs"')" = "$before_mbochs" ] || fail "the mbochs-medium mdevs changed"
	[ -e "/sys/bus/mdev/devices/$f" ] || fail "the foreign mdpy-vga $f was removed"
	# Settled: a re-plan has nothing to do.
	md plan --policy "$work/one.json" -o json
	expect_rc 0
}

# kill -9 at random moments: after each re-run, the live set is the policy's reference set and
# (--persist) the mdevctl definitions are the live set, with no temp file left.
kill_rounds=${MDEVD_KILL_ROUNDS:-8}
defs() { # "uuid parent" of every definition under $1, sorted
	local d
	for d in "$1"/*/*; do
		[ -e "$d" ] || continue
		printf '%s %s\n' "${d##*/}" "$(basename "$(dirname "$d")")"
	done | sort
}
live() { sys_mdevs | awk '{print $1, $2}'; }
# kill9_round MODE POLICY: start MODE on POLICY, kill -9 it after a random delay below
# $kill_ms, then run it again to the end.
kill9_round() {
	local mode=$1 pol=$2 pid delay
	case $mode in
	plain) "$MDEVD" apply --policy "$pol" >/dev/null 2>&1 & ;;
	persist) "$MDEVD" apply --persist --mdevctl-dir "$work/mdevctl.d" --policy "$pol" >/dev/null 2>&1 & ;;
	run) "$MDEVD" run --no-device-plugins --no-libvirt --policy "$pol" 2>/dev/null & ;;
	esac
	pid=$!
	delay=$((RANDOM % kill_ms))
	sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	say "  $mode: killed after $delay ms"
	rerun "$mode" "$pol"
}
rerun() { # rerun MODE POLICY: to the end (run: until ready, then SIGTERM)
	case $1 in
	plain) md apply --policy "$2" ;;
	persist) md apply --persist --mdevctl-dir "$work/mdevctl.d" --policy "$2" ;;
	run)
		rc=0
		"$MDEVD" run --no-device-plugins --no-libvirt --policy "$2" 2>"$work/run.log" &
		local pid=$!
		wait_for 120 grep -q 'mdevd: ready' "$work/run.log" || rc=1
		kill -TERM $pid 2>/dev/null
		wait $pid || rc=$?
		;;
	esac
	expect_rc 0
}
# The two windows a random kill seldom hits (the syscalls are short next to the /proc scans),
# hit on purpose with strace's fault injection: SIGKILL on entering the first unlink (an mdev
# removed, its definition not yet deleted) and the first rename (a definition in its temp
# file, not yet renamed into place). Each leaves the directory wrong; the re-run must mend it.
kill9_at_syscalls() { # Z A REF_A, from any state
	local z=$1 a=$2 ref_a=$3 d=$work/mdevctl.d
	command -v strace >/dev/null || fail "strace is missing (scripts/deps.sh installs it)"
	rerun persist "$a"
	strace -f -qq -o /dev/null -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=KILL:when=1 \
		"$MDEVD" apply --persist --mdevctl-dir "$d" --policy "$z" >/dev/null 2>&1 || true
	say "  persist: killed at its first unlink: $(live | wc -l) live, $(defs "$d" | wc -l) definitions"
	[ "$(defs "$d")" != "$(live)" ] || fail "the kill at unlink left no stale definition (test did not hit the window)"
	rerun persist "$z"
	[ -z "$(live)" ] && [ -z "$(defs "$d")" ] || fail "after the kill at unlink: live $(live | wc -l), definitions $(defs "$d" | wc -l), want 0 and 0"
	strace -f -qq -o /dev/null -e trace=rename,renameat,renameat2 \
		-e inject=rename,renameat,renameat2:signal=KILL:when=1 \
		"$MDEVD" apply --persist --mdevctl-dir "$d" --policy "$a" >/dev/null 2>&1 || true
	say "  persist: killed at its first rename: temp files $(find "$d" -name '.*.tmp' | wc -l)"
	[ -n "$(find "$d" -name '.*.tmp')" ] || fail "the kill at rename left no temp file (test did not hit the window)"
	rerun persist "$a"
	[ "$(live)" = "$ref_a" ] && [ "$(defs "$d")" = "$ref_a" ] || fail "after the kill at rename: live or definitions differ from the reference"
	[ -z "$(find "$d" -name '.*')" ] || fail "temp files left after the re-run: $(find "$d" -name '.*')"
}

t_kill9() { # kill -9 at random moments: plain apply, apply --persist, run; re-runs converge
	local a b z ref_a ref_b t0 mode i pol ref ms_z ms_a
	local -A ms
	a=$work/kill-a.json b=$work/kill-b.json z=$work/kill-z.json
	echo '{"mdevd":{"layouts":[{"parents":["mtty"],"types":{"mtty-2":6}},{"parents":["mbochs"],"types":{"mbochs-small":8}}]}}' >"$a"
	echo '{"mdevd":{"layouts":[{"parents":["mtty"],"types":{"mtty-1":10}},{"parents":["mbochs"],"types":{"mbochs-large":2}}]}}' >"$b"
	# z asks for nothing: a run of it only removes (and, with --persist, undefines).
	echo '{"mdevd":{"layouts":[{"parents":["mtty","mbochs"],"types":{}}]}}' >"$z"
	# The reference sets, and how long a whole run takes: the kills land anywhere in it.
	reset_mdevs
	md apply --policy "$b"
	expect_rc 0
	ref_b=$(live)
	t0=$(date +%s%N)
	md apply --policy "$z"
	expect_rc 0
	ms_z=$((($(date +%s%N) - t0) / 1000000 + 1))
	[ -z "$(live)" ] || fail "z left mdevs: $(live)"
	t0=$(date +%s%N)
	md apply --policy "$a"
	expect_rc 0
	ms_a=$((($(date +%s%N) - t0) / 1000000 + 1))
	ref_a=$(live)
	ms[$z]=$ms_z ms[$a]=$ms_a ms[$b]=$ms_a
	say "references: a $(echo "$ref_a" | wc -l) mdevs, b $(echo "$ref_b" | wc -l), z 0; a run takes $ms_a ms (creates), $ms_z ms (removes only)"
	[ "$(echo "$ref_a" | wc -l)" = 14 ] && [ "$(echo "$ref_b" | wc -l)" = 12 ] || fail "unexpected reference sets"
	rm -rf "$work/mdevctl.d"
	for mode in plain persist run; do
		[ $mode = persist ] && { rerun persist "$a"; [ "$(defs "$work/mdevctl.d")" = "$ref_a" ] || fail "persist: definitions differ before the kills"; }
		# Every other round removes everything (z), in between a or b is made from nothing.
		for ((i = 0; i < kill_rounds; i++)); do
			case $((i % 4)) in
			0 | 2) pol=$z ref= ;;
			1) pol=$a ref=$ref_a ;;
			3) pol=$b ref=$ref_b ;;
			esac
			kill_ms=${ms[$pol]}
			kill9_round $mode "$pol"
			[ "$(live)" = "$ref" ] || fail "$mode round $i: live set differs from the reference:
$(diff <(echo "$ref") <(live))"
			if [ $mode = persist ]; then
				[ "$(defs "$work/mdevctl.d")" = "$(live)" ] || fail "persist round $i: definitions differ from the live set:
$(diff <(live) <(defs "$work/mdevctl.d"))"
				[ -z "$(find "$work/mdevctl.d" -name '.*')" ] || fail "persist round $i: temp files left: $(find "$work/mdevctl.d" -name '.*')"
			fi
		done
		[ $mode = persist ] && kill9_at_syscalls "$z" "$a" "$ref_a"
		# Back to a, for the next mode.
		rerun $mode "$a"
		[ "$(live)" = "$ref_a" ] || fail "$mode: not back at a"
	done
	# Neither `run` nor a plain apply touches the definitions: as the persist rounds left them.
	[ "$(defs "$work/mdevctl.d")" = "$ref_a" ] || fail "definitions changed outside --persist"
}

# --------------------------------------------------------------------- main
say "# mdevd VM tests: kernel $(uname -r), $MDEVD"
run_test t_binary "mdevd binary runs in the guest"
run_test t_types "types -o json: 8 sample types with their capacities"
run_test t_types_shared "types -o json: shared pools (mtty ports, mdpy counter, mbochs memory)"
run_test t_policy_check "policy check: valid policies pass, invalid ones fail with a path"
run_test t_mixed_capacity "apply mtty + mbochs: shared memory decides, exit 3 with ENOSPC"
run_test t_converge_noop "re-plan and re-apply of a converged policy are no-ops"
run_test t_dry_run "apply --dry-run creates nothing"
run_test t_uuid_stable "rmmod/modprobe mtty: re-apply restores the same UUIDs"
run_test t_machine_id "UUIDs depend on --machine-id"
run_test t_in_use "an mdev held open survives a shrink; released, the shrink proceeds"
run_test t_over_capacity "over capacity: 5 mdpy-vga on a counter of 4 gives EUSERS"
run_test t_max "\"max\" fills mbochs with 64 mbochs-small"
run_test t_by_name "type given by name on parents \"all\""
run_test t_kubevirt "KubeVirt mediatedDevicesConfiguration policy"
run_test t_pci "pci -o json: edu on vfio-pci with its IOMMU group"
run_test t_foreign "foreign mdev kept without removeUnowned, removed with it"
run_test t_list "list -o json matches /sys/bus/mdev/devices"
run_test t_retype "KubeVirt re-typing: mtty-2 + mbochs-medium, then mbochs-medium only: the mtty-2 go"
run_test t_kill9 "kill -9 at random moments (apply, apply --persist, run) and at unlink/rename: re-runs converge, definitions = live set"
vm_mdev_remove_all

run_summary
