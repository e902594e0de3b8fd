#!/usr/bin/env bash
# Builds OneNet's libFuzzer harnesses (tests/fuzz/) with clang, ASan and
# UBSan, and runs each target for a while, one after the other (each uses
# one core).
#
#   scripts/fuzz.sh [--seconds N] [--target NAME] [--build DIR]
#
#   --seconds N   run each target N seconds (default 60)
#   --target NAME only this target: wire, json, config, cap or policy
#   --build DIR   build and work here (default build-fuzz)
#
# Each target first replays tests/fuzz/regressions/NAME (a file that
# still fails is reported and the target counts as failed), then fuzzes
# from a copy of its seed corpus (tests/fuzz/corpus/NAME) and the passing
# regressions in DIR/corpus/NAME, which keeps what the fuzzer finds
# between runs; the repository is never written.
# Prints one line per target, "fuzz NAME: RUNS runs, SECONDS s, no crash",
# or the crash, its input (saved in DIR/crashes/NAME/) and how to replay
# it; exits non-zero when any target crashed, leaked, timed out (10 s for
# one input) or ran out of memory (2 GiB). A crash input becomes a
# regression test by copying it to tests/fuzz/regressions/NAME/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=60
only=""
build=build-fuzz
all_targets=(wire json config cap policy)

usage () {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
        --target) only=${2:?--target needs a name}; shift 2 ;;
        --build) build=${2:?--build needs a directory}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fuzz: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$seconds" in
    ''|*[!0-9]*|0) echo "fuzz: --seconds wants a whole number of seconds, not '$seconds'" >&2; exit 2 ;;
esac
targets=("${all_targets[@]}")
if [ -n "$only" ]; then
    case " ${all_targets[*]} " in
        *" $only "*) targets=("$only") ;;
        *) echo "fuzz: no target '$only' (one of: ${all_targets[*]})" >&2; exit 2 ;;
    esac
fi

clang=${CLANG:-clang}
if ! command -v "$clang" >/dev/null; then
    echo "fuzz: $clang not found: libFuzzer needs clang (make deps installs clang and libclang-rt-14-dev)" >&2
    exit 2
fi

# --- build ---
mkdir -p "$build"
build=$(cd "$build" && pwd)
if ! cmake -S "$root/tests/fuzz" -B "$build" -DCMAKE_C_COMPILER="$clang" >"$build/configure.log" 2>&1; then
    cat "$build/configure.log" >&2
    echo "fuzz: configuring $build failed" >&2
    exit 1
fi
if ! cmake --build "$build" -j"${JOBS:-2}" >"$build/build.log" 2>&1; then
    tail -n 40 "$build/build.log" >&2
    if grep -q 'libclang_rt.fuzzer' "$build/build.log"; then
        echo "fuzz: clang has no libFuzzer runtime: install libclang-rt-14-dev (make deps)" >&2
    fi
    echo "fuzz: building the harnesses failed (whole log: $build/build.log)" >&2
    exit 1
fi

# --- run ---
# Leaks inside third-party libraries are listed in lsan.supp; UBSan
# findings abort (-fno-sanitize-recover), so libFuzzer reports them.
export LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=0
for target in "${targets[@]}"; do
    work="$build/corpus/$target"
    crashes="$build/crashes/$target/"
    log="$build/logs/$target.log"
    mkdir -p "$work" "$crashes" "$build/logs"
    find "$root/tests/fuzz/corpus/$target" -maxdepth 1 -type f ! -name '.*' -exec cp -f {} "$work"/ \;
    # Regressions replay first: one that still fails is reported (its bug
    # is not fixed) and left out of the corpus, so fuzzing goes on
    # instead of stopping at it.
    for kept in "$root/tests/fuzz/regressions/$target"/*; do
        [ -f "$kept" ] || continue
        if "$build/fuzz_$target" "$kept" </dev/null >"$build/logs/$target.regression.log" 2>&1; then
            cp -f "$kept" "$work"/
        else
            failed=1
            rm -f "$work/$(basename "$kept")"
            echo "fuzz $target: ${kept#"$root"/} still fails: the bug it records is not fixed"
            grep -E '^(==[0-9]+==ERROR|SUMMARY:|fuzz [a-z]+: |.*runtime error:)' \
                "$build/logs/$target.regression.log" | head -n 5 | cut -c1-300 | sed 's/^/  /'
            echo "  replay: $build/fuzz_$target $kept"
        fi
    done
    dict=()
    [ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")

    rc=0
    # stdin is /dev/null: a config naming /dev/stdin reads nothing rather
    # than waiting for a terminal.
    "$build/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes" "${dict[@]}" "$work" \
        </dev/null >"$log" 2>&1 || rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $target: ${runs:-?} runs, ${took:-$seconds} s, no crash"
        cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/\([^ ]*\).*/\1 edges, \2 features, corpus \3 inputs (\4)/p' <<<"$last")
        echo "  coverage: ${cov:-unknown}; log $log"
        continue
    fi
    failed=1
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "fuzz $target: CRASH (exit $rc) after ${runs:-?} runs"
    # The sanitizer's report, or the target's own "fuzz NAME: ..." line.
    grep -E '^(==[0-9]+==ERROR|SUMMARY:|fuzz [a-z]+: |.*runtime error:|    #[0-9]+ )' "$log" \
        | grep -vE 'fuzzer::|__sanitizer_|libc\.so|libc_start|in _start|in abort |in raise |pthread_kill' \
        | head -n 30 | sed 's/^/  /'
    if [ -n "$input" ] && [ -f "$input" ]; then
        echo "  input: $input"
        echo "  replay: $build/fuzz_$target $input"
        known=""
        for kept in "$root/tests/fuzz/regressions/$target"/*; do
            [ -f "$kept" ] && cmp -s "$kept" "$input" && known=${kept#"$root"/}
        done
        if [ -n "$known" ]; then
            echo "  this is $known: the bug it records is not fixed yet"
        else
            echo "  keep as a regression test: cp $input tests/fuzz/regressions/$target/"
        fi
    fi
    echo "  whole log: $log"
done
exit "$failed"
