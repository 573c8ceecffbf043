/** The command table's contract with src/cli/main.ts: `--version` is
 * answered from a parse with the global options alone, which is only the
 * same answer if no command option redefines a global one. */
import { expect, test } from "bun:test";
import { GLOBAL_OPTIONS } from "../../src/cli/args.ts";
import { COMMANDS } from "../../src/cli/commands.ts";

test("no command option shares a name or short flag with a global option", () => {
  const globalShorts = new Set(Object.values(GLOBAL_OPTIONS).map((o) => (o as { short?: string }).short).filter(Boolean));
  for (const c of COMMANDS) {
    for (const [name, spec] of Object.entries(c.options)) {
      expect(`${c.path.join(" ")} --${name}: ${name in GLOBAL_OPTIONS}`).toBe(`${c.path.join(" ")} --${name}: false`);
      if (spec.short) expect(globalShorts.has(spec.short)).toBe(false);
    }
  }
  expect(COMMANDS.length).toBeGreaterThan(10);
});

/** The positionals a usage form shows: `<x>`, `[x]`, with `…` for any
 * number; option values (`--op ID`, `[--dir DIR]`) are not positionals. */
function positionalsShown(args: string): number {
  let n = 0;
  for (const w of args.split(/\s+/)) {
    const m = /^[<[]([^-<[\]>][^\]>]*)[\]>](…?)$/.exec(w);
    if (m) n += m[2] || m[1]!.endsWith("…") ? Infinity : 1;
  }
  return n;
}

test("each command's maxArgs (main refuses more positionals) is what its usage form shows", () => {
  for (const c of COMMANDS) expect(`${c.path.join(" ")} ${c.args}: ${c.maxArgs}`).toBe(`${c.path.join(" ")} ${c.args}: ${positionalsShown(c.args)}`);
  expect(COMMANDS.filter((c) => c.maxArgs === 0).length).toBeGreaterThan(10);
  expect(COMMANDS.filter((c) => c.maxArgs === 1).map((c) => c.path.join(" ")).sort()).toEqual(["audit show", "check", "completion"]);
});
