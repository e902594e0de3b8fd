#!/usr/bin/env bash
# compose_check.sh - docker-compose.yml checked without a Docker engine.
#
#   (a) the file is valid Compose: `docker-compose config -q` (Debian's
#       docker-compose, from scripts/deps.sh), and names the services we
#       expect; without docker-compose, python3-yaml checks the structure.
#   (b) every service's command and healthcheck, read from the compose file
#       itself, run natively on 127.0.0.1: redis-server, the seed (twice:
#       the second run must keep the stores), the broker on
#       config/compose/broker.cfg, the three department adapters. Only host
#       names, ports and paths are rewritten (sed, into a temp dir); every
#       healthcheck must pass. Everything is stopped by PID.
#   (c) exchanges end to end over CURVE under the shipped sharing policy
#       (config/policy.cfg), as deployed: the operator's key is refused
#       personal data, naming the rule; `onenet alerts` with the
#       coordinators' key gets live an alert the emergency department
#       publishes with its key; through the gateway (which asks for its
#       users), a clerk gets a masked view, a coordinator's alert stream
#       replays that alert, and an auditor finds the clerk's view in the
#       audit log, whose chain on disk verifies.
#
# What this cannot check: images, volumes, networks, published ports and
# restart policies, which need a real `docker compose up` (see
# docs/OPERATIONS.md). Reads ONENET_SOURCE_DIR and ONENET_BINARY_DIR.
set -euo pipefail

src=${ONENET_SOURCE_DIR:?ONENET_SOURCE_DIR must name the source tree}
bin=${ONENET_BINARY_DIR:?ONENET_BINARY_DIR must name the build tree}
compose="$src/docker-compose.yml"
export PATH="$bin:$PATH"
work=$(mktemp -d /tmp/onenet-compose.XXXXXX)
pids=()
names=()

fail() { keep_logs=1; echo "compose_check: FAIL: $*" >&2; exit 1; }
step() { echo "compose_check: $*"; }

cleanup() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "${keep_logs:-0}" = 1 ] || [ -n "${ONENET_KEEP_TEMP:-}" ]; then
        echo "compose_check: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap 'keep_logs=1' ERR
trap cleanup EXIT
keep_logs=0

# A free loopback port, away from the compose defaults (nothing answers it).
free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    fail "no free port"
}

# --- reading the compose file (our own, written to be read this way) ---

# Service names, in file order: two-space keys under `services:`.
services() {
    awk '/^services:/ { on = 1; next } /^[^ #]/ { on = 0 }
         on && /^  [a-z_]+:$/ { sub(/^  /, ""); sub(/:$/, ""); print }' "$compose"
}

# The lines of one service's block.
block() {
    awk -v name="$1" '$0 == "  " name ":" { on = 1; next }
                      on && (/^  [a-z_]+:$/ || /^[^ #]/) { exit }
                      on { print }' "$compose"
}

# A service's one-line `command:`.
command_of() {
    block "$1" | sed -n 's/^    command: //p'
}

# A service's healthcheck script: the literal block after `- |` of [CMD, bash, -c, |].
health_of() {
    block "$1" | awk '/^      test:$/ { t = 1; next }
                      t && /^        - \|$/ { s = 1; next }
                      s && /^          / { sub(/^          /, ""); print; next }
                      s { exit }'
}

# --- native rewriting: host names, ports, paths; nothing else ---

redis_port=$(free_port)
broker_port=$(free_port)
alerts_port=$(free_port)
http_port=$(free_port)
gateway_port=$(free_port)

native() {
    sed -e "s#tcp://broker:5570#tcp://127.0.0.1:$broker_port#g" \
        -e "s#tcp://127\.0\.0\.1:5570#tcp://127.0.0.1:$broker_port#g" \
        -e "s#/dev/tcp/127\.0\.0\.1/9570#/dev/tcp/127.0.0.1/$http_port#g" \
        -e "s#/data/stores#$work/stores#g" \
        -e "s#/etc/onenet/broker\.cfg#$work/broker.cfg#g" \
        -e "s#/etc/onenet/gateway\.cfg#$work/gateway.cfg#g" \
        -e "s#/dev/tcp/127\.0\.0\.1/8080#/dev/tcp/127.0.0.1/$gateway_port#g" \
        -e "s#/etc/onenet/keys#$work/keys#g" \
        -e "s#--dir /data\$#--dir $work/redis#" \
        -e "s#--dir /data #--dir $work/redis #" \
        -e "s#^redis-server #redis-server --port $redis_port --bind 127.0.0.1 --save '' #" \
        -e "s#redis-cli #redis-cli -p $redis_port #g" \
        -e 's#\$\$#$#g'
}

# Fails when a rewritten text still names a container host, port or path.
check_rewritten() {
    local what=$1 text=$2
    if grep -Eq '(broker|redis):[0-9]|127\.0\.0\.1[:/](5570|5571|9570|8080)\b| /data\b|/etc/onenet' <<<"$text"; then
        fail "$what: the native rewrite missed something: $text"
    fi
}

# Starts a service's command in the background, its PID recorded.
start() {
    local name=$1 cmd
    cmd=$(command_of "$name" | native)
    check_rewritten "$name command" "$cmd"
    step "start $name: $cmd"
    (eval "exec $cmd") >"$work/$name.log" 2>&1 &
    pids+=($!)
    names+=("$name")
}

# Runs a service's healthcheck until it passes (bounded, like retries).
healthy() {
    local name=$1 tries=${2:-150} check
    check=$(health_of "$name" | native)
    [ -n "$check" ] || fail "$name has no healthcheck in the form [CMD, bash, -c, |]"
    check_rewritten "$name healthcheck" "$check"
    for _ in $(seq "$tries"); do
        # bash sets HOSTNAME itself; in a container it is the container's name.
        if HOSTNAME=$(uname -n) timeout 5 bash -c "$check" >>"$work/$name.health.log" 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# --- (a) validation ---

expected="keys redis seed broker public_security social_security emergency gateway"
[ "$(services | tr '\n' ' ' | sed 's/ $//')" = "$expected" ] \
    || fail "services are '$(services | tr '\n' ' ')', expected '$expected'"
if command -v docker-compose >/dev/null; then
    (cd "$src" && docker-compose -f docker-compose.yml config -q) \
        || fail "docker-compose config -q rejected docker-compose.yml"
    listed=$(cd "$src" && docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
    [ "$listed" = "$(tr ' ' '\n' <<<"$expected" | sort | tr '\n' ' ')" ] \
        || fail "docker-compose lists services '$listed'"
    step "docker-compose $(docker-compose version --short 2>/dev/null || echo '?'): config valid"
elif python3 -c 'import yaml' 2>/dev/null; then
    python3 - "$compose" <<'PY' || fail "docker-compose.yml structure"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for name, service in doc["services"].items():
    assert "image" in service and "command" in service, name
    assert name in ("seed", "keys") or "healthcheck" in service, name
PY
    step "docker-compose not installed (scripts/deps.sh installs it): YAML structure checked with python3-yaml"
else
    fail "neither docker-compose nor python3-yaml to validate docker-compose.yml (run scripts/deps.sh)"
fi
grep -q '^      - \./config/compose/broker\.cfg:/etc/onenet/broker\.cfg:ro$' "$compose" \
    || fail "the broker no longer mounts ./config/compose/broker.cfg read-only"
grep -q '^      - \./config/policy\.cfg:/etc/onenet/policy\.cfg:ro ' "$compose" \
    || fail "the broker no longer mounts the sharing policy ./config/policy.cfg read-only"

# --- (b) every service natively ---

mkdir -p "$work/redis" "$work/stores" "$work/spool" "$work/keys"

keys_cmd=$(command_of keys | native)
check_rewritten "keys command" "$keys_cmd"
step "run keys: $keys_cmd"
(eval "$keys_cmd") >"$work/keys.log" 2>&1 || fail "keys failed (see $work/keys.log)"
[ -s "$work/keys/broker.key" ] && [ -s "$work/keys/operator.pub" ] || fail "keys wrote no key pairs"
[ "$(stat -c %a "$work/keys/emergency.key")" = 600 ] || fail "a secret key is readable by others"
(eval "$keys_cmd") >"$work/keys-again.log" 2>&1 || fail "second keys run failed (keys must be kept)"
step "keys made, a second run kept them"

start redis
healthy redis || fail "redis healthcheck never passed (see $work/redis.log)"
step "redis healthy"

seed_cmd=$(command_of seed | native)
check_rewritten "seed command" "$seed_cmd"
step "run seed: $seed_cmd"
(eval "$seed_cmd") >"$work/seed.log" 2>&1 || fail "seed failed (see $work/seed.log)"
for db in public_security social_security emergency; do
    [ -s "$work/stores/$db.db" ] || fail "seed wrote no $db.db"
done
before=$(stat -c %Y.%s "$work/stores/emergency.db")
(eval "$seed_cmd") >"$work/seed-again.log" 2>&1 || fail "second seed run failed"
[ "$(stat -c %Y.%s "$work/stores/emergency.db")" = "$before" ] \
    || fail "the second seed run rewrote the stores (departments' updates would be lost)"
step "seed wrote the stores, a second run kept them"

sed -e "s#tcp://0\.0\.0\.0:5570#tcp://127.0.0.1:$broker_port#" \
    -e "s#tcp://0\.0\.0\.0:5571#tcp://127.0.0.1:$alerts_port#" \
    -e "s#\"0\.0\.0\.0:9570\"#\"127.0.0.1:$http_port\"#" \
    -e "s#\"redis:6379\"#\"127.0.0.1:$redis_port\"#" \
    -e "s#/var/lib/onenet#$work/spool#" \
    -e "s#/etc/onenet/keys#$work/keys#g" \
    -e "s#/etc/onenet/policy\.cfg#$src/config/policy.cfg#" \
    "$src/config/compose/broker.cfg" >"$work/broker.cfg"
if grep -v '^[[:space:]]*#' "$work/broker.cfg" | grep -Eq '0\.0\.0\.0|redis:6379|/var/lib/onenet|/etc/onenet'; then
    fail "config/compose/broker.cfg: the native rewrite missed something"
fi
onenet-broker --check-config -c "$work/broker.cfg" >/dev/null \
    || fail "config/compose/broker.cfg does not pass --check-config"
start broker
healthy broker || fail "broker healthcheck never passed (see $work/broker.log)"
step "broker healthy (onenet ping and /readyz)"

for adapter in public_security social_security emergency; do
    start "$adapter"
done
for adapter in public_security social_security emergency; do
    healthy "$adapter" || fail "$adapter healthcheck never passed (see $work/$adapter.log)"
    step "$adapter healthy"
done

sed -e "s#\"0\.0\.0\.0\"#\"127.0.0.1\"#" \
    -e "s#port = 8080;#port = $gateway_port;#" \
    -e "s#tcp://broker:5570#tcp://127.0.0.1:$broker_port#" \
    -e "s#tcp://broker:5571#tcp://127.0.0.1:$alerts_port#" \
    -e "s#/usr/local/share/onenet/web#$src/web#" \
    -e "s#/usr/local/share/onenet/openapi\.yaml#$src/docs/openapi.yaml#" \
    "$src/config/compose/gateway.cfg" >"$work/gateway.cfg"
if grep -v '^[[:space:]]*#' "$work/gateway.cfg" | grep -Eq '0\.0\.0\.0|broker:|/usr/local'; then
    fail "config/compose/gateway.cfg: the native rewrite missed something"
fi
start gateway
healthy gateway || fail "gateway healthcheck never passed (see $work/gateway.log)"
step "gateway healthy (CURVE key gateway, OpenAPI served)"

# Every healthcheck, once more, all at the same time of the system's life.
for name in $(services); do
    [ "$name" = seed ] || [ "$name" = keys ] && continue
    healthy "$name" 1 || fail "$name healthcheck failed on the final pass"
done

# Every long-running service is still running.
for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2>/dev/null || fail "${names[i]} exited (see $work/${names[i]}.log)"
done

# The metrics agree: Redis up, each department's view service has its instance.
exec 3<>"/dev/tcp/127.0.0.1/$http_port"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
metrics=$(cat <&3)
exec 3<&-
grep -q '^onenet_redis_up 1$' <<<"$metrics" || fail "/metrics: onenet_redis_up is not 1"
for service in ps.view.person ss.view.person em.view.person; do
    grep -q "^onenet_instances{service=\"$service\"} 1\$" <<<"$metrics" \
        || fail "/metrics: onenet_instances{service=\"$service\"} is not 1"
done
grep -q 'security=curve' "$work/broker.log" || fail "the broker did not run with CURVE"
grep -q "event=policy.loaded file=$src/config/policy.cfg" "$work/broker.log" \
    || fail "the broker did not load the sharing policy (see $work/broker.log)"
step "all $(services | grep -Evc '^(seed|keys)$') long-running services healthy (CURVE on); keys and seed completed"

# --- (c) end to end, CURVE and the sharing policy as deployed ---

# onenet as one of the deployment's keys.
onenet_as() {
    local key=$1
    shift
    onenet --broker "tcp://127.0.0.1:$broker_port" --key "$work/keys/$key.key" \
        --broker-key "$work/keys/broker.pub" "$@"
}

# One HTTP/1.0 request to the gateway; the whole response on stdout.
gateway_get() {
    local path=$1 token=$2
    exec 3<>"/dev/tcp/127.0.0.1/$gateway_port" || fail "gateway: cannot connect"
    printf 'GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' "$path" "$token" >&3
    timeout 10 cat <&3 || true
    exec 3<&-
}

person=$(sed -n 's/^  example (known to all three departments): \([0-9X]\{18\}\)$/\1/p' "$work/seed.log")
[ -n "$person" ] || fail "the seed named no example person (see $work/seed.log)"

# Operations keys see what runs, not what it holds.
if onenet_as operator call ps.person.get --data "{\"resident_id\": \"$person\"}" \
    --purpose identity_check >"$work/operator-call.out" 2>&1; then
    fail "the operator's key read a person (see $work/operator-call.out)"
fi
grep -q 'operator_nothing_else' "$work/operator-call.out" \
    || fail "the operator's refusal does not name its rule: $(cat "$work/operator-call.out")"
step "the policy refused the operator's key personal data (rule operator_nothing_else)"

# ... and the alert log: `onenet alerts` says so and exits 1, rather than
# streaming live alerts it could never show to be complete.
set +e
timeout 20 onenet --broker "tcp://127.0.0.1:$broker_port" --key "$work/keys/operator.key" \
    --broker-key "$work/keys/broker.pub" alerts --alerts-endpoint "tcp://127.0.0.1:$alerts_port" \
    --count 1 >"$work/operator-alerts.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "onenet alerts with the operator's key exited $rc, expected 1 (see $work/operator-alerts.out)"
grep -q 'DENIED.*operator_nothing_else' "$work/operator-alerts.out" \
    || fail "onenet alerts refused without naming the rule: $(cat "$work/operator-alerts.out")"
step "onenet alerts with the operator's key: refused (exit 1, rule operator_nothing_else)"

# A coordinator's `onenet alerts` is subscribed live when the emergency
# department publishes an alert; it must arrive live, well before any
# restart could replay it.
alerts_endpoint="tcp://127.0.0.1:$alerts_port"
# Not through onenet_as: $! must be onenet itself, for cleanup to stop it.
onenet --broker "tcp://127.0.0.1:$broker_port" --key "$work/keys/emergency_coordinators.key" \
    --broker-key "$work/keys/broker.pub" alerts --alerts-endpoint "$alerts_endpoint" --json \
    >"$work/alerts-live.out" 2>"$work/alerts-live.log" &
pids+=($!)
names+=(alerts-live)
sleep 3   # replayed what the stream had (nothing), then live
onenet_as emergency alert publish "$src/tests/data/cap/onenet-flood-chengdu.xml" \
    >"$work/alert-publish.log" 2>&1 || fail "onenet alert publish under CURVE failed (see $work/alert-publish.log)"
identifier=$(sed -n 's#.*<identifier>\(.*\)</identifier>.*#\1#p' "$src/tests/data/cap/onenet-flood-chengdu.xml" | head -1)
for _ in $(seq 50); do
    grep -q "$identifier" "$work/alerts-live.out" && break
    sleep 0.1
done
grep -q "$identifier" "$work/alerts-live.out" \
    || fail "onenet alerts under CURVE did not get the alert within 5 s (see $work/alerts-live.log)"
step "an alert published by emergency reached the coordinators' onenet alerts live, both over CURVE"

# Through the gateway: a clerk (civil_affairs) sees the person masked.
onenet_as public_security call ps.person.get --data "{\"resident_id\": \"$person\"}" \
    >"$work/person.json" 2>&1 || fail "public_security could not read its own person (see $work/person.json)"
name=$(sed -n 's/^ *"name": "\(.*\)",\{0,1\}$/\1/p' "$work/person.json" | head -1)
[ -n "$name" ] || fail "ps.person.get gave no name: $(cat "$work/person.json")"
gateway_get "/api/v1/persons/$person/view?purpose=identity_check" demo-clerk-token >"$work/clerk-view.http"
grep -q '^HTTP/1\.[01] 200 ' "$work/clerk-view.http" \
    || fail "the clerk's view through the gateway failed: $(head -c 600 "$work/clerk-view.http")"
grep -Eq '"department": *"public_security", *"status": *"SECTION_OK"' "$work/clerk-view.http" \
    || fail "the clerk's view has no public_security section answered OK"
if grep -qF "$name" "$work/clerk-view.http"; then
    fail "the clerk's view shows the person's name unmasked (policy rule clerks_view_person masks it)"
fi
step "a clerk's view through the gateway: answered, the name masked (rule clerks_view_person)"

# A coordinator's alert stream through the gateway replays the alert: its
# catch-up is made for the coordinator, not as the gateway.
exec 3<>"/dev/tcp/127.0.0.1/$gateway_port" || fail "gateway: cannot connect"
printf 'GET /api/v1/alerts/stream?access_token=demo-coordinator-token&after=0 HTTP/1.0\r\n\r\n' >&3
found=0
while IFS= read -r -t 10 line <&3; do
    printf '%s\n' "$line" >>"$work/coordinator-stream.http"
    if [[ $line == *"$identifier"* ]]; then found=1; break; fi
done
exec 3<&-
[ "$found" = 1 ] \
    || fail "the coordinator's alert stream through the gateway did not replay the alert (see $work/coordinator-stream.http, $work/gateway.log)"
step "a coordinator's alert stream through the gateway replayed the alert"

# An auditor finds the clerk's view, under the clerk's name and department.
for _ in $(seq 50); do
    gateway_get "/api/v1/audit?person=$person" demo-auditor-token >"$work/audit.http"
    grep -q '"user": *"clerk.demo"' "$work/audit.http" && break
    sleep 0.1
done
grep -q '^HTTP/1\.[01] 200 ' "$work/audit.http" \
    || fail "the auditor's query through the gateway failed: $(head -c 600 "$work/audit.http")"
grep -q '"user": *"clerk.demo"' "$work/audit.http" && grep -q '"requester": *"civil_affairs"' "$work/audit.http" \
    || fail "the audit log does not show the clerk's view (see $work/audit.http)"
onenet audit verify --file "$work/spool/audit.log" >"$work/audit-verify.log" 2>&1 \
    || fail "onenet audit verify rejected the deployment's audit log (see $work/audit-verify.log)"
step "an auditor found the clerk's view in the audit log; its chain on disk verifies"
