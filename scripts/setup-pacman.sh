#!/usr/bin/env bash
# Arch Linux tests: pacman, makepkg and repo-add from Debian (plus bsdtar and
# zstd, which makepkg needs to write .pkg.tar.zst), then the cached Arch-like
# root (scripts/make-arch-root.sh, built once). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v pacman >/dev/null || need+=(pacman-package-manager)
command -v makepkg >/dev/null || need+=(makepkg)
command -v bsdtar >/dev/null || need+=(libarchive-tools)
command -v zstd >/dev/null || need+=(zstd)
command -v fakeroot >/dev/null || need+=(fakeroot)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup-pacman: need root to apt-get install ${need[*]}" >&2; exit 1; fi
  echo "setup-pacman: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
bash scripts/make-arch-root.sh >/dev/null
