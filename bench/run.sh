#!/bin/bash
# Runs every benchmark of bench/ and its peers RUNS times, interleaved (one
# round of every program, then the next), and prints one markdown table:
# median (min-max) of libgzmq, of the peer measured in the same run, and the
# ratio. Writes bench/results/latest.md and the charts core.png, zmq.png.
#
#   make bench [QUICK=1]      builds the programs, then runs this
#   BUILD=build RUNS=5 QUICK=0 bench/run.sh
#
# QUICK=1: fewer iterations, 100k greenlets only (no 1M); under three
# minutes on two cores. Programs print "name value unit" lines.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
QUICK=${QUICK:-0}
RUNS=${RUNS:-5}
CMD=${BENCH_CMD:-"BUILD=$BUILD QUICK=$QUICK RUNS=$RUNS bench/run.sh"}
PY=/usr/bin/python3      # Debian's python3-gevent and python3-zmq
B=$BUILD/bench
OUT=bench/results
WORK=$B/work
mkdir -p "$OUT" "$WORK"
SAMPLES=$WORK/samples.txt
NOTES=$WORK/stderr.txt
: >"$SAMPLES"
: >"$NOTES"

if [ "$QUICK" = 1 ]; then
    ARGS_SWITCH=2000000; ARGS_SPAWN=1000000; ARGS_SYNC="500000 200000"
    ARGS_ZG="20000 100000 50"; ARGS_ZR="20000 100000"
    ARGS_GEVENT=0.1; ARGS_ZPY="5000 20000 20"; MEM="100000:100k"; ARGS_POST=500000
    ARGS_PROXY=50000
else
    ARGS_SWITCH=10000000; ARGS_SPAWN=5000000; ARGS_SYNC="2000000 1000000"
    ARGS_ZG="200000 1000000 200"; ARGS_ZR="200000 1000000"
    ARGS_GEVENT=0.5; ARGS_ZPY="20000 100000 50"; MEM="100000:100k 1000000:1M"; ARGS_POST=2000000
    ARGS_PROXY=200000
fi

say() { echo "bench: $*" >&2; }

# run NAME PROGRAM ARGS...: appends its result lines, keeps its stderr
run() {
    local name=$1; shift
    if ! "$@" >"$WORK/out" 2>"$WORK/err"; then
        say "$name failed (exit $?):"; cat "$WORK/err" >&2
    fi
    cat "$WORK/out" >>"$SAMPLES"
    sed "s/^/$name: /" "$WORK/err" >>"$NOTES"
}

LOAD_BEFORE=$(uptime)
START=$(date +%s)
for r in $(seq 1 "$RUNS"); do
    say "round $r of $RUNS ($(($(date +%s) - START)) s)"
    run switch "$B/switch" $ARGS_SWITCH
    run spawn "$B/spawn" $ARGS_SPAWN
    for m in $MEM; do run memory "$B/memory" "${m%%:*}" "${m##*:}"; done
    run sync "$B/sync" $ARGS_SYNC
    run post "$B/post" $ARGS_POST
    [ -x "$B/zmq_green" ] && run zmq_green "$B/zmq_green" $ARGS_ZG
    run zmq_raw "$B/zmq_raw" $ARGS_ZR
    [ -x "$B/proxy" ] && run proxy "$B/proxy" $ARGS_PROXY
    run gevent "$PY" bench/gevent_peer.py $ARGS_GEVENT
    run zmq.green "$PY" bench/zmq_green_peer.py $ARGS_ZPY
done
ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(uptime)

# name median min max unit (lower median for an even count)
STATS=$WORK/stats.txt
sort -k1,1 -k2,2g "$SAMPLES" | awk '
    function flush() { if (n) print name, v[int((n + 1) / 2)], v[1], v[n], unit }
    $1 != name { flush(); name = $1; n = 0; unit = $3 }
    { v[++n] = $2 }
    END { flush() }' >"$STATS"
# raw libzmq's best REQ/REP: the faster of two threads and one thread
for tr in inproc tcp poll_inproc poll_tcp; do
    awk -v tr=$tr '$1 == "raw2t_reqrep_" tr || $1 == "raw1t_reqrep_" tr {
        if ($2 > best) { best = $2; line = $0 } }
        END { if (line) { $0 = line; $1 = "rawbest_reqrep_" tr; print } }' "$STATS" >>"$STATS"
done

# The table. Each spec line: label | unit | key | peer label | peer key | ratio kind | target | check
#   kinds: faster (peer/gz, lower is better), cost (gz/peer), more (gz/peer
#   shown as "Nx"), frac (gz/peer shown as a fraction)
#   check: "v<=N" / "r>=N" on the median or the ratio; "-" for none
TABLE=$WORK/table.md
CHART=$WORK/chart.dat
awk -v stats="$STATS" -v chart="$CHART" -F'|' '
    BEGIN {
        while ((getline l < stats) > 0) {
            split(l, f, " "); med[f[1]] = f[2]; lo[f[1]] = f[3]; hi[f[1]] = f[4]
        }
        print "| Figure | libgzmq: median (min-max) | Peer | Peer: median (min-max) | Ratio | Target | Met |"
        print "|---|---|---|---|---|---|---|"
    }
    function num(x) {
        if (x >= 1e6) return sprintf("%.2fM", x / 1e6)
        if (x >= 1e4) return sprintf("%.0fk", x / 1e3)
        if (x >= 100) return sprintf("%.0f", x)
        if (x >= 10) return sprintf("%.1f", x)
        return sprintf("%.2f", x)
    }
    function cell(k, u) {
        if (!(k in med)) return "not run"
        return num(med[k]) " " u " (" num(lo[k]) "-" num(hi[k]) ")"
    }
    /^#/ || NF < 8 { next }
    {
        label = $1; unit = $2; k = $3; pl = $4; pk = $5; kind = $6; target = $7; check = $8
        r = ""; rtext = "-"; met = "-"
        if ((k in med) && (pk in med) && med[k] > 0 && med[pk] > 0) {
            if (kind == "faster") { r = med[pk] / med[k]; rtext = sprintf("gz %.1fx faster", r) }
            else if (kind == "cost") { r = med[k] / med[pk]; rtext = sprintf("gz/%s %.2fx", pk ~ /bare/ ? "bare" : "peer", r) }
            else if (kind == "more") { r = med[k] / med[pk]; rtext = sprintf("gz %.1fx", r) }
            else if (kind == "frac") { r = med[k] / med[pk]; rtext = sprintf("green/%s %.2f", pk ~ /zmqgreen/ ? "zmq.green" : "raw", r) }
            print label "\t" (kind == "faster" || kind == "cost" ? r : r) "\t" kind > chart
        }
        if (check != "-" && (k in med)) {
            x = substr(check, 1, 1) == "v" ? med[k] : r
            op = substr(check, 2, 2); lim = substr(check, 4) + 0
            if (x == "") met = "-"
            else met = ((op == "<=" && x <= lim) || (op == ">=" && x >= lim)) ? "yes" : "**no**"
        }
        pcell = pk == "-" ? "-" : cell(pk, unit)
        print "| " label " | " cell(k, unit) " | " pl " | " pcell " | " rtext " | " target " | " met " |"
    }' >"$TABLE" <<'SPEC'
switch, gz_yield ping-pong|ns|switch_gz_yield|bare gz__ctx_switch|switch_bare|cost|<= 15 ns, <= 3x bare|v<=15
switch, gz_yield ping-pong|ns|switch_gz_yield|ucontext swapcontext|switch_ucontext|faster|> 15x faster|r>=15
switch, gz_yield ping-pong|ns|switch_gz_yield|gevent.sleep(0)|gevent_switch|faster|> 100x faster|r>=100
spawn + join, no-op, warm|ns|spawn_join|gevent|gevent_spawn_join|faster|<= 60 ns|v<=60
switch, blocking watchdog on|ns|switch_gz_yield_watchdog|watchdog off|switch_gz_yield|cost|<= 1.05x|r<=1.05
spawn + join, blocking watchdog on|ns|spawn_join_watchdog|watchdog off|spawn_join|cost|<= 1.05x|r<=1.05
RSS per blocked greenlet, 100k|KiB|rss_per_greenlet_100k|gevent|gevent_rss_per_greenlet_100k|cost|<= 8 KiB|v<=8
RSS per blocked greenlet, 1M|KiB|rss_per_greenlet_1M|-|-|-|<= 8 KiB (works at map limit)|v<=8
queue put/get pairs, maxsize 1|pairs/s|queue_pairs|gevent|gevent_queue_pairs|more|-|-
queue pairs, gz_select over that queue|pairs/s|queue_select1|gz_queue_get|queue_pairs|frac|>= 0.77 (cost <= 1.3x)|r>=0.77
queue pairs, gz_select over 4 queues, 1 busy|pairs/s|queue_select4|gz_queue_get|queue_pairs|frac|-|-
pool(10) imap_unordered|items/s|pool_imap|gevent|gevent_pool_imap|more|-|-
wake 100k waiters of one event|ms|event_wake_100k|gevent|gevent_event_wake_100k|faster|-|-
wake 1M waiters of one event|ms|event_wake_1M|-|-|-|-|-
thread -> greenlet, gz_tqueue(1024)|items/s|tqueue_thread_items|mutex+condvar queue, 2 threads|condvar_thread_items|more|-|-
thread -> greenlet, gz_hub_post|items/s|post_thread_items|mutex+condvar queue, 2 threads|condvar_thread_items|more|-|-
REQ/REP inproc, green|rt/s|green_reqrep_inproc|raw, 2 threads|raw2t_reqrep_inproc|frac|-|-
REQ/REP inproc, green|rt/s|green_reqrep_inproc|raw, 1 thread alternating|raw1t_reqrep_inproc|frac|-|-
REQ/REP inproc, green|rt/s|green_reqrep_inproc|raw best|rawbest_reqrep_inproc|frac|>= 0.90|r>=0.9
REQ/REP inproc, server in gz_select|rt/s|green_reqrep_select_inproc|raw best|rawbest_reqrep_inproc|frac|>= 0.90|r>=0.9
REQ/REP inproc, server in gz_select|rt/s|green_reqrep_select_inproc|raw best, server in zmq_poll|rawbest_reqrep_poll_inproc|frac|-|-
REQ/REP inproc, server in gz_select|rt/s|green_reqrep_select_inproc|green, plain recv|green_reqrep_inproc|frac|-|-
REQ/REP inproc, green|rt/s|green_reqrep_inproc|zmq.green|zmqgreen_reqrep_inproc|more|>= 10x|r>=10
REQ/REP tcp, green|rt/s|green_reqrep_tcp|raw, 2 threads|raw2t_reqrep_tcp|frac|-|-
REQ/REP tcp, green|rt/s|green_reqrep_tcp|raw, 1 thread alternating|raw1t_reqrep_tcp|frac|-|-
REQ/REP tcp, green|rt/s|green_reqrep_tcp|raw best|rawbest_reqrep_tcp|frac|>= 0.90|r>=0.9
REQ/REP tcp, server in gz_select|rt/s|green_reqrep_select_tcp|raw best|rawbest_reqrep_tcp|frac|>= 0.90|r>=0.9
REQ/REP tcp, server in gz_select|rt/s|green_reqrep_select_tcp|raw best, server in zmq_poll|rawbest_reqrep_poll_tcp|frac|-|-
REQ/REP tcp, server in gz_select|rt/s|green_reqrep_select_tcp|green, plain recv|green_reqrep_tcp|frac|-|-
REQ/REP tcp, green|rt/s|green_reqrep_tcp|zmq.green|zmqgreen_reqrep_tcp|more|>= 10x|r>=10
PUSH/PULL inproc, green|msg/s|green_pushpull_inproc|raw, 2 threads|raw_pushpull_inproc|frac|>= 0.90|r>=0.9
PUSH/PULL inproc, green|msg/s|green_pushpull_inproc|zmq.green|zmqgreen_pushpull_inproc|more|>= 10x|r>=10
PUSH/PULL tcp, green|msg/s|green_pushpull_tcp|raw, 2 threads|raw_pushpull_tcp|frac|>= 0.90|r>=0.9
PUSH/PULL tcp, green|msg/s|green_pushpull_tcp|zmq.green|zmqgreen_pushpull_tcp|more|>= 10x|r>=10
PUSH/PULL inproc, green, a hub per end|msg/s|green2h_pushpull_inproc|raw, 2 threads|raw_pushpull_inproc|frac|-|-
PUSH/PULL tcp, green, a hub per end|msg/s|green2h_pushpull_tcp|raw, 2 threads|raw_pushpull_tcp|frac|-|-
PUB/SUB inproc, green|msg/s|green_pubsub_inproc|raw, 2 threads|raw_pubsub_inproc|frac|>= 0.90|r>=0.9
PUB/SUB inproc, green|msg/s|green_pubsub_inproc|zmq.green|zmqgreen_pubsub_inproc|more|>= 10x|r>=10
PUB/SUB tcp, green|msg/s|green_pubsub_tcp|raw, 2 threads|raw_pubsub_tcp|frac|>= 0.90|r>=0.9
PUB/SUB tcp, green|msg/s|green_pubsub_tcp|zmq.green|zmqgreen_pubsub_tcp|more|>= 10x|r>=10
ROUTER/DEALER broker inproc, gz_zmq_proxy|rt/s|proxy_green_inproc|zmq_proxy, own thread|proxy_raw_inproc|frac|>= 0.90|r>=0.9
ROUTER/DEALER broker tcp, gz_zmq_proxy|rt/s|proxy_green_tcp|zmq_proxy, own thread|proxy_raw_tcp|frac|>= 0.90|r>=0.9
REQ/REP p50, 100 clients, inproc|us|green_lat50_inproc|zmq.green|zmqgreen_lat50_inproc|faster|>= 10x faster|r>=10
REQ/REP p99, 100 clients, inproc|us|green_lat99_inproc|zmq.green|zmqgreen_lat99_inproc|faster|>= 10x faster|r>=10
REQ/REP p50, 100 clients, tcp|us|green_lat50_tcp|zmq.green|zmqgreen_lat50_tcp|faster|>= 10x faster|r>=10
REQ/REP p99, 100 clients, tcp|us|green_lat99_tcp|zmq.green|zmqgreen_lat99_tcp|faster|>= 10x faster|r>=10
SPEC

# ---- charts ----
CHARTS=""
if command -v gnuplot >/dev/null; then
    # core: ns per operation, log scale
    awk '$1 ~ /^(switch_bare|switch_gz_yield|switch_ucontext|gevent_switch|spawn_join|gevent_spawn_join)$/ { print $1, $2 }' "$STATS" |
        awk 'BEGIN { o["switch_bare"] = 1; o["switch_gz_yield"] = 2; o["switch_ucontext"] = 3; o["gevent_switch"] = 4; o["spawn_join"] = 5; o["gevent_spawn_join"] = 6
                     l["switch_bare"] = "bare swap"; l["switch_gz_yield"] = "gz\\_yield"; l["switch_ucontext"] = "swapcontext"; l["gevent_switch"] = "gevent switch"; l["spawn_join"] = "gz spawn+join"; l["gevent_spawn_join"] = "gevent spawn+join" }
             { print o[$1], "\"" l[$1] "\"", $2 }' | sort -n >"$WORK/core.dat"
    # zmq: thousands of messages or round trips per second, green / raw best / zmq.green
    for f in reqrep_inproc reqrep_tcp pushpull_inproc pushpull_tcp pubsub_inproc pubsub_tcp; do
        raw=raw_$f; case $f in reqrep*) raw=rawbest_$f ;; esac
        awk -v f=$f -v raw=$raw '
            { m[$1] = $2 }
            END { printf "\"%s\" %g %g %g\n", f, m["green_" f] / 1e3, m[raw] / 1e3, ("zmqgreen_" f in m) ? m["zmqgreen_" f] / 1e3 : 1/0 }' "$STATS" 2>/dev/null
    done | sed 's/_/ /' | sed 's/inf/NaN/; s/-nan/NaN/' >"$WORK/zmq.dat"
    gnuplot <<GP 2>>"$NOTES" && CHARTS="core.png zmq.png"
set terminal pngcairo size 900,480 noenhanced font ",10"
set style fill solid 0.8
set logscale y
set grid ytics
set boxwidth 0.6
set output "$OUT/core.png"
set title "libgzmq vs peers: ns per operation (log scale, median of $RUNS, lower is better)"
set ylabel "ns"
set xtics rotate by -20
plot "$WORK/core.dat" using 1:3:xtic(2) with boxes notitle, \
     "" using 1:3:(sprintf("%.4g", \$3)) with labels offset 0,1 notitle
set output "$OUT/zmq.png"
set title "ZeroMQ, 64-byte messages: thousands per second (log scale, median of $RUNS, higher is better)"
set ylabel "k msg/s or k round trips/s"
set style data histograms
set style histogram clustered gap 1
set boxwidth 0.9
set key top right
plot "$WORK/zmq.dat" using 2:xtic(1) title "libgzmq green (one thread)", \
     "" using 3 title "raw libzmq (best)", \
     "" using 4 title "zmq.green (pyzmq)"
GP
fi

# ---- the report ----
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
pyver() { $PY -c "import $1; print($1.__version__)" 2>/dev/null || echo "?"; }
{
    echo "# libgzmq benchmarks"
    echo
    echo "Command: \`$CMD\` ($RUNS rounds, ${ELAPSED} s)"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $cpu, $(nproc) cores, kernel $(uname -r), vm.max_map_count $(cat /proc/sys/vm/max_map_count)"
    echo "- Load before: \`$(echo "$LOAD_BEFORE" | sed 's/^ *//')\`"
    echo "- Load after: \`$(echo "$LOAD_AFTER" | sed 's/^ *//')\` (a shared machine: peers run interleaved with libgzmq in every round, so ratios compare like with like)"
    echo "- libzmq $(pkg-config --modversion libzmq 2>/dev/null), libev $(ver libev4), gevent $(pyver gevent), greenlet $(pyver greenlet), pyzmq $(pyver zmq), $($PY --version 2>&1), $(${CC:-cc} --version | head -1)"
    echo "- libgzmq $(git describe --always --dirty 2>/dev/null)"
    echo
    echo "Each figure is the median of $RUNS runs, min-max in brackets. Ratios are of medians."
    [ "$QUICK" = 1 ] && echo "QUICK=1: fewer iterations (switch $ARGS_SWITCH round trips, spawn $ARGS_SPAWN, ZeroMQ round trips/messages: $ARGS_ZR, zmq.green $ARGS_ZPY), 100k greenlets only."
    echo "Streams (PUSH/PULL, PUB/SUB): each run's figure is the best of 3 back-to-back streams, for libgzmq, raw libzmq and zmq.green alike. The 100-client latency starts after one untimed round trip per client."
    echo
    cat "$TABLE"
    echo
    # What the round-trip figures against zmq.green are bound by.
    awk '{ m[$1] = $2 } END {
        for (i = 1; i <= 2; i++) {
            tr = i == 1 ? "inproc" : "tcp"
            if (m["rawbest_reqrep_" tr] && m["zmqgreen_reqrep_" tr])
                printf "Raw libzmq'"'"'s own best REQ/REP over %s (%.0f rt/s) is %.1fx zmq.green'"'"'s (%.0f rt/s) in this run.\n", tr, m["rawbest_reqrep_" tr], m["rawbest_reqrep_" tr] / m["zmqgreen_reqrep_" tr], m["zmqgreen_reqrep_" tr]
        }
    }' "$STATS"
    echo
    for c in $CHARTS; do echo "![$c]($c)"; echo; done
    echo "## Programs"
    echo
    echo "bench/switch.c, spawn.c, memory.c, sync.c, zmq_green.c, proxy.c (libgzmq; proxy.c also runs zmq_proxy); zmq_raw.c (raw libzmq);"
    echo "bench/gevent_peer.py, zmq_green_peer.py (gevent, pyzmq's zmq.green). The header of each says what it measures."
    echo
    echo "## stderr of the runs"
    echo
    echo '```'
    sort "$NOTES" | uniq -c
    echo '```'
    echo
    echo "## Samples (name: every run)"
    echo
    echo '```'
    sort -k1,1 -s "$SAMPLES" | awk '$1 != n { if (n) print line; n = $1; line = $1 " (" $3 "):" } { line = line " " $2 } END { print line }'
    echo '```'
} >"$OUT/latest.md"

cat "$TABLE"
say "wrote $OUT/latest.md${CHARTS:+ and $CHARTS} in ${ELAPSED} s"
