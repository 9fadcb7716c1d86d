#!/bin/sh
# Install into a scratch prefix (and a DESTDIR), then build a program
# against it with pkg-config: dynamically, and statically against an
# install that holds only the archive.
set -eu
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
$MAKE --no-print-directory -s BUILD="$BUILD" install PREFIX="$prefix" >/dev/null
cat > "$tmp/app.c" <<'C'
#include <gzmq.h>
#include <stdio.h>
static void *hello(void *arg) { gz_sleep(0.001); return arg; }
int main(void) {
    void *ctx = zmq_ctx_new();               /* zmq.h comes with gzmq.h */
    gz_greenlet *g = gz_spawn(hello, "installed");
    void *v = NULL;
    if (gz_get(g, &v, 1.0) != 0) return 1;
    gz_release(g);
    printf("%s\n", (char *)v);
    zmq_ctx_term(ctx);
    return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# Dynamic.
cc -o "$tmp/app" "$tmp/app.c" $(pkg-config --cflags --libs libgzmq)
out=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/app")
[ "$out" = installed ] || { echo "install-check: dynamic app printed '$out'"; exit 1; }
readelf -d "$prefix/lib/libgzmq.so.0" | grep -q 'SONAME.*libgzmq.so.0' ||
    { echo "install-check: no soname libgzmq.so.0"; exit 1; }
# Static: an install with only libgzmq.a, linked with pkg-config --static.
# Debian 12's norm.pc (pulled in by libzmq.pc) names a bare "libprotokit.a";
# link where that name resolves, working around that packaging bug.
rm -f "$prefix"/lib/libgzmq.so*
proto=$(pkg-config --variable=libdir norm 2>/dev/null || true)/libprotokit.a
[ -f "$proto" ] && ln -sf "$proto" "$tmp/libprotokit.a"
(cd "$tmp" && cc -o app-static app.c $(pkg-config --static --cflags --libs libgzmq))
if ldd "$tmp/app-static" | grep -q gzmq; then
    echo "install-check: static app still needs libgzmq.so"; exit 1
fi
out=$("$tmp/app-static")
[ "$out" = installed ] || { echo "install-check: static app printed '$out'"; exit 1; }
# DESTDIR staging and uninstall.
$MAKE --no-print-directory -s BUILD="$BUILD" install DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null
[ -f "$tmp/stage/usr/include/gzmq.h" ] && [ -f "$tmp/stage/usr/lib/pkgconfig/libgzmq.pc" ] ||
    { echo "install-check: DESTDIR install incomplete"; exit 1; }
$MAKE --no-print-directory -s BUILD="$BUILD" uninstall DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null
left=$(find "$tmp/stage" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install-check: uninstall left $left files"; exit 1; }
echo "install-check: 4 passed, 0 failed"
