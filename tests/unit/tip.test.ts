/** The ledger tip: appends without re-reading the ledger, and never trusted
 * over it — a crash between the append and the tip write, a torn append, a
 * hand edit and a lost tip are each found and said in the operation. */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { OpBuffer, type OpStartInfo, type Signer } from "../../src/audit/opbuffer.ts";
import { readLedger } from "../../src/audit/store.ts";
import { loadTip } from "../../src/audit/tip.ts";
import { recoverInterrupted } from "../../src/audit/recover.ts";
import { readdirSync } from "node:fs";
import { generateSecretKey } from "../../src/attest/minisign.ts";
import { signerFor } from "../../src/attest/signing.ts";

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-tip-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

// A real key: the checkpoint is a signed note the strict parser accepts.
const signer: Signer = signerFor(generateSecretKey(), "pkgswitch/test");

function setup() {
  const base = join(tmp, `case-${n++}`);
  const audit = join(base, "audit");
  const tipFile = join(base, "state", "ledger-tip.json");
  const info: OpStartInfo = { auditDir: audit, command: "relink", argv: ["relink"], env: {}, root: "/srv/r", dryRun: false, toolVersion: "0", hostId: "h", tipFile };
  const run = () => {
    const op = OpBuffer.start(info);
    op.finalize({ status: "ok", exitCode: 0, signing: { mode: "key", signer }, merkleRoot: merkleRootOf });
    return op;
  };
  const lines = () => readFileSync(join(audit, "ledger.jsonl"), "utf8").split("\n").filter(Boolean);
  const checkpointRoot = () => readFileSync(join(audit, "checkpoint"), "utf8").split("\n")[2];
  const wholeRoot = () => Buffer.from(merkleRootOf(lines().map((l) => Buffer.from(l)))).toString("base64");
  return { audit, tipFile, run, lines, checkpointRoot, wholeRoot };
}

describe("ledger tip", () => {
  test("every append keeps the tip bound to the ledger, and the checkpoint is the whole ledger's root", () => {
    const s = setup();
    for (let i = 0; i < 40; i++) {
      const op = s.run();
      expect(op.events.some((e) => e.event === "ledger.tip")).toBe(false);
      expect(s.checkpointRoot()).toBe(s.wholeRoot());
      const tip = JSON.parse(readFileSync(s.tipFile, "utf8"));
      expect(tip.size).toBe(i + 1);
      expect(tip.bytes).toBe(statSync(join(s.audit, "ledger.jsonl")).size);
    }
    expect(readLedger(s.audit).map((e) => e.seq)).toEqual([...Array(40).keys()]);
  });

  test("the next operation chains onto the head the tip records", () => {
    const s = setup();
    s.run();
    const b = s.run();
    expect(b.events[0]!.prev).toBe(readLedger(s.audit)[0]!.head);
  });

  test("a crash after the append, before the tip was written: the line is folded in, no rebuild", () => {
    const s = setup();
    s.run();
    copyFileSync(s.tipFile, s.tipFile + ".old");
    s.run();
    copyFileSync(s.tipFile + ".old", s.tipFile); // the tip of one operation ago
    const c = s.run();
    expect(c.events.some((e) => e.event === "ledger.tip")).toBe(false);
    expect(c.events[0]!.prev).toBe(readLedger(s.audit)[1]!.head);
    expect(readLedger(s.audit).length).toBe(3);
    expect(s.checkpointRoot()).toBe(s.wholeRoot());
  });

  test("a torn final fragment is cut and said; the ledger stays strict", () => {
    const s = setup();
    s.run();
    appendFileSync(join(s.audit, "ledger.jsonl"), '{"v":1,"se');
    const b = s.run();
    const ev = b.events.find((e) => e.event === "ledger.tip")!;
    expect(ev.repaired).toBe("cut a torn final fragment of 10 byte(s) an interrupted append left");
    expect(ev.rebuilt).toBe(null);
    expect(readLedger(s.audit).length).toBe(2);
    expect(s.checkpointRoot()).toBe(s.wholeRoot());
  });

  test("a lost tip, or a ledger edited at its end, is rebuilt from the whole ledger and said", () => {
    const s = setup();
    s.run();
    s.run();
    unlinkSync(s.tipFile);
    const c = s.run();
    expect(c.events.find((e) => e.event === "ledger.tip")!.rebuilt).toBe("no ledger tip was recorded");
    expect(s.checkpointRoot()).toBe(s.wholeRoot());
    // Same length, different last line: the digest bound to the tip differs.
    const text = readFileSync(join(s.audit, "ledger.jsonl"), "utf8");
    const at = text.lastIndexOf('"signature":"signed"');
    writeFileSync(join(s.audit, "ledger.jsonl"), text.slice(0, at) + '"signature":"failed"' + text.slice(at + 20));
    expect(loadTip(s.audit, s.tipFile).rebuilt).toBe("the ledger no longer matches its recorded tip (edited, truncated or replaced)");
  });

  test("a tip that does not parse or has the wrong shape is rebuilt, never trusted", () => {
    const s = setup();
    s.run();
    writeFileSync(s.tipFile, JSON.stringify({ v: 1, size: 3, bytes: 1, last_line: null, head: "x", frontier: [], checkpoint: null }));
    expect(loadTip(s.audit, s.tipFile).rebuilt).toBe("no ledger tip was recorded");
    writeFileSync(s.tipFile, "{ not json");
    const r = loadTip(s.audit, s.tipFile);
    expect(r.rebuilt).toBe("no ledger tip was recorded");
    expect(r.tip.size).toBe(1);
  });

  test("an operation killed mid-way is found through the tip's open list and finalized, without listing the audit dir", () => {
    const s = setup();
    s.run();
    // It signs with the key recovery uses: its journal is authenticated (a MAC).
    const info: OpStartInfo = { auditDir: s.audit, command: "enable", argv: [], env: {}, root: "/srv/r", dryRun: false, toolVersion: "0", hostId: "h", tipFile: s.tipFile, signing: { mode: "key", signer } };
    const killed = OpBuffer.start(info);
    killed.record("file.swap", { path: "/usr/bin/ls" });
    killed.flush();
    expect(JSON.parse(readFileSync(s.tipFile, "utf8")).open).toEqual([killed.opId]);
    expect(readdirSync(s.audit).some((f) => f.startsWith(".inprogress-"))).toBe(true);
    const recovered = recoverInterrupted(s.audit, { mode: "key", signer }, merkleRootOf, s.tipFile);
    expect(recovered).toEqual([killed.opId]);
    expect(readLedger(s.audit).map((e) => e.op)).toContain(killed.opId);
    expect(readdirSync(s.audit).some((f) => f.startsWith(".inprogress-"))).toBe(false);
    expect(JSON.parse(readFileSync(s.tipFile, "utf8")).open).toEqual([]);
    expect(s.checkpointRoot()).toBe(s.wholeRoot());
    // The next operation chains on after the recovered one.
    const next = s.run();
    expect(next.events[0]!.prev).toBe(readLedger(s.audit).at(-2)!.head);
  });
});
