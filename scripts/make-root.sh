#!/usr/bin/env bash
# Build (once) a cached Debian minbase root for demos and e2e tests, then
# print its path. The cache lives outside the clone so CI runs reuse it.
#   make-root.sh [RELEASE]   bookworm (default), trixie or sid
#   PKGSWITCH_ROOT_CACHE     cache dir (default /var/cache/pkgswitch/<release>-minbase)
set -euo pipefail
release=${1:-bookworm}
cache=${PKGSWITCH_ROOT_CACHE:-/var/cache/pkgswitch/$release-minbase}
mirror=${PKGSWITCH_MIRROR:-http://deb.debian.org/debian}
# Packages pre-downloaded into the root's apt cache so tests install
# offline-fast: each release's e2e suite installs these.
case "$release" in
  bookworm) prefetch="rust-coreutils hello" ;;
  trixie) prefetch="rust-coreutils rust-findutils rust-diffutils sudo sudo-rs hello" ;;
  sid) prefetch="rust-coreutils rust-findutils hello" ;;
  *) echo "make-root: unknown release \"$release\" (bookworm, trixie or sid)" >&2; exit 2 ;;
esac

if [ -f "$cache/.pkgswitch-ready" ]; then echo "$cache"; exit 0; fi
command -v debootstrap >/dev/null || { echo "make-root: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }
rm -rf "$cache.tmp"
mkdir -p "$(dirname "$cache")"
echo "make-root: debootstrap --variant=minbase $release into $cache (about 30-60 s)" >&2
debootstrap --variant=minbase "$release" "$cache.tmp" "$mirror" >&2
if [ "$release" = sid ]; then
  # This mirror's sid InRelease can be past its Valid-Until date; apt inside
  # the (throwaway) root would refuse to update without this.
  echo 'Acquire::Check-Valid-Until "false";' > "$cache.tmp/etc/apt/apt.conf.d/99pkgswitch-test-valid-until"
fi
mount -t proc proc "$cache.tmp/proc"
trap 'umount "$cache.tmp/proc" 2>/dev/null || true' EXIT
chroot "$cache.tmp" apt-get update -qq >&2
chroot "$cache.tmp" apt-get install -y -qq --download-only $prefetch >&2
umount "$cache.tmp/proc"; trap - EXIT
touch "$cache.tmp/.pkgswitch-ready"
rm -rf "$cache"; mv "$cache.tmp" "$cache"
echo "$cache"
