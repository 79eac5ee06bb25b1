#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run the libFuzzer targets built by `make fuzz-build`, one after the other in one process
# each (no -jobs: the machine is shared), each for FUZZ_RUNS executions when set, else for
# FUZZ_SECONDS seconds. Corpora grow in build/fuzz/<target>/corpus, crash/leak/timeout
# inputs land in build/fuzz/<target>/ (crash-*, leak-*, timeout-*), the whole libFuzzer
# output in build/fuzz/<target>/log. Prints one line of figures per target (the libFuzzer
# final stats, as docs/fuzzing.md records them) and exits 1 when any target failed.
#
#   tests/fuzz/run.sh [TARGET...]      (default: every target)
set -u
dir=build/fuzz
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
[ $# -gt 0 ] || set -- policy uevent sysfs nvidia_vgpu libvirt_xml deviceplugin kubeapi

python3 tests/fuzz/make-seeds.py "$dir/seeds" || exit 1
status=0
printf '%-13s %10s %6s %6s %7s %-22s %s\n' target execs secs cov ft corpus result
for t in "$@"; do
	bin=$dir/bin/fuzz_$t
	if [ ! -x "$bin" ]; then
		echo "fuzz: $bin is not built (make fuzz-build)" >&2
		status=1
		continue
	fi
	mkdir -p "$dir/$t/corpus"
	case $t in
	policy) seeds=tests/fixtures/policies extra= ;;
	uevent) seeds=$dir/seeds/uevent extra="-dict=tests/fuzz/uevent.dict -max_len=8191" ;;
	sysfs) seeds=$dir/seeds/sysfs extra="-max_len=4096" ;;
	nvidia_vgpu) seeds=$dir/seeds/nvidia_vgpu extra="-max_len=4096" ;;
	libvirt_xml) seeds=$dir/seeds/libvirt_xml extra="-dict=tests/fuzz/xml.dict -max_len=8192" ;;
	deviceplugin) seeds=$dir/seeds/deviceplugin extra="-max_len=16384" ;;
	kubeapi) seeds=$dir/seeds/kubeapi extra="-dict=tests/fuzz/json.dict -max_len=16384" ;;
	*) seeds=$dir/seeds/$t extra= ;;
	esac
	if [ -n "$runs" ]; then limit="-runs=$runs"; else limit="-max_total_time=$seconds"; fi
	start=$(date +%s)
	# shellcheck disable=SC2086 # $extra holds several options
	"$bin" $limit $extra -timeout=10 -print_final_stats=1 -artifact_prefix="$dir/$t/" \
		"$dir/$t/corpus" "$seeds" >"$dir/$t/log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/$t/log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$dir/$t/log" | grep 'cov:' | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	# libFuzzer's corpus at the end (units/bytes, reduced), and the files of the corpus dir
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
	corpus="${corp:-?} ($(find "$dir/$t/corpus" -type f | wc -l) files)"
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result="FAILED (rc $rc): $(ls "$dir/$t/" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' ')"
		status=1
	fi
	printf '%-13s %10s %6s %6s %7s %-22s %s\n' "$t" "${execs:-?}" "$secs" "${cov:-?}" \
		"${ft:-?}" "$corpus" "$result"
	[ $rc -eq 0 ] || grep -E -A25 '^==[0-9]+==ERROR|runtime error|^SUMMARY' "$dir/$t/log" | head -60
done
exit $status
