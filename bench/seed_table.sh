#!/bin/bash
# The seed article's XML-RPC table, reproduced: requests/s and peak RSS
# (VmHWM) of the article's three Python servers and gzmq-xmlrpc-server under
# 500, 1000, 5000 and 10000 concurrent clients, all loaded by gzmq-rpc-bench
# with the same settings (gen(2048), a new connection per request as the
# Python servers speak HTTP/1.0), and every gzmq row checked again with wrk
# (bench/wrk_gen.lua). Client and server run on cores of their own
# (taskset); each side's CPU use over the run (utime + stime from /proc) is
# in the table, and a rate whose client was saturated (over 90% of its
# cores) is marked as a lower bound, "≥". Then GET / and gen(2048) of
# gzmq-xmlrpc-server against the hand-written libev callback server
# (bench/libev_http_server.c, the same request handling), GET / loaded by
# bench/http_load.c (wrk spends as much per GET / as the servers and
# saturates first) and gen(2048) by wrk, and requests/s of 1, 2, ... hubs
# (--threads) up to the server's cores.
#
#   bench/seed_table.sh            full run (100 requests per client, wrk 10 s)
#   QUICK=1 bench/seed_table.sh    short run (2 requests per client, wrk 2 s)
#
# Output: bench/results/seed_table.md and bench/results/seed_table.png
# (RESULT=name: bench/results/name.md and .png). CONCURRENCY="" leaves out
# the table of servers and clients: only the libev comparison and the hubs
# (CONCURRENCY= RESULT=http_vs_libev bench/seed_table.sh, about 6 minutes).
# Variables: BUILD (build directory, default build), PORT (first port used,
# default 18200), CONCURRENCY (list), SERVERS (list), CORES (cores to use,
# default all: the server gets the first half, SERVER_CPUS, the client the
# rest, CLIENT_CPUS; on 2 cores one each), WRK_SECONDS, REPS (runs of each
# libev comparison, default 5), PIPELINE (requests in flight per connection
# in the pipelined GET / row, default 16).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PORT=${PORT:-18200}
QUICK=${QUICK:-0}
CONCURRENCY=${CONCURRENCY-500 1000 5000 10000}
SERVERS=${SERVERS:-simple threaded gevent gzmq}
PY=/usr/bin/python3   # Debian's python: python3-gevent is installed for it
OUT=bench/results
RESULT=${RESULT:-seed_table}
mkdir -p "$OUT" "$BUILD/bench"
CORES=${CORES:-$(nproc)}
if [ "$CORES" -ge 2 ]; then
    SERVER_NCPU=$((CORES / 2))
    CLIENT_NCPU=$((CORES - SERVER_NCPU))
    SERVER_CPUS=${SERVER_CPUS:-0-$((SERVER_NCPU - 1))}
    CLIENT_CPUS=${CLIENT_CPUS:-$SERVER_NCPU-$((CORES - 1))}
else # one core: both sides share it, and the CPU columns say so
    SERVER_NCPU=1 CLIENT_NCPU=1 SERVER_CPUS=${SERVER_CPUS:-0} CLIENT_CPUS=${CLIENT_CPUS:-0}
fi
REPS=${REPS:-5}
if [ "$QUICK" = 1 ]; then WRK_SECONDS=${WRK_SECONDS:-2}; else WRK_SECONDS=${WRK_SECONDS:-10}; fi
CLK_TCK=$(getconf CLK_TCK)
ulimit -n "$(ulimit -Hn)" 2>/dev/null # wrk does not raise it; 10000 clients need it

say() { echo "seed_table: $*" >&2; }

# ---- what it needs ----
if ! $PY -c 'import gevent' 2>/dev/null; then
    say "installing python3-gevent"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-gevent >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-gevent >/dev/null; }
fi
command -v gnuplot >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null || true
command -v wrk >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q wrk >/dev/null ||
    { say "wrk missing (make bench-deps)"; exit 1; }
make --no-print-directory BUILD="$BUILD" deps >/dev/null
make --no-print-directory BUILD="$BUILD" "$BUILD/bin/gzmq-xmlrpc-server" "$BUILD/bin/gzmq-rpc-bench" >/dev/null || exit 1
cc -std=gnu11 -O2 -Wall -Wextra -Werror -Idemos -o "$BUILD/bench/libev_http_server" \
    bench/libev_http_server.c demos/xmlrpc/handler.c -lev -lhttp_parser -lexpat || exit 1
cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$BUILD/bench/http_load" bench/http_load.c -lpthread || exit 1
PIPELINE=${PIPELINE:-16}
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

HUBS=$SERVER_NCPU # gzmq-xmlrpc-server --threads: one hub per server core

start_server() { # name port -> pid in SERVER_PID (on the server's cores)
    local S="taskset -c $SERVER_CPUS"
    case $1 in
    simple)   $S $PY bench/xmlrpc_simple.py "$2" >/dev/null 2>&1 & ;;
    threaded) $S $PY bench/xmlrpc_threaded.py "$2" >/dev/null 2>&1 & ;;
    gevent)   $S $PY bench/xmlrpc_gevent.py "$2" >/dev/null 2>&1 & ;;
    gzmq)     $S "$BUILD/bin/gzmq-xmlrpc-server" --host 127.0.0.1 --port "$2" --max-connections 10000 \
                  --threads "$HUBS" >/dev/null 2>&1 & ;; # the default, 1000, would answer 503 past it
    libev)    $S "$BUILD/bench/libev_http_server" "$2" >/dev/null 2>&1 & ;;
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

# CPU ticks (utime + stime) of PID so far; with "children", of its waited-for
# children (cutime + cstime). Fields after the command name, which ends in ") ".
ticks() { sed 's/.*) //' /proc/"$1"/stat 2>/dev/null |
          awk -v c="${2:-}" '{ print c == "children" ? $14 + $15 : $12 + $13 }'; }
now() { date +%s.%N; }
pct() { awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", (s > 0 ? 100 * t / hz / s : 0) }'; }

# client COMMAND... : run the load generator on the client's cores. Sets
# CLIENT_OUT (its output), CLIENT_PCT (its CPU, % of one core), SERVER_PCT
# (the server's over the same time) and LOWER ("≥" when the client used over
# 90% of its cores: then the rate is what the client could do, a lower
# bound of the server's).
client() {
    local s0 t0 t1 stat
    s0=$(ticks "$SERVER_PID"); t0=$(now)
    CLIENT_OUT=$(taskset -c "$CLIENT_CPUS" sh -c \
        '"$@" 2>&1; s=$?; echo "CHILDTICKS $(sed "s/.*) //" /proc/$$/stat | awk "{print \$14 + \$15}")"; exit $s' \
        sh "$@")
    t1=$(now)
    local secs; secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    CLIENT_PCT=$(pct "$(echo "$CLIENT_OUT" | sed -n 's/^CHILDTICKS //p')" "$secs")
    SERVER_PCT=$(pct $(( $(ticks "$SERVER_PID") - s0 )) "$secs")
    LOWER=""
    [ "$CLIENT_PCT" -gt $((90 * CLIENT_NCPU)) ] && LOWER="≥"
}

# run NAME CONCURRENCY METHOD KEEPALIVE-FLAG -> ROW="rps|rss|errors|ok|p50|p99|client%|server%"
# and, for gzmq, WRK="rps|errors|client%|server%" from wrk on the same server
# (not in a subshell: PORT moves on, each run gets a fresh port)
run() {
    local port=$PORT n; n=$(requests_for "$2")
    PORT=$((PORT + 1))
    ROW="-|-|-|-|-|-|-|-"
    WRK="-|-|-|-"
    start_server "$1" $port || return
    client "$BENCH" --host 127.0.0.1 --port $port --concurrency "$2" --requests "$n" \
           --method "$3" $4 --timeout 10 --threads "$CLIENT_NCPU"
    local r rss
    if r=$(echo "$CLIENT_OUT" | grep '^RESULT'); then
        ROW="$LOWER$(echo "$r" | field rps)|-|$(echo "$r" | field errors)|$(echo "$r" | field ok)|$(echo "$r" | field p50_ms)|$(echo "$r" | field p99_ms)|$CLIENT_PCT|$SERVER_PCT"
    else
        say "$1 c=$2: $CLIENT_OUT"; ROW="-|-|all|0|-|-|$CLIENT_PCT|$SERVER_PCT"
    fi
    if [ "$1" = gzmq ] || [ "$1" = libev ]; then
        wrk_run $port "$2" "$3" "$4"
    fi
    rss=$(hwm_mib "$SERVER_PID")
    ROW=$(echo "$ROW" | awk -F'|' -v r="$rss" 'BEGIN { OFS = "|" } { $2 = r; print }')
    stop_server
}

# wrk_run PORT CONCURRENCY METHOD KEEPALIVE-FLAG -> WRK="rps|errors|client%|server%"
wrk_run() {
    local c=$2 script=() hdr=()
    [ "$3" = gen ] && script=(-s bench/wrk_gen.lua)
    [ "$4" = --no-keepalive ] && hdr=(-H "Connection: close")
    [ "$c" -lt "$CLIENT_NCPU" ] && c=$CLIENT_NCPU
    client wrk -t"$CLIENT_NCPU" -c"$c" -d"${WRK_SECONDS}s" --timeout 10s "${script[@]}" "${hdr[@]}" \
           "http://127.0.0.1:$1/"
    local rps errs
    rps=$(echo "$CLIENT_OUT" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    errs=$(echo "$CLIENT_OUT" | awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }')
    WRK="${rps:+$LOWER}${rps:--}|$errs|$CLIENT_PCT|$SERVER_PCT"
}

# lean_run PORT CONCURRENCY DEPTH -> WRK="rps|errors|client%|server%": GET /
# keep-alive from bench/http_load.c, DEPTH requests in flight per connection
lean_run() {
    local c=$2
    [ "$c" -lt "$CLIENT_NCPU" ] && c=$CLIENT_NCPU
    client "$BUILD/bench/http_load" -t "$CLIENT_NCPU" -c "$c" -d "$3" -s "$WRK_SECONDS" "$1"
    local rps errs
    rps=$(echo "$CLIENT_OUT" | awk '/^requests / { print $6 }')
    errs=$(echo "$CLIENT_OUT" | awk '/^requests / { print $8 }')
    WRK="${rps:+$LOWER}${rps:--}|${errs:--}|$CLIENT_PCT|$SERVER_PCT"
}

label() {
    case $1 in
    simple) echo "SimpleXMLRPCServer (single thread)" ;;
    threaded) echo "ThreadingMixIn (thread per connection)" ;;
    gevent) echo "ThreadingMixIn + gevent monkey.patch_all()" ;;
    gzmq) echo "gzmq-xmlrpc-server ($HUBS hub$([ "$HUBS" -gt 1 ] && echo s))" ;;
    gzmq-ka) echo "gzmq-xmlrpc-server ($HUBS hub$([ "$HUBS" -gt 1 ] && echo s)), keep-alive" ;;
    esac
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
START=$(date +%s)
: > "$BUILD/bench/seed_table.dat.cmp.runs"
DATA="$BUILD/bench/seed_table.dat"
: > "$DATA.rows"
for c in $CONCURRENCY; do
    for s in $SERVERS; do
        say "$s, $c clients, $(requests_for "$c") requests"
        run "$s" "$c" gen --no-keepalive
        echo "$s|$c|$ROW|$WRK" >> "$DATA.rows"
    done
    say "gzmq keep-alive, $c clients"
    run gzmq "$c" gen --keepalive
    echo "gzmq-ka|$c|$ROW|$WRK" >> "$DATA.rows"
done

# The libev callback server against gzmq-xmlrpc-server (one hub each, so
# that both are one event loop on one core), keep-alive: GET / one request
# at a time and PIPELINE deep per connection (bench/http_load.c: it spends
# less per request than the servers, so they, not it, saturate), and
# gen(2048) with wrk (there the servers saturate first); REPS runs of each
# taken in turn; the median by requests/s.
GETC=1000
GETN=100000
HUBS_SAVED=$HUBS
HUBS=1
: > "$DATA.cmp"
for what in get pipe gen; do
    : > "$DATA.cmp.all"
    for i in $(seq "$REPS"); do
        for s in gzmq libev; do
            say "$what on $s, $GETC clients, keep-alive, run $i of $REPS"
            port=$PORT; PORT=$((PORT + 1))
            start_server "$s" $port || continue
            case $what in
            get) lean_run $port $GETC 1 ;;
            pipe) lean_run $port $GETC "$PIPELINE" ;;
            *) wrk_run $port $GETC $what --keepalive ;;
            esac
            echo "$what|$s|$(hwm_mib "$SERVER_PID")|$WRK" >> "$DATA.cmp.all"
            stop_server
        done
    done
    for s in gzmq libev; do
        grep "^$what|$s|" "$DATA.cmp.all" | tr -d '≥' | sort -t'|' -k4,4g |
            sed -n "$(( (REPS + 1) / 2 ))p" >> "$DATA.cmp"
    done
    cat "$DATA.cmp.all" >> "$DATA.cmp.runs"
done
rm -f "$DATA.cmp.all"

# One process, every core: gzmq-xmlrpc-server --threads H for H = 1 .. the
# server's cores, GET / from bench/http_load.c (keep-alive), as a ratio to
# one hub.
: > "$DATA.hubs"
for h in $(seq "$SERVER_NCPU"); do
    HUBS=$h
    say "GET / on gzmq with $h hub(s), $GETC clients"
    port=$PORT; PORT=$((PORT + 1))
    start_server gzmq $port || continue
    lean_run $port $GETC 1
    echo "$h|$WRK" >> "$DATA.hubs"
    stop_server
done
HUBS=$HUBS_SAVED
END=$(date +%s)

# ---- the table ----
{
    echo "# The seed article's XML-RPC benchmark, reproduced"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); run time $((END - START)) s"
    echo "- machine: $(nproc) x $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "- command: \`$([ "$RESULT" != seed_table ] && echo "CONCURRENCY=\"$CONCURRENCY\" RESULT=$RESULT ")QUICK=$QUICK bench/seed_table.sh\` ($( [ "$QUICK" = 1 ] && echo "short mode: 2 requests per client, at least 4000" || echo "full mode: 100 requests per client, as the article"))"
    echo "- load: \`gzmq-rpc-bench --method gen\` (gen(2048), as the article's client), one connection per request"
    echo "  (\`--no-keepalive\`: Python's servers answer HTTP/1.0 and close); the keep-alive row reuses connections."
    echo "- Python $($PY -c 'import sys; print(sys.version.split()[0])'), gevent $($PY -c 'import gevent; print(gevent.__version__)' 2>/dev/null || echo missing); RSS is the server's peak (VmHWM)."
    echo "- The article's figures (Python 2, 2012): single thread ~2900 req/s 8 MB; threads ~1900 req/s 52 MB,"
    echo "  failing at 5000; gevent ~1900-2000 req/s 11-20 MB."
    echo
    echo "- cores: $CORES; server on CPU(s) $SERVER_CPUS, client on CPU(s) $CLIENT_CPUS (taskset); gzmq-rpc-bench"
    echo "  runs --threads $CLIENT_NCPU, wrk -t$CLIENT_NCPU (${WRK_SECONDS} s per run). CPU columns: utime + stime over"
    echo "  the run from /proc, in % of one core. ≥: the client used over 90% of its $CLIENT_NCPU core(s), so"
    echo "  the rate is a lower bound of what the server can do."
    echo "- load when the run started: $LOAD_START"
    echo
    if [ -s "$DATA.rows" ]; then
        echo "| server | clients | requests/s | client CPU % | server CPU % | wrk requests/s | wrk CPU % | server CPU % (wrk) | wrk errors | peak RSS (MiB) | errors | p50 (ms) | p99 (ms) |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        while IFS='|' read -r s c rps rss err ok p50 p99 cpct spct wrps werr wcpct wspct; do
            echo "| $(label "$s") | $c | $rps | $cpct | $spct | $wrps | $wcpct | $wspct | $werr | $rss | $err | $p50 | $p99 |"
        done < "$DATA.rows"
        echo
    fi
    echo "The greenlet server against a hand-written libev callback server with the same request"
    echo "handling (bench/libev_http_server.c links demos/xmlrpc/handler.c), one event loop on one"
    echo "core each, $GETC keep-alive connections: GET / from bench/http_load.c (one request at a time"
    echo "per connection, then $PIPELINE in flight: it costs less per request than a server, which"
    echo "saturates first; wrk costs as much as a server per GET /), gen(2048) from wrk. Of $REPS runs"
    echo "each, taken in turn, the median; gzmq / libev is the median of the ratios of each gzmq run"
    echo "to the libev run right after it: of requests/s (1.00: as fast), and of the server's CPU time"
    echo "per request (1.00: as cheap; the measure that holds when the client is saturated)."
    echo
    echo "| request | server | client | requests/s | client CPU % | server CPU % | server CPU per request (us) | peak RSS (MiB) | gzmq / libev, requests/s | gzmq / libev, CPU per request |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for what in get pipe gen; do
        # The ratios: the median of each run's gzmq / the libev run right
        # after it, so that a load that changes between runs hits both sides.
        # Field 4 is requests/s, 7 the server's CPU in % of one core.
        ratios=$(grep "^$what|" "$DATA.cmp.runs" | tr -d '≥' | awk -F'|' '
            function med(a, n,   i, j, t) {
                for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2 }
            BEGIN { n = 0 }
            $2 == "gzmq" { g = $4; gc = $7 / $4; next }
            $2 == "libev" && g > 0 && $4 > 0 && $7 > 0 { r[n] = g / $4; c[n] = gc / ($7 / $4); n++; g = 0 }
            END { if (!n) { print "-|-"; exit }; printf "%.2f|%.2f", med(r, n), med(c, n) }')
        while IFS='|' read -r w s rss rps err cpct spct; do
            name=$([ "$s" = libev ] && echo "libev callback server" || echo "gzmq-xmlrpc-server")
            case $w in
            get) req="GET /" load=http_load ;;
            pipe) req="GET /, $PIPELINE pipelined" load=http_load ;;
            *) req="gen(2048)" load=wrk ;;
            esac
            us=$(awk -v p="$spct" -v r="$(echo "$rps" | tr -d '≥')" 'BEGIN { if (r > 0) printf "%.1f", p * 1e4 / r; else print "-" }')
            if [ "$s" = gzmq ]; then
                echo "| $req | $name | $load | $rps | $cpct | $spct | $us | $rss | ${ratios%|*} | ${ratios#*|} |"
            else
                echo "| $req | $name | $load | $rps | $cpct | $spct | $us | $rss | | |"
            fi
        done < <(grep "^$what|" "$DATA.cmp")
    done
    echo
    echo "Every run of that comparison (request|server|RSS|requests/s|errors|client CPU|server CPU):"
    echo
    sed 's/^/    /' "$DATA.cmp.runs"
    echo
    echo "One process, every core: gzmq-xmlrpc-server --threads H on CPU $SERVER_CPUS, GET / from"
    echo "bench/http_load.c (keep-alive, $GETC connections), against one hub in the same run."
    echo
    echo "| hubs | requests/s | ratio to 1 hub | client CPU % | server CPU % |"
    echo "|---:|---:|---:|---:|---:|"
    one=$(sed -n 1p "$DATA.hubs" | cut -d'|' -f2 | tr -d '≥')
    while IFS='|' read -r h rps err cpct spct; do
        r=$(awk -v a="$(echo "$rps" | tr -d '≥')" -v b="$one" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        echo "| $h | $rps | $r | $cpct | $spct |"
    done < "$DATA.hubs"
    [ "$SERVER_NCPU" -eq 1 ] && echo && echo "(This machine gives the server one core: run with more cores, or CORES=, for more rows.)"
} > "$OUT/$RESULT.md"

# ---- the chart ----
if ! [ -s "$DATA.rows" ]; then
    : # no table of servers and clients: no chart
elif command -v gnuplot >/dev/null; then
    for s in $SERVERS gzmq-ka; do
        awk -F'|' -v s="$s" '$1 == s && $3 != "-" { gsub("≥", "", $3); print $2, $3 }' "$DATA.rows" > "$DATA.$s"
    done
    plots=""
    for s in $SERVERS gzmq-ka; do
        plots="$plots${plots:+, }'$DATA.$s' using 1:2 with linespoints title '$(label "$s")'"
    done
    gnuplot <<EOF
set terminal png size 900,540
set output '$OUT/$RESULT.png'
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
cat "$OUT/$RESULT.md"
