#!/usr/bin/env bash
# The whole test suite (unit, integration on temp roots, e2e on a debootstrap
# root), after setting up what it needs. Last line: "N passed, N failed",
# taken from bun's own summary.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
# Layout rules (no import cycle, runtime and package-manager names in their
# folders; docs/architecture.md): a violation counts as one failed test.
structure_failed=0
node_modules/.bin/bun scripts/check-structure.ts || structure_failed=1
log=$(mktemp)
# bun prints its summary on stderr; keep both streams visible and captured.
node_modules/.bin/bun test --timeout 300000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+')
fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+')
rm -f "$log"
if [ -z "$pass" ] && [ -z "$fail" ]; then echo "bun test printed no summary (exit $rc)"; echo "0 passed, 1 failed"; exit 1; fi
pass=${pass:-0}; fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
fail=$((fail + structure_failed))
echo "${pass} passed, ${fail} failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
