/** A long history costs nothing (issue: a real operation on a 100,000-
 * operation record within 1.2× of the same operation on an empty record).
 *
 * For each record size (0, 1k, 10k, 100k by default) makes a root with a
 * signing key and a synthetic ledger of that many operations (strict JCS
 * lines, and an empty operation file each — the writer reads none of
 * them, but a writer that lists the audit dir pays for them), runs one warm-up
 * operation (it records the ledger's tip), then times a real signed
 * operation — `hooks install` and `hooks remove`, alternating — median of 9.
 * The baseline is the same operation on the empty record, same run.
 * Prints figures; never fails on timing.
 * Run (as root): npx bun bench/history.ts [--sizes 0,1000,10000,100000] [--runs 9] */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalize } from "../src/audit/jcs.ts";
import { arg, binary, median, sh, table, timed } from "./lib.ts";

const BINARY = binary("bench/history.ts");
const SIZES = arg("--sizes", "0,1000,10000,100000").split(",").map(Number);
const RUNS = Number(arg("--runs", "9"));

function makeRoot(ops: number): string {
  const root = mkdtempSync("/tmp/pkgswitch-bench-history-");
  for (const d of ["var/lib/dpkg", "etc/apt/apt.conf.d", "usr/bin", "run/lock", "var/lib/pkgswitch/audit"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  sh([BINARY, "--root", root, "keys", "generate", "-q"], "keys generate");
  rmSync(join(root, "var/lib/pkgswitch/audit"), { recursive: true, force: true });
  mkdirSync(join(root, "var/lib/pkgswitch/audit"), { recursive: true, mode: 0o700 });
  const lines: string[] = [];
  const t0 = Date.parse("2026-01-01T00:00:00Z");
  for (let i = 0; i < ops; i++) {
    const hex = (i.toString(16).padStart(8, "0")).repeat(8);
    lines.push(canonicalize({ v: 1, seq: i, op: `20260101T000000Z-${i.toString(16).padStart(8, "0")}`, head: `sha256:${hex}`, jsonl_sha256: hex, signature: "signed", key_id: "0123456789ABCDEF", ts: new Date(t0 + i * 1000).toISOString() }));
  }
  writeFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), lines.map((l) => l + "\n").join(""), { mode: 0o600 });
  // An operation file per line, as a real record has: a writer that lists
  // the audit dir pays for every one of them.
  for (let i = 0; i < ops; i++) writeFileSync(join(root, "var/lib/pkgswitch/audit", `audit-20260101T000000Z-${i.toString(16).padStart(8, "0")}.jsonl`), "");
  return root;
}

const rows: string[][] = [["record (operations)", "median ms", "min ms", "ratio to empty", "ledger MiB"]];
let base = 0;
for (const n of SIZES) {
  const root = makeRoot(n);
  try {
    const op = (i: number) => timed([BINARY, "--root", root, "hooks", ...(i % 2 ? ["remove"] : ["install", "--apt"]), "-q"]);
    const warm = op(0); // records the tip (rebuilt once from the whole ledger)
    if (warm.code !== 0) throw new Error(`hooks install exited ${warm.code}: ${warm.stderr}`);
    const times: number[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const r = op(i);
      if (r.code !== 0) throw new Error(`operation exited ${r.code}: ${r.stderr}`);
      times.push(r.ms);
    }
    const m = median(times);
    if (n === SIZES[0]) base = m;
    const mib = statSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl")).size / 2 ** 20;
    rows.push([String(n), m.toFixed(1), Math.min(...times).toFixed(1), (m / base).toFixed(2), mib.toFixed(1)]);
    console.error(`history: ${n} done`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
console.log(`a real signed operation (hooks install/remove, alternating), median of ${RUNS}, after one warm-up`);
console.log(table(rows));
const last = rows[rows.length - 1]!;
console.log(`target: ≤ 1.2× of the empty record at ${last[0]} operations: ${Number(last[3]) <= 1.2 ? "met" : "NOT met"} (${last[3]}×)`);
