#!/bin/sh
# `make demo`: run each tutorial demo with a heading.
BUILD=${BUILD:-build}
for d in "$BUILD"/demos/tutorial/*; do
    [ -x "$d" ] || continue
    name=$(basename "$d")
    echo "=== $name"
    "$d" || { echo "demo $name failed"; exit 1; }
    echo
done
