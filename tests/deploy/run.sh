#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The deployment artefacts under deploy/ against the built binary: the Kubernetes manifests
# parse and are wired together (volumes, args, ConfigMap key, namespace), the policies they
# carry pass `mdevd policy check`, the KubeVirt CR permits what the ConfigMap serves, the
# systemd unit verifies and runs `mdevd run`, and the Containerfile's runtime-package step
# works on this Debian and finds what mdevd links and dlopen()s. No network, a few seconds.
#
#   tests/deploy/run.sh              run every test, end with "N passed, N failed"
#   MDEVD=path tests/deploy/run.sh   use another binary (default: mdevd/mdevd)
#   DEPLOY=dir tests/deploy/run.sh   check another copy of deploy/ (e.g. a broken one)
#
# The YAML side is tests/deploy/manifests.py, run by Debian's /usr/bin/python3 (python3-yaml;
# the python3 first on PATH may be another build without it). A test that cannot run here
# prints SKIP and its reason and counts neither way.
set -eu
cd "$(dirname "$0")/../.." || exit 1
MDEVD=${MDEVD:-mdevd/mdevd}
DEPLOY=${DEPLOY:-deploy}
PY=/usr/bin/python3
M=tests/deploy/manifests.py
# The node configmap.yaml's fleet policy slices (a T4 node), and every node fixture: the
# policy must be valid on each.
NODE=tests/fixtures/nvidia
NODES="tests/fixtures/nvidia tests/fixtures/samples tests/fixtures/broken"
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass() { passed=$((passed + 1)); }
# fail NAME WHY [FILE]: count a failure; print why and, when given, FILE's first lines.
fail() {
	echo "FAIL $1: $2"
	if [ $# -ge 3 ] && [ -s "$3" ]; then sed 's/^/    /' "$3" | head -20; fi
	failed=$((failed + 1))
}
skip() { echo "SKIP $1: $2"; }

# manifest NAME CHECK [ARGS...]: one check of manifests.py; it names what is wrong.
manifest() {
	name=$1
	shift
	if "$PY" "$M" "$DEPLOY" "$@" >"$tmp/out" 2>&1; then
		pass
	else
		fail "$name" "$DEPLOY: $*" "$tmp/out"
	fi
}

[ -x "$MDEVD" ] || { echo "$MDEVD: not built (run make)"; exit 1; }
case $MDEVD in /*) ABS=$MDEVD ;; *) ABS=$PWD/$MDEVD ;; esac
"$PY" -c 'import yaml' 2>/dev/null ||
	{ echo "$PY: no yaml module (apt-get install python3-yaml)"; exit 1; }
"$MDEVD" --help >"$tmp/global-help"
"$MDEVD" run --help >"$tmp/run-help"

# argv_accepted NAME SOURCE: the argv that SOURCE (daemonset, containerfile, unit) runs is one
# mdevd accepts. Two checks: (1) manifests.py parses it with the option tables of `mdevd
# --help` and `mdevd run --help` (every long option exists, values where the help shows one,
# the command is run, no stray word, --policy given); (2) the binary itself parses it with
# --help appended: getopt_long takes the options left to right, so an unknown option or a
# missing value ends in a usage error (64) before --help is reached, and --help after `run`
# prints run's usage and exits 0 without starting anything.
argv_accepted() {
	name=$1
	src=$2
	if ! "$PY" "$M" "$DEPLOY" argv "$src" >"$tmp/argv" 2>&1; then
		fail "$name" "no argv from $src" "$tmp/argv"
		return
	fi
	: >"$tmp/why"
	"$PY" "$M" "$DEPLOY" argv-check "$src" "$tmp/global-help" "$tmp/run-help" >"$tmp/why" 2>&1 ||
		true
	# Word per line; no argv here has a newline in a word. The binary is ours, not argv[0].
	set --
	while IFS= read -r w; do set -- "$@" "$w"; done <"$tmp/argv"
	shift
	rc=0
	"$MDEVD" "$@" --help >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "mdevd $* --help: exit status $rc, want 0: $(head -1 "$tmp/err")" >>"$tmp/why"
	elif ! head -1 "$tmp/out" | grep -q '^Usage: mdevd run '; then
		echo "mdevd $* --help did not print run's usage: $(head -1 "$tmp/out")" >>"$tmp/why"
	fi
	if [ -s "$tmp/why" ]; then
		fail "$name" "mdevd would not accept the argv of $src" "$tmp/why"
	else
		pass
	fi
}

# policy_check NAME FILE WANT_SHAPE: `mdevd policy check -` on every node fixture accepts
# FILE (stdin; 0 valid, or 2 valid with warnings for what that node lacks: one policy
# serves a fleet) and reads it as WANT_SHAPE ("bare config", "KubeVirt CR").
policy_check() {
	rc=0
	for node in $NODES; do
		"$MDEVD" --sysfs-root "$node" policy check - <"$2" >"$tmp/out" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || break
		rc=0
	done
	if [ "$rc" -ne 0 ]; then
		fail "$1" "mdevd --sysfs-root $node policy check - <$2: exit status $rc, want 0 or 2" "$tmp/out"
	elif ! "$MDEVD" --sysfs-root "$NODE" policy check -o json - <"$2" 2>&1 |
		grep -q "\"shape\": \"$3\""; then
		fail "$1" "mdevd does not read $2 as a $3 (policy check -o json: shape)"
	else
		pass
	fi
}

# --- deploy/kubernetes/*.yaml --------------------------------------------------------------
manifest yaml-parses parse
manifest daemonset-volumes volumes
manifest daemonset-not-privileged security
manifest daemonset-wiring wiring
manifest rbac-grants-what-mdevd-asks rbac
argv_accepted daemonset-args-accepted daemonset
argv_accepted containerfile-cmd-accepted containerfile

if "$PY" "$M" "$DEPLOY" policy >"$tmp/policy.json" 2>"$tmp/err"; then
	policy_check configmap-policy-valid "$tmp/policy.json" "bare config"
else
	fail configmap-policy-valid "no policy in $DEPLOY/kubernetes/configmap.yaml" "$tmp/err"
fi
manifest configmap-fleet-selectors fleet
# The fleet policy applies its matching part on the T4 node: T4-1Q creates planned.
if [ -s "$tmp/policy.json" ] &&
	"$MDEVD" --sysfs-root "$NODE" --proc-root "$tmp" --machine-id 0123456789abcdef0123456789abcdef \
		plan --no-libvirt --policy "$tmp/policy.json" >"$tmp/plan" 2>&1; [ $? -eq 2 ] &&
	grep -q '^create .* nvidia-230 ' "$tmp/plan"; then
	pass
else
	fail configmap-fleet-plan "the ConfigMap's policy plans no GRID T4-1Q (nvidia-230) on $NODE" "$tmp/plan"
fi
if "$PY" "$M" "$DEPLOY" kubevirt-json >"$tmp/kubevirt.json" 2>"$tmp/err"; then
	policy_check kubevirt-cr-valid "$tmp/kubevirt.json" "KubeVirt CR"
else
	fail kubevirt-cr-valid "no KubeVirt CR in $DEPLOY/kubernetes/kubevirt-cr.yaml" "$tmp/err"
fi
manifest kubevirt-cr-external-provider external
manifest kubevirt-cr-matches-configmap agree
manifest kubevirt-vm-requests-permitted vm

# --- deploy/systemd/mdevd.service ----------------------------------------------------------
UNIT=$DEPLOY/systemd/mdevd.service
# verify: on a copy whose ExecStart names the built binary (verify checks it is executable).
# It needs no running systemd. Documentation=man:... is checked with `man`, against the
# pages in docs/ (MANPATH); without man, --man=no. verify reports a bad value ("Failed to
# parse ..., ignoring") yet exits 0, so any output fails the test too.
if ! command -v systemd-analyze >/dev/null; then
	skip unit-verifies "systemd-analyze is not installed"
else
	mkdir -p "$tmp/unit" "$tmp/man/man5" "$tmp/man/man8"
	sed "s|^ExecStart=\([-@+!:]*\)/usr/local/bin/mdevd |ExecStart=\1$ABS |" \
		"$UNIT" >"$tmp/unit/mdevd.service"
	cp docs/mdevd.8 "$tmp/man/man8/" && cp docs/mdevd-policy.5 "$tmp/man/man5/"
	man=--man=no
	command -v man >/dev/null && man=--man=yes
	rc=0
	MANPATH=$tmp/man systemd-analyze verify "$man" "$tmp/unit/mdevd.service" \
		>"$tmp/out" 2>&1 || rc=$?
	if ! grep -q "^ExecStart=[-@+!:]*$ABS " "$tmp/unit/mdevd.service"; then
		fail unit-verifies "$UNIT: ExecStart does not run /usr/local/bin/mdevd (make install's path)"
	elif [ "$rc" -ne 0 ] || [ -s "$tmp/out" ]; then
		fail unit-verifies "systemd-analyze verify $man $UNIT (ExecStart=$ABS): exit status $rc" \
			"$tmp/out"
	else
		pass
	fi
fi
if grep -qx 'Type=notify' "$UNIT"; then pass; else fail unit-type-notify "$UNIT: no Type=notify"; fi
# The hardening docs/operations.md reports: systemd's own exposure score, printed (the
# number is a report, not a limit); no score at all fails.
if ! command -v systemd-analyze >/dev/null; then
	skip unit-exposure "systemd-analyze is not installed"
else
	score=$(systemd-analyze security --offline=yes "$UNIT" 2>&1 |
		sed -n 's/.*Overall exposure level for mdevd.service: \([0-9.]*\).*/\1/p')
	if [ -n "$score" ]; then
		echo "# systemd-analyze security --offline=yes: exposure $score"
		pass
	else
		fail unit-exposure "systemd-analyze security --offline=yes $UNIT gave no score"
	fi
fi
argv_accepted unit-execstart-accepted unit

# --- deploy/kubernetes/Containerfile -------------------------------------------------------
CF=$DEPLOY/kubernetes/Containerfile
# The RUN step that writes /out/runtime-packages, run by dash (the image's /bin/sh) from the
# repository root with /out/ moved to a scratch dir holding the binary where make install
# puts it.
mkdir -p "$tmp/out-dir/usr/local/bin"
cp "$MDEVD" "$tmp/out-dir/usr/local/bin/mdevd"
awk '/^RUN \{ ldd/ { on = 1 } on { print; if ($0 !~ /\\$/) exit }' "$CF" |
	sed "1s/^RUN //; s|/out/|$tmp/out-dir/|g" >"$tmp/runtime-step"
RP=$tmp/out-dir/runtime-packages
if ! [ -s "$tmp/runtime-step" ]; then
	fail containerfile-runtime-packages "$CF: no 'RUN { ldd' step"
else
	rc=0
	dash -e -c "$(cat "$tmp/runtime-step")" >"$tmp/out" 2>&1 || rc=$?
	missing=
	for p in libgrpc29 libxml2 libsystemd0 libpci3 libcjson1 libprotobuf-c1 libuuid1 libc6; do
		grep -qx "$p" "$RP" 2>/dev/null || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		fail containerfile-runtime-packages \
			"$CF: the runtime-packages step (exit status $rc) leaves out$missing" "$tmp/out"
	elif [ "$rc" -ne 0 ]; then
		fail containerfile-runtime-packages "$CF: the runtime-packages step fails here" "$tmp/out"
	elif grep -qx libvirt0 "$RP"; then
		fail containerfile-runtime-packages "runtime-packages has libvirt0 (left out on purpose)" "$RP"
	else
		pass
	fi
fi

# Every SONAME_* of mdevd/util/dlopen.h is in the Containerfile's reach (its sed takes each
# #define line) and is a string of the binary (a NUL-terminated one, as dlopen() gets it).
sed -n 's/^#[[:space:]]*define[[:space:]]\{1,\}\(SONAME_[A-Za-z0-9_]*\)[[:space:]]*\(.*\)/\1 \2/p' \
	mdevd/util/dlopen.h >"$tmp/sonames"
cfsed=$(sed -n "s/.*sed -n '\([^']*\)' mdevd\/util\/dlopen.h.*/\1/p" "$CF")
strings -a -n 6 "$MDEVD" >"$tmp/strings"
bad=
n=0
while read -r macro value; do
	n=$((n + 1))
	so=$(echo "$value" | sed -n 's/^"\([^"]*\)".*/\1/p')
	if [ -z "$so" ]; then
		bad="$bad $macro (not a string literal)"
	elif ! grep -qxF "$so" "$tmp/strings"; then
		bad="$bad $macro ($so: not in $MDEVD)"
	elif [ -n "$cfsed" ] && ! sed -n "$cfsed" mdevd/util/dlopen.h | grep -qxF "$so"; then
		bad="$bad $macro ($so: the Containerfile's sed misses it)"
	fi
done <"$tmp/sonames"
if [ "$n" -eq 0 ]; then
	fail dlopen-sonames-in-binary "mdevd/util/dlopen.h: no #define SONAME_ lines"
elif [ -z "$cfsed" ]; then
	fail dlopen-sonames-in-binary "$CF: no \"sed -n '...' mdevd/util/dlopen.h\" to read the sonames"
elif [ -n "$bad" ]; then
	fail dlopen-sonames-in-binary "mdevd/util/dlopen.h:$bad"
else
	pass
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
