#!/usr/bin/env bash
# bench_smoke.sh - `onenet bench` runs and keeps its output contract: runs
# `onenet bench rr --duration 1` (and with --batch 1), `onenet bench view --duration 1
# --people 2000`, `onenet bench alerts --duration 1 --aof` (Redis as
# deployed), `onenet bench events --duration 1`, `onenet bench memory
# --subscribers 50 --adapters 2` and
# `onenet bench audit --duration 1` (which fails by itself when the audit
# file holds fewer entries than requests completed),
# and checks that each exits 0, that every stdout line is `name value
# unit`, and that the figures scripts rely on are there with a value above
# 0 (counts that may be 0 only present). The alerts run must lose and
# duplicate nothing: that is correctness, not speed. The events run may
# drop (a subscriber thread that a loaded machine leaves unscheduled for
# events.hold_ms is left behind, by design) but must see nothing
# malformed, duplicated or out of order (events.onenet.unexpected 0).
#
# The NATS baseline (rr and events): when nats-server is installed (scripts/
# deps.sh installs it, with libnats-dev, so CI and `make test` have it), the
# bench must have measured it: onenet-bench-nats built next to onenet, the
# *.nats.* figures and the ratios to NATS there, well formed, and above 0
# where a rate or a latency. Without nats-server, the bench must say on
# stderr that NATS was not measured and print no NATS figure.
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

# The named figures exist, whatever their value.
check_present () {
    local name=$1 figure
    shift
    for figure in "$@"; do
        grep -q "^$figure " "$tmp/$name.out" || fail "$name: no figure $figure"
    done
}

# The named figure is exactly this value.
check_equal () {
    local name=$1 figure=$2 want=$3 value
    value=$(awk -v f="$figure" '$1 == f { print $2 }' "$tmp/$name.out")
    [ "$value" = "$want" ] || fail "$name: $figure is '$value', expected $want"
}

# The figure's name is not a NATS figure's, nor printed at all: no NATS
# figures without NATS.
check_no_nats () {
    local name=$1 lines
    lines=$(grep -E '^[^ ]*nats[^ ]* ' "$tmp/$name.out" | head -n 3)
    [ -z "$lines" ] || fail "$name: NATS figures printed though NATS was not measured: $lines"
    grep -q 'NATS baseline not measured' "$tmp/$name.err" ||
        fail "$name: no 'NATS baseline not measured' line on stderr"
}

# Is NATS there? nats-server where the bench looks (Debian: /usr/sbin).
nats_server=$(PATH="$PATH:/usr/sbin:/usr/bin" command -v nats-server || true)
if [ -n "$nats_server" ]; then
    [ -x "$ONENET_BINARY_DIR/onenet-bench-nats" ] ||
        fail "nats-server is installed ($nats_server) but onenet-bench-nats is not built (libnats-dev missing? run scripts/deps.sh, then cmake again)"
    step "NATS baseline expected ($nats_server)"
else
    step "nats-server not installed: NATS baseline not expected"
fi

# --- rr ----------------------------------------------------------------------
run rr rr --duration 1
check_lines rr
figures=()
sides=(onenet baseline)
[ -n "$nats_server" ] && sides+=(nats)
for n in 1 64; do
    for side in "${sides[@]}"; do
        for f in rps p50 p99 p999; do
            figures+=("rr.inflight$n.$side.$f")
        done
    done
    figures+=("rr.inflight$n.ratio" "rr.inflight$n.p50_ratio")
    [ -n "$nats_server" ] && figures+=("rr.inflight$n.ratio_to_nats" "rr.inflight$n.p50_ratio_to_nats")
done
[ -n "$nats_server" ] && figures+=(rr.inflight64.ratio_to_nats.target_min)
check_figures rr "${figures[@]}"
if [ -n "$nats_server" ]; then
    check_equal rr rr.inflight64.ratio_to_nats.target_min 3.0
else
    check_no_nats rr
fi
# Without batches (the broker's broker.batch_max = 1): the path a peer that
# predates them takes; only --inflight's count is measured.
run rr-alone rr --duration 1 --inflight 64 --batch 1
check_lines rr-alone
check_figures rr-alone rr.inflight64.onenet.rps rr.inflight64.baseline.rps rr.inflight64.ratio
grep -q '^rr.inflight1\.' "$tmp/rr-alone.out" && fail "rr-alone: --inflight 64 measured 1 in flight too"
"$onenet" bench view --batch 4 >/dev/null 2>&1 && fail "bench view --batch: accepted, should be refused"

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

# --- alerts ------------------------------------------------------------------
run alerts alerts --duration 1 --aof
check_lines alerts
grep -q 'Redis with AOF on' "$tmp/alerts.err" || fail "alerts --aof: Redis not said to run with AOF on"
figures=(alerts.persisted.published.rps alerts.persisted.latency.p50
    alerts.persisted.latency.p99 alerts.persisted.published alerts.redis_xadd.rps
    alerts.persisted.ratio_to_xadd alerts.persisted.ratio_to_xadd.target_min)
for n in 1 2 3 4; do
    figures+=("alerts.persisted.sub$n.delivered.rps" "alerts.persisted.sub$n.received")
done
check_figures alerts "${figures[@]}"
check_present alerts alerts.persisted.lost alerts.persisted.duplicated alerts.persisted.spooled
# Where an alert's CPU time goes, and what the target leaves it.
check_figures alerts alerts.persisted.cpu.broker alerts.persisted.cpu.clients \
    alerts.persisted.cpu.total alerts.persisted.cpu.target_budget
check_present alerts alerts.persisted.cpu.redis alerts.redis_xadd.cpu.redis
check_equal alerts alerts.persisted.lost 0
check_equal alerts alerts.persisted.duplicated 0
# The bare side: the same fan-out with no OneNet code, what the machine allows.
check_figures alerts alerts.bare.published.rps alerts.bare.published alerts.bare.ratio_to_xadd \
    alerts.persisted.ratio_to_bare
check_present alerts alerts.bare.cpu.total alerts.bare.ratio_to_xadd.all_cpus
check_equal alerts alerts.bare.lost 0

# --- events ------------------------------------------------------------------
run events events --duration 1
check_lines events
figures=(events.onenet.delivered.rps events.onenet.published.rps events.onenet.latency.p50
    events.onenet.latency.p99 events.onenet.published events.onenet.received
    events.baseline.delivered.rps events.baseline.published.rps events.baseline.published
    events.baseline.received events.onenet.ratio_to_proxy events.onenet.ratio_to_proxy.target_min)
for n in 1 2 3 4; do
    figures+=("events.onenet.sub$n.delivered.rps")
done
check_figures events "${figures[@]}"
# drops are reported, not failed on (see the top)
check_present events events.onenet.dropped events.onenet.unexpected events.baseline.dropped
check_equal events events.onenet.unexpected 0
check_equal events events.onenet.dropped.target_max 0
if [ -n "$nats_server" ]; then
    figures=(events.nats.delivered.rps events.nats.published.rps events.nats.published
        events.nats.received events.onenet.ratio_to_nats events.onenet.ratio_to_nats.target_min)
    for n in 1 2 3 4; do
        figures+=("events.nats.sub$n.delivered.rps")
    done
    check_figures events "${figures[@]}"
    check_present events events.nats.dropped events.nats.client_dropped events.nats.disconnected
    check_equal events events.onenet.ratio_to_nats.target_min 1.0
else
    check_no_nats events
fi
if grep -q '^events.onenet.unsupported ' "$tmp/events.out"; then
    fail "events: events.onenet.unsupported is printed again"
fi
check_present events events.onenet.events_per_message
# Without batches (the broker's events.batch_max = 1), one event a message.
run events-alone events --duration 1 --event-batch 1
check_lines events-alone
check_equal events-alone events.onenet.events_per_message 1.0
check_equal events-alone events.onenet.unexpected 0

# --- memory ------------------------------------------------------------------
run memory memory --subscribers 50 --adapters 2
check_lines memory
check_figures memory memory.broker.idle_rss_mb memory.broker.adapters_rss_mb \
    memory.broker.rss_mb memory.broker.rss_mb.target_max memory.subscribers.requested \
    memory.subscribers.connected memory.adapters.connected
check_present memory memory.broker.per_subscriber_kb

# --- audit -------------------------------------------------------------------
run audit audit --duration 1
check_lines audit
figures=(audit.entries audit.inflight64.ratio audit.inflight1.p50_ratio)
for side in off on; do
    for n in 64 1; do
        figures+=("audit.inflight$n.$side.rps" "audit.inflight$n.$side.p50" "audit.inflight$n.$side.p99")
    done
done
check_figures audit "${figures[@]}"

step "ok: $(cat "$tmp"/{rr,view,alerts,events,memory,audit}.out | wc -l) figures from rr, view, alerts, events, memory and audit"
