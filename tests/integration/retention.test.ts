/** Retention (`audit archive`) and `audit list` filters, through the real
 * binary on throwaway roots whose long records are made by
 * tests/helpers/record.ts (real writer pieces, the root's own key); every
 * segment is checked by third-party tools too (tar, gzip, minisign). */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { pkgswitch, pkgswitchJson } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";
import { makeRecord, shapeOf } from "../helpers/record.ts";

setDefaultTimeout(600_000);

const roots: string[] = [];
function emptyRoot(): string {
  const root = mkdtempSync("/tmp/pkgswitch-test-retention-");
  roots.push(root);
  for (const d of ["var/lib/dpkg", "etc/apt/apt.conf.d", "usr/bin", "run/lock"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  expect(pkgswitch(["--root", root, "keys", "generate", "-q"]).code).toBe(0);
  rmSync(join(root, "var/lib/pkgswitch/audit"), { recursive: true, force: true });
  return root;
}
const auditOf = (root: string) => join(root, "var/lib/pkgswitch/audit");
const opFiles = (root: string) => readdirSync(auditOf(root)).filter((n) => /^audit-.*\.jsonl$/.test(n));
const segments = (root: string) => readdirSync(join(auditOf(root), "archive")).filter((n) => n.endsWith(".tar.gz")).sort();

afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe("audit archive --keep 100 on a 10,000-operation record", () => {
  let root = "";
  let ops: string[] = [];
  beforeAll(() => {
    root = emptyRoot();
    ops = makeRecord(root, 10_000).ops;
  });

  test("dry run writes nothing; the archive leaves 100 operations + its own, and verify --all exits 0", () => {
    const before = opFiles(root).length;
    const dry = pkgswitchJson<{ archived: number; kept: number; segments: unknown[] }>(["--root", root, "audit", "archive", "--keep", "100", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.json.archived).toBe(9_900);
    expect(opFiles(root).length).toBe(before);
    expect(existsSync(join(auditOf(root), "archive"))).toBe(false);

    const r = pkgswitchJson<{ op: string; archived: number; kept: number; segments: { segment: string; ops: number; signed: boolean }[] }>(["--root", root, "audit", "archive", "--keep", "100"]);
    expect(r.code).toBe(0);
    expect(r.json.archived).toBe(9_900);
    expect(r.json.segments.length).toBe(Math.ceil(9_900 / 400));
    expect(r.json.segments.every((s) => s.signed)).toBe(true);
    const left = opFiles(root).map((n) => n.slice(6, -6)).sort();
    expect(left).toEqual([...ops.slice(-100), r.json.op].sort());
    expect(segments(root).length).toBe(r.json.segments.length);

    const v = pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]);
    expect(v.stdout).toContain("audit verify: OK");
    expect(v.stdout).toContain("9900 archived operation(s)");
    expect(v.code).toBe(0);
  });

  test("third-party tools read and check a segment: tar lists it, gzip tests it, minisign verifies its signature", () => {
    const seg = join(auditOf(root), "archive", segments(root)[0]!);
    const tar = spawnSync("tar", ["-tzf", seg], { encoding: "utf8" });
    expect(tar.status).toBe(0);
    expect(tar.stdout.split("\n")).toContain(`audit-${ops[0]}.jsonl`);
    expect(spawnSync("gzip", ["-t", seg]).status).toBe(0);
    const ms = spawnSync("minisign", ["-V", "-m", seg, "-p", join(root, "etc/pkgswitch/keys/signing.pub")], { encoding: "utf8" });
    expect(ms.stdout).toContain("Signature and comment signature verified");
    expect(ms.status).toBe(0);
    // The archived file tar extracts is byte for byte the one `audit show` reads.
    const shown = pkgswitchJson<{ events: { command?: string }[] }>(["--root", root, "audit", "show", ops[0]!]);
    expect(shown.code).toBe(0);
    expect(shown.json.events[0]!.command).toBe(shapeOf(0).command);
  });

  test("a flipped byte in a segment: exit 1 naming the segment; a missing one: exit 8, or 0 with --allow-missing-archive", () => {
    const name = segments(root)[3]!;
    const seg = join(auditOf(root), "archive", name);
    const saved = `${seg}.saved`;
    copyFileSync(seg, saved);
    const bytes = readFileSync(seg);
    bytes[bytes.length >> 1] ^= 0x01;
    writeFileSync(seg, bytes);
    const flipped = pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]);
    expect(flipped.code).toBe(1);
    expect(flipped.stdout).toContain(`FAIL archive.segment archive/${name}`);

    rmSync(seg);
    const missing = pkgswitchJson<{ exit_code: number; checks: { check: string; file?: string }[] }>(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]);
    expect(missing.code).toBe(8);
    expect(missing.json.checks.some((c) => c.check === "archive.missing" && c.file === `archive/${name}`)).toBe(true);
    const allowed = pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned", "--allow-missing-archive"]);
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain("warn archive.missing");
    // `audit show` of an operation in the missing segment: one line, exit 3.
    const inIt = ops[3 * 400]!;
    const show = pkgswitch(["--root", root, "audit", "show", inIt]);
    expect(show.code).toBe(3);
    expect(show.stderr.trim().split("\n").length).toBe(1);
    expect(show.stderr).toContain(name);
    renameSync(saved, seg);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });

  test("a second archive archives only what was not archived yet, and keeps the archive operations", () => {
    const r = pkgswitchJson<{ archived: number }>(["--root", root, "audit", "archive", "--keep", "10"]);
    expect(r.code).toBe(0);
    // The ledger now has 10,001 lines: the newest 10 are kept, the archive
    // operation (which holds records) stays too.
    expect(r.json.archived).toBe(91);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });
});

describe("audit archive: usage, refusal, crash", () => {
  test("bad usage is one line, exit 2; an operation file that does not match its ledger line refuses (10), archiving nothing", () => {
    const root = emptyRoot();
    makeRecord(root, 50, { allSigned: true });
    for (const args of [[], ["--keep", "x"], ["--keep", "1", "--before", "2026-01-01"], ["--before", "yesterday"]]) {
      const r = pkgswitch(["--root", root, "audit", "archive", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
    }
    const victim = join(auditOf(root), opFiles(root).sort()[5]!);
    writeFileSync(victim, readFileSync(victim, "utf8").replace('"duration_ms":10', '"duration_ms":11'));
    const r = pkgswitch(["--root", root, "audit", "archive", "--keep", "5"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("does not match its ledger line");
    expect(existsSync(join(auditOf(root), "archive"))).toBe(false);
  });

  test("--before DATE archives exactly the operations recorded before it", () => {
    const root = emptyRoot();
    const { ops } = makeRecord(root, 200, { allSigned: true, startMs: Date.UTC(2025, 11, 31, 12), stepMs: 3_600_000 });
    const r = pkgswitchJson<{ archived: number }>(["--root", root, "audit", "archive", "--before", "2026-01-01"]);
    expect(r.code).toBe(0);
    expect(r.json.archived).toBe(12); // 12:00 … 23:00 on 2025-12-31
    expect(opFiles(root).map((n) => n.slice(6, -6))).not.toContain(ops[11]);
    expect(opFiles(root).map((n) => n.slice(6, -6))).toContain(ops[12]);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
    // One archived operation: verify --op reads it from its segment; export
    // says it is archived (one line, exit 3).
    expect(pkgswitch(["--root", root, "audit", "verify", "--op", ops[3]!]).code).toBe(0);
    const exp = pkgswitch(["--root", root, "audit", "export", "--op", ops[3]!, "-o", join(root, "bundle.json")]);
    expect(exp.code).toBe(3);
    expect(exp.stderr).toContain("is archived in");
    expect(exp.stderr.trim().split("\n").length).toBe(1);
    const seg = join(auditOf(root), "archive", segments(root)[0]!);
    const bytes = readFileSync(seg);
    bytes[bytes.length - 12] ^= 0x40;
    writeFileSync(seg, bytes);
    const flipped = pkgswitch(["--root", root, "audit", "verify", "--op", ops[3]!]);
    expect(flipped.code).toBe(1);
    expect(flipped.stdout).toContain(`archive/${segments(root)[0]}`);
    rmSync(seg);
    expect(pkgswitch(["--root", root, "audit", "verify", "--op", ops[3]!]).code).toBe(8);
    expect(pkgswitch(["--root", root, "audit", "verify", "--op", ops[3]!, "--allow-missing-archive"]).code).toBe(0);
  });

  test("SIGKILL mid-archive: the next run finishes a recorded segment or undoes an unrecorded one, and verify --all exits 0", async () => {
    const outcomes = new Set<string>();
    // Kill at the moment the first segment appears (before or after its
    // record), and at the moment the first operation file goes.
    for (const point of ["segment", "removal"] as const) {
      const root = emptyRoot();
      const { ops } = makeRecord(root, 2_000, { allSigned: true });
      const first = join(auditOf(root), `audit-${ops[0]}.jsonl`);
      const archiveDir = join(auditOf(root), "archive");
      const p = Bun.spawn([BINARY, "--root", root, "audit", "archive", "--keep", "100"], { stdout: "ignore", stderr: "ignore" });
      const deadline = Date.now() + 60_000;
      const hit = () => point === "segment" ? existsSync(archiveDir) && readdirSync(archiveDir).some((n) => n.endsWith(".tar.gz")) : !existsSync(first);
      while (Date.now() < deadline && !hit()) {}
      p.kill("SIGKILL");
      await p.exited;
      const again = pkgswitchJson<{ archived: number; finished: unknown[]; undone: unknown[] }>(["--root", root, "audit", "archive", "--keep", "100"]);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain("which was interrupted");
      if (again.json.finished.length) outcomes.add("finished");
      if (again.json.undone.length) outcomes.add("undone");
      // The newest 100 ledger lines stay: the recovered archive operation is
      // one of them, so the newest 99 of the record. Every older one is in
      // a segment (verify reads each), none lost.
      const left = new Set(opFiles(root).map((n) => n.slice(6, -6)));
      for (const op of ops.slice(-99)) expect(left.has(op)).toBe(true);
      for (const op of ops.slice(0, -100)) expect(left.has(op)).toBe(false);
      const stillHere = ops.filter((o) => left.has(o)).length;
      expect(readdirSync(archiveDir).filter((n) => n.startsWith("."))).toEqual([]);
      const v = pkgswitch(["--root", root, "audit", "verify", "--all"]);
      expect(v.stdout).toContain(`${2_000 - stillHere} archived operation(s)`);
      expect(v.code).toBe(0);
    }
    // The kill at the first removal always lands after the record.
    expect(outcomes.has("finished")).toBe(true);
  });
});

describe("audit list filters", () => {
  type Row = { seq: number; op: string; ts: string; command: string; status: string; providers: string[]; signature: string; archived: boolean };
  let root = "";
  beforeAll(() => {
    root = emptyRoot();
    makeRecord(root, 3_000, { startMs: Date.UTC(2025, 11, 1), stepMs: 1_800_000 });
  });
  const list = (...args: string[]) => {
    const r = pkgswitch(["--root", root, "audit", "list", "--jsonl", ...args]);
    expect(r.code).toBe(0);
    return r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Row);
  };

  test("each filter, and their combination, selects exactly what the full list says", () => {
    const all = list();
    expect(all.length).toBe(3_000);
    expect(all.map((r) => r.seq)).toEqual(all.map((_, i) => i));
    const since = Date.UTC(2026, 0, 1);
    const until = Date.UTC(2026, 0, 15) + 86_400_000; // --until 2026-01-15 includes that day
    const cases: [string[], (r: Row) => boolean][] = [
      [["--provider", "coreutils"], (r) => r.providers.includes("coreutils")],
      [["--command", "enable"], (r) => r.command.startsWith("enable ")],
      [["--command", "hooks install"], (r) => r.command.startsWith("hooks install")],
      [["--result", "failed"], (r) => r.status === "failed"],
      [["--result", "rolled_back"], (r) => r.status === "rolled_back"],
      [["--signature", "unsigned"], (r) => r.signature === "unsigned"],
      [["--since", "2026-01-01"], (r) => Date.parse(r.ts) >= since],
      [["--since", "2026-01-01", "--until", "2026-01-15"], (r) => Date.parse(r.ts) >= since && Date.parse(r.ts) < until],
      [["--provider", "findutils", "--result", "ok", "--signature", "signed", "--since", "2026-01-01"], (r) => r.providers.includes("findutils") && r.status === "ok" && r.signature === "signed" && Date.parse(r.ts) >= since],
    ];
    for (const [args, pred] of cases) {
      const want = all.filter(pred).map((r) => r.op);
      expect(want.length).toBeGreaterThan(0);
      expect(list(...args).map((r) => r.op)).toEqual(want);
    }
    // The record's own pattern agrees with what the list read from the files.
    expect(all.filter((r) => r.status === "failed").map((r) => r.seq)).toEqual(all.map((r) => r.seq).filter((i) => shapeOf(i).status === "failed"));
  });

  test("--json is one document with one operation per line; bad filter values are one line, exit 2", () => {
    const r = pkgswitch(["--root", root, "audit", "list", "--provider", "sudo-rs", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { operations: Row[] };
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.length).toBe(doc.operations.length + 2);
    expect(JSON.parse(lines[1]!.replace(/,$/, "")).op).toBe(doc.operations[0]!.op);
    for (const bad of [["--result", "great"], ["--signature", "maybe"], ["--since", "last week"], ["--until", "2026-13"]]) {
      const b = pkgswitch(["--root", root, "audit", "list", ...bad]);
      expect(b.code).toBe(2);
      expect(b.stderr.trim().split("\n").length).toBe(1);
    }
  });

  test("the index is a cache: a new operation is appended to it, an edited ledger rebuilds it, archived operations stay listed", () => {
    const index = join(root, "var/lib/pkgswitch/audit-list-index.jsonl");
    list();
    expect(existsSync(index)).toBe(true);
    expect(pkgswitch(["--root", root, "hooks", "install", "--apt", "-q"]).code).toBe(0);
    const after = list("--command", "hooks install");
    expect(after[after.length - 1]!.seq).toBe(3_000);
    // Poison the cached summary of line 0, then change that ledger line
    // (still a well-formed line): the index no longer matches the ledger
    // prefix it covers, so it is rebuilt from the files, poison gone.
    const lines = readFileSync(index, "utf8").split("\n");
    expect(lines[1]).toContain('"status":"ok"');
    lines[1] = lines[1]!.replace('"status":"ok"', '"status":"rolled_back"');
    writeFileSync(index, lines.join("\n"));
    expect(list()[0]!.status).toBe("rolled_back"); // a cache: trusted while the ledger matches
    const ledger = join(auditOf(root), "ledger.jsonl");
    const text = readFileSync(ledger, "utf8");
    const first = text.slice(0, text.indexOf("\n"));
    writeFileSync(ledger, text.replace(first, first.replace('"signature":"signed"', '"signature":"failed"').replace(/"key_id":"[0-9A-F]{16}"/, '"key_id":null')));
    const rebuilt = list();
    expect(rebuilt[0]!.status).toBe("ok");
    expect(rebuilt[0]!.signature).toBe("failed");
    writeFileSync(ledger, text);
    expect(pkgswitch(["--root", root, "audit", "archive", "--keep", "500", "-q"]).code).toBe(0);
    const all = list();
    expect(all.length).toBe(3_002);
    expect(all.filter((r) => r.archived).length).toBe(2_501); // 3,001 ledger lines then, the newest 500 kept
    expect(all[0]!.status).toBe(shapeOf(0).status);
    expect(list("--provider", "coreutils", "--until", "2025-12-02").every((r) => r.archived && r.providers.includes("coreutils"))).toBe(true);
  });
});
