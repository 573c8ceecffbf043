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
import { pkgswitch, type RunResult } from "../helpers/cli.ts";

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
