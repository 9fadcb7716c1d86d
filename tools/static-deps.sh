#!/bin/sh
# Print the Debian packages that a static link against libgzmq still needs.
#
# `pkg-config --static --libs libgzmq` walks libzmq's Requires.private
# (krb5, libsodium, openpgm, norm -> libxml-2.0, libbsd ...), and those .pc
# files name libraries (-lz, -llzma on Debian 12) whose development packages
# nothing depends on. This asks pkg-config for the very flags install-check
# links with, tries each -lX alone, and for each one the linker cannot find
# goes from the runtime library that ldconfig knows (libX.so.N) to the
# package holding it (dpkg -S), then to the -dev package built from the same
# source that depends on exactly that package: zlib1g -> zlib1g-dev.
# Exits 1 naming the flag when no package can be derived.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# libgzmq.pc as make install writes it; libdir and prefix do not matter here.
sed -e "s|@PREFIX@|$tmp|" -e "s|@LIBDIR@|$tmp|" -e 's|@VERSION@|0|' \
    "$here/pkgconfig/libgzmq.pc.in" > "$tmp/libgzmq.pc"
flags=$(PKG_CONFIG_PATH="$tmp" pkg-config --static --libs libgzmq) || {
    echo "static-deps: pkg-config --static --libs libgzmq failed (a .pc above is missing)" >&2
    exit 1
}
ldirs=$(printf '%s\n' $flags | grep '^-L' | sort -u | tr '\n' ' ')
echo 'int main(void) { return 0; }' > "$tmp/t.c"

missing=""
for l in $(printf '%s\n' $flags | grep '^-l' | grep -vx -- '-lgzmq' | sort -u); do
    # shellcheck disable=SC2086
    $CC -o "$tmp/t" "$tmp/t.c" $ldirs "$l" >/dev/null 2>&1 || missing="$missing $l"
done

arch=$($CC -print-multiarch 2>/dev/null || true)
status=0
for l in $missing; do
    name=${l#-l}
    runtime=$(ldconfig -p | sed -n "s|^[[:space:]]*lib$name\.so\.[0-9.]* (.*=> \(.*\)|\1|p" | head -n 1)
    pkg=""
    if [ -n "$runtime" ]; then
        pkg=$(dpkg -S "*/${arch:+$arch/}$(basename "$runtime")" 2>/dev/null | head -n 1 | sed 's/[:,].*//')
    fi
    dev=""
    if [ -n "$pkg" ]; then
        src=$(dpkg-query -W -f='${source:Package}' "$pkg")
        for cand in $(apt-cache rdepends "$pkg" 2>/dev/null | sed -n 's/^[[:space:]]*|\{0,1\}\([a-z0-9.+-]*-dev\)$/\1/p' | sort -u); do
            info=$(apt-cache show --no-all-versions "$cand" 2>/dev/null) || continue
            csrc=$(printf '%s\n' "$info" | sed -n 's/^Source: \([^ ]*\).*/\1/p')
            [ "${csrc:-$cand}" = "$src" ] || continue
            printf '%s\n' "$info" | grep -q "^Depends:.*[ ,]$pkg (= " || continue
            dev=$cand; break
        done
    fi
    if [ -n "$dev" ]; then
        echo "$dev"
    else
        echo "static-deps: no Debian package found for $l (runtime: ${runtime:-none}, package: ${pkg:-none});" \
             "install the one that ships lib$name.so or lib$name.a" >&2
        status=1
    fi
done
exit $status
