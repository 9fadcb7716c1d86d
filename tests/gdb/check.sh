#!/bin/sh
# The gdb extension (tools/gdb/libgzmq-gdb.py), as a user meets it: found by
# gdb's auto-load for libgzmq.so, laid out the way `make install` lays it
# out, then `info greenlets` and `greenlet bt` on a live process stopped
# under gdb and on the core file gdb writes of it. Part of make test; skips
# with a visible line where gdb is missing or cannot run a process.
set -eu
BUILD=${BUILD:-build}
VERSION=${VERSION:?VERSION=x.y.z}
CC=${CC:-cc}
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb-check: skipped: gdb missing (make deps installs it)"
    exit 0
fi
case "$(uname -m)" in
x86_64 | aarch64) ;;
*) echo "gdb-check: skipped: greenlet bt reads x86_64 and aarch64 contexts only"; exit 0 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib=$(readlink -f "$BUILD/libgzmq.so.$VERSION")
$CC -g -O1 -Iinclude -o "$tmp/target" tests/gdb/target.c "$lib" -lzmq -lev -lpthread -lm
# gdb looks for DIR/<the library's real path>-gdb.py under each auto-load
# scripts directory, as it finds PREFIX/share/gdb/auto-load/LIBDIR/... .
mkdir -p "$tmp/auto-load$(dirname "$lib")"
cp tools/gdb/libgzmq-gdb.py "$tmp/auto-load$lib-gdb.py"
gdbrun() {
    LD_LIBRARY_PATH="$(dirname "$lib")" gdb -nx -batch \
        -iex "set auto-load scripts-directory $tmp/auto-load" \
        -iex "set auto-load safe-path $tmp/auto-load" \
        -iex "set debuginfod enabled off" "$@" 2>&1
}
fail() {
    echo "gdb-check: $1"
    echo "--- gdb said:"
    cat "$2"
    exit 1
}
# The ids follow the order of gz_spawn in target.c: 0 the sleeper, 1 the
# queue's waiter, 2 the joiner, 3 the semaphore's.
expect() { # output file, what
    out=$1
    shift
    grep -q 'the-sleeper  *parked' "$out" || fail "$* lists no parked the-sleeper" "$out"
    grep -q '^  1  *Greenlet-1  *parked' "$out" || fail "$* lists no parked Greenlet-1" "$out"
    grep -q '^\* -  *main  *running' "$out" || fail "$* does not mark main as running" "$out"
    grep -q '^5 greenlets' "$out" || fail "$* does not count 5 greenlets" "$out"
    for f in waits_on_the_queue joins_the_sleeper acquires_the_semaphore sleeps_an_hour; do
        grep -q " in $f () at .*target.c" "$out" || fail "$* shows no frame of $f" "$out"
    done
    grep -q 'gz_queue_get' "$out" || fail "$* shows no gz_queue_get frame" "$out"
    grep -q '^  1  *Greenlet-1  *parked  *main  *gz_queue_get on 0x' "$out" ||
        fail "$* does not say Greenlet-1 waits in gz_queue_get" "$out"
    grep -q '^  2  *Greenlet-2  *parked  *main  *gz_join on the-sleeper' "$out" ||
        fail "$* does not say Greenlet-2 joins the-sleeper" "$out"
    grep -q 'gz_sem_acquire on 0x' "$out" || fail "$* names no semaphore wait" "$out"
    grep -q 'the-sleeper  *parked  *main  *gz_sleep' "$out" || fail "$* names no sleep" "$out"
    grep -q 'no greenlet 99 in this hub' "$out" || fail "$* accepts greenlet 99" "$out"
}
cmds="-ex 'info greenlets' -ex 'greenlet bt 0' -ex 'greenlet bt 1' -ex 'greenlet bt 2' -ex 'greenlet bt 3' -ex 'greenlet bt 99'"
passed=0
# Live: run under gdb (ptrace as its parent) until abort() stops it.
eval gdbrun -ex run $cmds -ex "'gcore $tmp/core'" -ex kill "$tmp/target" >"$tmp/live.txt" || true
if grep -q 'SIGABRT' "$tmp/live.txt"; then
    expect "$tmp/live.txt" "live process:"
    passed=$((passed + 1))
else
    echo "gdb-check: skipped live process: gdb cannot run one here"
    sed 's/^/  /' "$tmp/live.txt" | tail -5
fi
# Attached: gdb -p to a process that waits in pause().
LD_LIBRARY_PATH="$(dirname "$lib")" "$tmp/target" wait >"$tmp/ready" &
pid=$!
for _ in $(seq 100); do grep -q parked "$tmp/ready" && break; sleep 0.05; done
eval gdbrun -p $pid $cmds -ex detach >"$tmp/attached.txt" || true
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
if grep -q '^5 greenlets' "$tmp/attached.txt"; then
    expect "$tmp/attached.txt" "gdb -p:"
    passed=$((passed + 1))
else
    echo "gdb-check: skipped gdb -p: cannot attach here (ptrace)"
    sed 's/^/  /' "$tmp/attached.txt" | tail -3
fi
if [ -s "$tmp/core" ]; then
    eval gdbrun $cmds "$tmp/target" "$tmp/core" >"$tmp/core.txt" || true
    expect "$tmp/core.txt" "core file:"
    passed=$((passed + 1))
else
    echo "gdb-check: skipped core file: no core written"
fi
echo "gdb-check: $passed passed (info greenlets, greenlet bt)"
