/** Crash recovery as an operator meets it, with the compiled binary on temp
 * roots: a journal planted in the audit dir by someone who cannot read the
 * signing key is not signed into the record; an operation really killed
 * mid-way still is, as interrupted; unsigned setups recover as before. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventLine, sealEvent, type AuditEvent } from "../../src/audit/event.ts";
import { newOpId } from "../../src/audit/opid.ts";
import { rootPool } from "../helpers/pool.ts";
import { pkgswitch, pkgswitchJson } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";

// Real roots and dpkg: seconds per test, more on a loaded machine.
setDefaultTimeout(300_000);

const newRoot = rootPool();
const auditDir = (root: string) => join(root, "var/lib/pkgswitch/audit");
const tipFile = (root: string) => join(root, "var/lib/pkgswitch/ledger-tip.json");
const ledger = (root: string) => readFileSync(join(auditDir(root), "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

/** The reviewer's forgery: a journal with a valid hash chain from the
 * ledger's head ("disable coreutils", a restore, op.end ok), listed as open
 * in the tip as a real operation would be — all files the owner of the
 * root can write, without the key. */
function plant(root: string): string {
  const op = newOpId();
  const ts = new Date().toISOString();
  let prev = ledger(root).at(-1).head as string;
  const events: AuditEvent[] = [];
  const add = (event: string, fields: Record<string, unknown>) => {
    const e = sealEvent(op, events.length, ts, event, fields, prev);
    events.push(e);
    prev = e.hash;
  };
  add("op.start", { command: "disable", argv: ["disable", "coreutils"], env: {}, tool_version: "0.4.0", root, dry_run: false, uid: 0, host_id: "0".repeat(32) });
  add("file.restore", { target: "/usr/bin/ls", ok: true });
  add("op.end", { status: "ok", exit_code: 0, duration_ms: 5, counts: { restored: 1 } });
  writeFileSync(join(auditDir(root), `.inprogress-${op}.jsonl`), events.map(eventLine).join(""), { mode: 0o600 });
  const tip = JSON.parse(readFileSync(tipFile(root), "utf8"));
  writeFileSync(tipFile(root), JSON.stringify({ ...tip, open: [...tip.open, op] }));
  return op;
}

describe("crash recovery and the journal MAC", () => {
  test("a planted journal with a valid chain, a key present: not signed, not in the ledger, set aside and reported", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const forged = plant(root);
    const next = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`journal .inprogress-${forged}.jsonl was not finalized or signed: it has no MAC file`);
    expect(next.stderr).not.toContain("which was interrupted");
    expect(next.stderr.trim().split("\n")).toHaveLength(1);
    expect(ledger(root).map((e) => e.op)).not.toContain(forged);
    const names = readdirSync(auditDir(root));
    expect(names).toContain(`.unauthenticated-${forged}.jsonl`);
    expect(names.filter((n) => n.includes(forged))).toEqual([`.unauthenticated-${forged}.jsonl`]);
    expect(pkgswitch(["--root", root, "audit", "show", forged]).code).toBe(3);
    const v = pkgswitchJson<{ checks: Array<{ check: string; ok: boolean; file?: string; op?: string }> }>(["--root", root, "audit", "verify", "--all"]);
    expect(v.code).toBe(1);
    expect(v.json.checks.filter((c) => !c.ok)).toEqual([expect.objectContaining({ check: "journal", exit: 1, file: `.unauthenticated-${forged}.jsonl`, op: forged })]);
    // Every signed record still verifies: the refused journal is the only finding.
    expect(ledger(root).every((e) => e.signature === "signed")).toBe(true);
  });

  test("an enable killed mid-way (SIGKILL) is finalized by the next run, signed, as interrupted", async () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    let killed: string | null = null;
    // Kill once the journal exists; the operation may finish first, so try again.
    for (let attempt = 0; attempt < 10 && killed === null; attempt++) {
      const p = Bun.spawn([BINARY, "--root", root, "enable", "coreutils", "--yes"], { stdout: "ignore", stderr: "ignore" });
      const deadline = Date.now() + 20_000;
      let journal: string | undefined;
      // Past its first events (an empty journal is simply removed).
      const started = (n: string) => {
        try {
          return readFileSync(join(auditDir(root), n), "utf8").split("\n").length > 3;
        } catch {
          return false;
        }
      };
      while (Date.now() < deadline && !journal) {
        journal = (existsSync(auditDir(root)) ? readdirSync(auditDir(root)) : []).find((n) => n.startsWith(".inprogress-") && n.endsWith(".jsonl") && started(n));
      }
      p.kill("SIGKILL");
      await p.exited;
      if (journal && existsSync(join(auditDir(root), journal))) killed = journal.slice(12, -6);
      else expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    }
    expect(killed).not.toBeNull();
    expect(existsSync(join(auditDir(root), `.inprogress-${killed}.mac`))).toBe(true);
    const again = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`finalized operation ${killed}, which was interrupted`);
    const line = ledger(root).find((e) => e.op === killed);
    expect(line).toMatchObject({ signature: "signed" });
    const events = readFileSync(join(auditDir(root), `audit-${killed}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ event: "op.end", status: "failed", interrupted: true });
    expect(readdirSync(auditDir(root)).filter((n) => n.startsWith(".inprogress-") || n.startsWith(".unauthenticated-"))).toEqual([]);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
  });

  test("without a key, recovery is as before: the journal is finalized, unsigned, as it stands", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const op = plant(root);
    const next = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`finalized operation ${op}, which was interrupted`);
    expect(ledger(root).find((e) => e.op === op)).toMatchObject({ signature: "unsigned" });
    expect(readdirSync(auditDir(root)).filter((n) => n.startsWith(".inprogress-") || n.startsWith(".unauthenticated-"))).toEqual([]);
  });
});
