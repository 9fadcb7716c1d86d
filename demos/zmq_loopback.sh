#!/bin/sh
# Run the ZeroMQ demo programs on loopback and print their summaries:
#   1. gzmq-reqrep-server and gzmq-reqrep-client (REQUESTS requests, 10 REQ sockets)
#   2. the pipeline: gzmq-sink, gzmq-ventilator (TASKS tasks of MS ms) and two
#      gzmq-worker processes of 100 greenlets each.
# Every program binds tcp://127.0.0.1:* (a free port) and prints where it is
# bound; the others are pointed there. Exit status 0 only if every program
# exited as it should and the counts add up. Used by `make demo` and
# tests/test_programs.c.
set -u
BIN=${BUILD:-build}/bin
REQUESTS=${REQUESTS:-20000}
TASKS=${TASKS:-2000}
MS=${MS:-5}
LIMIT=${LIMIT:-120}   # seconds any one program may run: a watchdog, not a benchmark
tmp=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "zmq_loopback: $*" >&2; for f in "$tmp"/*.out; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }

# Start NAME ARGS... in the background; output goes to $tmp/NAME.out.
start() {
    name=$1; shift
    timeout "$LIMIT" "$BIN/gzmq-$name" "$@" > "$tmp/$name.out" 2>&1 &
    last=$!
    pids="$pids $last"
}
# The endpoint a program printed in its "bound to" line (waits for it).
endpoint() {
    i=0
    while [ $i -lt 200 ]; do
        ep=$(sed -n 's/^[a-z-]*: bound to //p' "$tmp/$1.out" | head -n 1)
        [ -n "$ep" ] && { echo "$ep"; return 0; }
        sleep 0.05; i=$((i + 1))
    done
    return 1
}

echo "--- REQ/REP: gzmq-reqrep-server, gzmq-reqrep-client ($REQUESTS requests)"
start reqrep-server --bind 'tcp://127.0.0.1:*'; server=$last
ep=$(endpoint reqrep-server) || fail "the server did not bind"
timeout "$LIMIT" "$BIN/gzmq-reqrep-client" --connect "$ep" --requests "$REQUESTS" \
    --concurrency 10 > "$tmp/reqrep-client.out" 2>&1 || fail "the client failed"
tail -n 1 "$tmp/reqrep-client.out"
kill -TERM "$server"; wait "$server" || fail "the server did not exit 0 on SIGTERM"
tail -n 1 "$tmp/reqrep-server.out"
grep -qx "gzmq-reqrep-server: served $REQUESTS requests" "$tmp/reqrep-server.out" ||
    fail "the server's count is wrong"

echo "--- pipeline: gzmq-ventilator, 2 x gzmq-worker (100 greenlets), gzmq-sink ($TASKS tasks of $MS ms)"
start sink --bind 'tcp://127.0.0.1:*' --tasks "$TASKS"; sink=$last
sep=$(endpoint sink) || fail "the sink did not bind"
start ventilator --bind 'tcp://127.0.0.1:*' --tasks "$TASKS" --ms "$MS" --workers 2; vent=$last
vep=$(endpoint ventilator) || fail "the ventilator did not bind"
for w in 1 2; do
    timeout "$LIMIT" "$BIN/gzmq-worker" --pull "$vep" --push "$sep" --concurrency 100 \
        > "$tmp/worker$w.out" 2>&1 &
    eval "worker$w=\$!"; pids="$pids $!"
done
wait "$sink" || fail "the sink failed"
wait "$vent" || fail "the ventilator failed"
tail -n 1 "$tmp/ventilator.out"
kill -TERM "$worker1" "$worker2"
wait "$worker1" || fail "worker 1 did not exit 0 on SIGTERM"
wait "$worker2" || fail "worker 2 did not exit 0 on SIGTERM"
done1=$(sed -n 's/^gzmq-worker: did \([0-9]*\) tasks$/\1/p' "$tmp/worker1.out")
done2=$(sed -n 's/^gzmq-worker: did \([0-9]*\) tasks$/\1/p' "$tmp/worker2.out")
echo "gzmq-worker 1: did ${done1:-?} tasks; gzmq-worker 2: did ${done2:-?} tasks"
tail -n 1 "$tmp/sink.out"
[ $(( ${done1:-0} + ${done2:-0} )) -eq "$TASKS" ] || fail "the workers' counts do not add up to $TASKS"
pids=""
