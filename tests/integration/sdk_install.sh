#!/usr/bin/env bash
# sdk_install.sh - the installed SDK is all a department needs: install the
# build into a fresh prefix, build the example adapter OUT OF TREE with
# pkg-config, and run it against the installed broker, called by the
# installed CLI.
#
# Run by ctest (integration_sdk_install) with ONENET_SOURCE_DIR and
# ONENET_BINARY_DIR set. Exits non-zero with one "sdk_install: FAIL: ..."
# line on the first failure. At the end the adapter and the broker must exit
# 0 on SIGTERM (in a sanitizer build: no leak at exit). Every process still
# running is killed by PID on exit; the temp dir is removed (kept with
# ONENET_KEEP_TEMP=1).
set -u -o pipefail

fail () {
    echo "sdk_install: FAIL: $*" >&2
    exit 1
}
step () {
    echo "sdk_install: $*"
}

[ -n "${ONENET_SOURCE_DIR:-}" ] || fail "ONENET_SOURCE_DIR is not set (run through ctest)"
[ -n "${ONENET_BINARY_DIR:-}" ] || fail "ONENET_BINARY_DIR is not set (run through ctest)"
[ -f "$ONENET_BINARY_DIR/CMakeCache.txt" ] || fail "$ONENET_BINARY_DIR is not a CMake build dir"

tmp=$(mktemp -d /tmp/onenet-sdk.XXXXXX) || fail "mktemp failed"
pids=()
cleanup () {
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ -n "${ONENET_KEEP_TEMP:-}" ]; then
        echo "sdk_install: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Prints the last lines of a log, to explain a failure.
show () {
    echo "--- $1 (last lines) ---" >&2
    tail -n 20 "$1" >&2
}

# --- install ---------------------------------------------------------------
prefix="$tmp/prefix"
step "cmake --install $ONENET_BINARY_DIR --prefix $prefix"
cmake --install "$ONENET_BINARY_DIR" --prefix "$prefix" >"$tmp/install.log" 2>&1 \
    || { show "$tmp/install.log"; fail "cmake --install failed"; }

# GNUInstallDirs may have chosen lib or lib/<multiarch>: find what it did.
libdir=""
for dir in "$prefix/lib" "$prefix"/lib/*-linux-gnu "$prefix/lib64"; do
    if [ -f "$dir/pkgconfig/onenet.pc" ]; then
        libdir="$dir"
        break
    fi
done
[ -n "$libdir" ] || fail "no onenet.pc installed under $prefix/lib*/ (see $tmp/install.log)"
ls "$libdir"/libonenet.so* >/dev/null 2>&1 || fail "no libonenet.so installed in $libdir"
for bin in onenet-broker onenet; do
    [ -x "$prefix/bin/$bin" ] || fail "$bin not installed in $prefix/bin"
done
for header in onenet/onenet.h onenet/client.h onenet/adapter.h onenet/proto/example.pb-c.h; do
    [ -f "$prefix/include/$header" ] || fail "header $header not installed in $prefix/include"
done

export PKG_CONFIG_PATH="$libdir/pkgconfig"

# --- pkg-config ---------------------------------------------------------------
expected_version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$ONENET_BINARY_DIR/CMakeCache.txt")
version=$(pkg-config --modversion onenet 2>"$tmp/pkg-config.err") \
    || { show "$tmp/pkg-config.err"; fail "pkg-config --modversion onenet failed"; }
[ -n "$version" ] || fail "pkg-config --modversion onenet printed nothing"
[ -z "$expected_version" ] || [ "$version" = "$expected_version" ] \
    || fail "pkg-config --modversion onenet says $version, the build is $expected_version"
step "pkg-config --modversion onenet: $version"

# The .pc file must point at where it was installed, not at the prefix the
# build was configured with: otherwise its -I/-L flags name another tree.
pc_prefix=$(pkg-config --variable=prefix onenet)
[ "$(cd "$pc_prefix" 2>/dev/null && pwd -P)" = "$(cd "$prefix" && pwd -P)" ] \
    || fail "installed onenet.pc has prefix=$pc_prefix, not the install prefix $prefix (onenet.pc is not relocatable: cmake --install --prefix gives a .pc that points elsewhere)"

# --- build the example adapter out of tree -------------------------------------
cflags=(-Wall -Wextra -Wshadow -Wno-unused-parameter -Werror)
# libonenet of a sanitizer build is instrumented: its users must link the
# sanitizer runtimes too.
if grep -q '^ONENET_SANITIZE:BOOL=ON' "$ONENET_BINARY_DIR/CMakeCache.txt"; then
    cflags+=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi
adapter="$tmp/example_adapter"
step "cc ${cflags[*]} example_adapter.c \$(pkg-config --cflags --libs onenet)"
# shellcheck disable=SC2046  # pkg-config output is meant to be split
cc "${cflags[@]}" -o "$adapter" "$ONENET_SOURCE_DIR/adapters/example/example_adapter.c" \
    $(pkg-config --cflags --libs onenet) >"$tmp/cc.log" 2>&1 \
    || { show "$tmp/cc.log"; fail "the example adapter does not build out of tree with the installed SDK"; }

export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$adapter" --help >"$tmp/help.out" 2>&1 \
    || { show "$tmp/help.out"; fail "the out-of-tree adapter's --help did not exit 0"; }
grep -q "Usage:" "$tmp/help.out" || fail "the out-of-tree adapter's --help printed no usage"
# It must run on the installed library, not the build tree's.
# (ldd's output captured first: `ldd | grep -q` under pipefail fails when
# grep stops reading early and ldd gets SIGPIPE.)
linked=$(ldd "$adapter")
grep -q "$libdir/libonenet.so" <<<"$linked" \
    || fail "the out-of-tree adapter does not load libonenet from $libdir: $(grep onenet <<<"$linked")"

# --- run: installed broker, out-of-tree adapter, installed CLI -------------------
port_is_free () {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
port=""
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if port_is_free "$candidate"; then
        port=$candidate
        break
    fi
done
[ -n "$port" ] || fail "no free TCP port found on 127.0.0.1"
endpoint="tcp://127.0.0.1:$port"
cli="$prefix/bin/onenet"

step "installed broker on $endpoint"
"$prefix/bin/onenet-broker" --endpoint "$endpoint" >"$tmp/broker.log" 2>&1 &
pids+=($!)
broker_pid=$!
for _ in $(seq 1 100); do
    "$cli" --broker "$endpoint" --timeout 200 ping >/dev/null 2>&1 && break
    kill -0 "$broker_pid" 2>/dev/null || { show "$tmp/broker.log"; fail "the installed broker exited"; }
    sleep 0.1
done
"$cli" --broker "$endpoint" --timeout 1000 ping >"$tmp/ping.out" 2>&1 \
    || { show "$tmp/ping.out"; show "$tmp/broker.log"; fail "the installed broker does not answer onenet ping"; }

step "out-of-tree example adapter"
"$adapter" --broker "$endpoint" --instance oot1 >"$tmp/adapter.log" 2>&1 &
pids+=($!)
adapter_pid=$!
registered=""
for _ in $(seq 1 100); do
    listed=$("$cli" --broker "$endpoint" --timeout 500 services example.greet 2>/dev/null || true)
    if grep -q "example/oot1" <<<"$listed"; then
        registered=yes
        break
    fi
    kill -0 "$adapter_pid" 2>/dev/null || { show "$tmp/adapter.log"; fail "the out-of-tree adapter exited"; }
    sleep 0.1
done
[ -n "$registered" ] || { show "$tmp/adapter.log"; fail "the out-of-tree adapter did not register example.greet"; }

step "onenet call example.greet"
"$cli" call example.greet --data '{"name":"Sun Li"}' --broker "$endpoint" >"$tmp/call.out" 2>&1 \
    || { show "$tmp/call.out"; fail "onenet call example.greet failed"; }
grep -q "Hello, Sun Li" "$tmp/call.out" \
    || { show "$tmp/call.out"; fail "the greeting \"Hello, Sun Li\" did not come back"; }

# Stopped as an operator does: both must exit 0, which in a sanitizer build
# also means LeakSanitizer found nothing at exit.
stop_clean () {
    local pid=$1 name=$2 log=$3 status
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { show "$log"; fail "$name did not exit within 5 s of SIGTERM"; }
    wait "$pid"
    status=$?
    [ "$status" -eq 0 ] || { show "$log"; fail "$name exited $status after SIGTERM"; }
}
step "SIGTERM: the adapter and the broker exit 0"
stop_clean "$adapter_pid" "the out-of-tree adapter" "$tmp/adapter.log"
stop_clean "$broker_pid" "the installed broker" "$tmp/broker.log"

step "OK: the installed SDK builds and runs the example adapter out of tree"
exit 0
