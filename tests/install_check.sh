#!/bin/sh
# Install into a scratch prefix (and a DESTDIR), then build a program
# against it with pkg-config: dynamically, and statically against an
# install that holds only the archive; the README's ten-line example as
# C++, through CMake's find_package(gzmq) and through meson.
set -eu
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
VERSION=${VERSION:?VERSION=x.y.z}
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
passed=2

# libgzmq-czmq, where libczmq-dev is present: its manual's example, linked
# through its own .pc, against the shared libraries.
if [ -f "$prefix/lib/pkgconfig/libgzmq-czmq.pc" ]; then
    awk '/^# EXAMPLE/ { on = 1; next } /^# / { on = 0 } on && /^```/ { code = !code; next } on && code' \
        doc/man/gz_czmq.3.scd > "$tmp/czmq_app.c"
    cc -o "$tmp/czmq_app" "$tmp/czmq_app.c" $(pkg-config --cflags --libs libgzmq-czmq)
    LD_LIBRARY_PATH="$prefix/lib" "$tmp/czmq_app" ||
        { echo "install-check: the libgzmq-czmq example failed"; exit 1; }
    passed=$((passed + 1))
fi

# The README's ten-line example, as it stands there.
sed -n '/^## Ten lines/,/^## /p' README.md | sed -n '/^```c$/,/^```$/{/^```/d;p}' > "$tmp/ten.c"
grep -q 'int main' "$tmp/ten.c" || { echo "install-check: no ten-line example in README.md"; exit 1; }
cp "$tmp/ten.c" "$tmp/ten.cc"
ten_expected=$(printf 'task a done\ntask b done')
ten_ok() {  # PROGRAM WHAT: runs PROGRAM, which must print what the example prints
    out=$(LD_LIBRARY_PATH="$prefix/lib" "$1") && [ "$out" = "$ten_expected" ] ||
        { echo "install-check: $2 printed '$out'"; exit 1; }
    passed=$((passed + 1))
}

# C++: the header compiles and links as C++11 and C++20, warnings as errors.
for cxx in g++ clang++; do
    command -v $cxx >/dev/null || { echo "install-check: skipped: $cxx not installed"; continue; }
    for std in c++11 c++20; do
        $cxx -std=$std -Wall -Wextra -Werror -o "$tmp/ten-$cxx-$std" "$tmp/ten.cc" \
            $(pkg-config --cflags --libs libgzmq)
        ten_ok "$tmp/ten-$cxx-$std" "the example as $std ($cxx)"
    done
done

# CMake: gzmq::gzmq (shared), gzmq::gzmq-static, and a version it refuses.
if command -v cmake >/dev/null; then
    mkdir "$tmp/cmake"
    cp "$tmp/ten.c" "$tmp/ten.cc" "$tmp/cmake/"
    cat > "$tmp/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(ten C CXX)
find_package(gzmq ${WANT} REQUIRED)
add_executable(ten ten.c)
target_link_libraries(ten PRIVATE gzmq::gzmq)
add_executable(ten-static ten.c)
target_link_libraries(ten-static PRIVATE gzmq::gzmq-static)
add_executable(ten-cxx ten.cc)
set_property(TARGET ten-cxx PROPERTY CXX_STANDARD 11)
target_link_libraries(ten-cxx PRIVATE gzmq::gzmq-static)
CMAKE
    want=$(pkg-config --modversion libgzmq)
    cmake -S "$tmp/cmake" -B "$tmp/cmake/b" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$want" >"$tmp/cmake.log" 2>&1 &&
        cmake --build "$tmp/cmake/b" >>"$tmp/cmake.log" 2>&1 ||
        { cat "$tmp/cmake.log"; echo "install-check: the CMake project failed"; exit 1; }
    ten_ok "$tmp/cmake/b/ten" "CMake's gzmq::gzmq"
    ten_ok "$tmp/cmake/b/ten-static" "CMake's gzmq::gzmq-static"
    ten_ok "$tmp/cmake/b/ten-cxx" "CMake's C++ program"
    ldd "$tmp/cmake/b/ten" | grep -q 'libgzmq.so.0 => ' ||
        { echo "install-check: gzmq::gzmq did not link libgzmq.so.0"; exit 1; }
    if ldd "$tmp/cmake/b/ten-static" | grep -q gzmq; then
        echo "install-check: gzmq::gzmq-static still needs libgzmq.so"; exit 1
    fi
    next=$(echo "$want" | awk -F. '{ printf "%d.%d", $1, $2 + 1 }')
    if cmake -S "$tmp/cmake" -B "$tmp/cmake/newer" -DCMAKE_PREFIX_PATH="$prefix" -DWANT="$next" \
         >"$tmp/cmake.log" 2>&1; then
        echo "install-check: find_package(gzmq $next) accepted $want"; exit 1
    fi
    passed=$((passed + 1))
else
    echo "install-check: skipped: cmake not installed (make deps installs it)"
fi

# meson: dependency('libgzmq') through pkg-config, C and C++.
if command -v meson >/dev/null && command -v ninja >/dev/null; then
    mkdir "$tmp/meson"
    cp "$tmp/ten.c" "$tmp/ten.cc" "$tmp/meson/"
    cat > "$tmp/meson/meson.build" <<'MESON'
project('ten', 'c', 'cpp', default_options: ['warning_level=2', 'werror=true'])
gzmq = dependency('libgzmq', version: '>=0.1')
executable('ten', 'ten.c', dependencies: gzmq)
executable('ten-cxx', 'ten.cc', dependencies: gzmq, override_options: ['cpp_std=c++11'])
MESON
    meson setup "$tmp/meson/b" "$tmp/meson" >"$tmp/meson.log" 2>&1 &&
        ninja -C "$tmp/meson/b" >>"$tmp/meson.log" 2>&1 ||
        { cat "$tmp/meson.log"; echo "install-check: the meson project failed"; exit 1; }
    ten_ok "$tmp/meson/b/ten" "meson's program"
    ten_ok "$tmp/meson/b/ten-cxx" "meson's C++ program"
else
    echo "install-check: skipped: meson or ninja not installed (make deps installs them)"
fi

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
passed=$((passed + 1))
# DESTDIR staging and uninstall.
$MAKE --no-print-directory -s BUILD="$BUILD" install DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null
[ -f "$tmp/stage/usr/include/gzmq.h" ] && [ -f "$tmp/stage/usr/lib/pkgconfig/libgzmq.pc" ] &&
    [ -f "$tmp/stage/usr/lib/cmake/gzmq/gzmqConfig.cmake" ] ||
    { echo "install-check: DESTDIR install incomplete"; exit 1; }
# The manual: a function's link page leads to its topic, and the overview.
man="$tmp/stage/usr/share/man"
[ -f "$man/man7/libgzmq.7" ] && grep -qx '.so man3/gz_greenlet.3' "$man/man3/gz_spawn.3" &&
    [ -f "$man/man3/gz_greenlet.3" ] || { echo "install-check: manual pages not installed"; exit 1; }
# gdb's auto-load path for the library (PREFIX=/usr: gdb's own data dir).
[ -f "$tmp/stage/usr/share/gdb/auto-load/usr/lib/libgzmq.so.$VERSION-gdb.py" ] ||
    { echo "install-check: gdb extension not at share/gdb/auto-load/usr/lib/libgzmq.so.$VERSION-gdb.py"; exit 1; }
if command -v man >/dev/null; then
    MANPATH="$man" MANWIDTH=80 man gz_spawn 2>/dev/null | grep -q 'gz_spawn_later' ||
        { echo "install-check: 'man gz_spawn' does not show the greenlet page"; exit 1; }
fi
$MAKE --no-print-directory -s BUILD="$BUILD" uninstall DESTDIR="$tmp/stage" PREFIX=/usr >/dev/null
left=$(find "$tmp/stage" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "install-check: uninstall left $left files"; exit 1; }
passed=$((passed + 4))
echo "install-check: $passed passed, 0 failed"
