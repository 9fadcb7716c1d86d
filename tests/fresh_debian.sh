#!/bin/sh
# make check-fresh: the README's quick start (make demo, make test) as root on
# a minimal Debian system, as a new user meets it: debootstrap --variant=minbase
# with build-essential, make, git, pkg-config, python3 and ca-certificates,
# the committed HEAD of this checkout cloned into /root. Never part of make
# test (it downloads and installs a few hundred MiB).
#
# What a booted machine has and a bare debootstrap lacks is added, nothing
# more: /etc/resolv.conf (apt), an /etc/hosts naming localhost (minbase writes
# none; the installer and every container runtime do; test_net looks the name
# up), /proc, and the system's root as a mount point (a bind mount onto
# itself), without which `ip -n` cannot make / a slave mount in the
# namespace test.
#   FRESH_RELEASE=bookworm  the Debian release
#   FRESH_DIR=DIR           where the system goes (removed first)
#   FRESH_BASE=DIR          copy that minbase system instead of running debootstrap
#   FRESH_MIRROR=URL        the Debian mirror for debootstrap
set -eu
release=${FRESH_RELEASE:-bookworm}
dir=${FRESH_DIR:-/var/tmp/gzmq-fresh-$release}
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
repo=$(git rev-parse --show-toplevel)
[ "$(id -u)" = 0 ] || { echo "check-fresh: needs root (debootstrap, chroot, mount)"; exit 1; }
mountpoint -q "$dir" 2>/dev/null && umount -R "$dir"
rm -rf "$dir"
if [ -n "${FRESH_BASE:-}" ]; then
    cp -a "$FRESH_BASE" "$dir"
else
    command -v debootstrap >/dev/null || {
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q debootstrap || { apt-get update -q && apt-get install -y -q debootstrap; }
    }
    debootstrap --variant=minbase --include=build-essential,make,git,pkg-config,python3,ca-certificates \
        "$release" "$dir" "$mirror"
fi
cp /etc/resolv.conf "$dir/etc/resolv.conf"
[ -s "$dir/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$dir/etc/hosts"
git clone -q "$repo" "$dir/root/libgzmq"
echo "check-fresh: $(git -C "$dir/root/libgzmq" log --oneline -1) in $dir"
mount --bind "$dir" "$dir"
# Private, so that the test's `ip netns` mounts stay under it and go with it.
mount --make-rprivate "$dir"
trap 'umount -R "$dir" || echo "check-fresh: mounts under $dir are left"' EXIT
mount -t proc proc "$dir/proc"
chroot "$dir" sh -c 'cd /root/libgzmq && make demo </dev/null && make test </dev/null'
echo "check-fresh: make demo and make test passed on a fresh Debian $release"
