#!/usr/bin/env bash
# The Debian 13 (trixie) and sid roots of the e2e suite
# (tests/e2e/releases.test.ts), built once and cached beside the bookworm
# one under /var/cache/pkgswitch/ (a few minutes the first time, then
# nothing). Called from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for release in trixie sid; do bash scripts/make-root.sh "$release" >/dev/null; done
