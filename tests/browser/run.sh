#!/usr/bin/env bash
# run.sh - the web console in a real browser: starts redis, the broker, the
# three seeded department adapters (synthetic data from onenet-seed) on
# free ports, installs playwright-core (npm, into the build tree), and runs
# console.mjs, which starts the gateway itself (so it can restart it) and
# drives the console in headless Chromium. Screenshots go to
# $ONENET_BINARY_DIR/tests/artifacts/.
#
# Run by ctest (browser_console) with ONENET_SOURCE_DIR and ONENET_BINARY_DIR
# set. Exits 77 (skipped) when chromium or npm is missing; every process it
# starts is stopped by PID on exit.
set -u -o pipefail

fail () { echo "browser: FAIL: $*" >&2; exit 1; }
skip () { echo "browser: SKIP: $*" >&2; exit 77; }

[ -n "${ONENET_BINARY_DIR:-}" ] && [ -n "${ONENET_SOURCE_DIR:-}" ] || fail "run through ctest"
[ -x /usr/bin/chromium ] || skip "/usr/bin/chromium is not installed (scripts/deps.sh)"
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed"
command -v python3 >/dev/null || skip "python3 is needed"

bin=$ONENET_BINARY_DIR
work="$bin/tests/browser"
mkdir -p "$work" "$bin/tests/artifacts"
rm -f "$bin/tests/artifacts"/console-*.png
cp "$ONENET_SOURCE_DIR/tests/browser/package.json" "$work/"
if [ ! -d "$work/node_modules/playwright-core" ]; then
    echo "browser: npm install playwright-core"
    (cd "$work" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || skip "npm install failed (offline?)"
fi

tmp=$(mktemp -d /tmp/onenet-browser.XXXXXX) || fail "mktemp"
pids=()
cleanup () {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    [ -n "${ONENET_KEEP_TEMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port () {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
redis_port=$(free_port); broker_port=$(free_port); alerts_port=$(free_port); http_port=$(free_port)

"$bin/onenet-seed" --out "$tmp/stores" --people 200 --seed 5 --quiet >"$tmp/seed.log" 2>&1 || fail "onenet-seed"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
cat >"$tmp/broker.cfg" <<CFG
broker = { endpoint = "tcp://127.0.0.1:$broker_port"; };
redis = { endpoint = "127.0.0.1:$redis_port"; };
alerts = { endpoint = "tcp://127.0.0.1:$alerts_port"; spool = "$tmp/spool"; };
audit = { file = "$tmp/audit.log"; };
departments = ( { name = "public_security"; view_service = "ps.view.person"; },
  { name = "social_security"; view_service = "ss.view.person"; },
  { name = "emergency"; view_service = "em.view.person"; },
  { name = "civil_affairs"; view_service = "ca.view.person"; } );
CFG
sleep 0.3
"$bin/onenet-broker" -c "$tmp/broker.cfg" >"$tmp/broker.log" 2>&1 &
pids+=($!)
for dept in public_security social_security emergency; do
    "$bin/onenet-adapter-${dept//_/-}" --broker "tcp://127.0.0.1:$broker_port" --db "$tmp/stores/$dept.db" \
        --instance i1 >"$tmp/$dept.log" 2>&1 &
    pids+=($!)
done

# Someone public and social security both know. Civil affairs (a fourth
# department, config only) knows them under another name: a conflict for
# the console to show.
person=$(python3 - "$tmp/stores" <<'PY'
import sqlite3, sys
d = sys.argv[1]
db = sqlite3.connect(f"{d}/public_security.db")
db.execute(f"ATTACH '{d}/social_security.db' AS ss")
row = db.execute("SELECT p.resident_id FROM persons p JOIN ss.insured_persons i USING (resident_id)"
                 " ORDER BY p.resident_id LIMIT 1").fetchone()
print(row[0])
PY
) || fail "no person picked"
printf '%s\t测试名\tmarried\tJinniu 金牛区 Civil Road 1\n' "$person" >"$tmp/marriages.tsv"
"$bin/onenet-adapter-civil-affairs" --broker "tcp://127.0.0.1:$broker_port" --data "$tmp/marriages.tsv" \
    >"$tmp/civil_affairs.log" 2>&1 &
pids+=($!)

cat >"$tmp/gateway.cfg" <<CFG
gateway = { address = "127.0.0.1"; port = $http_port;
  broker = "tcp://127.0.0.1:$broker_port"; alerts = "tcp://127.0.0.1:$alerts_port";
  web_root = "$ONENET_SOURCE_DIR/web"; openapi = "$ONENET_SOURCE_DIR/docs/openapi.yaml";
  keepalive_s = 2; idle_timeout_s = 30; };
users = (
 { name = "clerk.demo"; department = "civil_affairs"; role = "clerk";
   token_sha256 = "$("$bin/onenet-gateway" --hash-token demo-clerk-token)"; },
 { name = "coordinator.demo"; department = "emergency"; role = "coordinator";
   token_sha256 = "$("$bin/onenet-gateway" --hash-token demo-coordinator-token)"; } );
CFG

export GATEWAY_BIN="$bin/onenet-gateway" GATEWAY_CONFIG="$tmp/gateway.cfg" GATEWAY_LOG="$tmp/gateway.log"
export GATEWAY_URL="http://127.0.0.1:$http_port" PERSON_ID="$person"
export ARTIFACTS="$bin/tests/artifacts" NODE_PATH="$work/node_modules"
cp "$ONENET_SOURCE_DIR/tests/browser/console.mjs" "$work/console.mjs"
timeout 240 node "$work/console.mjs"
rc=$?
[ $rc -eq 0 ] || { tail -20 "$tmp/gateway.log" >&2; fail "console.mjs exited $rc"; }
echo "browser: ok (screenshots in $ARTIFACTS)"
