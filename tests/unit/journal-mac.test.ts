/** The journal MAC (src/audit/journal-mac.ts) and recovery under a signing
 * key (src/audit/recover.ts), on temp audit dirs: the MAC against the
 * @noble/hashes reference, the sidecar a running operation keeps, and what
 * recovery finalizes, drops or refuses. */
import { afterAll, describe, expect, test } from "bun:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventLine, sealEvent } from "../../src/audit/event.ts";
import { journalMac, journalMacKey, macLine, MAC_LINE_BYTES } from "../../src/audit/journal-mac.ts";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { OpBuffer, type OpStartInfo, type SigningSetup } from "../../src/audit/opbuffer.ts";
import { readLedger } from "../../src/audit/store.ts";
import { recoverInterrupted } from "../../src/audit/recover.ts";
import { generateSecretKey } from "../../src/attest/minisign.ts";
import { signerFor } from "../../src/attest/signing.ts";

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-journalmac-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(tmp, `case-${n++}`, "audit");

const secret = generateSecretKey();
const signer = signerFor(secret, "pkgswitch/test");
const signing: SigningSetup = { mode: "key", signer };
const otherKey: SigningSetup = { mode: "key", signer: signerFor(generateSecretKey(), "pkgswitch/test") };
const info = (auditDir: string, s: SigningSetup = signing): OpStartInfo => ({ auditDir, command: "enable", argv: ["enable", "coreutils"], env: {}, root: "/srv/r", dryRun: false, toolVersion: "0", hostId: "h", signing: s });
const journal = (dir: string, op: string) => join(dir, `.inprogress-${op}.jsonl`);
const mac = (dir: string, op: string) => join(dir, `.inprogress-${op}.mac`);
const events = (dir: string, op: string) => readFileSync(join(dir, `audit-${op}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));

/** Recover `dir` with `s`, collecting what recovery says on stderr. */
function recover(dir: string, s: SigningSetup = signing) {
  const said: string[] = [];
  const ids = recoverInterrupted(dir, s, merkleRootOf, null, (l) => said.push(l));
  return { ids, said };
}

/** An operation that signs, a few events recorded and flushed, then killed. */
function killed(dir: string, count = 2): OpBuffer {
  const op = OpBuffer.start(info(dir));
  for (let i = 0; i < count; i++) op.record("file.switch", { target: `/usr/bin/a${i}` });
  op.flush();
  return op;
}

describe("journal MAC", () => {
  test("key and MAC match the @noble/hashes reference; the key is not the seed", () => {
    const key = journalMacKey(secret.seed);
    const ref = sha256(new Uint8Array([...Buffer.from("pkgswitch journal mac v1"), ...secret.seed]));
    expect(Buffer.from(key).toString("hex")).toBe(Buffer.from(ref).toString("hex"));
    expect(Buffer.from(key).equals(Buffer.from(secret.seed))).toBe(false);
    expect(Buffer.from(signer.journalKey!).equals(Buffer.from(key))).toBe(true);
    const hash = "sha256:" + "ab".repeat(32);
    const want = Buffer.from(hmac(sha256, key, Buffer.from(`20261201T000000Z-0000000a\n7\n${hash}`))).toString("hex");
    expect(journalMac(key, "20261201T000000Z-0000000a", 7, hash)).toBe(want);
    expect(journalMac(key, "20261201T000000Z-0000000a", 8, hash)).not.toBe(want);
  });

  test("a signing operation keeps a fixed-size MAC of its latest event beside its journal; finalize removes both", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    for (let i = 0; i < 3; i++) {
      op.record("file.switch", { target: `/usr/bin/a${i}` });
      const text = readFileSync(mac(dir, op.opId), "utf8");
      expect(text.length).toBe(MAC_LINE_BYTES);
      expect(text).toBe(macLine(signer.journalKey!, op.opId, op.events.length - 1, op.events.at(-1)!.hash));
    }
    expect(statSync(mac(dir, op.opId)).mode & 0o777).toBe(0o600);
    op.finalize({ status: "ok", exitCode: 0, signing, merkleRoot: merkleRootOf });
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
  });

  test("an unsigned operation keeps no MAC", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir, { mode: "off" }));
    op.record("file.switch", {});
    expect(existsSync(journal(dir, op.opId))).toBe(true);
    expect(existsSync(mac(dir, op.opId))).toBe(false);
  });
});

describe("recovery under a signing key", () => {
  test("a killed operation is finalized and signed as interrupted, its events kept", () => {
    const dir = freshDir();
    const op = killed(dir, 3);
    const r = recover(dir);
    expect(r).toEqual({ ids: [op.opId], said: [] });
    const ev = events(dir, op.opId);
    expect(ev.slice(0, 4).map((e) => e.hash)).toEqual(op.events.map((e) => e.hash));
    expect(ev.at(-1)).toMatchObject({ event: "op.end", status: "failed", interrupted: true, note: "operation was interrupted (process killed); finalized by the next pkgswitch run" });
    expect(readLedger(dir)[0]).toMatchObject({ op: op.opId, signature: "signed", key_id: signer.keyId });
    expect(readdirSync(dir).filter((f) => f.startsWith("."))).toEqual([]);
  });

  test("events after the last the MAC covers are dropped, and the note says so", () => {
    const dir = freshDir();
    const op = killed(dir, 2);
    const last = op.events.at(-1)!;
    // A chained, sealed line the MAC never covered (as if appended by hand).
    const extra = sealEvent(op.opId, op.events.length, new Date().toISOString(), "file.restore", { target: "/usr/bin/ls" }, last.hash);
    appendFileSync(journal(dir, op.opId), eventLine(extra));
    expect(recover(dir).ids).toEqual([op.opId]);
    const ev = events(dir, op.opId);
    expect(ev.map((e) => e.event)).toEqual(["op.start", "file.switch", "file.switch", "op.end"]);
    expect(ev.at(-1)!.note).toContain("1 journal line(s) after the last authenticated event were dropped");
  });

  test("a prefix that already ends with op.end is kept as it is", () => {
    const dir = freshDir();
    const op = OpBuffer.start(info(dir));
    op.record("op.end", { status: "ok", exit_code: 0, duration_ms: 1, counts: {} });
    op.flush();
    expect(recover(dir).ids).toEqual([op.opId]);
    expect(events(dir, op.opId).map((e) => [e.event, e.status])).toEqual([["op.start", undefined], ["op.end", "ok"]]);
  });

  test("a journal without a MAC, or with one under another key, is refused: set aside, said once, not in the ledger", () => {
    for (const [why, tamper] of [
      ["it has no MAC file", (d: string, o: string) => rmSync(mac(d, o))],
      ["its MAC file is not one pkgswitch writes", (d: string, o: string) => writeFileSync(mac(d, o), "x")],
      ["its MAC file is not a regular file pkgswitch can read", (d: string, o: string) => (rmSync(mac(d, o)), symlinkSync("/etc/hostname", mac(d, o)))],
      ["its MAC does not authenticate it under this signing key", (d: string, o: string) => writeFileSync(mac(d, o), macLine(otherKey.mode === "key" ? otherKey.signer.journalKey! : new Uint8Array(), o, 0, JSON.parse(readFileSync(journal(d, o), "utf8").split("\n")[0]!).hash))],
    ] as const) {
      const dir = freshDir();
      const op = killed(dir);
      tamper(dir, op.opId);
      const r = recover(dir);
      expect(r.ids).toEqual([]);
      expect(r.said).toHaveLength(1);
      expect(r.said[0]).toContain(`journal .inprogress-${op.opId}.jsonl was not finalized or signed: ${why}`);
      expect(r.said[0]).toContain(`moved to .unauthenticated-${op.opId}.jsonl`);
      expect(existsSync(join(dir, "ledger.jsonl"))).toBe(false);
      expect(existsSync(join(dir, `.unauthenticated-${op.opId}.jsonl`))).toBe(true);
      expect(existsSync(journal(dir, op.opId))).toBe(false);
      expect(readdirSync(dir).filter((f) => f.startsWith(".inprogress-"))).toEqual([]);
      // Not tried again.
      expect(recover(dir)).toEqual({ ids: [], said: [] });
    }
  });

  test("with a valid MAC, an implausible start is still refused (future, or before the ledger's last entry)", () => {
    const key = signer.journalKey!;
    const forge = (dir: string, op: string, ts: string, prev: string) => {
      const e = sealEvent(op, 0, ts, "op.start", { command: "disable" }, prev);
      writeFileSync(journal(dir, op), eventLine(e));
      writeFileSync(mac(dir, op), macLine(key, op, 0, e.hash));
    };
    const dir = freshDir();
    const first = OpBuffer.start(info(dir));
    first.finalize({ status: "ok", exitCode: 0, signing, merkleRoot: merkleRootOf });
    const head = readLedger(dir)[0]!.head;
    forge(dir, "20991231T000000Z-0000000a", "2099-12-31T00:00:00.000Z", head);
    expect(recover(dir).said[0]).toContain("its op.start is dated in the future");
    forge(dir, "20200101T000000Z-0000000b", "2020-01-01T00:00:00.000Z", head);
    expect(recover(dir).said[0]).toContain("it started before the ledger's last operation was recorded");
    const now = new Date();
    const id = now.toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z-0000000c";
    forge(dir, id, now.toISOString(), "sha256:" + "0".repeat(64));
    expect(recover(dir).said[0]).toContain("its op.start does not chain onto the ledger's head");
    expect(readLedger(dir)).toHaveLength(1);
  });

  test("under a key, a whole line that is not a sealed event of the op is refused; a torn first line (killed mid-write) is removed", () => {
    const dir = freshDir();
    const op = killed(dir);
    writeFileSync(journal(dir, op.opId), `{"event":"op.start"}\n`);
    const r = recover(dir);
    expect(r.ids).toEqual([]);
    expect(r.said[0]).toContain("its first line is not a sealed op.start of this operation");
    const torn = killed(dir);
    writeFileSync(journal(dir, torn.opId), readFileSync(journal(dir, torn.opId), "utf8").slice(0, 30));
    expect(recover(dir)).toEqual({ ids: [], said: [] });
    expect(readdirSync(dir).filter((f) => f.includes(torn.opId))).toEqual([]);
  });

  test("an operation started without a signing setup (it will not sign) keeps no MAC file", () => {
    const dir = freshDir();
    const { signing: _, ...bare } = info(dir);
    const op = OpBuffer.start(bare);
    op.record("file.switch", {});
    op.flush();
    expect(existsSync(mac(dir, op.opId))).toBe(false);
  });

  test("without a key the same unauthenticated journal is finalized unsigned, as before", () => {
    const dir = freshDir();
    const op = killed(dir);
    rmSync(mac(dir, op.opId));
    expect(recover(dir, { mode: "off" })).toEqual({ ids: [op.opId], said: [] });
    expect(readLedger(dir)[0]).toMatchObject({ op: op.opId, signature: "unsigned" });
  });
});
