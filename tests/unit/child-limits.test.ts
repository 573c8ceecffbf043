/** Children start with an open-files soft limit of at most 1024
 * (src/sys/limits.ts): both runtimes raise their own soft limit to the hard
 * one, and a child started through src/sys gets it lowered back, the hard
 * limit untouched. Each runtime is checked in a process of its own (the
 * lowering is process-wide; this test runner keeps its raised limit). */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const SYS = join(ROOT, "src", "sys", "index.ts");
const DENO = join(ROOT, "node_modules", ".bin", "deno");

/** A program that prints the limits a child sees: first started directly
 * (node:child_process, the runtime's raised limit), then through src/sys. */
const PROGRAM = `
import { spawnSync as direct } from "node:child_process";
const sys = await import(${JSON.stringify(SYS)});
const sh = ["/bin/sh", "-c", "echo $(ulimit -Sn) $(ulimit -Hn)"];
const before = direct(sh[0], sh.slice(1)).stdout.toString().trim();
const after = sys.spawnSync(sh, { env: { PATH: "/usr/bin:/bin" } }).stdout.trim();
const again = direct(sh[0], sh.slice(1)).stdout.toString().trim();
console.log(JSON.stringify({ before, after, again }));
`;

function limits(argv: string[]): { before: number[]; after: number[]; again: number[] } {
  const r = spawnSync(argv[0]!, [...argv.slice(1), PROGRAM], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const o = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Record<string, string>;
  const nums = (s: string) => s.split(" ").map(Number);
  return { before: nums(o.before!), after: nums(o.after!), again: nums(o.again!) };
}

function check(l: { before: number[]; after: number[]; again: number[] }): void {
  const [rawSoft, rawHard] = l.before as [number, number];
  // Through src/sys: the soft limit is 1024 when the runtime's was above it,
  // otherwise what it was; the hard limit is never changed.
  expect(l.after).toEqual([Math.min(rawSoft, 1024), rawHard]);
  // It is the process's own limit that was lowered, once: later children too.
  expect(l.again).toEqual(l.after);
}

test("bun: a child started through src/sys gets a soft open-files limit of at most 1024", () => {
  const l = limits([process.execPath, "-e"]);
  // On this machine's kind the hard limit is above 1024, so the runtime's
  // raise is visible and the test can fail.
  if (l.before[1]! > 1024) expect(l.before[0]!).toBeGreaterThan(1024);
  check(l);
});

test.skipIf(!existsSync(DENO))("deno: the same through Deno's FFI", () => {
  check(limits([DENO, "eval"]));
});
