/** The operation buffer (src/audit/opbuffer.ts) on temp audit dirs: the
 * artifacts it writes, their chain, permissions, the crash journal, masking,
 * and recovery of an interrupted operation. The chain is re-verified here
 * independently (canonicalize + node:crypto), not with src/verify. */
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { afterAll, describe, expect, test } from "bun:test";
import canonicalize from "canonicalize";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GENESIS } from "../../src/audit/event.ts";
import { fingerprint } from "../../src/audit/mask.ts";
import { OpBuffer, type OpStartInfo, type Signer } from "../../src/audit/opbuffer.ts";
import { prepareAuditDir, readLedger } from "../../src/audit/store.ts";
import { recoverInterrupted } from "../../src/audit/recover.ts";
import { Exit, PkgswitchError } from "../../src/errors.ts";

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-opbuffer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
/** A fresh, not yet existing audit dir. */
const freshDir = () => join(tmp, `case-${n++}`, "audit");

const jcs = (v: unknown) => (canonicalize as (v: unknown) => string)(v);
const sha256hex = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");
const marker = (s: string) => `<redacted:sha256:${fingerprint(s)}>`;
const TS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function info(auditDir: string, over: Partial<OpStartInfo> = {}): OpStartInfo {
  return {
    auditDir,
    command: "enable",
    argv: ["enable", "coreutils"],
    env: { PATH: "/usr/bin:/bin", HOME: "/root", LANG: "C.UTF-8" },
    root: "/srv/root",
    dryRun: false,
    toolVersion: "0.1.0",
    hostId: "0123456789abcdef0123456789abcdef",
    ...over,
  };
}

type Ev = Record<string, unknown> & { seq: number; prev: string; hash: string; event: string; op: string };

/** Independent chain check of an audit file: canonical lines, hash over the
 * object without `hash`, prev links, seq from 0, one op id, ≤ 16 KiB a line. */
function verifyAuditFile(path: string, firstPrev: string): Ev[] {
  const text = readFileSync(path, "utf8");
  expect(text.endsWith("\n")).toBe(true);
  const lines = text.slice(0, -1).split("\n");
  let prev = firstPrev;
  const events: Ev[] = [];
  lines.forEach((line, i) => {
    expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(16 * 1024);
    const obj = JSON.parse(line) as Ev;
    expect(jcs(obj)).toBe(line);
    const { hash, ...body } = obj;
    expect(hash).toBe("sha256:" + sha256hex(jcs(body)));
    expect(obj.v).toBe(1);
    expect(obj.seq).toBe(i);
    expect(obj.prev).toBe(prev);
    expect(obj.ts as string).toMatch(TS_RE);
    prev = hash;
    events.push(obj);
  });
  expect(new Set(events.map((e) => e.op)).size).toBe(1);
  expect(events[0]!.event).toBe("op.start");
  expect(events[events.length - 1]!.event).toBe("op.end");
  return events;
}

const mode = (p: string) => statSync(p).mode & 0o777;
const journalOf = (dir: string, op: string) => join(dir, `.inprogress-${op}.jsonl`);

describe("OpBuffer: start → record → finalize", () => {
  test("writes audit-<op>.jsonl and ledger.jsonl (0600, dir 0700); the journal lives only during the op", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    expect(op.opId).toMatch(/^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/);
    expect(mode(dir)).toBe(0o700);
    const journal = journalOf(dir, op.opId);
    expect(existsSync(journal)).toBe(true);
    expect(mode(journal)).toBe(0o600);
    op.record("preflight.check", { target: "/usr/bin/ls", ok: true });
    op.record("file.switch", { target: "/usr/bin/ls", before_sha256: "ab".repeat(32), mode: 0o755, ino: 123456789012345678901n });
    // each event reaches the journal as it is recorded, and nothing else exists yet
    expect(readFileSync(journal, "utf8").split("\n").filter(Boolean)).toHaveLength(3);
    expect(readdirSync(dir).sort()).toEqual([`.inprogress-${op.opId}.jsonl`]);

    const summary = op.finalize({ status: "ok", exitCode: 0, counts: { switched: 1 }, signing: { mode: "off" } });
    const jsonl = join(dir, `audit-${op.opId}.jsonl`);
    const ledger = join(dir, "ledger.jsonl");
    expect(summary).toEqual({ opId: op.opId, status: "ok", files: [jsonl, ledger], signature: "unsigned", ledgerSeq: 0 });
    expect(existsSync(journal)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual([`audit-${op.opId}.jsonl`, "ledger.jsonl"]);
    expect(mode(jsonl)).toBe(0o600);
    expect(mode(ledger)).toBe(0o600);
    expect(mode(dir)).toBe(0o700);

    const events = verifyAuditFile(jsonl, GENESIS);
    expect(events.map((e) => e.event)).toEqual(["op.start", "preflight.check", "file.switch", "op.end"]);
    expect(events[2]!.ino).toBe("123456789012345678901");
    expect(events[2]!.before_sha256).toBe("ab".repeat(32));
    // the journal held exactly the events that ended up in the file, minus op.end
    expect(op.events.map((e) => e.hash)).toEqual(events.map((e) => e.hash));

    const start = events[0]!;
    expect(start).toMatchObject({ command: "enable", argv: ["enable", "coreutils"], tool_version: "0.1.0", root: "/srv/root", dry_run: false, host_id: "0123456789abcdef0123456789abcdef" });
    expect(start.uid).toBe(process.getuid!());
    expect(start.env).toEqual({ LANG: "C.UTF-8", PATH: "/usr/bin:/bin" }); // HOME is not recorded
    const end = events[3]!;
    expect(end).toMatchObject({ status: "ok", exit_code: 0, counts: { switched: 1 } });
    expect(Number.isInteger(end.duration_ms)).toBe(true);
    expect("sbom" in end).toBe(false);

    // the ledger line
    const text = readFileSync(ledger, "utf8");
    const lines = text.split("\n");
    expect(lines).toHaveLength(2);
    const entry = JSON.parse(lines[0]!);
    expect(jcs(entry)).toBe(lines[0]);
    expect(Object.keys(entry).sort()).toEqual(["head", "jsonl_sha256", "key_id", "op", "seq", "signature", "ts", "v"]);
    expect(entry).toMatchObject({ v: 1, seq: 0, op: op.opId, head: end.hash, signature: "unsigned", key_id: null });
    expect(entry.jsonl_sha256).toBe(sha256hex(readFileSync(jsonl)));
    expect(entry.ts).toMatch(TS_RE);
  });

  test("the next operation chains onto the ledger head; ledger seq counts up", () => {
    const dir = freshDir();
    const a = OpBuffer.start(info(dir));
    a.record("step", { n: 1 });
    a.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    const headA = readLedger(dir)[0]!.head;

    const b = OpBuffer.start(info(dir, { command: "disable", argv: ["disable", "coreutils"] }));
    expect(b.events[0]!.prev).toBe(headA);
    const s = b.finalize({ status: "rolled_back", exitCode: 40, signing: { mode: "off" } });
    expect(s.ledgerSeq).toBe(1);
    const evB = verifyAuditFile(join(dir, `audit-${b.opId}.jsonl`), headA);
    expect(evB[evB.length - 1]).toMatchObject({ status: "rolled_back", exit_code: 40 });

    const ledger = readLedger(dir);
    expect(ledger.map((e) => [e.seq, e.op])).toEqual([
      [0, a.opId],
      [1, b.opId],
    ]);
    expect(ledger[1]!.head).toBe(evB[evB.length - 1]!.hash);
    // the first op's file is untouched by the second
    verifyAuditFile(join(dir, `audit-${a.opId}.jsonl`), GENESIS);
  });

  test("SBOM: written byte for byte; op.end records its file name and sha256 (so the JSONL covers it)", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}\n');
    const s = op.finalize({ status: "ok", exitCode: 0, sbom, signing: { mode: "off" } });
    const sbomPath = join(dir, `audit-${op.opId}-sbom.json`);
    expect(s.files).toContain(sbomPath);
    expect(readFileSync(sbomPath).equals(sbom)).toBe(true);
    expect(mode(sbomPath)).toBe(0o600);
    const events = verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS);
    expect(events[events.length - 1]!.sbom).toEqual({ file: `audit-${op.opId}-sbom.json`, sha256: sha256hex(sbom) });
  });

  test("signing: signed (sig file + key id + checkpoint over the ledger lines), failed setup, throwing signer", () => {
    const dir = freshDir();
    const calls: string[] = [];
    const signer: Signer = {
      keyId: "0123456789ABCDEF",
      signFile: (bytes, opId, fileName) => (calls.push(`${opId} ${fileName}`), `sig of ${sha256hex(bytes)}\n`),
      checkpoint: (size, root) => `pkgswitch/host\n${size}\n${Buffer.from(root).toString("base64")}\n`,
    };
    let leaves: Uint8Array[] = [];
    const merkleRoot = (l: Uint8Array[]) => ((leaves = l), new Uint8Array(32).fill(7));

    const a = OpBuffer.start(info(dir));
    const sa = a.finalize({ status: "ok", exitCode: 0, signing: { mode: "key", signer }, merkleRoot });
    const jsonl = join(dir, `audit-${a.opId}.jsonl`);
    expect(sa.signature).toBe("signed");
    expect(calls).toEqual([`${a.opId} audit-${a.opId}.jsonl`]);
    expect(readFileSync(`${jsonl}.sig`, "utf8")).toBe(`sig of ${sha256hex(readFileSync(jsonl))}\n`);
    expect(mode(`${jsonl}.sig`)).toBe(0o600);
    expect(readLedger(dir)[0]).toMatchObject({ signature: "signed", key_id: "0123456789ABCDEF" });
    // The checkpoint signs the RFC 9162 root over the ledger lines (without
    // their newline), computed from the ledger tip's frontier: the same root
    // merkleRootOf gives over the whole ledger, without re-reading it.
    const line = Buffer.from(readFileSync(join(dir, "ledger.jsonl"), "utf8").slice(0, -1));
    expect(readFileSync(join(dir, "checkpoint"), "utf8")).toBe(`pkgswitch/host\n1\n${Buffer.from(merkleRootOf([line])).toString("base64")}\n`);
    expect(leaves).toEqual([]); // the whole-ledger function was not needed

    const b = OpBuffer.start(info(dir));
    const sb = b.finalize({ status: "ok", exitCode: 0, signing: { mode: "failed", reason: "key is not 0600" } });
    expect(sb.signature).toBe("failed");
    expect(sb.signatureError).toBe("key is not 0600");
    expect(existsSync(join(dir, `audit-${b.opId}.jsonl`))).toBe(true);
    expect(existsSync(join(dir, `audit-${b.opId}.jsonl.sig`))).toBe(false);

    const broken: Signer = { ...signer, signFile: () => { throw new Error("bad passphrase"); } };
    const c = OpBuffer.start(info(dir));
    const sc = c.finalize({ status: "ok", exitCode: 0, signing: { mode: "key", signer: broken }, merkleRoot });
    expect(sc.signature).toBe("failed");
    expect(sc.signatureError).toBe("bad passphrase");
    expect(readLedger(dir).map((e) => [e.signature, e.key_id])).toEqual([
      ["signed", "0123456789ABCDEF"],
      ["failed", null],
      ["failed", null],
    ]);
  });

  test("dry run: writes nothing anywhere, keeps the sealed events in memory", () => {
    const base = join(tmp, `case-${n++}`);
    const dir = join(base, "audit");
    const op = OpBuffer.start(info(dir, { dryRun: true }));
    op.record("plan", { target: "/usr/bin/ls" });
    const s = op.finalize({ status: "dry_run", exitCode: 0, sbom: Buffer.from("{}"), signing: { mode: "off" } });
    expect(s).toEqual({ opId: op.opId, status: "dry_run", files: [], signature: "unsigned", ledgerSeq: -1 });
    expect(existsSync(base)).toBe(false);
    expect(op.events.map((e) => e.event)).toEqual(["op.start", "plan", "op.end"]);
    expect(op.events[0]!.prev).toBe(GENESIS);
    expect(op.events[0]!.dry_run).toBe(true);
    expect(op.events[2]!.prev).toBe(op.events[1]!.hash);
  });

  test("a dry run does not read the ledger and writes nothing into an existing audit dir", () => {
    const dir = freshDir();
    OpBuffer.start(info(dir)).finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    const before = readdirSync(dir).sort();
    const ledgerBefore = readFileSync(join(dir, "ledger.jsonl"));
    const op = OpBuffer.start(info(dir, { dryRun: true }));
    op.finalize({ status: "dry_run", exitCode: 0, signing: { mode: "off" } });
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(readFileSync(join(dir, "ledger.jsonl")).equals(ledgerBefore)).toBe(true);
  });
});

describe("OpBuffer: masking", () => {
  test("secrets in argv, env and event fields never reach the file; their fingerprints do", () => {
    const dir = freshDir();
    const op = OpBuffer.start(
      info(dir, {
        argv: ["enable", "coreutils", "--password", "hunter2", "token=abc123def", "--key=/etc/k"],
        env: { MY_API_TOKEN: "tok-9f8e7d6c5b4a", PATH: "/usr/bin", DB_PASSWORD: "dbpw-XYZ-123", HOME: "/root" },
      }),
    );
    op.record("error", { message: "apt-get failed: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", detail: { stderr: ["password=hunter2"] } });
    op.finalize({ status: "failed", exitCode: 20, signing: { mode: "off" } });
    const text = readFileSync(join(dir, `audit-${op.opId}.jsonl`), "utf8");
    for (const secret of ["hunter2", "abc123def", "tok-9f8e7d6c5b4a", "dbpw-XYZ-123", "eyJhbGciOiJIUzI1NiJ9.payload.sig"]) {
      expect(text).not.toContain(secret);
      expect(text).toContain(marker(secret));
    }
    const start = verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS)[0]!;
    expect(start.argv).toEqual(["enable", "coreutils", "--password", marker("hunter2"), `token=${marker("abc123def")}`, "--key=/etc/k"]);
    expect(start.env).toEqual({ DB_PASSWORD: marker("dbpw-XYZ-123"), MY_API_TOKEN: marker("tok-9f8e7d6c5b4a"), PATH: "/usr/bin" });
    // nothing else from the secrets survives, not even in the journal (gone) or the ledger
    expect(readFileSync(join(dir, "ledger.jsonl"), "utf8")).not.toContain("hunter2");
  });

  test("the journal of a running op is masked too", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir, { argv: ["enable", "--password", "hunter2"], env: { MY_API_TOKEN: "tok-9f8e7d6c5b4a" } }));
    op.record("note", { text: "token=abc123def" });
    const j = readFileSync(journalOf(dir, op.opId), "utf8");
    for (const s of ["hunter2", "tok-9f8e7d6c5b4a", "abc123def"]) {
      expect(j).not.toContain(s);
      expect(j).toContain(marker(s));
    }
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
  });

  test("digest fields pass untouched (the allowlist), other fields are masked", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    const e = op.record("file.backup", { sha256: "token=abcdef123456", note: "token=abcdef123456" });
    expect(e.sha256).toBe("token=abcdef123456");
    expect(e.note).toBe(`token=${marker("abcdef123456")}`);
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
  });
});

describe("OpBuffer: line size", () => {
  test("a long ASCII field is shortened so the line fits 16 KiB, and the chain still verifies", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    const e = op.record("pkg.query", { manager: "dpkg", stderr: "x".repeat(100_000) });
    expect(e.stderr as string).toContain("…[truncated]");
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS); // asserts ≤ 16 KiB a line
  });

  // BUG: fitFields measures the line with String.length (UTF-16 code units),
  // not UTF-8 bytes, only shortens top-level string fields, and gives up after
  // 8 halvings. Each of these writes a line over 16 KiB (measured: 24264,
  // 42309, 19818, 50281 bytes), which src/verify/strict.ts then rejects
  // ("line is N bytes; at most 16384 are allowed") — a tampering verdict for
  // an untampered file.
  test("non-ASCII text, long arrays, nested strings and multi-MB strings also fit 16 KiB", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    op.record("a", { text: "é".repeat(12_000) });
    op.record("b", { manager: "dpkg", args: Array(2000).fill("/usr/bin/something") });
    op.record("c", { s: "a".repeat(5_000_000) });
    op.record("d", { failures: [{ output: "x".repeat(50_000) }] });
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS);
  });
});

describe("recoverInterrupted", () => {
  /** Start an op, record events, and "crash": never finalize. */
  function crash(dir: string, events: number): OpBuffer {
    const op = OpBuffer.start(info(dir));
    for (let i = 0; i < events; i++) op.record("file.switch", { target: `/usr/bin/a${i}`, i });
    op.flush();
    return op; // dropped without finalize
  }

  test("finishes a crashed op: audit file with op.end failed/interrupted, ledger line, journal gone, chain intact", () => {
    const dir = freshDir();
    const op = crash(dir, 2);
    const journal = journalOf(dir, op.opId);
    const recorded = op.events.map((e) => e.hash);

    const ids = recoverInterrupted(dir, { mode: "off" });
    expect(ids).toEqual([op.opId]);
    expect(existsSync(journal)).toBe(false);
    const jsonl = join(dir, `audit-${op.opId}.jsonl`);
    expect(mode(jsonl)).toBe(0o600);
    const events = verifyAuditFile(jsonl, GENESIS);
    expect(events.slice(0, 3).map((e) => e.hash)).toEqual(recorded);
    expect(events).toHaveLength(4);
    const end = events[3]!;
    expect(end).toMatchObject({ event: "op.end", status: "failed", interrupted: true, exit_code: Exit.INTERNAL, counts: {} });
    expect(Number.isInteger(end.duration_ms)).toBe(true);
    const ledger = readLedger(dir);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ seq: 0, op: op.opId, head: end.hash, signature: "unsigned", key_id: null });
    expect(ledger[0]!.jsonl_sha256).toBe(sha256hex(readFileSync(jsonl)));
    // idempotent
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([]);
    expect(readLedger(dir)).toHaveLength(1);
  });

  test("a torn half line at the end of the journal is dropped", () => {
    const dir = freshDir();
    const op = crash(dir, 3);
    const journal = journalOf(dir, op.opId);
    appendFileSync(journal, `{"event":"file.switch","hash":"sha256:12`);
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([op.opId]);
    const events = verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS);
    expect(events.map((e) => e.event)).toEqual(["op.start", "file.switch", "file.switch", "file.switch", "op.end"]);
    expect(events[4]!.interrupted).toBe(true);
    expect(existsSync(journal)).toBe(false);
  });

  test("a garbled line inside the journal: recovery keeps the events before it, so the chain still verifies", () => {
    const dir = freshDir();
    const op = crash(dir, 3);
    const journal = journalOf(dir, op.opId);
    const lines = readFileSync(journal, "utf8").split("\n").filter(Boolean);
    writeFileSync(journal, [lines[0], lines[1], lines[2]!.slice(0, 40), lines[3], ""].join("\n"));
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([op.opId]);
    const events = verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), GENESIS);
    expect(events.map((e) => e.hash).slice(0, 2)).toEqual(op.events.slice(0, 2).map((e) => e.hash));
    expect(events).toHaveLength(3);
    expect(events[2]!.interrupted).toBe(true);
  });

  test("a crash after earlier operations chains onto the ledger head, and the next op chains onto the recovered one", () => {
    const dir = freshDir();
    const first = OpBuffer.start(info(dir));
    first.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    const head0 = readLedger(dir)[0]!.head;
    const op = crash(dir, 1);
    appendFileSync(journalOf(dir, op.opId), "{");
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([op.opId]);
    const events = verifyAuditFile(join(dir, `audit-${op.opId}.jsonl`), head0);
    const ledger = readLedger(dir);
    expect(ledger.map((e) => e.op)).toEqual([first.opId, op.opId]);
    expect(ledger[1]!.head).toBe(events[events.length - 1]!.hash);
    const next = OpBuffer.start(info(dir));
    expect(next.events[0]!.prev).toBe(ledger[1]!.head);
    next.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
  });

  test("crash after the ledger line was written (before the journal was removed): no second ledger line", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    const journal = journalOf(dir, op.opId);
    const saved = readFileSync(journal);
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "off" } });
    writeFileSync(journal, saved, { mode: 0o600 }); // the journal survived the crash
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([]);
    expect(existsSync(journal)).toBe(false);
    expect(readLedger(dir)).toHaveLength(1);
  });

  test("an empty journal (crash before the first event was written) is removed; a missing dir recovers nothing", () => {
    const dir = freshDir();
    prepareAuditDir(dir);
    const journal = join(dir, ".inprogress-20261127T053000Z-3fa9c2d1.jsonl");
    writeFileSync(journal, `{"v":1,"op":"2026`);
    expect(recoverInterrupted(dir, { mode: "off" })).toEqual([]);
    expect(existsSync(journal)).toBe(false);
    expect(existsSync(join(dir, "ledger.jsonl"))).toBe(false);
    expect(recoverInterrupted(join(tmp, "no-such-dir"), { mode: "off" })).toEqual([]);
  });
});

describe("prepareAuditDir / start on an unusable dir", () => {
  test("a path under a regular file → PkgswitchError exit 70, naming the dir", () => {
    const base = join(tmp, `case-${n++}`);
    mkdirSync(base);
    const file = join(base, "regular");
    writeFileSync(file, "x");
    const dir = join(file, "audit");
    let err: unknown;
    try {
      prepareAuditDir(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PkgswitchError);
    expect((err as PkgswitchError).exitCode).toBe(Exit.PERMISSION);
    expect((err as PkgswitchError).exitCode).toBe(70);
    expect((err as PkgswitchError).message).toContain(dir);
    expect((err as PkgswitchError).message).toContain("nothing was changed");
    expect(() => OpBuffer.start(info(dir))).toThrow(PkgswitchError);
  });

  test("prepareAuditDir creates the dir 0700 and leaves no probe file behind", () => {
    const dir = freshDir();
    prepareAuditDir(dir);
    expect(mode(dir)).toBe(0o700);
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a corrupt ledger stops a new operation (exit 70, naming the line; was 1), before any journal is created", () => {
    const dir = freshDir();
    prepareAuditDir(dir);
    writeFileSync(join(dir, "ledger.jsonl"), '{"not":"a ledger"}\n');
    let err: unknown;
    try {
      OpBuffer.start(info(dir));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PkgswitchError);
    expect((err as PkgswitchError).exitCode).toBe(Exit.PERMISSION);
    expect((err as PkgswitchError).message).toBe(`ledger ${join(dir, "ledger.jsonl")} line 1 is corrupt (unexpected fields); nothing was changed — run \`pkgswitch audit verify --all\` and see docs/recovery.md#a-corrupt-ledgerjsonl`);
    expect(readdirSync(dir)).toEqual(["ledger.jsonl"]);
  });
});
