#!/usr/bin/env bash
# Install what pkgswitch's demo and tests need on a Debian machine with Node
# and npm, build the binary, and make the cached Debian root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v minisign >/dev/null || need+=(minisign)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup: need root to apt-get install ${need[*]}" >&2; exit 1; fi
  echo "setup: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
echo "setup: building dist/pkgswitch" >&2
npm run -s build >&2
bash scripts/make-root.sh >/dev/null
bash scripts/make-native-repo.sh >/dev/null
bash scripts/setup-pacman.sh
bash scripts/setup-releases.sh
bash scripts/setup-rpm.sh
bash scripts/setup-postgres.sh
bash scripts/setup-docs.sh
