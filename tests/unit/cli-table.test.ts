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
