/** An operation's record or `audit list`'s index that is valid JSON of the
 * wrong shape: `audit show` reports the malformed record in one line with
 * the exit code of a record it cannot read (3), and `audit list` takes a
 * malformed index entry for a stale index and rebuilds it from the ledger —
 * never an internal error or a stack trace. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { diffSnapshots, pkgswitch, snapshotTree, type RunResult } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

const AUDIT = "var/lib/pkgswitch/audit";
const INDEX = "var/lib/pkgswitch/audit-list-index.jsonl";

/** One root with one recorded operation (enable), copied for each case. */
let base: { root: string; op: string } | null = null;
function recordedCopy(): { root: string; op: string; jsonl: string } {
  if (!base) {
    const root = coreutilsRoot();
    cleanup.push(root);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const name = readdirSync(join(root, AUDIT)).find((n) => /^audit-.*\.jsonl$/.test(n))!;
    base = { root, op: name.slice("audit-".length, -".jsonl".length) };
  }
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-badaudit-"));
  cleanup.push(dir);
  cpSync(base.root, dir, { recursive: true, verbatimSymlinks: true });
  return { root: dir, op: base.op, jsonl: join(dir, AUDIT, `audit-${base.op}.jsonl`) };
}

function oneLine(r: RunResult, what: string): void {
  expect(r.stderr.trim().split("\n"), what).toHaveLength(1);
  expect(r.stdout + r.stderr, what).not.toContain("internal error");
  expect(r.stdout + r.stderr, what).not.toMatch(/\n\s+at .*:\d+/);
}

describe("audit show: a record line of the wrong shape", () => {
  const LINES: [string, string, string][] = [
    ["an empty object", "{}", "its event is not a string"],
    ["null", "null", "null, not an object"],
    ["a list", "[1]", "a list, not an object"],
    ["a number", "5", "5, not an object"],
    ["a numeric ts", `{"v":1,"event":"op.start","ts":5,"seq":1}`, "its ts is not a string"],
    ["a string seq", `{"v":1,"event":"op.start","ts":"2026-12-01T00:00:00.000Z","seq":"1"}`, "its seq is not an integer"],
  ];
  for (const [name, line, why] of LINES) {
    test(`${name} → exit 3, one line naming the file, the line and why`, () => {
      const c = recordedCopy();
      appendFileSync(c.jsonl, line + "\n");
      const n = readFileSync(c.jsonl, "utf8").trimEnd().split("\n").length;
      const r = pkgswitch(["--root", c.root, "audit", "show", c.op]);
      const what = `${line} → ${r.code}: ${r.stderr}`;
      expect(r.code, what).toBe(3);
      oneLine(r, what);
      expect(r.stderr, what).toContain(`${c.jsonl}: line ${n} is not an audit event (${why}); run \`pkgswitch audit verify ${c.op}\``);
    });
  }

  test("an event whose fields have the wrong types is shown by its raw fields", () => {
    const c = recordedCopy();
    appendFileSync(c.jsonl, `{"v":1,"event":"pkg.query","ts":"2026-12-01T00:00:00.000Z","seq":99,"args":null}\n{"v":1,"event":"native.switch","ts":"2026-12-01T00:00:00.000Z","seq":100,"installed":5}\n`);
    const r = pkgswitch(["--root", c.root, "audit", "show", c.op]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pkg.query        {"args":null}`);
    expect(r.stdout).toContain(`native.switch    {"installed":5}`);
  });

  test("audit list summarizes a record with a line `null` (no crash)", () => {
    const c = recordedCopy();
    rmSync(join(c.root, INDEX), { force: true });
    appendFileSync(c.jsonl, "null\n[1]\n5\n");
    const r = pkgswitch(["--root", c.root, "audit", "list"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${c.op}  ok`);
  });
});

describe("audit list: an index entry of the wrong shape is a stale index", () => {
  const ENTRIES: [string, (good: Record<string, unknown>) => unknown][] = [
    ["the issue's entry", () => ({ seq: 0, op: "../../x", ts: 5, command: null })],
    ["command null", (g) => ({ ...g, command: null })],
    ["signature a number", (g) => ({ ...g, signature: 5 })],
    ["providers null", (g) => ({ ...g, providers: null })],
    ["op a path", (g) => ({ ...g, op: "../../x" })],
    ["seq out of order", (g) => ({ ...g, seq: 7 })],
    ["null", () => null],
    ["a list", () => [1]],
  ];
  for (const [name, edit] of ENTRIES) {
    test(`${name}: audit list (plain, --json, --jsonl, filtered) lists the ledger's operation`, () => {
      const c = recordedCopy();
      expect(pkgswitch(["--root", c.root, "audit", "list"]).code).toBe(0); // writes the index
      const path = join(c.root, INDEX);
      const [header, entry] = readFileSync(path, "utf8").split("\n");
      writeFileSync(path, `${header}\n${JSON.stringify(edit(JSON.parse(entry!)))}\n`);
      for (const args of [[], ["--json"], ["--jsonl"], ["--since", "2000-01-01", "--result", "ok"]]) {
        const r = pkgswitch(["--root", c.root, "audit", "list", ...args]);
        const what = `audit list ${args.join(" ")} → ${r.code}: ${r.stderr}`;
        expect(r.code, what).toBe(0);
        expect(r.stderr, what).toBe("");
        expect(r.stdout, what).toContain(c.op);
        expect(r.stdout, what).not.toContain("../../x");
      }
      expect(readFileSync(path, "utf8").split("\n")[1], "the index was rebuilt").toContain(`"op":"${c.op}"`);
    });
  }
});

describe("a corrupt ledger.jsonl: one line naming the file, the line and what to do; exit 70; nothing changed", () => {
  /** A root with three operations (enable, disable, enable: coreutils is switched), copied for each case. */
  let three: string | null = null;
  function threeOpsCopy(): string {
    if (!three) {
      three = coreutilsRoot();
      cleanup.push(three);
      for (const args of [["enable", "coreutils"], ["disable", "coreutils"], ["enable", "coreutils"]]) expect(pkgswitch(["--root", three, ...args, "--yes"]).code).toBe(0);
      // The hooks' binary, so that `hooks install` has nothing to warn about.
      writeFileSync(join(three, "usr/bin/pkgswitch"), "#!/bin/sh\n");
    }
    const dir = mkdtempSync(join(tmpdir(), "pkgswitch-badledger-"));
    cleanup.push(dir);
    cpSync(three, dir, { recursive: true, verbatimSymlinks: true });
    return dir;
  }

  // Commands that read the whole ledger, and operations, which see through
  // the ledger's tip (src/audit/tip.ts) any edit that changes its length or
  // its last line — not one that keeps both (two lines swapped): that one
  // only `audit verify` finds, so that an operation's cost does not grow
  // with the record.
  const READERS = [["audit", "list"], ["audit", "list", "--jsonl", "--since", "2000-01-01"], ["audit", "archive", "--keep", "0"]];
  const OPERATIONS = [["disable", "coreutils", "--yes"], ["hooks", "install"], ["pkg", "remove", "rust-coreutils", "--yes"]];
  const CORRUPT: [string, (lines: string[]) => string, number, string, string[][]][] = [
    ["a line that is not JSON", (l) => [l[0], "this is not json", l[2]].join("\n") + "\n", 2, "not JSON", [...READERS, ...OPERATIONS]],
    ["a line of the wrong shape", (l) => [l[0], "{}", l[2]].join("\n") + "\n", 2, "unexpected fields", [...READERS, ...OPERATIONS]],
    ["a truncated last line", (l) => [l[0], l[1], l[2]!.slice(0, 40)].join("\n"), 3, "it is cut short: the ledger does not end with a newline", [...READERS, ...OPERATIONS]],
    ["two lines swapped", (l) => [l[1], l[0], l[2]].join("\n") + "\n", 1, "seq 1 where 0 was expected", READERS],
  ];

  for (const [name, corrupt, line, why, COMMANDS] of CORRUPT) {
    test(name, () => {
      const root = threeOpsCopy();
      const ledger = join(root, AUDIT, "ledger.jsonl");
      writeFileSync(ledger, corrupt(readFileSync(ledger, "utf8").trimEnd().split("\n")));
      const expected = `error: ledger ${ledger} line ${line} is corrupt (${why}); nothing was changed — run \`pkgswitch audit verify --all\` and see docs/recovery.md#a-corrupt-ledgerjsonl\n`;
      for (const args of COMMANDS) {
        // Taking pkgswitch's lock (a flock on its lock file) is not a change.
        const snap = () => snapshotTree(root, (p) => p === "run/lock/pkgswitch.lock");
        const before = snap();
        const r = pkgswitch(["--root", root, ...args]);
        const what = `${args.join(" ")} → ${r.code}: ${r.stderr}`;
        expect(r.code, what).toBe(70);
        expect(r.stderr, what).toBe(expected);
        expect(r.stdout, what).toBe("");
        expect(diffSnapshots(before, snap()), what).toEqual([]);
      }
      // An op id without a file is looked up in the ledger (archived?): the same line;
      // `audit export` speaks `audit verify`'s codes, where a damaged record is 1.
      for (const [args, code] of [[["audit", "show", "20240229T000000Z-00000000"], 70], [["audit", "export", "--op", "20240229T000000Z-00000000", "-o", join(root, "b.json")], 1]] as const) {
        const r = pkgswitch(["--root", root, ...args]);
        expect(r.code, r.stderr).toBe(code);
        expect(r.stderr).toBe(expected);
      }
      const j = pkgswitch(["--root", root, "audit", "list", "--json"]);
      expect(JSON.parse(j.stdout)).toEqual({ error: expected.slice("error: ".length, -1), exit_code: 70, op: null });
      // The verifier is the one that judges the record: invalid (1), naming the line.
      const v = pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]);
      expect(v.code, v.stdout).toBe(1);
      expect(v.stdout).toContain(`FAIL ledger ledger.jsonl:${line}: `);
      // What does not read the ledger still answers.
      for (const args of [["status"], ["list"]]) expect(pkgswitch(["--root", root, ...args]).code, args.join(" ")).toBe(0);
    });
  }
});
