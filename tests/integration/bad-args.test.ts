/** Bad input on the command line is one line and exit 2, before anything is
 * read or written: an op id whose time does not exist (month 13, day 32,
 * February 30, hour 25 — of the right form, so not "no such operation"), a
 * date option naming no real day, and a positional word a command does not
 * take (refused by the parser for every command alike, from the table's
 * maxArgs). The documented forms still run. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { diffSnapshots, pkgswitch, snapshotTree, type RunResult } from "../helpers/cli.ts";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";

setDefaultTimeout(300_000);

let root = "";
let op = "";
const scratch = mkdtempSync(join(tmpdir(), "pkgswitch-badargs-"));
beforeAll(() => {
  root = coreutilsRoot();
  // One recorded operation (with hooks), so that an op id that is merely
  // unknown would be "not found" (3), and the audit commands have a record.
  expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
  const name = readdirSync(join(root, "var/lib/pkgswitch/audit")).find((n) => /^audit-.*\.jsonl$/.test(n))!;
  op = name.slice("audit-".length, -".jsonl".length);
});
afterAll(() => {
  removeRoot(root);
  rmSync(scratch, { recursive: true, force: true });
});

/** Exit 2 with exactly `line` on stderr, nothing on stdout, nothing changed under the root. */
function refused(args: string[], line: string | RegExp): RunResult {
  const before = snapshotTree(root);
  const r = pkgswitch(["--root", root, ...args]);
  const what = `${args.join(" ")} → ${r.code}: ${r.stderr}`;
  expect(r.code, what).toBe(2);
  expect(r.stdout, what).toBe("");
  expect(r.stderr.endsWith("\n") && r.stderr.split("\n").length === 2, what).toBe(true);
  if (typeof line === "string") expect(r.stderr, what).toBe(`error: ${line}\n`);
  else expect(r.stderr, what).toMatch(line);
  expect(diffSnapshots(before, snapshotTree(root)), what).toEqual([]);
  return r;
}

const IMPOSSIBLE: [string, string][] = [
  ["20261301T000000Z-12345678", "there is no month 13"],
  ["20260132T000000Z-12345678", "there is no day 32 in January 2026"],
  ["20260230T000000Z-12345678", "there is no day 30 in February 2026"],
  ["20260101T250000Z-12345678", "there is no hour 25"],
];

describe("an op id whose time does not exist is malformed (2), not unknown (3)", () => {
  for (const [id, why] of IMPOSSIBLE) {
    test(`${id} (${why}): audit show, audit verify --op, audit export --op`, () => {
      const line = `bad op id "${id}": not a valid operation id (${why}); an op id is YYYYMMDDTHHMMSSZ-xxxxxxxx: the UTC time the operation started and 8 lowercase hex digits (see \`pkgswitch audit list\`)`;
      refused(["audit", "show", id], line);
      refused(["audit", "verify", "--op", id], line);
      const out = join(scratch, "bundle.json");
      refused(["audit", "export", "--op", id, "-o", out], line);
      expect(existsSync(out)).toBe(false);
    });
  }

  test("a well-formed id that is not recorded is still 3; a recorded one is shown", () => {
    const r = pkgswitch(["--root", root, "audit", "show", "20240229T235959Z-00000000"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("no operation 20240229T235959Z-00000000");
    expect(pkgswitch(["--root", root, "audit", "show", op]).code).toBe(0);
  });
});

describe("a date option naming no real day or time → 2, one line, nothing done", () => {
  const DATES: [string, string][] = [
    ["2026-02-30", "there is no day 30 in February 2026"],
    ["2026-04-31", "there is no day 31 in April 2026"],
    ["2026-13-01", "there is no month 13"],
    ["2026-02-28T25:00:00Z", "there is no hour 25"],
  ];
  for (const [date, why] of DATES) {
    test(`${date}: audit list --since/--until, audit archive --before`, () => {
      for (const [args, where] of [[["audit", "list", "--since", date], "audit list --since"], [["audit", "list", "--until", date], "audit list --until"], [["audit", "archive", "--before", date], "audit archive --before"]] as const) {
        refused([...args], `${where} "${date}": not a valid date (${why}); expected a date YYYY-MM-DD or an ISO 8601 time (2026-01-01T12:00:00Z)`);
      }
    });
  }

  test("real dates still filter: 2024-02-29, and an ISO time with an offset", () => {
    const all = pkgswitch(["--root", root, "audit", "list", "--jsonl"]);
    expect(all.code).toBe(0);
    expect(all.stdout.trim().split("\n")).toHaveLength(1);
    expect(pkgswitch(["--root", root, "audit", "list", "--jsonl", "--since", "2024-02-29"]).stdout).toBe(all.stdout);
    expect(pkgswitch(["--root", root, "audit", "list", "--jsonl", "--until", "2024-02-29T12:00:00+01:00"]).stdout).toBe("");
  });
});

describe("a positional word a command does not take → 2, one line, from the parser", () => {
  /** What each command with a fixed number of positionals takes, filled. */
  const FILLED: Record<string, string[]> = { "audit show": ["20261127T053000Z-3fa9c2d1"], check: ["coreutils"], completion: ["bash"] };

  test("every such command in the table, with its positionals filled and one more", () => {
    let tried = 0;
    for (const c of COMMANDS) {
      if (c.maxArgs === Infinity) continue;
      const name = `pkgswitch ${c.path.join(" ")}`;
      const given = FILLED[c.path.join(" ")] ?? [];
      expect(given.length, name).toBe(c.maxArgs);
      const takes = c.maxArgs === 0 ? `it takes none${"op" in c.options ? "; did you mean --op extra?" : ""}` : `it takes one: ${name} ${c.args}`;
      refused([...c.path, ...given, "extra"], `unexpected argument "extra" for ${name} (${takes}); see \`${name} --help\``);
      tried++;
    }
    expect(tried).toBeGreaterThan(15);
  });

  test("the issue's lines, also with options around the word", () => {
    refused(["completion", "bash", "extra"], 'unexpected argument "extra" for pkgswitch completion (it takes one: pkgswitch completion <bash|zsh|fish>); see `pkgswitch completion --help`');
    refused(["man", "extra"], 'unexpected argument "extra" for pkgswitch man (it takes none); see `pkgswitch man --help`');
    refused(["hooks", "install", "extra", "--yes"], 'unexpected argument "extra" for pkgswitch hooks install (it takes none); see `pkgswitch hooks install --help`');
    refused(["audit", "checkpoint", "extra"], 'unexpected argument "extra" for pkgswitch audit checkpoint (it takes none); see `pkgswitch audit checkpoint --help`');
    refused(["keys", "show", "extra"], 'unexpected argument "extra" for pkgswitch keys show (it takes none); see `pkgswitch keys show --help`');
    refused(["-q", "audit", "show", op, "second"], /^error: unexpected argument "second" for pkgswitch audit show \(it takes one/);
    const j = pkgswitch(["--root", root, "--json", "man", "extra"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toEqual({ error: 'unexpected argument "extra" for pkgswitch man (it takes none); see `pkgswitch man --help`', exit_code: 2, op: null });
    refused(["audit", "verify", op], `unexpected argument "${op}" for pkgswitch audit verify (it takes none; did you mean --op ${op}?); see \`pkgswitch audit verify --help\``);
    refused(["relink", "--hook", "extra"], 'unexpected argument "extra" for pkgswitch relink (it takes none); see `pkgswitch relink --help`');
  });

  test("the documented forms still run", () => {
    const ok = (args: string[], code = 0) => {
      const r = pkgswitch(["--root", root, ...args]);
      expect(r.code, `${args.join(" ")} → ${r.code}: ${r.stderr}`).toBe(code);
    };
    ok(["list"]);
    ok(["status"]);
    ok(["status", "coreutils", "findutils"]);
    ok(["audit", "list", "--since", "2026-01-01"]);
    ok(["audit", "show", op]);
    ok(["audit", "verify", "--op", op, "--allow-unsigned"]);
    ok(["audit", "verify", "--all", "--allow-unsigned"]);
    ok(["audit", "export", "--op", op, "-o", join(scratch, "ok.json")]);
    ok(["relink"]);
    ok(["hooks", "install", "--dry-run"]);
    ok(["keys", "show"], 3);
    ok(["audit", "checkpoint"], 3);
    ok(["completion", "zsh"]);
    ok(["man"]);
    ok(["enable", "coreutils", "--dry-run"]);
    ok(["disable", "coreutils", "--dry-run"]);
    // Too few is each command's own message (what to name, and where to look).
    for (const [args, line] of [[["audit", "show"], "audit show: give an op id (see `pkgswitch audit list`)"], [["check"], "check: name one provider (see `pkgswitch list`)"], [["completion"], "completion: give one of bash, zsh, fish"]] as const) {
      refused([...args], line);
    }
  });
});
