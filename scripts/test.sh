#!/usr/bin/env bash
# The whole test suite (unit, integration on temp roots, e2e on a debootstrap
# root), after setting up what it needs; then the integration suites for
# keys, audit verify and enable/disable/status a second time with the CLI
# started as `deno run -A main.ts` (tests/helpers/cli.ts, PKGSWITCH_CLI=deno).
# Last line: "N passed, N failed", the sums of bun's own summaries.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
pass=0; fail=0; ok=1
# Layout rules (no import cycle, runtime and package-manager names in their
# folders; docs/architecture.md): a violation counts as one failed test.
node_modules/.bin/bun scripts/check-structure.ts || { fail=$((fail + 1)); ok=0; }

# One `bun test` run; adds its pass/fail counts to the totals.
run_suite() {
  local log rc p f
  log=$(mktemp)
  # bun prints its summary on stderr; keep both streams visible and captured.
  node_modules/.bin/bun test --timeout 300000 "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  p=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -oE '[0-9]+')
  f=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -oE '[0-9]+')
  rm -f "$log"
  if [ -z "$p" ] && [ -z "$f" ]; then echo "bun test printed no summary (exit $rc)"; f=1; fi
  p=${p:-0}; f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  pass=$((pass + p)); fail=$((fail + f))
  [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] || ok=0
}

run_suite "$@"
# The whole suite runs the Deno pass; a partial run (test files given) only
# with PKGSWITCH_TEST_DENO=1.
if [ $# -eq 0 ] || [ "${PKGSWITCH_TEST_DENO:-}" = 1 ]; then
  echo "== the same CLI under Deno: deno run -A main.ts (keys, audit verify, enable/disable/status)"
  mkdir -p /var/cache/pkgswitch/deno
  PKGSWITCH_CLI=deno run_suite tests/integration/keys.test.ts tests/integration/verify-cli.test.ts tests/integration/switch.test.ts
fi
echo "${pass} passed, ${fail} failed"
[ "$ok" -eq 1 ] && [ "$fail" -eq 0 ]
