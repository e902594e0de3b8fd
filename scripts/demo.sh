#!/usr/bin/env bash
# Starts OneNet on free loopback ports: a private redis-server, synthetic
# department stores (onenet-seed), the broker, the three reference
# department adapters and two instances of the example adapter. Shows the
# service catalogue, a routed call, one person's network view, an update
# that the view reflects at once, a department going down, a CAP alert
# published, received through a coordinator's filter and acknowledged, and
# the view through the gateway. Then runs
# until Ctrl-C (--once: print and exit 0). Everything runs from a private
# temp dir and is stopped by PID on exit.
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
src=$(cd "$(dirname "$0")/.." && pwd)
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

redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --save "" \
  --appendonly yes --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)

echo "Seeding synthetic department stores (2,000 people)..."
"$bin/onenet-seed" --out "$work/stores" --people 2000 --quiet | tee "$work/seed.txt"
person=$(sed -n 's/.*example (address differs between departments): //p' "$work/seed.txt")

port=$(free_port)
export ONENET_BROKER="tcp://127.0.0.1:$port"
export ONENET_ALERTS="tcp://127.0.0.1:$(free_port)"
http_port=$(free_port)
cat >"$work/broker.cfg" <<CFG
broker = { endpoint = "$ONENET_BROKER"; };
redis = { endpoint = "127.0.0.1:$redis_port"; };
alerts = { endpoint = "$ONENET_ALERTS"; spool = "$work/alerts.spool"; };
audit = { file = "$work/audit.log"; };
http = { endpoint = "127.0.0.1:$http_port"; };
# The demo runs without CURVE, so every connection is "anonymous"; trusting
# it as a delegate lets the audit log name the gateway's signed-in users
# (production: security = "curve" and delegates = [ "gateway" ]).
delegates = [ "anonymous" ];
CFG
"$bin/onenet-broker" -c "$work/broker.cfg" >"$work/broker.log" 2>&1 &
pids+=($!)
for dept in public_security social_security emergency; do
  "$bin/onenet-adapter-${dept//_/-}" --broker "$ONENET_BROKER" --db "$work/stores/$dept.db" \
    >"$work/$dept.log" 2>&1 &
  pids+=($!)
  [ "$dept" = social_security ] && social_security_pid=$!
done
for i in 1 2; do
  "$bin/onenet-adapter-example" --broker "$ONENET_BROKER" --instance "example-$i" \
    >"$work/adapter-$i.log" 2>&1 &
  pids+=($!)
done

# The gateway and web console, on the demo config's synthetic users.
gateway_port=$(free_port)
sed -e "s#^\( *port = \).*#\1$gateway_port;#" \
    -e "s#^\( *broker = \).*#\1\"$ONENET_BROKER\";#" \
    -e "s#^\( *alerts = \).*#\1\"$ONENET_ALERTS\";#" \
    -e "s#^\( *web_root = \).*#\1\"$src/web\";#" \
    -e "s#^\( *openapi = \).*#\1\"$src/docs/openapi.yaml\";#" \
    "$src/config/gateway.cfg" >"$work/gateway.cfg"
"$bin/onenet-gateway" -c "$work/gateway.cfg" >"$work/gateway.log" 2>&1 &
pids+=($!)

# Wait until every adapter has registered.
for _ in $(seq 100); do
  n=$("$bin/onenet" services --json 2>/dev/null | grep -c '"instance"' || true)
  [ "$n" -ge 14 ] && break
  sleep 0.1
done

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say "$bin/onenet" ping
say "$bin/onenet" services
say "$bin/onenet" call example.greet --data '{"name": "Zhang Min", "language": "zh"}'
echo
echo "One person, every department's answer, merged (note the address conflict):"
say "$bin/onenet" view "$person"
say "$bin/onenet" call ps.person.update --data "{\"resident_id\": \"$person\", \"address\": \"Wuhou 武侯区 Demo Road 8\"}"
echo
echo "The update's change event dropped the cached view: the next view is fresh."
say "$bin/onenet" view "$person"
echo
echo "Social security goes down; the view still answers, with its last known section marked stale:"
kill "$social_security_pid"
sleep 0.3
say "$bin/onenet" view "$person" --fresh
echo
echo "An emergency coordinator's side: a CAP 1.2 alert goes in, the coordinator's filter gets it, and acknowledges it:"
say "$bin/onenet" alert publish "$src/tests/data/cap/onenet-flood-chengdu.xml"
say "$bin/onenet" alerts --severity Extreme,Severe --area 5101 --last 1 --count 1
say "$bin/onenet" alert ack em.510100.2026.0001 --by "duty officer (demo)"
echo
echo "The same through the gateway's REST API (as the demo clerk):"
gateway_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$gateway_port"
  printf 'GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' "$1" "$2" >&3
  cat <&3
  exec 3<&-
}
printf '\n\033[1m$ GET /api/v1/persons/%s/view?purpose=identity_check\033[0m\n' "$person"
gateway_get "/api/v1/persons/$person/view?purpose=identity_check" demo-clerk-token | sed -n '1p;$p' | cut -c1-300
echo
echo "Requests above went client -> broker ($ONENET_BROKER) -> department adapters -> back."
echo "Web console: http://127.0.0.1:$gateway_port/  (demo tokens: demo-clerk-token,"
echo "             demo-coordinator-token, demo-auditor-token, demo-operator-token)"
echo "Logs: $work/*.log"

if [ "$once" -eq 1 ]; then exit 0; fi
echo "OneNet is running. Try in another shell:"
echo "  export ONENET_BROKER=$ONENET_BROKER"
echo "  $bin/onenet call example.greet --data '{\"name\": \"Wang Fang\"}'"
echo "  $bin/onenet view $person"
echo "Press Ctrl-C to stop."
while kill -0 "${pids[0]}" 2>/dev/null; do sleep 1; done
echo "demo: the broker stopped; see $work/broker.log" >&2
exit 1
