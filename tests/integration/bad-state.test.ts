/** A state.json that parses but has the wrong shape (a field null, a list
 * where an object belongs, a number where a string does) is corrupt state:
 * disable, relink and status refuse it with exit 80 and one line naming the
 * field, before anything changes — never an internal error half-way
 * through restoring the targets. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { diffSnapshots, pkgswitch, snapshotTree } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

/** One root with coreutils enabled, copied for each case. */
let enabled: string | null = null;
function enabledCopy(): string {
  if (!enabled) {
    enabled = coreutilsRoot();
    cleanup.push(enabled);
    expect(pkgswitch(["--root", enabled, "enable", "coreutils", "--yes"]).code).toBe(0);
  }
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-badstate-"));
  cleanup.push(dir);
  cpSync(enabled, dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const STATE = "var/lib/pkgswitch/state.json";

/** Each case edits the parsed state (or replaces it) and names the field the message must name. */
const SHAPES: [string, (s: Json) => Json, string][] = [
  ["original null", (s) => ((s.providers.coreutils.targets[0].original = null), s), "providers.coreutils.targets[0].original is not an object"],
  ["original.kind missing", (s) => (delete s.providers.coreutils.targets[0].original.kind, s), "providers.coreutils.targets[0].original.kind"],
  ["original.mode a string", (s) => ((s.providers.coreutils.targets[0].original.mode = "755"), s), "providers.coreutils.targets[0].original.mode"],
  ["last target's original null", (s) => ((s.providers.coreutils.targets.at(-1).original = null), s), "original is not an object"],
  ["replaces null", (s) => ((s.providers.coreutils.replaces = null), s), "providers.coreutils.replaces is not a list"],
  ["provider null", (s) => ((s.providers.coreutils.provider = null), s), "providers.coreutils.provider"],
  ["provider entry null", (s) => ((s.providers.coreutils = null), s), "providers.coreutils is not an object"],
  ["providers a list", (s) => ((s.providers = []), s), "providers is not an object"],
  ["status unknown", (s) => ((s.providers.coreutils.status = "weird"), s), "providers.coreutils.status"],
  ["installed_by_us a string", (s) => ((s.providers.coreutils.installed_by_us = "yes"), s), "providers.coreutils.installed_by_us"],
  ["package an option", (s) => ((s.providers.coreutils.package = "-oX=1"), s), "providers.coreutils.package"],
  ["a target null", (s) => ((s.providers.coreutils.targets[1] = null), s), "providers.coreutils.targets[1] is not an object"],
  ["a target listed twice", (s) => (s.providers.coreutils.targets.push(s.providers.coreutils.targets[0]), s), "is listed twice"],
  ["the file null", () => null, "the file is null, not an object"],
  ["the file a list", () => [], "the file is [], not an object"],
];

const COMMANDS = [["disable", "coreutils", "--yes"], ["relink", "--yes"], ["status"]];

describe("state.json of the wrong shape", () => {
  for (const [name, edit, field] of SHAPES) {
    test(`${name}: disable, relink and status exit 80 naming ${field}, nothing changed`, () => {
      const r = enabledCopy();
      const path = join(r, STATE);
      writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, "utf8")))));
      for (const args of COMMANDS) {
        const before = snapshotTree(r);
        const res = pkgswitch(["--root", r, ...args]);
        const what = `${args.join(" ")} → ${res.code}: ${res.stderr}`;
        expect(res.code, what).toBe(80);
        expect(res.stderr.trim().split("\n"), what).toHaveLength(1);
        expect(res.stderr, what).toContain(`state file ${path} is corrupt (`);
        expect(res.stderr, what).toContain(field);
        expect(res.stderr, what).not.toContain("internal error");
        expect(diffSnapshots(before, snapshotTree(r)), what).toEqual([]);
      }
    });
  }

  test("a state.json of the right shape still works (disable restores every target)", () => {
    const r = enabledCopy();
    const res = pkgswitch(["--root", r, "disable", "coreutils", "--yes"]);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(r, STATE), "utf8")).providers).toEqual({});
  });
});
