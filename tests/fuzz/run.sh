#!/usr/bin/env bash
# Runs each libFuzzer harness of a build directory for SECONDS over its seed corpus
# (tests/fuzz/corpus/<format>/, read only: new inputs go to a scratch directory) and fails
# on any crash, sanitizer report, leak, timeout or out-of-memory report.
# Usage: tests/fuzz/run.sh BUILDDIR SECONDS [FORMAT...]    (formats: csv npy idx safetensors)
# A failing input is copied to BUILDDIR/fuzz-artifacts/<format>/: fix the bug, add a
# regression test and put the input into the corpus as crash-<what>.<ext>.
# Environment: FUZZ_KEEP_CORPUS=DIR keeps the inputs each run found under DIR/<format>/.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 2 ]; then
    echo "usage: $0 BUILDDIR SECONDS [FORMAT...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
formats=("$@")
[ ${#formats[@]} -eq 0 ] && formats=(csv npy idx safetensors)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1
failed=0
for format in "${formats[@]}"; do
    exe=$build/tests/fuzz/fuzz_$format
    seeds=$here/corpus/$format
    if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
        echo "fuzz: FAIL $format: no $exe or no $seeds (configure with CC=clang -Dfuzz=enabled)"
        failed=$((failed + 1))
        continue
    fi
    work=$scratch/$format
    mkdir -p "$work/corpus" "$work/artifacts"
    echo "fuzz: $format for ${seconds}s over $(find "$seeds" -type f | wc -l) seeds"
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
        "$work/corpus" "$seeds" >"$work/log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$')
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
        mkdir -p "$FUZZ_KEEP_CORPUS/$format"
        cp "$work/corpus/"* "$FUZZ_KEEP_CORPUS/$format/" 2>/dev/null
    fi
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
        failed=$((failed + 1))
        mkdir -p "$build/fuzz-artifacts/$format"
        cp "$work/artifacts/"* "$build/fuzz-artifacts/$format/" 2>/dev/null
        grep -E -A30 'ERROR|runtime error|==[0-9]+==|deadly signal' "$work/log" | head -60
        echo "fuzz: FAIL $format (exit $rc; inputs in $build/fuzz-artifacts/$format/)"
    else
        echo "fuzz: PASS $format (${runs:-?} inputs in ${seconds}s)"
    fi
done
exit $((failed > 0))
