#!/bin/sh
# `make demo`: build output in $BUILD; run every demo with a heading.
BUILD=${BUILD:-build}

# ---- tutorial demos ----
# Heading: the demo's name and the one-line description that is the second
# line of its --help (the first is the usage line).
for d in "$BUILD"/demos/tutorial/*; do
    [ -x "$d" ] || continue
    name=$(basename "$d")
    about=$(timeout 5 "$d" --help 2>/dev/null | sed -n 2p)
    echo "=== $name${about:+: $about}"
    "$d" || { echo "demo $name failed"; exit 1; }
    echo
done

# ---- ZeroMQ programs ----
# The REQ/REP server and client and the pipeline (ventilator, two workers,
# sink) as separate processes on loopback, with their summaries.
echo "=== ZeroMQ programs on loopback ($BUILD/bin/gzmq-*)"
BUILD="$BUILD" sh "$(dirname "$0")/zmq_loopback.sh" || { echo "ZeroMQ demo programs failed"; exit 1; }
