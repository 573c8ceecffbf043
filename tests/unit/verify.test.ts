/** The verifier on artifacts written by the real writer (OpBuffer + signerFor):
 * a clean log verifies; every kind of damage gives the documented exit code
 * and names the file. */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalize } from "../../src/audit/jcs.ts";
import { chainHash, eventLine, GENESIS, sealEvent } from "../../src/audit/event.ts";
import { OpBuffer, type SigningSetup } from "../../src/audit/opbuffer.ts";
import { generateSecretKey, parsePublicKey, verifySignature, type GeneratedKey } from "../../src/attest/minisign.ts";
import { signerFor } from "../../src/attest/signing.ts";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { PkgswitchError } from "../../src/errors.ts";
import { archive } from "../../src/audit/archive.ts";
import { readLedger } from "../../src/audit/store.ts";
import { verifyAll, verifyOp } from "../../src/verify/verify.ts";
import { defaultTrust, trustFromFiles, type TrustSet } from "../../src/verify/trust.ts";
import { Report } from "../../src/verify/report.ts";
import { bodyWithoutHash, isCanonical, isCanonicalReference, readOpEvents } from "../../src/verify/strict.ts";
import { scanCanonical, TopMembers } from "../../src/verify/scan.ts";
import { exportBundle, serializeBundle, verifyBundle } from "../../src/verify/bundle.ts";
import { VECTORS } from "../helpers/paths.ts";

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

interface Log {
  root: string;
  audit: string;
  keyDir: string;
  key: GeneratedKey;
  pubFile: string;
  ops: string[];
  trust: TrustSet;
}

/** A root with `n` operations written by the real writer. */
function makeLog(n: number, opts: { signing?: "key" | "off" | "failed"; key?: GeneratedKey; root?: string; events?: (op: OpBuffer, i: number) => void; sbom?: boolean } = {}): Log {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), "pkgswitch-verify-"));
  if (!opts.root) temps.push(root);
  const audit = join(root, "var/lib/pkgswitch/audit");
  const keyDir = join(root, "etc/pkgswitch/keys");
  mkdirSync(keyDir, { recursive: true });
  const key = opts.key ?? generateSecretKey();
  const pubFile = join(keyDir, "signing.pub");
  writeFileSync(pubFile, key.publicKeyText);
  const ops: string[] = [];
  for (let i = 0; i < n; i++) addOp({ root, audit, keyDir, key, pubFile, ops, trust: null }, i, opts);
  return { root, audit, keyDir, key, pubFile, ops, trust: trustFromFiles([pubFile]) };
}

function signingOf(kind: "key" | "off" | "failed", key: GeneratedKey): SigningSetup {
  if (kind === "off") return { mode: "off" };
  if (kind === "failed") return { mode: "failed", reason: "test: no usable key" };
  return { mode: "key", signer: signerFor(key, "pkgswitch/test") };
}

function addOp(log: Omit<Log, "trust"> & { trust: TrustSet | null }, i: number, opts: Parameters<typeof makeLog>[1] = {}): string {
  const op = OpBuffer.start({ auditDir: log.audit, command: `test ${i}`, argv: ["pkgswitch", "test", String(i)], env: {}, root: log.root, dryRun: false, toolVersion: "test", hostId: "testhost" });
  op.record("pkg.query", { manager: "dpkg", args: ["dpkg-query", "-S", `/usr/bin/t${i}`], rc: 0, duration_ms: 1 });
  op.record("provenance", { path: `/usr/bin/t${i}`, owner: "coreutils", version: "9.1-1", source_repo: "debian bookworm/main", foreign: false, note: "ünïcödé ✓ \"quoted\" back\\slash \t tab" });
  opts.events?.(op, i);
  const sbom = opts.sbom === false ? undefined : Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", SPDXID: "SPDXRef-DOCUMENT", name: `op-${op.opId}`, packages: [{ name: "rust-coreutils", versionInfo: "0.0.17-2" }] }, null, 2) + "\n");
  op.finalize({ status: "ok", exitCode: 0, counts: { n: i }, ...(sbom ? { sbom } : {}), signing: signingOf(opts.signing ?? "key", log.key), merkleRoot: merkleRootOf });
  log.ops.push(op.opId);
  return op.opId;
}

const all = (log: Log, extra: Partial<Parameters<typeof verifyAll>[0]> = {}) => verifyAll({ auditDir: log.audit, root: log.root, trust: log.trust, workers: 1, ...extra });
const one = (log: Log, op: string, extra: Partial<Parameters<typeof verifyAll>[0]> = {}) => verifyOp(op, { auditDir: log.audit, root: log.root, trust: log.trust, ...extra });

function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n))]));
}
function restore(dir: string, snap: Map<string, Buffer>): void {
  for (const n of readdirSync(dir)) if (!snap.has(n)) unlinkSync(join(dir, n));
  for (const [n, b] of snap) writeFileSync(join(dir, n), b);
}

/** Does the report name `file` (as the file of a finding, or in its message)? */
const names = (r: Report, file: string) => r.failures.some((f) => f.file === file || f.message.includes(file));

describe("a clean log", () => {
  const log = makeLog(5);
  test("--all verifies (exit 0) and counts what it checked", async () => {
    const r = await all(log);
    expect(r.failures).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.counts.operations).toBe(5);
    expect(r.counts.signatures).toBe(5);
    expect(r.counts.sboms).toBe(5);
    expect(r.counts.ledger_lines).toBe(5);
    expect(r.counts.checkpoint_size).toBe(5);
    expect(r.counts.events).toBe(5 * 4);
  });
  test("--op verifies each operation, with an inclusion proof", () => {
    for (const op of log.ops) {
      const r = one(log, op);
      expect(r.failures).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(r.counts.inclusion_proofs).toBe(1);
    }
  });
  test("default trust: signing.pub and trusted/*.pub of the key dir", async () => {
    expect((await verifyAll({ auditDir: log.audit, root: log.root, trust: defaultTrust(log.keyDir), workers: 1 })).exitCode).toBe(0);
  });
  test("worker threads give the same report", async () => {
    const big = makeLog(3);
    for (let i = 3; i < 200; i++) addOp({ ...big, trust: big.trust }, i);
    const inProcess = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 1 });
    const threaded = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 2 });
    expect(inProcess.exitCode).toBe(0);
    expect(threaded.toJSON()).toEqual(inProcess.toJSON());
    writeFileSync(join(big.audit, `audit-${big.ops[150]}.jsonl`), readFileSync(join(big.audit, `audit-${big.ops[150]}.jsonl`), "utf8").replace('"rc":0', '"rc":1'));
    const bad1 = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 1 });
    const bad2 = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 2 });
    expect(bad2.exitCode).toBe(1);
    expect(bad2.toJSON()).toEqual(bad1.toJSON());
  }, 120_000);
  test("worker threads give the same report with archived operations (the early start's work is dropped)", async () => {
    const big = makeLog(3);
    for (let i = 3; i < 260; i++) addOp({ ...big, trust: big.trust }, i);
    const op = OpBuffer.start({ auditDir: big.audit, command: "audit archive --keep 150", argv: ["pkgswitch", "audit", "archive"], env: {}, root: big.root, dryRun: false, toolVersion: "test", hostId: "testhost" });
    const signer = signerFor(big.key, "pkgswitch/test");
    const r = archive(big.audit, readLedger(big.audit), { keep: 150 }, op, signer, false);
    op.finalize({ status: "ok", exitCode: 0, counts: { archived: r.archived }, signing: { mode: "key", signer }, merkleRoot: merkleRootOf });
    expect(r.archived).toBe(110);
    const inProcess = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 1 });
    const threaded = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 2 });
    expect(inProcess.exitCode).toBe(0);
    expect(inProcess.counts.operations).toBe(261);
    expect(threaded.toJSON()).toEqual(inProcess.toJSON());
    // An operation in the directory edited: found either way, same report.
    const kept = join(big.audit, `audit-${big.ops[250]}.jsonl`);
    writeFileSync(kept, readFileSync(kept, "utf8").replace('"rc":0', '"rc":1'));
    const bad1 = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 1 });
    const bad2 = await verifyAll({ auditDir: big.audit, root: big.root, trust: big.trust, workers: 2 });
    expect(bad2.exitCode).toBe(1);
    expect(bad2.toJSON()).toEqual(bad1.toJSON());
  }, 120_000);
});

describe("stock minisign verifies our signatures", () => {
  const log = makeLog(2);
  const have = spawnSync("minisign", ["-v"]).status === 0;
  test.skipIf(!have)("minisign -Vm audit-X.jsonl -x audit-X.jsonl.sig -p signing.pub exits 0", () => {
    for (const op of log.ops) {
      const f = join(log.audit, `audit-${op}.jsonl`);
      const r = spawnSync("minisign", ["-Vm", f, "-x", `${f}.sig`, "-p", log.pubFile], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`op:${op}`);
    }
  });
});

describe("random single-byte changes: exit 1 or 3 and the file is named, 100%", () => {
  const log = makeLog(4);
  const snap = snapshot(log.audit);
  const mid = log.ops[2]!;
  const targets: [string, string][] = [
    ["JSONL", `audit-${mid}.jsonl`],
    ["signature", `audit-${mid}.jsonl.sig`],
    ["SBOM", `audit-${mid}-sbom.json`],
    ["ledger", "ledger.jsonl"],
    ["checkpoint", "checkpoint"],
    ["first JSONL", `audit-${log.ops[0]}.jsonl`],
    ["newest signature", `audit-${log.ops[3]}.jsonl.sig`],
  ];
  // Deterministic pseudo-random positions and values.
  let seed = 0x2545f491;
  const rnd = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  for (const [what, file] of targets) {
    test(`${what}: 60 random flips (plus first and last byte)`, async () => {
      const orig = snap.get(file)!;
      const positions = [0, orig.length - 1, ...Array.from({ length: 60 }, () => rnd(orig.length))];
      const misses: string[] = [];
      for (const pos of positions) {
        const bad = Buffer.from(orig);
        bad[pos] = bad[pos]! ^ (1 + rnd(255));
        writeFileSync(join(log.audit, file), bad);
        const r = await all(log);
        if ((r.exitCode !== 1 && r.exitCode !== 3) || !names(r, file)) misses.push(`byte ${pos} (${orig[pos]} → ${bad[pos]}): exit ${r.exitCode}, ${JSON.stringify(r.failures.slice(0, 2))}`);
        writeFileSync(join(log.audit, file), orig);
      }
      expect(misses).toEqual([]);
      expect((await all(log)).exitCode).toBe(0);
    }, 60_000);
  }
  test("every byte of the middle JSONL's signature and of the checkpoint", async () => {
    for (const file of [`audit-${mid}.jsonl.sig`, "checkpoint"]) {
      const orig = snap.get(file)!;
      for (let pos = 0; pos < orig.length; pos++) {
        const bad = Buffer.from(orig);
        bad[pos] = bad[pos]! ^ 0x01;
        writeFileSync(join(log.audit, file), bad);
        const r = await all(log);
        if ((r.exitCode !== 1 && r.exitCode !== 3) || !names(r, file)) throw new Error(`${file} byte ${pos}: exit ${r.exitCode} ${JSON.stringify(r.failures)}`);
      }
      writeFileSync(join(log.audit, file), orig);
    }
  }, 120_000);
  test("--op also catches flips in its own artifacts", () => {
    for (const file of [`audit-${mid}.jsonl`, `audit-${mid}.jsonl.sig`, `audit-${mid}-sbom.json`]) {
      const orig = snap.get(file)!;
      for (let k = 0; k < 20; k++) {
        const pos = rnd(orig.length);
        const bad = Buffer.from(orig);
        bad[pos] = bad[pos]! ^ (1 + rnd(255));
        writeFileSync(join(log.audit, file), bad);
        const r = one(log, mid);
        expect([1, 3]).toContain(r.exitCode);
        expect(names(r, file)).toBe(true);
      }
      writeFileSync(join(log.audit, file), orig);
    }
    restore(log.audit, snap);
  }, 60_000);
});

describe("deleted, reordered, truncated", () => {
  test("deleting an operation from the middle (files and ledger line) → 1", async () => {
    const log = makeLog(5);
    const victim = log.ops[2]!;
    for (const f of [`audit-${victim}.jsonl`, `audit-${victim}.jsonl.sig`, `audit-${victim}-sbom.json`]) unlinkSync(join(log.audit, f));
    const lines = readFileSync(join(log.audit, "ledger.jsonl"), "utf8").split("\n");
    lines.splice(2, 1);
    writeFileSync(join(log.audit, "ledger.jsonl"), lines.join("\n"));
    const r = await all(log);
    expect(r.exitCode).toBe(1);
    expect(names(r, "ledger.jsonl")).toBe(true);
    expect(r.failures.some((f) => f.check === "op.link" && f.op === log.ops[3])).toBe(true);
  });
  test("deleting only an operation's files → 3 (missing artifact), naming them", async () => {
    const log = makeLog(4);
    unlinkSync(join(log.audit, `audit-${log.ops[1]}.jsonl`));
    const r = await all(log);
    expect(r.exitCode).toBe(3);
    expect(names(r, `audit-${log.ops[1]}.jsonl`)).toBe(true);
  });
  test("reordering ledger lines → 1", async () => {
    const log = makeLog(4);
    const lines = readFileSync(join(log.audit, "ledger.jsonl"), "utf8").split("\n");
    [lines[1], lines[2]] = [lines[2]!, lines[1]!];
    writeFileSync(join(log.audit, "ledger.jsonl"), lines.join("\n"));
    const r = await all(log);
    expect(r.exitCode).toBe(1);
    expect(names(r, "ledger.jsonl")).toBe(true);
  });
  test("reordering ledger lines with seq renumbered (canonical lines) → 1", async () => {
    const log = makeLog(4);
    const entries = readFileSync(join(log.audit, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    [entries[1], entries[2]] = [entries[2], entries[1]];
    entries.forEach((e, i) => (e.seq = i));
    writeFileSync(join(log.audit, "ledger.jsonl"), entries.map((e) => canonicalize(e) + "\n").join(""));
    const r = await all(log);
    expect(r.exitCode).toBe(1);
    expect(r.failures.some((f) => f.check === "op.link")).toBe(true);
    expect(r.failures.some((f) => f.check === "merkle.root")).toBe(true);
  });
  test("an audit file the ledger does not list → 1 (reported as orphan)", async () => {
    const log = makeLog(2);
    const other = makeLog(1);
    copyFileSync(join(other.audit, `audit-${other.ops[0]}.jsonl`), join(log.audit, `audit-${other.ops[0]}.jsonl`));
    const r = await all(log);
    expect(r.exitCode).toBe(1);
    expect(r.failures.some((f) => f.check === "orphan" && f.file === `audit-${other.ops[0]}.jsonl`)).toBe(true);
  });
  test("deleting the newest operation and its ledger line: --all catches it via the checkpoint size", async () => {
    const log = makeLog(3);
    const newest = log.ops[2]!;
    for (const f of [`audit-${newest}.jsonl`, `audit-${newest}.jsonl.sig`, `audit-${newest}-sbom.json`]) unlinkSync(join(log.audit, f));
    const lines = readFileSync(join(log.audit, "ledger.jsonl"), "utf8").split("\n");
    writeFileSync(join(log.audit, "ledger.jsonl"), lines.slice(0, 2).join("\n") + "\n");
    const r = await all(log);
    expect(r.exitCode).toBe(1);
    expect(r.failures.some((f) => f.check === "checkpoint" && /removed from the end/.test(f.message))).toBe(true);
  });
  test("… and with an older checkpoint put back, only --since-checkpoint (a copy kept elsewhere) catches it", async () => {
    const log = makeLog(2);
    const old = readFileSync(join(log.audit, "checkpoint"));
    const oldLedger = readFileSync(join(log.audit, "ledger.jsonl"));
    addOp({ ...log }, 2);
    const saved = join(log.root, "saved-checkpoint");
    copyFileSync(join(log.audit, "checkpoint"), saved);
    expect((await all(log, { sinceCheckpoint: saved })).exitCode).toBe(0);
    // Attacker: drop op 2, restore the ledger and checkpoint from before it.
    const newest = log.ops[2]!;
    for (const f of [`audit-${newest}.jsonl`, `audit-${newest}.jsonl.sig`, `audit-${newest}-sbom.json`]) unlinkSync(join(log.audit, f));
    writeFileSync(join(log.audit, "ledger.jsonl"), oldLedger);
    writeFileSync(join(log.audit, "checkpoint"), old);
    expect((await all(log)).exitCode).toBe(0); // undetectable on the host alone
    const r = await all(log, { sinceCheckpoint: saved });
    expect(r.exitCode).toBe(1);
    expect(r.failures.some((f) => f.check === "consistency" && /truncated/.test(f.message))).toBe(true);
    expect(one(log, log.ops[0]!, { sinceCheckpoint: saved }).exitCode).toBe(1);
  });
  test("--since-checkpoint: an older checkpoint is consistent; a rewritten history is not", async () => {
    const log = makeLog(3);
    const saved = join(log.root, "cp-at-3");
    copyFileSync(join(log.audit, "checkpoint"), saved);
    for (let i = 3; i < 7; i++) addOp({ ...log }, i);
    const ok = await all(log, { sinceCheckpoint: saved });
    expect(ok.exitCode).toBe(0);
    expect(ok.counts.consistency_proofs).toBe(1);
    // A different log (same key) whose checkpoint is from a different history.
    const fork = makeLog(5, { key: log.key });
    const r = await all(log, { sinceCheckpoint: join(fork.audit, "checkpoint") });
    expect(r.exitCode).toBe(1);
    expect(r.failures.some((f) => f.check === "consistency")).toBe(true);
  });
});

describe("trust and signing status", () => {
  test("unsigned operations → 4, unless --allow-unsigned", async () => {
    const log = makeLog(2);
    addOp({ ...log }, 2, { signing: "off" });
    const r = await all(log);
    expect(r.exitCode).toBe(4);
    expect(r.failures.every((f) => f.exit === 4)).toBe(true);
    expect((await all(log, { allowUnsigned: true })).exitCode).toBe(0);
    expect(one(log, log.ops[2]!).exitCode).toBe(4);
    expect(one(log, log.ops[2]!, { allowUnsigned: true }).exitCode).toBe(0);
  });
  test("signature failed → 4, unless --allow-unsigned", async () => {
    const log = makeLog(1, { signing: "failed" });
    expect((await all(log)).exitCode).toBe(4);
    expect((await all(log, { allowUnsigned: true })).exitCode).toBe(0);
  });
  test("a log with no signed operation at all (no checkpoint)", async () => {
    const log = makeLog(2, { signing: "off" });
    expect((await all(log)).exitCode).toBe(4);
    const r = await all(log, { allowUnsigned: true });
    expect(r.exitCode).toBe(0);
    expect(r.warnings.some((w) => w.check === "checkpoint")).toBe(true);
  });
  test("signed by a key not in the trusted set → 4", async () => {
    const log = makeLog(2);
    const other = generateSecretKey();
    const otherPub = join(log.root, "other.pub");
    writeFileSync(otherPub, other.publicKeyText);
    const r = await all(log, { trust: trustFromFiles([otherPub]) });
    expect(r.exitCode).toBe(4);
    expect(r.failures.every((f) => f.exit === 4)).toBe(true);
    expect(one(log, log.ops[0]!, { trust: trustFromFiles([otherPub]) }).exitCode).toBe(4);
    // Both keys trusted: fine.
    expect((await all(log, { trust: trustFromFiles([otherPub, log.pubFile]) })).exitCode).toBe(0);
  });
  test("key rotation: old key in trusted/*.pub, new key signing.pub", async () => {
    const log = makeLog(2);
    const newKey = generateSecretKey();
    for (let i = 2; i < 4; i++) addOp({ ...log, key: newKey }, i);
    mkdirSync(join(log.keyDir, "trusted"));
    copyFileSync(log.pubFile, join(log.keyDir, "trusted", "old.pub"));
    writeFileSync(log.pubFile, newKey.publicKeyText);
    expect((await verifyAll({ auditDir: log.audit, root: log.root, trust: defaultTrust(log.keyDir), workers: 1 })).exitCode).toBe(0);
    unlinkSync(join(log.keyDir, "trusted", "old.pub"));
    expect((await verifyAll({ auditDir: log.audit, root: log.root, trust: defaultTrust(log.keyDir), workers: 1 })).exitCode).toBe(4);
  });
  test("unknown op → 3; a path as op id → usage error (2)", () => {
    const log = makeLog(1);
    expect(one(log, "20000101T000000Z-00000000").exitCode).toBe(3);
    let code = 0;
    try {
      one(log, "../../etc/passwd");
    } catch (e) {
      code = (e as PkgswitchError).exitCode;
    }
    expect(code).toBe(2);
  });
  test("no audit directory / no ledger → 3", async () => {
    const root = mkdtempSync(join(tmpdir(), "pkgswitch-verify-empty-"));
    temps.push(root);
    const trust: TrustSet = { keys: [], source: "none", problems: [] };
    expect((await verifyAll({ auditDir: join(root, "nope"), root, trust, workers: 1 })).exitCode).toBe(3);
    mkdirSync(join(root, "audit"));
    expect((await verifyAll({ auditDir: join(root, "audit"), root, trust, workers: 1 })).exitCode).toBe(3);
  });
  test("an unreadable artifact → 6 (and 6 outranks 1)", async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const log = makeLog(2);
    const { chmodSync } = await import("node:fs");
    chmodSync(join(log.audit, `audit-${log.ops[0]}.jsonl`), 0);
    expect((await all(log)).exitCode).toBe(6);
  });
});

describe("exit-code precedence", () => {
  test("6 > 1 > 3 > 4 > 5", () => {
    const codes = [5, 4, 3, 1, 6] as const;
    for (let k = 0; k < codes.length; k++) {
      const r = new Report();
      for (const c of codes.slice(0, k + 1)) r.fail("x", c, "m");
      expect(r.exitCode).toBe(codes[k]!);
    }
    const r = new Report();
    r.fail("x", 4, "m");
    r.fail("x", 1, "m");
    r.fail("x", 5, "m");
    expect(r.exitCode).toBe(1);
    expect(new Report().exitCode).toBe(0);
  });
});

describe("--deep", () => {
  test("live files against the newest recorded after-state → 0, drift → 5", async () => {
    const root = mkdtempSync(join(tmpdir(), "pkgswitch-verify-deep-"));
    temps.push(root);
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    mkdirSync(join(root, "usr/lib/uu"), { recursive: true });
    writeFileSync(join(root, "usr/lib/uu/coreutils"), "uutils binary\n");
    symlinkSync("coreutils", join(root, "usr/lib/uu/ls"));
    symlinkSync("/usr/lib/uu/ls", join(root, "usr/bin/ls"));
    writeFileSync(join(root, "usr/bin/cat"), "gnu cat\n");
    symlinkSync("../lib/uu/ls", Buffer.concat([Buffer.from(join(root, "usr/bin/x")), Buffer.from([0xff])]));
    const { createHash } = await import("node:crypto");
    const h = (s: string) => createHash("sha256").update(s).digest("hex");
    const log = makeLog(2, {
      root,
      events: (op, i) => {
        if (i === 0) {
          op.record("file.switch", { path: "/usr/bin/ls", before_kind: "file", after_kind: "symlink", link_target: "/usr/lib/uu/ls", before_sha256: h("gnu ls\n"), after_sha256: h("uutils binary\n") });
          op.record("file.switch", { path: "/usr/bin/cat", before_kind: "file", after_kind: "symlink", link_target: "/usr/lib/uu/cat", before_sha256: h("gnu cat\n"), after_sha256: h("uutils binary\n") });
          op.record("rollback.step", { path: "/usr/bin/cat", action: "restore", ok: true });
        } else {
          op.record("file.restore", { path: "/usr/bin/cp", action: "none", reason: "target missing" });
          // A path that is not UTF-8, recorded as b64:, with a relative link.
          op.record("file.switch", { path: "b64:" + Buffer.from("/usr/bin/x\xff", "latin1").toString("base64"), before_kind: "file", after_kind: "symlink", link_target: "../lib/uu/ls", before_sha256: null, after_sha256: h("uutils binary\n") });
        }
      },
    });
    const deep = () => all(log, { deep: true });
    let r = await deep();
    expect(r.failures).toEqual([]);
    expect(r.counts.deep_targets).toBe(3);
    expect(one(log, log.ops[0]!, { deep: true }).exitCode).toBe(0);
    writeFileSync(join(root, "usr/lib/uu/coreutils"), "changed\n");
    r = await deep();
    expect(r.exitCode).toBe(5);
    expect(r.failures[0]!.file).toBe("/usr/bin/ls");
    writeFileSync(join(root, "usr/lib/uu/coreutils"), "uutils binary\n");
    unlinkSync(join(root, "usr/bin/ls"));
    symlinkSync("/usr/lib/other", join(root, "usr/bin/ls"));
    expect((await deep()).exitCode).toBe(5);
    unlinkSync(join(root, "usr/bin/ls"));
    symlinkSync("/usr/lib/uu/ls", join(root, "usr/bin/ls"));
    writeFileSync(join(root, "usr/bin/cat"), "edited cat\n");
    r = await deep();
    expect(r.exitCode).toBe(5);
    expect(r.failures[0]!.file).toBe("/usr/bin/cat");
    // Tampering outranks drift.
    writeFileSync(join(log.audit, "checkpoint"), "x");
    expect((await deep()).exitCode).toBe(1);
  });
});

describe("bundles", () => {
  const log = makeLog(4);
  const trustAll = log.trust;
  test("export → verify roundtrip with only the public key", () => {
    for (const op of log.ops) {
      const b = exportBundle(log.audit, op, trustAll);
      expect(b.version).toBe(1);
      expect(b.public_key).toBe(log.key.publicKeyText);
      const r = verifyBundle(serializeBundle(b), trustAll);
      expect(r.failures).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(r.counts.inclusion_proofs).toBe(op === log.ops[0] ? 1 : 2);
    }
  });
  test("a bundle verified with another key → 4; unknown op → 3; bad op id → 2", () => {
    const other = generateSecretKey();
    const f = join(log.root, "o.pub");
    writeFileSync(f, other.publicKeyText);
    const text = serializeBundle(exportBundle(log.audit, log.ops[1]!, trustAll));
    expect(verifyBundle(text, trustFromFiles([f])).exitCode).toBe(4);
    const code = (fn: () => unknown) => {
      try {
        fn();
        return 0;
      } catch (e) {
        return (e as PkgswitchError).exitCode;
      }
    };
    expect(code(() => exportBundle(log.audit, "20000101T000000Z-00000000", trustAll))).toBe(3);
    expect(code(() => exportBundle(log.audit, "../x", trustAll))).toBe(2);
  });
  test("every kind of tampering in a bundle fails (1)", () => {
    const op = log.ops[2]!;
    const good = exportBundle(log.audit, op, trustAll);
    const mutate = (f: (b: typeof good) => void) => {
      const b = structuredClone(good);
      f(b);
      return verifyBundle(serializeBundle(b), trustAll).exitCode;
    };
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === "a" ? "b" : "a") + s.slice(at + 1);
    expect(mutate((b) => (b.files.jsonl.text = b.files.jsonl.text.replace('"rc":0', '"rc":1')))).toBe(1);
    expect(mutate((b) => (b.files.sig!.text = flip(b.files.sig!.text, 60)))).toBe(1);
    expect(mutate((b) => (b.files.sbom!.text = b.files.sbom!.text.replace("0.0.17-2", "0.0.17-3")))).toBe(1);
    expect(mutate((b) => (b.ledger.line = b.ledger.line.replace(/"ts":"[^"]+"/, '"ts":"2000-01-01T00:00:00.000Z"')))).toBe(1);
    // Change the first hex digit of the previous head (to a different digit: a random head starts with "0" one time in 16).
    expect(mutate((b) => (b.ledger.previous_line = b.ledger.previous_line!.replace(/"head":"sha256:(.)/, (_m, c: string) => `"head":"sha256:${c === "0" ? "1" : "0"}`)))).toBe(1);
    expect(mutate((b) => (b.inclusion_proof.hashes[0] = Buffer.alloc(32).toString("base64")))).toBe(1);
    expect(mutate((b) => (b.inclusion_proof.leaf_index = 1))).toBe(1);
    expect(mutate((b) => (b.checkpoint = b.checkpoint!.replace(/\n(\d+)\n/, "\n9\n")))).toBe(1);
    expect(mutate((b) => ((b as { version: number }).version = 2))).toBe(1);
    expect(verifyBundle("{", trustAll).exitCode).toBe(1);
    // The bundle's own public key is never trusted by itself.
    const evil = generateSecretKey();
    const forged = makeLog(1, { key: evil });
    const fb = exportBundle(forged.audit, forged.ops[0]!, forged.trust);
    expect(fb.public_key).toBe(evil.publicKeyText);
    expect(verifyBundle(serializeBundle(fb), trustAll).exitCode).toBe(4);
  });
  test("a bundle of an unsigned operation → 4 unless --allow-unsigned", () => {
    const l = makeLog(1);
    const op = addOp({ ...l }, 1, { signing: "off" });
    const text = serializeBundle(exportBundle(l.audit, op, l.trust));
    expect(verifyBundle(text, l.trust).exitCode).toBe(4);
    expect(verifyBundle(text, l.trust, { allowUnsigned: true }).exitCode).toBe(0);
  });
});

describe("the fast paths are exact", () => {
  // Random JSON values of the shapes events hold, including the awkward ones.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ["a", "hash", "\"", "\\", "\n", "\t", "\u0001", "\u001f", "é", "✓", "😀", "\u2028", "/", "sha256:", "0", "10", "9", "__proto__", "\u007f", "", "b64:xx"];
  const str = () => Array.from({ length: rnd(4) }, () => pieces[rnd(pieces.length)]).join("");
  const value = (d: number): unknown => {
    switch (rnd(d > 2 ? 5 : 8)) {
      case 0: return str();
      case 1: return rnd(3) === 0 ? -rnd(1e6) : rnd(3) === 0 ? Number.MAX_SAFE_INTEGER - rnd(3) : rnd(1000);
      case 2: return [true, false, null][rnd(3)];
      case 3: return str();
      case 4: return rnd(100);
      case 5: return Array.from({ length: rnd(4) }, () => value(d + 1));
      default: return Object.fromEntries(Array.from({ length: rnd(5) }, () => [str(), value(d + 1)]));
    }
  };
  test("recognizer accepts ⇒ canonicalize(JSON.parse(line)) === line; canonical integer lines are accepted", () => {
    const top = new TopMembers();
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const obj = value(0) as Record<string, unknown>;
      const o = typeof obj === "object" && obj && !Array.isArray(obj) ? obj : { x: obj };
      const canon = canonicalize(o);
      const hasEscapedKey = /"(?:[^"\\]|\\.)*\\(?:[^"\\]|\\.)*":/.test(canon);
      const ok = scanCanonical(canon, 0, canon.length, top);
      if (!hasEscapedKey) expect(ok).toBe(true);
      if (ok) accepted++;
      // Mutations of the canonical text: whatever the recognizer accepts, the reference must.
      for (let k = 0; k < 6; k++) {
        const at = rnd(canon.length + 1);
        const ins = [" ", ",", "\"", "\\", "0", "-", "}", "]", "{", "1", ".5", "e1", "\\u0041", "\\/", "\\u000a", "\\u001F"][rnd(16)]!;
        const m = rnd(2) ? canon.slice(0, at) + ins + canon.slice(at) : canon.slice(0, at) + canon.slice(at + 1);
        if (scanCanonical(m, 0, m.length, top)) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(m);
          } catch {
            throw new Error(`recognizer accepted non-JSON ${JSON.stringify(m)}`);
          }
          expect(isCanonicalReference(m, parsed)).toBe(true);
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(m);
        } catch {
          continue;
        }
        expect(isCanonical(m, parsed)).toBe(isCanonicalReference(m, parsed));
      }
    }
    expect(accepted).toBeGreaterThan(3000);
  });
  test("integer-like keys, lone-surrogate escapes, floats, -0, unsafe integers", () => {
    const top = new TopMembers();
    const cases: [string, boolean][] = [
      ['{"10":1,"9":2}', true],
      ['{"9":2,"10":1}', false],
      ['{"a":"\\ud800"}', false],
      ['{"a":1.5}', false],
      ['{"a":-0}', false],
      ['{"a":9007199254740991}', true],
      ['{"a":9007199254740992}', false],
      ['{"a":"\\u001f"}', true],
      ['{"a":"\\u001F"}', false],
      ['{"a":"\\n"}', true],
      ['{"a":"\\u000a"}', false],
      ['{"a":"\u007f"}', true],
      ['{"a":1,"a":1}', false],
      ['{"a":[]," b":{}}', false],
      ['{"a":[],"b":{}}', true],
    ];
    for (const [line, want] of cases) {
      expect([line, scanCanonical(line, 0, line.length, top)]).toEqual([line, want && !line.includes("1.5")]);
    }
    expect(isCanonical('{"10":1,"9":2}', JSON.parse('{"10":1,"9":2}'))).toBe(true);
    expect(isCanonical('{"a":"\\ud800"}', JSON.parse('{"a":"\\ud800"}'))).toBe(false);
  });
  test("the hash cut equals chainHash, also with nested \"hash\" members", () => {
    for (let i = 0; i < 500; i++) {
      const fields: Record<string, unknown> = { nested: { hash: "sha256:" + "1".repeat(64) }, x: value(1), hash_like: "\"hash\":\"sha256:" };
      if (i % 3 === 0) fields.counts = { hash: "sha256:" + "a".repeat(64) };
      const e = sealEvent("20260101T000000Z-0000000a", 0, "2026-01-01T00:00:00.000Z", "op.start", fields, GENESIS);
      const line = eventLine(e).slice(0, -1);
      const { hash, ...rest } = e;
      expect(bodyWithoutHash(line, e)).toBe(canonicalize(rest));
      expect(chainHash(rest)).toBe(hash);
    }
    // An event whose nested member repeats the top-level hash member text exactly.
    const base = sealEvent("20260101T000000Z-0000000a", 0, "2026-01-01T00:00:00.000Z", "op.start", { a: 1 }, GENESIS);
    const tricky = { ...base, a: { hash: base.hash } };
    expect(bodyWithoutHash(canonicalize(tricky), tricky)).toBe(canonicalize({ ...base, hash: undefined, a: { hash: base.hash } }));
  });
  test("readOpEvents: fast and reference paths agree on a real file and its corruptions", () => {
    const log = makeLog(1);
    const op = log.ops[0]!;
    const text = readFileSync(join(log.audit, `audit-${op}.jsonl`), "utf8");
    expect(readOpEvents(text, false, op, true).problems).toEqual([]);
    const bytes = Buffer.from(text);
    expect(readOpEvents(text, bytes.length === text.length, op, true, bytes).problems).toEqual([]);
    // A control character anywhere switches the whole file to the reference path.
    const withTab = text.replace('"rc":0', '"rc":0,"t":"\t"');
    expect(readOpEvents(withTab, false, op, false).problems.length).toBeGreaterThan(0);
  });
});

describe("signature checks through verifySignature (native BLAKE2b prehash)", () => {
  const key = generateSecretKey();
  const pk = parsePublicKey(key.publicKeyText);
  const file = Buffer.from("hello\n".repeat(1000));
  const sig = signerFor(key, "pkgswitch/t").signFile(file, "20260101T000000Z-0000000a", "audit-20260101T000000Z-0000000a.jsonl");
  const signify = (n: string) => readFileSync(join(VECTORS, "signify", n));
  const regress = parsePublicKey(readFileSync(join(VECTORS, "signify", "regresskey.pub"), "utf8"));
  test("stock minisign verifies what we sign", () => {
    const dir = mkdtempSync(join(tmpdir(), "pkgswitch-sig-"));
    writeFileSync(join(dir, "f"), file);
    writeFileSync(join(dir, "f.sig"), sig);
    writeFileSync(join(dir, "k.pub"), key.publicKeyText);
    expect(Bun.spawnSync(["minisign", "-Vm", join(dir, "f"), "-x", join(dir, "f.sig"), "-p", join(dir, "k.pub")]).exitCode).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
  test("200 random single-byte changes of the signature file never verify", () => {
    let seed = 99;
    const rnd = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n);
    expect(verifySignature(file, sig, [pk]).ok).toBe(true);
    for (let k = 0; k < 200; k++) {
      const b = Buffer.from(sig);
      const at = rnd(b.length);
      b[at] = b[at]! ^ (1 + rnd(255));
      const text = b.toString("latin1");
      // Only the untrusted comment is unsigned (minisign's format); pkgswitch's
      // strict reading checks it separately.
      if (text.split("\n")[0] !== sig.split("\n")[0]) continue;
      expect(verifySignature(file, text, [pk]).ok).toBe(false);
    }
  });
  test("signify regress: good verifies, forgery fails, only with allowLegacy", () => {
    expect(verifySignature(signify("orders.txt"), signify("orders.txt.sig").toString(), [regress], { allowLegacy: true }).ok).toBe(true);
    expect(verifySignature(signify("orders.txt"), signify("orders.txt.sig").toString(), [regress]).ok).toBe(false);
    expect(verifySignature(signify("forgery.txt"), signify("forgery.txt.sig").toString(), [regress], { allowLegacy: true }).ok).toBe(false);
  });
});
