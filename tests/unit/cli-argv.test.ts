/** src/cli/argv.ts `parseSimple` against node:util parseArgs (src/cli/args.ts
 * `parse`, the reference): on every command line where it gives an answer,
 * the answer is parseArgs' own; every command line parseArgs refuses, it
 * leaves to parseArgs (null), so a user sees parseArgs' error text; and the
 * command lines hooks and users type are answered without parseArgs. */
import { expect, test } from "bun:test";
import { parse } from "../../src/cli/args.ts";
import { parseSimple, type Parsed } from "../../src/cli/argv.ts";
import { COMMANDS } from "../../src/cli/commands.ts";

const OPTIONS = Object.assign({}, ...COMMANDS.map((c) => c.options));

/** parseArgs' answer, or the error it words. */
function reference(argv: string[]): Parsed | string {
  try {
    return parse(argv, OPTIONS);
  } catch (e) {
    return (e as Error).message;
  }
}

/** The same answer, prototypes included (parseArgs' values have none). */
function same(a: Parsed, b: Parsed): void {
  expect(a).toEqual(b);
  expect(Object.getPrototypeOf(a.values)).toBe(Object.getPrototypeOf(b.values));
  expect(Object.keys(a.values)).toEqual(Object.keys(b.values));
}

test("the everyday command lines are answered without parseArgs, as parseArgs answers them", () => {
  const plain = [
    [],
    ["--version"],
    ["--version", "--json"],
    ["relink", "-q"],
    ["--root", "/tmp/r", "relink", "--hook"],
    ["relink", "--hook", "--pre-invoke"],
    ["relink", "--hook", "--apt-pre-install"],
    ["--root=/tmp/r", "status", "--json"],
    ["status", "coreutils", "-v", "--no-color"],
    ["enable", "coreutils", "-y", "--dry-run", "--key", "k.key"],
    ["audit", "verify", "--all", "--pubkey", "a.pub", "--pubkey=b.pub"],
    ["audit", "show", "--", "--not-an-option"],
    ["--root", "/r", "--root", "/s", "list"],
    ["--help"],
    ["disable", "coreutils", "-h"],
  ];
  for (const argv of plain) {
    const ours = parseSimple(argv, OPTIONS);
    const ref = reference(argv);
    if (typeof ref === "string") throw new Error(`${JSON.stringify(argv)}: parseArgs refuses it: ${ref}`);
    if (ours === null) throw new Error(`${JSON.stringify(argv)}: left to parseArgs`);
    same(ours, ref);
  }
});

test("what parseArgs refuses, or reads by rules of its own, is left to it", () => {
  const left = [
    ["--nope"],
    ["relink", "--hook=yes"],
    ["--root"],
    ["--root", "--json"],
    ["-x"],
    ["-qy", "relink"],
    ["audit", "export", "-o", "out.bundle"],
    ["audit", "export", "-oout.bundle"],
    ["-"],
    ["--no-json"],
    ["--__proto__"],
    ["--toString"],
    ["--=x"],
  ];
  for (const argv of left) expect(`${JSON.stringify(argv)} → ${JSON.stringify(parseSimple(argv, OPTIONS))}`).toBe(`${JSON.stringify(argv)} → null`);
  // The refused ones keep parseArgs' wording (main prints it).
  expect(reference(["--nope"])).toBe("Unknown option '--nope' (see --help)");
  expect(reference(["--root"])).toBe("Option '--root <value>' argument missing (see --help)");
});

test("on generated command lines parseSimple is parseArgs or leaves it to parseArgs", () => {
  // Tokens around every rule: flags, string options (separate, inline,
  // empty, dash-led values), repeatable options, letters, groups, `--`,
  // a lone dash, unknown names, positionals.
  const pool = [
    "relink", "status", "coreutils", "x", "", "--", "-", "-q", "-y", "-v", "-h", "-o", "-qy", "-z", "-5",
    "--json", "--hook", "--dry-run", "--root", "--root=/r", "--root=", "--root=-x", "--key", "--pubkey", "--pubkey=p",
    "--hook=1", "--nope", "--no-json", "--version", "--output", "--output=o", "--=", "---", "--constructor",
  ];
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let answered = 0;
  for (let n = 0; n < 4000; n++) {
    const argv = Array.from({ length: Math.floor(next() * 6) }, () => pool[Math.floor(next() * pool.length)]!);
    const ours = parseSimple(argv, OPTIONS);
    if (ours === null) continue;
    answered++;
    const ref = reference(argv);
    if (typeof ref === "string") throw new Error(`${JSON.stringify(argv)}: answered, but parseArgs refuses it: ${ref}`);
    same(ours, ref);
  }
  expect(answered).toBeGreaterThan(500);
});
