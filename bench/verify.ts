/** `audit verify --all` benchmark (issues 3 and 12): 10,000 synthetic
 * operations of 100 events each, written with the real writer pieces
 * (sealEvent, the ledger, signerFor over a generated minisign key), then
 * verified in-process and by the compiled binary as a whole process.
 *
 * Prints events/s over the whole `verify --all` wall time (target >=
 * 400,000 events/s and >= 165 MB/s of JSONL, whole process; median of 3),
 * the whole process's CPU time and peak RSS (target <= 256 MiB);
 * signatures/s (target >= 6,000) as the rate of the signature
 * checks alone (the same function verify uses, over all files, on as many
 * threads as verify --all uses), and also signature files per second of the
 * whole run; and ratios to baselines measured in the same run on the same
 * bytes: SHA-256 over every JSONL file, JSON.parse + SHA-256 of every line
 * (the least any per-event check must do), and raw node:crypto Ed25519
 * verification (two per signature file: the file and the trusted comment).
 *
 * Never fails on timing; exits 1 if the verifier does not pass the data (or
 * catches no tampering in a spot check).
 *
 * With --curve N1,N2,… it instead prints the scaling curve of the compiled
 * binary: for each operation count, wall and CPU time per event and peak
 * RSS (cost per event should stay flat; RSS bounded). Data sets are kept
 * under --keep DIR/ops-N when --keep is given (generation is the slow part).
 *
 * Run: npx bun bench/verify.ts [--ops N] [--events N] [--workers N] [--keep DIR] [--binary PATH]
 *      npx bun bench/verify.ts --curve 1000,10000,100000 [--events N] [--keep DIR] */
import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { availableParallelism } from "node:os";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventLine, GENESIS, sealEvent } from "../src/audit/event.ts";
import { ledgerLine, type LedgerEntry } from "../src/audit/ledger.ts";
import { generateSecretKey, parseSignature, verifySignature, type PublicKey } from "../src/attest/minisign.ts";
import { jsonlName, sbomName, sigName } from "../src/audit/names.ts";
import { signerFor } from "../src/attest/signing.ts";
import { merkleRootOf } from "../src/audit/merkle.ts";
import { verifyAll } from "../src/verify/verify.ts";
import { trustFromFiles } from "../src/verify/trust.ts";
import { checkAuditSignature } from "../src/verify/signature.ts";
import { sha256Hex } from "../src/verify/strict.ts";
import { sha256Into } from "../src/sys/digest.ts";
import { readArtifact } from "../src/verify/files.ts";
import { PROJECT, timed } from "./lib.ts";

// Worker mode: signature checks alone over a share of the files (the same
// function verify uses), or the crypto floor (below); timed from "go" so
// thread start-up is excluded.
if (!isMainThread) {
  const { parsePublicKey } = await import("../src/attest/minisign.ts");
  parentPort!.once("message", (m: { audit: string; files: string[]; pub: string; floor?: boolean }) => {
    const keys = [parsePublicKey(m.pub)];
    if (m.floor) return floorWorker(m.audit, m.files, keys);
    const data = m.files.map((n) => [n, readFileSync(join(m.audit, n)), readFileSync(join(m.audit, `${n}.sig`), "utf8")] as const);
    parentPort!.postMessage("ready");
    parentPort!.once("message", () => {
      const t = performance.now();
      let bad = 0;
      for (const [n, bytes, sig] of data) if (checkAuditSignature(bytes, sig, n.slice(6, -6), n, keys, { allowLegacy: false, expectKeyId: null }).findings.length) bad++;
      parentPort!.postMessage({ ms: performance.now() - t, bad });
    });
  });
}

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const OPS = arg("--ops", 10_000);
const EVENTS = arg("--events", 100);
const WORKERS = process.argv.includes("--workers") ? arg("--workers", 1) : undefined;
const keepIdx = process.argv.indexOf("--keep");
const keep = keepIdx > 0 ? process.argv[keepIdx + 1]! : null;

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Plausible event bodies (sizes like a real enable of coreutils). */
function fieldsFor(seq: number, opId: string): [string, Record<string, unknown>] {
  const applet = ["ls", "cat", "cp", "mv", "sort", "head", "tail", "wc", "echo", "sha256sum"][seq % 10]!;
  switch (seq % 5) {
    case 0:
      return ["pkg.query", { manager: "dpkg", args: ["dpkg-query", "--root", "/", "-S", `/usr/bin/${applet}`], rc: 0, duration_ms: 3 + (seq % 7) }];
    case 1:
      return ["provenance", { path: `/usr/bin/${applet}`, owner: "coreutils", version: "9.1-1", source_repo: "deb.debian.org/debian bookworm/main", foreign: false }];
    case 2:
      return ["file.backup", { path: `/usr/bin/${applet}`, backup: `/var/lib/pkgswitch/backups/usr/bin/${applet}`, method: "hardlink", kind: "file", mode: 0o755, uid: 0, gid: 0, sha256: sha256Hex(`${opId}${seq}b`) }];
    case 3:
      return ["file.switch", { path: `/usr/bin/${applet}`, applet, before_kind: "file", after_kind: "symlink", link_target: `/usr/lib/cargo/bin/coreutils/${applet}`, before_sha256: sha256Hex(`${opId}${seq}b`), after_sha256: sha256Hex("uutils"), mode: 0o755, uid: 0, gid: 0 }];
    default:
      return ["preflight.check", { check: "owner", path: `/usr/bin/${applet}`, provider: "coreutils", ok: true }];
  }
}

function generate(dir: string, OPS: number): { pubFile: string; events: number; jsonlBytes: number } {
  const key = generateSecretKey();
  const signer = signerFor(key, "pkgswitch/bench-host");
  const pubFile = join(dir, "signing.pub");
  writeFileSync(pubFile, key.publicKeyText);
  const audit = join(dir, "audit");
  mkdirSync(audit, { recursive: true });
  const ledger: string[] = [];
  let head = GENESIS;
  let events = 0;
  let jsonlBytes = 0;
  const t0 = Date.UTC(2026, 10, 27, 5, 30, 0);
  for (let i = 0; i < OPS; i++) {
    const when = new Date(t0 + i * 1000);
    const stamp = when.toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z";
    const opId = `${stamp}-${(i * 2654435761 >>> 0).toString(16).padStart(8, "0")}`;
    const ts = when.toISOString();
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", dataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", name: `pkgswitch-${opId}`, documentNamespace: `https://pkgswitch.invalid/spdx/${opId}`, creationInfo: { created: ts.replace(/\.\d{3}Z$/, "Z"), creators: ["Tool: pkgswitch-0.1.0"] }, packages: [{ SPDXID: "SPDXRef-Package-rust-coreutils", name: "rust-coreutils", versionInfo: "0.0.17-2", downloadLocation: "NOASSERTION", filesAnalyzed: false }], relationships: [{ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: "SPDXRef-Package-rust-coreutils" }] }, null, 2) + "\n");
    let prev = head;
    const lines: string[] = [];
    for (let s = 0; s < EVENTS; s++) {
      let name: string;
      let fields: Record<string, unknown>;
      if (s === 0) [name, fields] = ["op.start", { command: "enable coreutils", argv: ["pkgswitch", "enable", "coreutils", "--yes"], env: { LANG: "C.UTF-8", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, tool_version: "0.1.0", root: "/", dry_run: false, uid: 0, host_id: "0123456789abcdef0123456789abcdef" }];
      else if (s === EVENTS - 1) [name, fields] = ["op.end", { status: "ok", exit_code: 0, duration_ms: 1234, counts: { switched: 20, already: 0, installed: 1 }, sbom: { file: `audit-${opId}-sbom.json`, sha256: sha256Hex(sbom) } }];
      else [name, fields] = fieldsFor(s, opId);
      const e = sealEvent(opId, s, ts, name, fields, prev);
      prev = e.hash;
      lines.push(eventLine(e));
    }
    const jsonl = Buffer.from(lines.join(""));
    events += EVENTS;
    jsonlBytes += jsonl.length;
    const name = `audit-${opId}.jsonl`;
    writeFileSync(join(audit, name), jsonl);
    writeFileSync(join(audit, `${name}.sig`), signer.signFile(jsonl, opId, name));
    writeFileSync(join(audit, `audit-${opId}-sbom.json`), sbom);
    const entry: LedgerEntry = { v: 1, seq: i, op: opId, head: prev, jsonl_sha256: sha256Hex(jsonl), signature: "signed", key_id: signer.keyId, ts };
    ledger.push(ledgerLine(entry));
    head = prev;
    if ((i + 1) % 1000 === 0) process.stderr.write(`\rgenerated ${i + 1}/${OPS} operations`);
  }
  process.stderr.write("\n");
  writeFileSync(join(audit, "ledger.jsonl"), ledger.join(""));
  writeFileSync(join(audit, "checkpoint"), signer.checkpoint(ledger.length, merkleRootOf(ledger.map((l) => Buffer.from(l.slice(0, -1))))));
  writeFileSync(join(dir, "meta.json"), JSON.stringify({ ops: OPS, events: EVENTS }));
  return { pubFile, events, jsonlBytes };
}

/** The floor: per operation, what any verifier of this format must do
 * whatever its language — read the three files, SHA-256 of the JSONL and
 * the SBOM, SHA-256 of every event line, BLAKE2b-512 of the JSONL and two
 * Ed25519 verifies — with the same native primitives verify uses and none
 * of its JSON checks. verify --all's events/s over this is the share of the
 * machine its own work leaves. */
function floorWorker(audit: string, files: string[], keys: PublicKey[]): void {
  parentPort!.postMessage("ready");
  parentPort!.once("message", () => {
    const t = performance.now();
    const digest = new Uint8Array(32);
    let bad = 0;
    for (const n of files) {
      const op = n.slice(6, -6);
      const [r, s, b] = [jsonlName(op), sigName(op), sbomName(op)].map((f) => readArtifact(join(audit, f)));
      if (!r!.ok || !s!.ok || !b!.ok) throw new Error(`floor: cannot read the files of ${op}`);
      sha256Hex(r.bytes);
      sha256Hex(b.bytes);
      for (let p = 0, q = r.bytes.indexOf(10); q >= 0; p = q + 1, q = r.bytes.indexOf(10, p)) sha256Into(r.bytes.subarray(p, q), digest);
      // minisign's own check (BLAKE2b-512 prehash, the file's and the trusted
      // comment's Ed25519 signatures), without pkgswitch's form checks.
      if (!verifySignature(r.bytes, s.bytes.toString("utf8"), keys).ok) bad++;
    }
    parentPort!.postMessage({ ms: performance.now() - t, bad });
  });
}

/** Signature checks alone (or, with `floor`, the floor above), split over
 * `n` threads; files per second. */
async function acrossThreads(audit: string, files: string[], pub: string, n: number, floor = false): Promise<{ perSec: number; bad: number }> {
  const workers = Array.from({ length: n }, () => new Worker(new URL(import.meta.url)));
  const share = (i: number) => files.filter((_, k) => k % n === i);
  await Promise.all(workers.map((w, i) => new Promise<void>((res) => {
    w.once("message", () => res());
    w.postMessage({ audit, files: share(i), pub, floor });
  })));
  const t = performance.now();
  const results = await Promise.all(workers.map((w) => new Promise<{ ms: number; bad: number }>((res) => {
    w.once("message", res);
    w.postMessage("go");
  })));
  const wall = performance.now() - t;
  for (const w of workers) void w.terminate();
  return { perSec: files.length / (wall / 1000), bad: results.reduce((s, r) => s + r.bad, 0) };
}

const BINARY = (() => {
  const i = process.argv.indexOf("--binary");
  return i > 0 ? process.argv[i + 1]! : join(PROJECT, "dist/pkgswitch");
})();

/** GNU time(1), when installed: it forks (not vforks) the command, so the
 * peak RSS it prints is the command's own. Bun spawns with vfork, and a
 * vforked child's getrusage peak starts at its parent's peak (Linux keeps
 * the old mm's high-water mark at exec): measured directly, the figure was
 * this bench's 1.5 GiB of baseline data, not verify's. */
const GNU_TIME = ["/usr/bin/time"].find((p) => existsSync(p));

/** The compiled binary's `audit verify --all` as a whole process: wall and
 * CPU time (ms) and peak RSS (bytes); throws unless it exits 0. */
function wholeProcess(dir: string): { ms: number; cpuMs: number; maxRss: number } {
  const argv = [BINARY, "audit", "verify", "--all", "--audit-dir", join(dir, "audit"), "--pubkey", join(dir, "signing.pub")];
  const r = timed(GNU_TIME ? [GNU_TIME, "-f", "pkgswitch-bench-maxrss-kib %M", ...argv] : argv);
  if (r.code !== 0) throw new Error(`${BINARY} audit verify --all exited ${r.code}: ${(r.stdout + r.stderr).trim().split("\n").slice(0, 5).join(" | ")}`);
  const kib = /pkgswitch-bench-maxrss-kib (\d+)/.exec(r.stderr);
  return { ms: r.ms, cpuMs: r.cpuMs, maxRss: kib ? Number(kib[1]) * 1024 : r.maxRss };
}

/** Generate (or reuse, under --keep) a data set of `ops` operations. */
function dataSet(base: string, ops: number): string {
  const d = join(base, `ops-${ops}`);
  const meta = JSON.stringify({ ops, events: EVENTS });
  if (existsSync(join(d, "meta.json")) && JSON.stringify(JSON.parse(readFileSync(join(d, "meta.json"), "utf8"))) === meta) return d;
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  const t = performance.now();
  generate(d, ops);
  console.log(`generated ${fmt(ops)} operations x ${EVENTS} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return d;
}

/** --curve: cost per event and peak RSS from small to large logs. */
function curve(counts: number[]): void {
  const base = keep ?? mkdtempSync(join(tmpdir(), "pkgswitch-bench-verify-curve-"));
  try {
    const rows: string[][] = [];
    for (const ops of counts) {
      const d = dataSet(base, ops);
      const runs = [wholeProcess(d), wholeProcess(d), wholeProcess(d)].sort((a, b) => a.ms - b.ms);
      const m = runs[1]!;
      const events = ops * EVENTS;
      rows.push([fmt(ops), fmt(events), `${(m.ms / 1000).toFixed(2)} s`, `${((m.ms * 1e6) / events).toFixed(0)} ns`, `${((m.cpuMs * 1e6) / events).toFixed(0)} ns`, fmt(events / (m.ms / 1000)), `${(Math.max(...runs.map((r) => r.maxRss)) / 2 ** 20).toFixed(0)} MiB`]);
    }
    console.log(`verify --all scaling (compiled binary, whole process, median of 3; ${EVENTS} events per operation)`);
    const head = ["operations", "events", "wall", "wall/event", "CPU/event", "events/s", "peak RSS"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padStart(w[i]!)).join("  "));
    console.log("targets: CPU/event flat across the rows; peak RSS <= 256 MiB at 100,000 operations");
  } finally {
    if (!keep) rmSync(base, { recursive: true, force: true });
  }
}

const curveIdx = process.argv.indexOf("--curve");
if (isMainThread && curveIdx > 0) {
  curve(process.argv[curveIdx + 1]!.split(",").map(Number));
  process.exit(0);
}

const dir = isMainThread ? keep ?? mkdtempSync(join(tmpdir(), "pkgswitch-bench-verify-")) : "";
let exitCode = 0;
if (isMainThread) try {
  let pubFile = join(dir, "signing.pub");
  const reuse = keep !== null && existsSync(join(dir, "meta.json")) && JSON.stringify(JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"))) === JSON.stringify({ ops: OPS, events: EVENTS });
  if (!reuse) {
    if (keep) rmSync(dir, { recursive: true, force: true }), mkdirSync(dir, { recursive: true });
    const tg = performance.now();
    generate(dir, OPS);
    console.log(`generated ${fmt(OPS)} operations x ${EVENTS} events in ${((performance.now() - tg) / 1000).toFixed(1)} s (${dir})`);
  } else console.log(`reusing ${dir}`);
  pubFile = join(dir, "signing.pub");
  const audit = join(dir, "audit");
  const trust = trustFromFiles([pubFile]);

  // The compiled binary as a whole process (start-up, reading, workers,
  // report): the figure the targets are about. Run before this process
  // loads the data: a child's peak RSS (getrusage) starts from its
  // parent's at fork, so a bench holding 1.5 GiB of baselines inflated it.
  const whole = existsSync(BINARY) ? [wholeProcess(dir), wholeProcess(dir), wholeProcess(dir)].sort((a, b) => a.ms - b.ms) : null;

  // Warm the page cache and collect the bytes for the baselines.
  const names = readdirSync(audit);
  const jsonlNames = names.filter((n) => n.endsWith(".jsonl") && n !== "ledger.jsonl");
  const jsonls = jsonlNames.map((n) => readFileSync(join(audit, n)));
  const sigs = jsonlNames.map((n) => readFileSync(join(audit, `${n}.sig`), "utf8"));
  const totalBytes = jsonls.reduce((s, b) => s + b.length, 0);
  const totalEvents = OPS * EVENTS;

  const ROUNDS = 3;
  const tVerify: number[] = [];
  const tSha: number[] = [];
  const tParse: number[] = [];
  const cpuVerify: number[] = [];
  let report = null;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    const cpu0 = process.cpuUsage();
    report = await verifyAll({ auditDir: audit, root: dir, trust, ...(WORKERS !== undefined ? { workers: WORKERS } : {}) });
    tVerify.push(performance.now() - t);
    const cpu = process.cpuUsage(cpu0);
    cpuVerify.push((cpu.user + cpu.system) / 1000);
    if (report.exitCode !== 0) {
      console.error(report.human().slice(0, 20).join("\n"));
      exitCode = 1;
      break;
    }
    t = performance.now();
    for (const b of jsonls) sha256Hex(b);
    tSha.push(performance.now() - t);
    t = performance.now();
    for (const b of jsonls) {
      const text = b.toString("utf8");
      let start = 0;
      for (let i = text.indexOf("\n"); i >= 0; start = i + 1, i = text.indexOf("\n", start)) {
        const line = text.slice(start, i);
        JSON.parse(line);
        sha256Hex(line);
      }
    }
    tParse.push(performance.now() - t);
  }


  // Signature checks alone (the same function verify uses), and raw Ed25519.
  const sample = Math.min(sigs.length, 2000);
  let t = performance.now();
  for (let i = 0; i < sample; i++) {
    const n = jsonlNames[i]!;
    const r = checkAuditSignature(jsonls[i]!, sigs[i]!, n.slice(6, -6), n, trust.keys, { allowLegacy: false, expectKeyId: null });
    if (r.findings.length) throw new Error(`signature check failed: ${r.findings[0]!.message}`);
  }
  const tSigOnly = (performance.now() - t) / sample;
  const SPKI = Buffer.from("302a300506032b6570032100", "hex");
  const k = createPublicKey({ key: Buffer.concat([SPKI, trust.keys[0]!.pk]), format: "der", type: "spki" });
  const parsed = parseSignature(sigs[0]!);
  const msg = new Uint8Array(64).fill(1);
  t = performance.now();
  for (let i = 0; i < sample; i++) nodeVerify(null, msg, k, parsed.signature);
  const tRawVerify = (performance.now() - t) / sample;
  const threads = WORKERS ?? Math.min(availableParallelism(), 8);
  const par = await acrossThreads(audit, jsonlNames, readFileSync(pubFile, "utf8"), threads);
  if (par.bad) throw new Error(`${par.bad} signatures failed`);
  const floor = await acrossThreads(audit, jsonlNames, readFileSync(pubFile, "utf8"), threads, true);
  if (floor.bad) throw new Error(`floor: ${floor.bad} signatures failed`);

  if (report && exitCode === 0) {
    const v = median(tVerify) / 1000;
    const evS = totalEvents / v;
    const sigS = OPS / v;
    const shaEvS = totalEvents / (median(tSha) / 1000);
    const parseEvS = totalEvents / (median(tParse) / 1000);
    const rawSigS = 1000 / (2 * tRawVerify);
    console.log(`data: ${fmt(OPS)} operations, ${fmt(totalEvents)} events, ${(totalBytes / 2 ** 20).toFixed(0)} MiB of JSONL, ${fmt(OPS)} signatures`);
    console.log(`verify --all: ${v.toFixed(2)} s (median of ${tVerify.length}: ${tVerify.map((x) => (x / 1000).toFixed(2)).join(", ")})${WORKERS !== undefined ? `, workers=${WORKERS}` : ""}`);
    console.log(`  events/s      ${fmt(evS).padStart(11)}   (in-process verifyAll)`);
    if (whole) {
      const m = whole[1]!;
      const wEvS = totalEvents / (m.ms / 1000);
      const mbS = totalBytes / 1e6 / (m.ms / 1000);
      console.log(`whole process (${BINARY} audit verify --all, median of 3: ${whole.map((w) => (w.ms / 1000).toFixed(2)).join(", ")} s):`);
      console.log(`  events/s      ${fmt(wEvS).padStart(11)}   target >= 400,000  ${wEvS >= 400_000 ? "MET" : "NOT MET"}; ${(wEvS / (floor.perSec * EVENTS) * 100).toFixed(0)} % of the floor below`);
      console.log(`  MB/s of JSONL ${fmt(mbS).padStart(11)}   target >=     165  ${mbS >= 165 ? "MET" : "NOT MET"}`);
      console.log(`  CPU time      ${(m.cpuMs / 1000).toFixed(2).padStart(9)} s   = ${fmt(totalEvents / (m.cpuMs / 1000))} events per CPU-second`);
      console.log(`  peak RSS      ${(Math.max(...whole.map((w) => w.maxRss)) / 2 ** 20).toFixed(0).padStart(7)} MiB   target <= 256 MiB (at 100,000 operations: --curve)`);
    } else console.log(`whole process: skipped (${BINARY} missing: npm run build)`);
    console.log(`  signatures/s  ${fmt(par.perSec).padStart(11)}   target >=   6,000  ${par.perSec >= 6_000 ? "MET" : "NOT MET"} (signature checks alone, ${threads} thread(s), as verify --all runs them)`);
    console.log(`  whole verify --all: ${fmt(sigS)} signature files/s alongside the events (10k files + 1M events in one wall time)`);
    console.log(`  one thread: ${fmt(1000 / tSigOnly)} signature files/s (${(tSigOnly * 1000).toFixed(0)} us each: BLAKE2b-512 of ~${(totalBytes / OPS / 1024).toFixed(0)} KiB + 2 strict Ed25519 verifies)`);
    console.log(`  CPU time of verify --all: ${(median(cpuVerify) / 1000).toFixed(2)} s over ${(v).toFixed(2)} s wall (${availableParallelism()} CPUs) = ${fmt(totalEvents / (median(cpuVerify) / 1000))} events per CPU-second`);
    console.log(`floor (same run, ${threads} thread(s), as verify --all runs them): reads + SHA-256 of each JSONL, SBOM and event line + BLAKE2b-512 + 2 Ed25519 verifies, no JSON checks:`);
    console.log(`  ${fmt(floor.perSec * EVENTS)} events/s (${fmt(floor.perSec)} operations/s): the ceiling for verify on this machine with these primitives (its JSON checks come on top)`);
    console.log(`baselines (same run, same bytes, one thread):`);
    console.log(`  SHA-256 over all JSONL bytes:         ${fmt(shaEvS)} events/s equivalent (${(totalBytes / 2 ** 20 / (median(tSha) / 1000)).toFixed(0)} MiB/s); verify = ${(evS / shaEvS).toFixed(2)}x`);
    console.log(`  JSON.parse + SHA-256 per line:        ${fmt(parseEvS)} events/s; verify = ${(evS / parseEvS).toFixed(2)}x`);
    console.log(`  raw node:crypto Ed25519 verify:       ${fmt(1000 / tRawVerify)} verifies/s = ${fmt(rawSigS)} signature files/s per thread (2 verifies each); checks alone (1 thread) = ${(1000 / tSigOnly / rawSigS).toFixed(2)}x, ${threads} threads = ${(par.perSec / rawSigS).toFixed(2)}x`);
    const tm = report.timings;
    console.log(`phases (last run): operations ${(tm.operations_ms! / 1000).toFixed(2)} s, total ${(tm.total_ms! / 1000).toFixed(2)} s`);
  }

  // Spot check that the same verifier catches a flipped byte in this data.
  if (exitCode === 0) {
    const victim = names.find((n) => n.endsWith(".jsonl") && n !== "ledger.jsonl")!;
    const p = join(audit, victim);
    const orig = readFileSync(p);
    const bad = Buffer.from(orig);
    bad[bad.length >> 1]! ^= 0x01;
    writeFileSync(p, bad);
    const r = await verifyAll({ auditDir: audit, root: dir, trust, ...(WORKERS !== undefined ? { workers: WORKERS } : {}) });
    writeFileSync(p, orig);
    if (r.exitCode !== 1 || !r.failures.some((f) => f.file === victim)) {
      console.error(`spot check: a flipped byte in ${victim} gave exit ${r.exitCode}`);
      exitCode = 1;
    } else console.log(`spot check: a flipped byte in ${victim} → exit 1 (${r.failures.length} finding(s))`);
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
if (isMainThread) process.exit(exitCode);
