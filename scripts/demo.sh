#!/usr/bin/env bash
# Starts OneNet on embedded defaults on a free loopback port: the broker and
# two instances of the example adapter. Shows the service catalogue and a
# few requests routed through the broker, then runs until Ctrl-C
# (--once: print and exit 0). Everything runs from a private temp dir and
# is stopped by PID on exit.
set -euo pipefail

bin=build
once=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --once) once=1; shift ;;
    -h|--help) echo "Usage: scripts/demo.sh [--bin BUILD_DIR] [--once]"; exit 0 ;;
    *) echo "demo: unknown argument $1" >&2; exit 2 ;;
  esac
done
bin=$(cd "$bin" && pwd)
work=$(mktemp -d /tmp/onenet-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A free port: nothing answers a connect on it.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "demo: no free port found" >&2; exit 1
}

port=$(free_port)
export ONENET_BROKER="tcp://127.0.0.1:$port"
"$bin/onenet-broker" --endpoint "$ONENET_BROKER" >"$work/broker.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  "$bin/onenet-adapter-example" --broker "$ONENET_BROKER" --instance "example-$i" \
    >"$work/adapter-$i.log" 2>&1 &
  pids+=($!)
done

# Wait until both instances are registered.
for _ in $(seq 50); do
  n=$("$bin/onenet" services --json 2>/dev/null | grep -o '"instance": *"example-[12]"' | sort -u | wc -l || true)
  [ "$n" -ge 2 ] && break
  sleep 0.1
done

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say "$bin/onenet" ping
say "$bin/onenet" services
say "$bin/onenet" call example.greet --data '{"name": "Zhang Min", "language": "zh"}'
say "$bin/onenet" call example.greet --data '{"name": "Chen Jie"}' --json
echo
echo "Requests above went client -> broker ($ONENET_BROKER) -> example adapter -> back."
echo "Logs: $work/*.log"

if [ "$once" -eq 1 ]; then exit 0; fi
echo "OneNet is running. Try in another shell:"
echo "  export ONENET_BROKER=$ONENET_BROKER"
echo "  $bin/onenet call example.greet --data '{\"name\": \"Wang Fang\"}'"
echo "Press Ctrl-C to stop."
while kill -0 "${pids[0]}" 2>/dev/null; do sleep 1; done
echo "demo: the broker stopped; see $work/broker.log" >&2
exit 1
