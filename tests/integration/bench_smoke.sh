#!/usr/bin/env bash
# bench_smoke.sh - `onenet bench` runs and keeps its output contract: runs
# `onenet bench rr --duration 1` and `onenet bench view --duration 1
# --people 2000`, and checks that each exits 0, that every stdout line is
# `name value unit`, and that the figures scripts rely on are there with a
# value above 0.
#
# It checks the contract, never the speed: no figure is compared with any
# threshold, since the machine running the tests may be busy.
#
# Run by ctest (integration_bench_smoke) with ONENET_BINARY_DIR set. Exits
# non-zero with one "bench_smoke: FAIL: ..." line on the first failure. The
# bench starts and stops its own processes and temp dir.
set -u -o pipefail

fail () {
    echo "bench_smoke: FAIL: $*" >&2
    exit 1
}
step () {
    echo "bench_smoke: $*"
}

[ -n "${ONENET_BINARY_DIR:-}" ] || fail "ONENET_BINARY_DIR is not set (run through ctest)"
onenet="$ONENET_BINARY_DIR/onenet"
[ -x "$onenet" ] || fail "$onenet is not built"

tmp=$(mktemp -d /tmp/onenet-bench-smoke.XXXXXX) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# Runs one benchmark (arguments after "bench"), output in $tmp/<name>.out.
run () {
    local name=$1
    shift
    step "onenet bench $*"
    "$onenet" bench "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        cat "$tmp/$name.err" >&2
        fail "onenet bench $* exited $rc"
    fi
    [ -s "$tmp/$name.out" ] || fail "onenet bench $* printed nothing"
}

# Every line of a benchmark's output is `name value unit`.
check_lines () {
    local name=$1 bad
    bad=$(grep -Evn '^[a-z0-9_.]+ [0-9.]+ [a-zA-Z/%µ]+$' "$tmp/$name.out" | head -n 1)
    [ -z "$bad" ] || fail "$name: line not 'name value unit': $bad"
}

# The named figures exist, each with a value above 0.
check_figures () {
    local name=$1 figure value
    shift
    for figure in "$@"; do
        value=$(awk -v want="$figure" '$1 == want { print $2 }' "$tmp/$name.out")
        [ -n "$value" ] || fail "$name: no figure $figure"
        awk -v v="$value" 'BEGIN { exit !(v > 0) }' || fail "$name: $figure is $value, not above 0"
    done
}

# --- rr ----------------------------------------------------------------------
run rr rr --duration 1
check_lines rr
figures=()
for n in 1 64; do
    for side in onenet baseline; do
        for f in rps p50 p99 p999; do
            figures+=("rr.inflight$n.$side.$f")
        done
    done
    figures+=("rr.inflight$n.ratio" "rr.inflight$n.p50_ratio")
done
check_figures rr "${figures[@]}"

# --- view --------------------------------------------------------------------
run view view --duration 1 --people 2000
check_lines view
check_figures view \
    view.hit.inflight64.rps view.hit.inflight64.p50 view.hit.inflight64.p99 \
    view.hit.inflight64.cached \
    view.miss.inflight64.rps view.miss.inflight64.p50 view.miss.inflight64.p99 \
    view.miss.inflight1.rps view.miss.inflight1.p50 view.miss.inflight1.p99 \
    view.rr.inflight1.rps view.rr.inflight1.p50 view.rr.inflight1.p99 \
    view.redis_get.inflight64.rps \
    view.miss.p50_over_rr_p50 view.hit.rps_over_redis_get

step "ok: $(wc -l <"$tmp/rr.out") rr and $(wc -l <"$tmp/view.out") view figures"
