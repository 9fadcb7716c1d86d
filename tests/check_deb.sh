#!/bin/sh
# make check-deb: install the packages of make deb (libgzmq0, libgzmq-dev,
# gzmq-tools) with apt, build the README's ten-line example against them
# with pkg-config and run it, then run gzmq-reqrep-server / -client from
# /usr/bin. In a copy of /work/chroot/bookworm when there is one (the
# original is never touched; the copy is removed afterwards), else on this
# machine (the packages are then removed again). Needs root.
set -eu
BUILD=${BUILD:-build}
CHROOT=${CHROOT:-/work/chroot/bookworm}
[ "$(id -u)" = 0 ] || { echo "check-deb: needs root"; exit 1; }
debs=""
for p in libgzmq0 libgzmq-dev gzmq-tools; do
    f=$(ls "$BUILD"/deb/${p}_*.deb 2>/dev/null | head -n 1)
    [ -n "$f" ] || { echo "check-deb: no $BUILD/deb/${p}_*.deb (make deb)"; exit 1; }
    debs="$debs $f"
done

# The README's ten-line example, as it stands there.
work=$(mktemp -d)
sed -n '/^## Ten lines/,/^## /p' README.md | sed -n '/^```c$/,/^```$/{/^```/d;p}' > "$work/app.c"
grep -q 'int main' "$work/app.c" || { echo "check-deb: no ten-line example in README.md"; exit 1; }
cp $debs "$work/"

cat > "$work/inside.sh" <<'SH'
#!/bin/sh
# Runs where the packages go (the chroot, or this machine), in DIR.
set -eu
cd "$1"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
apt_get update >/dev/null
apt_get install -y ./libgzmq0_*.deb ./libgzmq-dev_*.deb ./gzmq-tools_*.deb >apt.log 2>&1 ||
    { tail -n 30 apt.log; echo "check-deb: apt-get install failed"; exit 1; }
command -v cc >/dev/null && command -v pkg-config >/dev/null ||
    apt_get install -y gcc libc6-dev pkg-config >>apt.log 2>&1
pass=0
# The example, built against the installed package with pkg-config.
cc -o app app.c $(pkg-config --cflags --libs libgzmq)
out=$(./app)
[ "$out" = "$(printf 'task a done\ntask b done')" ] || { echo "check-deb: the example printed '$out'"; exit 1; }
ldd ./app | grep -q 'libgzmq.so.0 => /\(usr/\)\?lib/' || { echo "check-deb: the example does not use /usr/lib's libgzmq.so.0"; exit 1; }
pass=$((pass + 1))
# The manual came with libgzmq-dev.
[ -f /usr/share/man/man3/gz_spawn.3.gz ] && [ -f /usr/share/man/man7/libgzmq.7.gz ] ||
    { echo "check-deb: manual pages missing"; exit 1; }
pass=$((pass + 1))
# The programs from /usr/bin: a server on a free port, a client's requests.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
       echo $((20000 + $$ % 20000)))
[ "$(command -v gzmq-reqrep-server)" = /usr/bin/gzmq-reqrep-server ] || { echo "check-deb: gzmq-reqrep-server not in /usr/bin"; exit 1; }
/usr/bin/gzmq-reqrep-server --bind "tcp://127.0.0.1:$port" >server.log 2>&1 &
server=$!
if timeout 60 /usr/bin/gzmq-reqrep-client --connect "tcp://127.0.0.1:$port" --requests 200 --concurrency 4 --size 16 >client.log 2>&1; then
    rc=0
else
    rc=$?
fi
kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
[ "$rc" -eq 0 ] || { cat client.log server.log; echo "check-deb: gzmq-reqrep-client exited with $rc"; exit 1; }
grep -q '^200 requests' client.log || { cat client.log; echo "check-deb: unexpected client output"; exit 1; }
tail -n 1 client.log
pass=$((pass + 1))
echo "check-deb: $pass passed, 0 failed"
SH

if [ -d "$CHROOT" ]; then
    root=$(mktemp -d "${TMPDIR:-/tmp}/check-deb.XXXXXX")
    cleanup() {
        umount "$root/proc" 2>/dev/null || true
        rm -rf "$root" "$work"
    }
    trap cleanup EXIT INT TERM
    echo "check-deb: in a copy of $CHROOT ($root)"
    cp -a "$CHROOT/." "$root/"
    mount -t proc proc "$root/proc"
    rm -f "$root/etc/resolv.conf"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mkdir -p "$root/check"
    cp "$work"/* "$root/check/"
    chroot "$root" sh /check/inside.sh /check
else
    echo "check-deb: no $CHROOT: installing on this machine"
    cleanup() {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q remove -y \
            gzmq-tools libgzmq-dev libgzmq0 >/dev/null 2>&1 || true
        rm -rf "$work"
    }
    trap cleanup EXIT INT TERM
    sh "$work/inside.sh" "$work"
fi
