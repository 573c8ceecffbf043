#!/usr/bin/env bash
# Build (once) a local apt repository of stand-in packages that mimic
# Ubuntu 25.10+'s *native* switches (docs/native.md), then print its path:
#
#   coreutils             9.1-1+native1   Essential meta package: Depends
#                                          coreutils-from-gnu | coreutils-from-uutils
#   gnu-coreutils         9.1-1+native1   the GNU binaries, as /usr/bin/gnu<cmd>
#                                          (copied from the cached bookworm root)
#   coreutils-from-gnu    0.0.0~native1   owns every coreutils command path as a
#                                          link to /usr/bin/gnu<cmd>
#   coreutils-from-uutils 0.0.0~native1   owns the same paths as links into
#                                          /usr/lib/cargo/bin/coreutils/
#   rust-coreutils        0.0.17-2        the real package, from the root's apt cache
#   sudo-ws-native, sudo-rs-native        sudo through update-alternatives: two
#                                          setuid-root binaries registered as
#                                          alternatives of /usr/bin/sudo
#
# The coreutils-from-* pair Provides/Conflicts/Replaces the virtual
# "coreutils-from", as Ubuntu's do, so installing one removes the other in
# the same dpkg run. Paths are bookworm's own spellings (/bin/ls, not
# /usr/bin/ls): dpkg's database must not see one file under two names.
#
# The cached bookworm root is only read. The cache lives outside the clone
# so CI runs reuse it.
#   PKGSWITCH_NATIVE_REPO   cache dir (default /var/cache/pkgswitch/native-repo-v1)
set -euo pipefail
cache=${PKGSWITCH_NATIVE_REPO:-/var/cache/pkgswitch/native-repo-v1}
if [ -f "$cache/.pkgswitch-ready" ]; then echo "$cache"; exit 0; fi
root=$(bash "$(dirname "$0")/make-root.sh" bookworm)
command -v dpkg-deb >/dev/null || { echo "make-native-repo: dpkg-deb is not installed" >&2; exit 1; }
rm -rf "$cache.tmp"
mkdir -p "$cache.tmp/debs"
work=$(mktemp -d /tmp/pkgswitch-native-build-XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "make-native-repo: building stand-in packages into $cache (a few seconds)" >&2

# Every regular file coreutils installs into a bin directory, as dpkg spells it.
mapfile -t paths < <(chroot "$root" dpkg -L coreutils | grep -E '^/(usr/)?s?bin/[^/]+$' | while read -r p; do [ -f "$root$p" ] && [ ! -L "$root$p" ] && echo "$p"; done)
rust_deb=$(ls "$root"/var/cache/apt/archives/rust-coreutils_*_amd64.deb | head -1)
mapfile -t uu < <(dpkg-deb -c "$rust_deb" | sed -n 's|.* \./usr/lib/cargo/bin/coreutils/\([^ /]*\) -> .*|\1|p')
has_uu() { local n; for n in "${uu[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

control() { # dir, then control fields on stdin
  mkdir -p "$1/DEBIAN"
  cat > "$1/DEBIAN/control"
  (cd "$1" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0r md5sum > DEBIAN/md5sums)
  [ -s "$1/DEBIAN/md5sums" ] || rm -f "$1/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zgzip --build "$1" "$cache.tmp/debs/" >/dev/null
}
common="Maintainer: pkgswitch test fixture <pkgswitch@localhost>
Section: utils
Priority: required"

# gnu-coreutils: the GNU binaries under gnu-prefixed names.
d=$work/gnu-coreutils; mkdir -p "$d/usr/bin"
for p in "${paths[@]}"; do cp -p "$root$p" "$d/usr/bin/gnu$(basename "$p")"; done
control "$d" <<EOF
Package: gnu-coreutils
Version: 9.1-1+native1
Architecture: amd64
$common
Description: GNU core utilities (stand-in, gnu-prefixed names)
EOF

# coreutils-from-gnu / coreutils-from-uutils: only links.
for side in gnu uutils; do
  d=$work/coreutils-from-$side
  for p in "${paths[@]}"; do
    n=$(basename "$p"); mkdir -p "$d$(dirname "$p")"
    if [ $side = uutils ] && has_uu "$n"; then ln -s "/usr/lib/cargo/bin/coreutils/$n" "$d$p"; else ln -s "/usr/bin/gnu$n" "$d$p"; fi
  done
  deps="gnu-coreutils (= 9.1-1+native1)"; [ $side = uutils ] && deps="rust-coreutils, $deps"
  other=coreutils-from-uutils; [ $side = uutils ] && other=coreutils-from-gnu
  control "$d" <<EOF
Package: coreutils-from-$side
Version: 0.0.0~native1
Architecture: all
$common
Depends: $deps
Protected: yes
Provides: coreutils-from
Conflicts: coreutils-from
Replaces: coreutils-from, $other, coreutils (<< 9.1-1+native1)
Description: coreutils from the $side project (stand-in)
EOF
done

# coreutils: the Essential meta package.
d=$work/coreutils; mkdir -p "$d/usr/share/doc/coreutils"
echo "pkgswitch stand-in: coreutils as a meta package (docs/native.md)" > "$d/usr/share/doc/coreutils/README.native"
control "$d" <<EOF
Package: coreutils
Version: 9.1-1+native1
Architecture: all
Essential: yes
$common
Depends: coreutils-from-gnu | coreutils-from-uutils
Description: coreutils meta package (stand-in)
EOF

cp "$rust_deb" "$cache.tmp/debs/"

# sudo through update-alternatives: two setuid-root binaries, each
# registering itself for /usr/bin/sudo as Ubuntu's sudo (/usr/bin/sudo.ws)
# and sudo-rs (/usr/lib/cargo/bin/sudo) do. They are not sudo: bookworm's
# root has no sudo package cached, so they are copies of two distinct
# binaries of the root (env, printenv) — what is under test is the
# alternatives mechanism, the setuid bit and the digests, not sudo itself.
for side in ws rs; do
  d=$work/sudo-$side-native
  if [ $side = ws ]; then bin=/usr/bin/sudo.ws prio=50 src=env; else bin=/usr/lib/cargo/bin/sudo prio=60 src=printenv; fi
  mkdir -p "$d$(dirname $bin)"
  cp "$root/usr/bin/$src" "$d$bin"; chmod 4755 "$d$bin"
  mkdir -p "$d/DEBIAN"
  printf '#!/bin/sh\nset -e\nif [ "$1" = configure ]; then update-alternatives --install /usr/bin/sudo sudo %s %s; fi\n' "$bin" "$prio" > "$d/DEBIAN/postinst"
  printf '#!/bin/sh\nset -e\nif [ "$1" = remove ]; then update-alternatives --remove sudo %s; fi\n' "$bin" > "$d/DEBIAN/prerm"
  chmod 755 "$d/DEBIAN/postinst" "$d/DEBIAN/prerm"
  control "$d" <<EOF
Package: sudo-$side-native
Version: 1.0~native1
Architecture: amd64
$common
Description: sudo ($side) registered as an alternative of /usr/bin/sudo (stand-in)
EOF
done

# The repository index: what dpkg-scanpackages would write (it is in
# dpkg-dev, which the machine may not have).
(cd "$cache.tmp/debs" && for f in *.deb; do
  dpkg-deb -f "$f"
  echo "Filename: ./$f"
  echo "Size: $(stat -c %s "$f")"
  echo "SHA256: $(sha256sum "$f" | cut -d' ' -f1)"
  echo
done) > "$cache.tmp/debs/Packages"
touch "$cache.tmp/.pkgswitch-ready"
rm -rf "$cache"; mv "$cache.tmp" "$cache"
echo "$cache"
