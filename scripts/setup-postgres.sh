#!/usr/bin/env bash
# PostgreSQL for the fleet-ledger tests (tests/integration/fleet.test.ts) and
# bench/fleet.ts: Debian's `postgresql` package, for its initdb/pg_ctl
# binaries only. The tests start their own throwaway cluster in a temp dir;
# the package's default cluster is never used (and is stopped here if
# installing the package started it, so nothing listens that we did not ask for).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "setup-postgres: need root to apt-get install postgresql" >&2; exit 1; fi
echo "setup-postgres: apt-get install postgresql" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >&2
# Debian creates and starts a "main" cluster on install; tests never use it.
if command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | while read -r ver name _; do pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true; done
fi
