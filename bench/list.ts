/** `audit list` on a long record (issue 16: `audit list --provider coreutils
 * --since 2026-01-01 --json` on 100,000 operations in ≤ 1 s and ≤ 256 MiB).
 *
 * Makes a record of N operations (tests/helpers/record.ts: real writer
 * pieces, commands/providers/results/dates in a fixed pattern, one every
 * 10 minutes from 2025-01-01, so about a third are from 2026), then times
 * the compiled binary: the first `audit list` (builds the list index from
 * every operation file), the filtered query (median of --runs, index warm),
 * and the same run's baseline: `audit list --json` with no filter (the whole
 * index printed), plus the query after one more operation (the index
 * catches up by one line). Peak RSS of each. Never fails on timing; exits 1
 * if the filtered answer is not the one computed from the record's pattern.
 * Run (as root): npx bun bench/list.ts [--ops 100000] [--runs 5] */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeRecord, shapeOf, timeOf } from "../tests/helpers/record.ts";
import { arg, binary, median, sh, table, timed } from "./lib.ts";

const BINARY = binary("bench/list.ts");
const OPS = Number(arg("--ops", "100000"));
const RUNS = Number(arg("--runs", "5"));
const START = Date.UTC(2025, 0, 1);
const STEP = 600_000;

const root = mkdtempSync("/tmp/pkgswitch-bench-list-");
try {
  for (const d of ["var/lib/dpkg", "etc/apt/apt.conf.d", "usr/bin", "run/lock"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  sh([BINARY, "--root", root, "keys", "generate", "-q"], "keys generate");
  rmSync(join(root, "var/lib/pkgswitch/audit"), { recursive: true, force: true });
  const t0 = performance.now();
  makeRecord(root, OPS, { startMs: START, stepMs: STEP, noneSigned: true });
  console.error(`list: made ${OPS} operations in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const query = [BINARY, "--root", root, "audit", "list", "--provider", "coreutils", "--since", "2026-01-01", "--json"];
  const expected = Array.from({ length: OPS }, (_, i) => i).filter((i) => shapeOf(i).provider === "coreutils" && timeOf(i, START, STEP).getTime() >= Date.UTC(2026, 0, 1)).length;
  const cold = timed(query);
  if (cold.code !== 0) throw new Error(`audit list exited ${cold.code}: ${cold.stderr}`);
  const got = (JSON.parse(cold.stdout) as { operations: unknown[] }).operations.length;
  if (got !== expected) {
    console.error(`list: the query found ${got} operations; the record has ${expected}`);
    process.exit(1);
  }
  const warm = Array.from({ length: RUNS }, () => timed(query));
  const whole = Array.from({ length: RUNS }, () => timed([BINARY, "--root", root, "audit", "list", "--json"]));
  const op = timed([BINARY, "--root", root, "hooks", "install", "--apt", "-q"]);
  if (op.code !== 0) throw new Error(`hooks install exited ${op.code}: ${op.stderr}`);
  const after = timed(query);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const rows = [
    ["run", "ms", "peak RSS MiB"],
    ["first list (builds the index from every operation file)", cold.ms.toFixed(0), mib(cold.maxRss)],
    [`query, index warm (median of ${RUNS})`, median(warm.map((r) => r.ms)).toFixed(0), mib(Math.max(...warm.map((r) => r.maxRss)))],
    [`baseline: audit list --json, no filter (median of ${RUNS})`, median(whole.map((r) => r.ms)).toFixed(0), mib(Math.max(...whole.map((r) => r.maxRss)))],
    ["query after one more operation (index catches up)", after.ms.toFixed(0), mib(after.maxRss)],
  ];
  console.log(`audit list --provider coreutils --since 2026-01-01 --json on ${OPS} operations (${expected} match)`);
  console.log(table(rows));
  const m = median(warm.map((r) => r.ms));
  const rss = Math.max(...warm.map((r) => r.maxRss)) / 2 ** 20;
  console.log(`target: ≤ 1000 ms and ≤ 256 MiB: ${m <= 1000 && rss <= 256 ? "met" : "NOT met"} (${m.toFixed(0)} ms, ${rss.toFixed(0)} MiB)`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
