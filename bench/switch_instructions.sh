#!/bin/sh
# Instructions per gz_yield switch, counted by callgrind: repeatable to the
# instruction on a loaded machine, where the ns of bench/switch.c are not.
# The difference of two runs (N and 2N round trips) leaves out start-up, so
# what remains is the switch itself, the stack canary check included.
# usage: bench/switch_instructions.sh [BUILD_DIR] [N]   (never part of make test)
set -e
B=${1:-build}
N=${2:-100000}
command -v valgrind >/dev/null || { echo "valgrind is needed" >&2; exit 1; }
ir() {
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$B/bench/switch" "$1" yield >/dev/null 2>&1
    awk '/^summary:/ { print $2 }' "$out"
    rm -f "$out"
}
a=$(ir "$N")
b=$(ir $((2 * N)))
awk -v a="$a" -v b="$b" -v n="$N" \
    'BEGIN { printf "switch_gz_yield_instructions %.2f instructions per switch\n", (b - a) / (2 * n) }'
