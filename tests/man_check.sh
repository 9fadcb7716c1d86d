#!/bin/sh
# The manual pages in $BUILD/man (make man): every page renders without a
# warning, every function the shared library exports has a page (its own or
# a .so link to its topic), every link names an exported function, and each
# topic's EXAMPLE compiles. Also: debian/changelog's version is the
# Makefile's VERSION.
set -eu
BUILD=${BUILD:-build}
VERSION=${VERSION:?VERSION not set}
CC=${CC:-cc}
man="$BUILD/man"
lib="$BUILD/libgzmq.so"
pass=0 fail=0
bad() { echo "man-check: $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -d "$man/man3" ] || { echo "man-check: no $man/man3 (make man)"; exit 1; }
# libgzmq-czmq (built when libczmq-dev is present) documents its own.
czlib="$BUILD/libgzmq-czmq.so"
{ nm -D --defined-only "$lib"; [ ! -e "$czlib" ] || nm -D --defined-only "$czlib"; } |
    awk '/ T gz_/ { print $3 }' | sort > "$tmp/exported"
[ -s "$tmp/exported" ] || { echo "man-check: no gz_ function exported by $lib"; exit 1; }

# Rendering: groff's every warning class; .so resolves from the man directory.
for page in "$man"/man1/*.1 "$man"/man3/*.3 "$man"/man7/*.7; do
    rel=${page#"$man"/}
    out=$(cd "$man" && groff -ww -man -z "$rel" 2>&1) || out="$out (groff failed)"
    [ -z "$out" ] || { bad "$rel: $out"; continue; }
    if command -v man >/dev/null && ! grep -q '^\.so ' "$page"; then
        out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || out="$out (man failed)"
        [ -z "$out" ] || { bad "$rel: $out"; continue; }
    fi
    pass=$((pass + 1))
done

# Every exported function has a page...
while read -r f; do
    if [ -f "$man/man3/$f.3" ]; then pass=$((pass + 1)); else bad "$f has no manual page (add it to a NAME line in doc/man/)"; fi
done < "$tmp/exported"
# ...and every link page is a function that exists.
for page in "$man"/man3/*.3; do
    grep -q '^\.so ' "$page" || continue
    f=$(basename "$page" .3)
    [ -e "$czlib" ] || ! grep -qx '.so man3/gz_czmq.3' "$page" || continue
    grep -qx "$f" "$tmp/exported" || bad "man3/$f.3 documents $f, which libgzmq.so does not export"
done

# Every program has a page.
for prog in "$BUILD"/bin/gzmq-*; do
    [ -e "$prog" ] || continue
    p=$(basename "$prog")
    if [ -f "$man/man1/$p.1" ]; then pass=$((pass + 1)); else bad "$p has no manual page (add it to doc/man/gzmq-tools.1.scd)"; fi
done

# The library pages' examples compile against the headers.
for src in doc/man/*.[37].scd; do
    awk '/^# EXAMPLE/ { on = 1; next } /^# / { on = 0 } on && /^```/ { code = !code; next } on && code' \
        "$src" > "$tmp/example.c"
    [ -s "$tmp/example.c" ] || { bad "$src has no EXAMPLE"; continue; }
    flags=-Iinclude
    if [ "$src" = doc/man/gz_czmq.3.scd ]; then
        [ -e "$czlib" ] || continue
        flags="-Iinclude -Iczmq/include $(pkg-config --cflags libczmq)"
    fi
    if $CC -std=gnu11 -Wall -Wextra -Werror $flags -fsyntax-only "$tmp/example.c" 2> "$tmp/cc.log"; then
        pass=$((pass + 1))
    else
        bad "$src: its EXAMPLE does not compile:"; cat "$tmp/cc.log"
    fi
done

# The Debian package's version is the library's.
deb=$(sed -n '1s/^[^(]*(\([^)-]*\).*/\1/p' debian/changelog 2>/dev/null || true)
if [ "$deb" = "$VERSION" ]; then pass=$((pass + 1)); else bad "debian/changelog says '$deb', the Makefile's VERSION is $VERSION"; fi

echo "man-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
