#!/usr/bin/env bash
# Build (once) a cached Debian bookworm minbase root for demos and e2e tests,
# then print its path. The cache lives outside the clone so CI runs reuse it.
#   PKGSWITCH_ROOT_CACHE  cache dir (default /var/cache/pkgswitch/bookworm-minbase)
set -euo pipefail
cache=${PKGSWITCH_ROOT_CACHE:-/var/cache/pkgswitch/bookworm-minbase}
mirror=${PKGSWITCH_MIRROR:-http://deb.debian.org/debian}
# Packages pre-downloaded into the root's apt cache so tests install offline-fast.
prefetch="rust-coreutils hello"

if [ -f "$cache/.pkgswitch-ready" ]; then echo "$cache"; exit 0; fi
command -v debootstrap >/dev/null || { echo "make-root: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
rm -rf "$cache.tmp"
mkdir -p "$(dirname "$cache")"
echo "make-root: debootstrap --variant=minbase bookworm into $cache (about 30-60 s)" >&2
debootstrap --variant=minbase bookworm "$cache.tmp" "$mirror" >&2
mount -t proc proc "$cache.tmp/proc"
trap 'umount "$cache.tmp/proc" 2>/dev/null || true' EXIT
chroot "$cache.tmp" apt-get update -qq >&2
chroot "$cache.tmp" apt-get install -y -qq --download-only $prefetch >&2
umount "$cache.tmp/proc"; trap - EXIT
touch "$cache.tmp/.pkgswitch-ready"
rm -rf "$cache"; mv "$cache.tmp" "$cache"
echo "$cache"
