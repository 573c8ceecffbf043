/** tooDeep (src/config/bounded.ts) has two ways to one answer: below 1 MiB
 * the regular-expression engine skips strings and comments, above it a
 * loop over the characters does. They must agree on every text: random
 * texts over the characters that matter (brackets, quotes, backslashes,
 * slashes, stars, newlines), hand-picked edge cases, and real documents. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_JSON_DEPTH, tooDeep, tooDeepScan } from "../../src/config/bounded.ts";

const ALPHABET = ['{', '}', '[', ']', '"', "\\", "/", "*", "\n", "a", " "];

/** A small deterministic generator (xorshift), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

test("random texts: both ways agree, at several depth limits", () => {
  const r = rng(12);
  let deep = 0;
  for (let n = 0; n < 20000; n++) {
    const len = Math.floor(r() * 40);
    let s = "";
    for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
    for (const max of [0, 1, 2, 3]) {
      const want = tooDeepScan(s, max);
      if (want) deep++;
      if (tooDeep(s, max) !== want) expect({ s, max, got: tooDeep(s, max) }).toEqual({ s, max, got: want });
    }
  }
  expect(deep).toBeGreaterThan(1000); // the random texts do reach both answers
});

test("edge cases: escapes at the end, unterminated strings and comments, lone slashes", () => {
  const cases = [
    '"\\', '"\\"[[', '"a\\\\"[[', '"a\\\\\\"[["', '[/"[["]', "//[[\n[[", "//[[", "/*[[*/[[", "/*[[", "/*/[[*/[", "/**/[[", "[/]/[",
    '"/*"[[', '"//"[[', '/"[["[[', "{\"a\\u0022[\":[[]]}", "[".repeat(65), `${"[".repeat(64)}${"]".repeat(64)}`, `"${"[".repeat(70)}"`,
  ];
  for (const s of cases) for (const max of [1, 2, MAX_JSON_DEPTH]) expect({ s, max, got: tooDeep(s, max) }).toEqual({ s, max, got: tooDeepScan(s, max) });
  expect(tooDeep("[".repeat(65))).toBe(true);
  expect(tooDeep(`"${"[".repeat(70)}"`)).toBe(false);
  expect(tooDeep("/*[[*/[[", 1)).toBe(true);
  expect(tooDeep('"\\"[[', 1)).toBe(false); // the quote is escaped: all of it is one string
});

test("real documents agree, and a text above 1 MiB takes the loop with the same answer", () => {
  const catalog = readFileSync(join(import.meta.dir, "../../src/providers/catalog.jsonc"), "utf8");
  expect(tooDeep(catalog)).toBe(false);
  expect(tooDeep(catalog, 2)).toBe(tooDeepScan(catalog, 2));
  const big = `[${'{"a": "x\\"y", "b": [1, 2, {"c": null}]},'.repeat(40000)}{}]`;
  expect(big.length).toBeGreaterThan(1 << 20);
  expect(tooDeep(big)).toBe(false);
  expect(tooDeep(big, 2)).toBe(true);
  const hostile = `"${"\\\\".repeat(600000)}"${"[".repeat(65)}`;
  expect(tooDeep(hostile)).toBe(true);
  expect(tooDeep(hostile.slice(0, 1 << 19) + '"' + "[".repeat(65))).toBe(tooDeepScan(hostile.slice(0, 1 << 19) + '"' + "[".repeat(65)));
});
