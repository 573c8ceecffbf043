#!/usr/bin/env bash
# What the rpm/dnf tests need on a Debian host: rpm (rpm, rpmbuild), dnf and
# createrepo_c from Debian's archive, then the cached Fedora-like root
# (scripts/make-fedora-root.sh). Idempotent; called from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v rpmbuild >/dev/null || need+=(rpm)
command -v dnf >/dev/null || need+=(dnf)
command -v createrepo_c >/dev/null || need+=(createrepo-c)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "setup-rpm: need root to apt-get install ${need[*]}" >&2; exit 1; fi
  echo "setup-rpm: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
bash scripts/make-fedora-root.sh >/dev/null
