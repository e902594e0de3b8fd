#!/usr/bin/env bash
# Installs exactly the Debian packages OneNet needs to build, test and run
# the demo. Idempotent: packages already present are skipped, and apt is
# not touched at all when nothing is missing. Works as root or via sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config      # toolchain
  libzmq3-dev                           # ZeroMQ: every connection
  libprotobuf-c-dev protobuf-c-compiler # the wire schema, compiled at build time
  libjansson-dev                        # JSON for the CLI (generic protobuf <-> JSON)
  libconfig-dev                         # configuration files
  libcmocka-dev                         # unit tests
  libhiredis-dev redis-server           # Redis: cache, alert stream, audit
  libsqlite3-dev                        # department stores (onenet-seed, reference adapters)
  libxml2-dev                           # CAP 1.2 alert XML (lib/src/cap.c)
  libmicrohttpd-dev                     # /healthz, /readyz, /metrics (broker/http.c)
  libsodium-dev                         # SHA-256 chaining the audit log (lib/src/audit.c)
  docker-compose                        # validates docker-compose.yml (tests/integration/compose_check.sh)
  clang                                 # compiles the libFuzzer harnesses (scripts/fuzz.sh, make fuzz)
  libclang-rt-14-dev                    # libFuzzer and the sanitizer runtimes clang links them with
  chromium                              # headless browser for the web console test (tests/browser/run.sh)
  nats-server                           # NATS server: benchmark baseline only (onenet bench rr, events)
  libnats-dev                           # NATS C client: onenet-bench-nats, benchmark baseline only
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "deps: missing ${missing[*]}; run as root or install sudo" >&2; exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
