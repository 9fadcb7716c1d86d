#!/bin/bash
# The seed article's XML-RPC table, reproduced: requests/s and peak RSS
# (VmHWM) of the article's three Python servers and gzmq-xmlrpc-server under
# 500, 1000, 5000 and 10000 concurrent clients, all loaded by gzmq-rpc-bench
# with the same settings (gen(2048), a new connection per request as the
# Python servers speak HTTP/1.0). Also GET / of gzmq-xmlrpc-server against
# the hand-written libev callback server (bench/libev_http_server.c).
#
#   bench/seed_table.sh            full run (100 requests per client)
#   QUICK=1 bench/seed_table.sh    short run, under five minutes on 2 cores
#
# Output: bench/results/seed_table.md and bench/results/seed_table.png.
# Variables: BUILD (build directory, default build), PORT (first port used,
# default 18200), CONCURRENCY (list), SERVERS (list).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PORT=${PORT:-18200}
QUICK=${QUICK:-0}
CONCURRENCY=${CONCURRENCY:-500 1000 5000 10000}
SERVERS=${SERVERS:-simple threaded gevent gzmq}
PY=/usr/bin/python3   # Debian's python: python3-gevent is installed for it
OUT=bench/results
mkdir -p "$OUT" "$BUILD/bench"

say() { echo "seed_table: $*" >&2; }

# ---- what it needs ----
if ! $PY -c 'import gevent' 2>/dev/null; then
    say "installing python3-gevent"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-gevent >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-gevent >/dev/null; }
fi
command -v gnuplot >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null || true
make --no-print-directory BUILD="$BUILD" deps >/dev/null
make --no-print-directory BUILD="$BUILD" "$BUILD/bin/gzmq-xmlrpc-server" "$BUILD/bin/gzmq-rpc-bench" >/dev/null || exit 1
cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$BUILD/bench/libev_http_server" bench/libev_http_server.c -lev -lhttp_parser || exit 1
BENCH="$BUILD/bin/gzmq-rpc-bench"

requests_for() { # requests for a concurrency
    if [ "$QUICK" = get ]; then
        echo "$GETN"
    elif [ "$QUICK" = 1 ]; then
        local n=$(($1 * 2)); [ $n -lt 4000 ] && n=4000; echo $n
    else
        echo $(($1 * 100))
    fi
}

start_server() { # name port -> pid in SERVER_PID
    case $1 in
    simple)   $PY bench/xmlrpc_simple.py "$2" >/dev/null 2>&1 & ;;
    threaded) $PY bench/xmlrpc_threaded.py "$2" >/dev/null 2>&1 & ;;
    gevent)   $PY bench/xmlrpc_gevent.py "$2" >/dev/null 2>&1 & ;;
    gzmq)     "$BUILD/bin/gzmq-xmlrpc-server" --host 127.0.0.1 --port "$2" --max-connections 10000 \
                  >/dev/null 2>&1 & ;; # the default, 1000, would answer 503 past it
    libev)    "$BUILD/bench/libev_http_server" "$2" >/dev/null 2>&1 & ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null && return 0
        sleep 0.1
    done
    say "$1 did not start on port $2"; return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
}

hwm_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' /proc/"$1"/status 2>/dev/null; }

field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# run NAME CONCURRENCY METHOD KEEPALIVE-FLAG -> ROW="rps|rss|errors|ok|p50|p99"
# (not in a subshell: PORT moves on, each run gets a fresh port)
run() {
    local port=$PORT n; n=$(requests_for "$2")
    PORT=$((PORT + 1))
    ROW="-|-|-|-|-|-"
    start_server "$1" $port || return
    local out
    out=$("$BENCH" --host 127.0.0.1 --port $port --concurrency "$2" --requests "$n" \
          --method "$3" $4 --timeout 10 2>&1)
    local rss; rss=$(hwm_mib "$SERVER_PID")
    stop_server
    local r
    r=$(echo "$out" | grep '^RESULT') || { say "$1 c=$2: $out"; ROW="-|$rss|all|0|-|-"; return; }
    ROW="$(echo "$r" | field rps)|$rss|$(echo "$r" | field errors)|$(echo "$r" | field ok)|$(echo "$r" | field p50_ms)|$(echo "$r" | field p99_ms)"
}

label() {
    case $1 in
    simple) echo "SimpleXMLRPCServer (single thread)" ;;
    threaded) echo "ThreadingMixIn (thread per connection)" ;;
    gevent) echo "ThreadingMixIn + gevent monkey.patch_all()" ;;
    gzmq) echo "gzmq-xmlrpc-server" ;;
    gzmq-ka) echo "gzmq-xmlrpc-server, keep-alive" ;;
    esac
}

START=$(date +%s)
DATA="$BUILD/bench/seed_table.dat"
: > "$DATA.rows"
for c in $CONCURRENCY; do
    for s in $SERVERS; do
        say "$s, $c clients, $(requests_for "$c") requests"
        run "$s" "$c" gen --no-keepalive
        echo "$s|$c|$ROW" >> "$DATA.rows"
    done
    say "gzmq keep-alive, $c clients"
    run gzmq "$c" gen --keepalive
    echo "gzmq-ka|$c|$ROW" >> "$DATA.rows"
done
# GET /: a fixed 100000 requests (a quarter second or so), three runs of
# each server taken in turn; the table shows the run with the median rate.
GETC=1000
GETN=100000
: > "$DATA.get"
: > "$DATA.get.all"
for i in 1 2 3; do
    for s in gzmq libev; do
        say "GET / on $s, $GETC clients, keep-alive, run $i of 3"
        QUICK_SAVED=$QUICK; QUICK=get run "$s" $GETC get --keepalive; QUICK=$QUICK_SAVED
        echo "$s|$GETC|$ROW" >> "$DATA.get.all"
    done
done
for s in gzmq libev; do # the median run by requests/s
    grep "^$s|" "$DATA.get.all" | sort -t'|' -k3,3g | sed -n 2p >> "$DATA.get"
done
rm -f "$DATA.get.all"
END=$(date +%s)

# ---- the table ----
{
    echo "# The seed article's XML-RPC benchmark, reproduced"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run time $((END - START)) s"
    echo "- machine: $(nproc) x $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "- command: \`QUICK=$QUICK bench/seed_table.sh\` ($( [ "$QUICK" = 1 ] && echo "short mode: 2 requests per client, at least 4000" || echo "full mode: 100 requests per client, as the article"))"
    echo "- load: \`gzmq-rpc-bench --method gen\` (gen(2048), as the article's client), one connection per request"
    echo "  (\`--no-keepalive\`: Python's servers answer HTTP/1.0 and close); the keep-alive row reuses connections."
    echo "- Python $($PY -c 'import sys; print(sys.version.split()[0])'), gevent $($PY -c 'import gevent; print(gevent.__version__)' 2>/dev/null || echo missing); RSS is the server's peak (VmHWM)."
    echo "- The article's figures (Python 2, 2012): single thread ~2900 req/s 8 MB; threads ~1900 req/s 52 MB,"
    echo "  failing at 5000; gevent ~1900-2000 req/s 11-20 MB."
    echo
    echo "| server | clients | requests/s | peak RSS (MiB) | errors | p50 (ms) | p99 (ms) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    while IFS='|' read -r s c rps rss err ok p50 p99; do
        echo "| $(label "$s") | $c | $rps | $rss | $err | $p50 | $p99 |"
    done < "$DATA.rows"
    echo
    echo "GET / (fixed small body, keep-alive, $GETC clients, $GETN requests): the greenlet server against a"
    echo "hand-written libev callback server, the limit it aims for; of three runs each, taken in turn, the median."
    echo
    echo "| server | clients | requests/s | peak RSS (MiB) | errors | p50 (ms) | p99 (ms) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    while IFS='|' read -r s c rps rss err ok p50 p99; do
        name=$([ "$s" = libev ] && echo "libev callback server (bench/libev_http_server.c)" || echo "gzmq-xmlrpc-server")
        echo "| $name | $c | $rps | $rss | $err | $p50 | $p99 |"
    done < "$DATA.get"
} > "$OUT/seed_table.md"

# ---- the chart ----
if command -v gnuplot >/dev/null; then
    for s in $SERVERS gzmq-ka; do
        awk -F'|' -v s="$s" '$1 == s && $3 != "-" { print $2, $3 }' "$DATA.rows" > "$DATA.$s"
    done
    plots=""
    for s in $SERVERS gzmq-ka; do
        plots="$plots${plots:+, }'$DATA.$s' using 1:2 with linespoints title '$(label "$s")'"
    done
    gnuplot <<EOF
set terminal png size 900,540
set output '$OUT/seed_table.png'
set title 'XML-RPC gen(2048): requests/s against concurrent clients'
set xlabel 'concurrent clients'
set ylabel 'requests/s'
set logscale x
set xtics (500, 1000, 5000, 10000)
set key outside bottom center
set grid
plot $plots
EOF
else
    say "gnuplot missing: no chart"
fi
cat "$OUT/seed_table.md"
