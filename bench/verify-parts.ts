/** Where `audit verify --all` spends its CPU, per event, one thread (issue 12).
 *
 * Over the first --files operations of a data set that bench/verify.ts kept
 * (`--keep DIR`), each part of checking one operation is timed on its own, in
 * CPU time (user + system of this process: steadier than wall time on a
 * shared machine), as the minimum of --rounds rounds: reading the three
 * files, SHA-256 of the JSONL, UTF-8 decoding, strict reading (recognizer,
 * envelope, chain hashes), the signature check, and the whole per-operation
 * check verify's workers run. Same-run baselines on the same bytes: JSON.parse
 * + SHA-256 per line, BLAKE2b-512 of the file, raw node:crypto Ed25519.
 * Exits 1 if the data does not verify.
 *
 * Run: npx bun bench/verify.ts --keep DIR   (once, to generate)
 *      npx bun bench/verify-parts.ts DIR [--files 1000] [--rounds 7] */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parsePublicKey, parseSignature } from "../src/attest/minisign.ts";
import { blake2b512 } from "../src/attest/blake2.ts";
import { readLedgerLines, readOpEvents, sha256Hex } from "../src/verify/strict.ts";
import { decodeUtf8, readArtifact } from "../src/verify/files.ts";
import { checkAuditSignature } from "../src/verify/signature.ts";
import { checkOperations, type OpTask } from "../src/verify/operation.ts";
import { Report } from "../src/verify/report.ts";
import { arg, table } from "./lib.ts";

const dir = process.argv[2];
if (!dir || dir.startsWith("--")) {
  console.error("usage: bench/verify-parts.ts DIR [--files N] [--rounds N]   (DIR: bench/verify.ts --keep DIR)");
  process.exit(2);
}
const audit = join(dir, "audit");
const FILES = Number(arg("--files", "1000"));
const ROUNDS = Number(arg("--rounds", "7"));

const keys = [parsePublicKey(readFileSync(join(dir, "signing.pub"), "utf8"))];
const { lines } = readLedgerLines(readFileSync(join(audit, "ledger.jsonl"), "utf8"));
const tasks: OpTask[] = lines.slice(0, FILES).map((l, i) => ({ entry: l.entry!, ledgerLine: i + 1, expectedPrev: i === 0 ? null : lines[i - 1]!.entry!.head }));
const ops = tasks.map((t) => t.entry.op);
const names = ops.map((op) => `audit-${op}.jsonl`);
const jsonls = names.map((n) => readFileSync(join(audit, n)));
const sigs = names.map((n) => readFileSync(join(audit, `${n}.sig`), "utf8"));
const texts = jsonls.map((b) => decodeUtf8(b)!);
const events = texts.reduce((s, t) => s + t.text.split("\n").length - 1, 0);

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** Minimum CPU time of `f` over the rounds (one warm-up round first), ns per event. */
function perEvent(f: () => void): number {
  f();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const c = cpuMs();
    f();
    best = Math.min(best, cpuMs() - c);
  }
  return (best * 1e6) / events;
}

let bad = 0;
const rows: [string, number][] = [
  ["read the JSONL, .sig and SBOM (readArtifact)", perEvent(() => {
    for (const n of names) for (const f of [n, `${n}.sig`, n.replace(/\.jsonl$/, "-sbom.json")]) readArtifact(join(audit, f));
  })],
  ["SHA-256 of the JSONL (jsonl_sha256)", perEvent(() => {
    for (const b of jsonls) sha256Hex(b);
  })],
  ["UTF-8 decode", perEvent(() => {
    for (const b of jsonls) decodeUtf8(b);
  })],
  ["strict reading (readOpEvents)", perEvent(() => {
    for (let i = 0; i < ops.length; i++) if (readOpEvents(texts[i]!.text, texts[i]!.ascii, ops[i]!, false, jsonls[i]).problems.length) bad++;
  })],
  ["signature (checkAuditSignature)", perEvent(() => {
    for (let i = 0; i < ops.length; i++) if (checkAuditSignature(jsonls[i]!, sigs[i]!, ops[i]!, names[i]!, keys, { allowLegacy: false, expectKeyId: null }).findings.length) bad++;
  })],
  ["whole per-operation check (checkOperations)", perEvent(() => {
    const report = new Report();
    checkOperations(audit, tasks, keys, { allowLegacy: false, allowUnsigned: false, collectTouched: false }, report);
    if (report.exitCode !== 0) bad++;
  })],
];

// Baselines on the same bytes.
const base: [string, number][] = [
  ["JSON.parse + SHA-256 per line", perEvent(() => {
    for (const t of texts) {
      let s = 0;
      for (let e = t.text.indexOf("\n"); e >= 0; s = e + 1, e = t.text.indexOf("\n", s)) {
        const line = t.text.slice(s, e);
        JSON.parse(line);
        sha256Hex(line);
      }
    }
  })],
  ["BLAKE2b-512 of the JSONL (minisign's prehash)", perEvent(() => {
    for (const b of jsonls) blake2b512(b);
  })],
];
const SPKI = Buffer.from("302a300506032b6570032100", "hex");
const key = createPublicKey({ key: Buffer.concat([SPKI, keys[0]!.pk]), format: "der", type: "spki" });
const parsed = sigs.map((s) => parseSignature(s));
const prehash = jsonls.map((b) => blake2b512(b));
base.push(["2 raw node:crypto Ed25519 verifies per file", perEvent(() => {
  for (let i = 0; i < parsed.length; i++) {
    nodeVerify(null, prehash[i]!, key, parsed[i]!.signature);
    nodeVerify(null, prehash[i]!, key, parsed[i]!.signature);
  }
})]);

const fmt = (ns: number) => `${(ns / 1000).toFixed(3)} us`;
console.log(`${ops.length} operations, ${events} events (${(events / ops.length).toFixed(0)} per operation); CPU per event, one thread, min of ${ROUNDS}`);
console.log(table([["part", "CPU per event"], ...rows.map(([k, v]) => [k, fmt(v)])]));
console.log("baselines (same run, same bytes):");
console.log(table([["baseline", "CPU per event"], ...base.map(([k, v]) => [k, fmt(v)])]));
const whole = rows[rows.length - 1]![1];
console.log(`whole check: ${Math.round(1e9 / whole).toLocaleString("en-US")} events per CPU-second; 400,000 events/s on 2 CPUs needs <= 5.000 us`);
if (bad) {
  console.error(`${bad} checks failed: the data does not verify`);
  process.exit(1);
}
