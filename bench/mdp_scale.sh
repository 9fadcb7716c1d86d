#!/bin/sh
# Majordomo scaling: requests per second through one gzmq-mdbroker with 1, 2
# and 4 gzmq-mdworker processes of 100 greenlets each, for a DELAY_MS service
# (default 1: echo with --delay-ms 1, a cooperative sleep), from one
# gzmq-mdclient of CLIENTS concurrent clients. Each count is run ROUNDS times; the median is
# reported, with the min-max. Writes a markdown table to stdout.
#   BUILD=build REQUESTS=20000 CLIENTS=800 ROUNDS=3 DELAY_MS=1 sh bench/mdp_scale.sh
# NETNS=1 (root, `ip netns`): the broker and client in one network namespace,
# the workers split over two others, joined by veth pairs (10.78.1.0/24,
# 10.78.2.0/24, inside namespaces this script creates and removes).
set -eu
BUILD=${BUILD:-build}
REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-800}
ROUNDS=${ROUNDS:-3}
NETNS=${NETNS:-0}
DELAY_MS=${DELAY_MS:-1}
bin=$BUILD/bin
tmp=$(mktemp -d)
pids=""
ns=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for n in $ns; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# in NS CMD...: run CMD inside namespace NS ("" = here).
in_ns() {
    n=$1; shift
    if [ -n "$n" ]; then ip netns exec "$n" "$@"; else "$@"; fi
}

hub="" wns1="" wns2="" addr=127.0.0.1
if [ "$NETNS" = 1 ]; then
    hub=gzmdp-hub-$$ wns1=gzmdp-w1-$$ wns2=gzmdp-w2-$$
    for n in $hub $wns1 $wns2; do ip netns add "$n"; ns="$ns $n"; ip -n "$n" link set lo up; done
    i=1
    for w in $wns1 $wns2; do
        h=gzh$i-$$ v=gzw$i-$$ # under 16 characters
        ip link add "$h" type veth peer name "$v"
        ip link set "$h" netns $hub
        ip link set "$v" netns "$w"
        ip -n $hub addr add 10.78.$i.1/24 dev "$h"
        ip -n "$w" addr add 10.78.$i.2/24 dev "$v"
        ip -n $hub link set "$h" up
        ip -n "$w" link set "$v" up
        i=$((i + 1))
    done
    addr=10.78.1.1
fi

in_ns "$hub" $bin/gzmq-mdbroker --bind "tcp://0.0.0.0:*" > "$tmp/broker" 2>&1 &
pids="$pids $!"
for _ in $(seq 100); do grep -q "bound to" "$tmp/broker" && break; sleep 0.05; done
port=$(sed -n 's/.*bound to tcp:\/\/[^:]*:\([0-9]*\).*/\1/p' "$tmp/broker")
[ -n "$port" ] || { echo "mdp_scale: the broker did not start" >&2; cat "$tmp/broker" >&2; exit 1; }

# Worker K's namespace and the broker's address from there.
worker_ns() { if [ "$NETNS" = 1 ]; then [ $(($1 % 2)) = 1 ] && echo $wns1 || echo $wns2; fi; }
worker_ep() {
    if [ "$NETNS" = 1 ]; then [ $(($1 % 2)) = 1 ] && echo tcp://10.78.1.1:$port || echo tcp://10.78.2.1:$port
    else echo tcp://$addr:$port; fi
}

median() { sort -n | awk '{ a[NR] = $1 } END { m = a[int((NR + 1) / 2)]; printf "%.0f (%.0f-%.0f)", m, a[1], a[NR] }'; }

echo "| worker processes (x100 greenlets, $DELAY_MS ms service) | req/s: median (min-max) of $ROUNDS |"
echo "|---|---|"
wpids=""
nworkers=0
for want in 1 2 4; do
    while [ $nworkers -lt $want ]; do
        nworkers=$((nworkers + 1))
        in_ns "$(worker_ns $nworkers)" $bin/gzmq-mdworker --connect "$(worker_ep $nworkers)" \
            --service echo --concurrency 100 --delay-ms "$DELAY_MS" > "$tmp/worker$nworkers" 2>&1 &
        wpids="$wpids $!"
        pids="$pids $!"
    done
    sleep 1 # the new workers' READY reach the broker
    : > "$tmp/rates"
    for _ in $(seq "$ROUNDS"); do
        in_ns "$hub" $bin/gzmq-mdclient --connect "tcp://$addr:$port" --service echo \
            --requests "$REQUESTS" --concurrency "$CLIENTS" --timeout-ms 10000 > "$tmp/client" 2>&1 ||
            { echo "mdp_scale: the client failed:" >&2; cat "$tmp/client" >&2; exit 1; }
        tail -n 1 "$tmp/client" | sed -n 's/.* s, \([0-9]*\) req\/s$/\1/p' >> "$tmp/rates"
    done
    echo "| $want | $(median < "$tmp/rates") |"
done
