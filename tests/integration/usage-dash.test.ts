/** A usage error is one line and exit 2, also when an option's value starts
 * with a dash (`audit archive --keep -1`): node's parseArgs words that one
 * in three lines. Every string option of every command is tried. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli/commands.ts";
import { diffSnapshots, pkgswitch, snapshotTree } from "../helpers/cli.ts";

const root = mkdtempSync(join(tmpdir(), "pkgswitch-usage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("an option value that starts with a dash", () => {
  test("the issue's lines: one line each, exit 2, saying how to give such a value", () => {
    for (const [args, opt] of [[["audit", "archive", "--keep", "-1"], "--keep"], [["audit", "list", "--since", "-5"], "--since"], [["audit", "archive", "--keep", "--before", "2026-01-01"], "--keep"]] as const) {
      const r = pkgswitch(["--root", root, ...args]);
      const what = `${args.join(" ")} → ${r.code}: ${r.stderr}`;
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toBe(`error: option ${opt} needs a value, and the next word starts with a dash; for a value that starts with a dash write ${opt}=VALUE (see --help)\n`);
    }
  });

  test("a short option (-o -x) names its long form", () => {
    const r = pkgswitch(["--root", root, "audit", "export", "-o", "-x"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe("error: option --output needs a value, and the next word starts with a dash; for a value that starts with a dash write --output=VALUE (see --help)\n");
  });

  test("every command's string options: exit 2, one line, nothing written", () => {
    const before = snapshotTree(root);
    let tried = 0;
    for (const c of COMMANDS) {
      for (const [name, spec] of Object.entries(c.options)) {
        if ((spec as { type: string }).type !== "string") continue;
        const r = pkgswitch(["--root", root, ...c.path, `--${name}`, "-1"]);
        const what = `${c.path.join(" ")} --${name} -1 → ${r.code}: ${r.stderr}`;
        expect(r.code, what).toBe(2);
        expect(r.stderr.trim().split("\n"), what).toHaveLength(1);
        expect(r.stderr, what).toContain(`--${name}=VALUE`);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(5);
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
  });
});
