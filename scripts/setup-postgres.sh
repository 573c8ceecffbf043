#!/usr/bin/env bash
# PostgreSQL for the fleet-ledger tests (tests/integration/fleet.test.ts) and
# bench/fleet.ts: Debian's `postgresql` package, for its initdb/pg_ctl
# binaries only. The tests start their own throwaway cluster in a temp dir;
# the package's default cluster is never used.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then echo "setup-postgres: need root to apt-get install postgresql" >&2; exit 1; fi
echo "setup-postgres: apt-get install postgresql" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >&2
