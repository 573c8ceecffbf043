/** writeFileAtomic on real temp directories: a rename that fails (a
 * directory where the file goes) replaces nothing and leaves no temp file. */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/fsops/atomic.ts";

const dir = mkdtempSync(join(tmpdir(), "pkgswitch-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a directory where the file goes: the error is thrown, the directory stays, no temp file is left", () => {
  mkdirSync(join(dir, "state.json"));
  expect(() => writeFileAtomic(join(dir, "state.json"), "{}\n")).toThrow();
  expect(readdirSync(dir)).toEqual(["state.json"]);
});

test("the ordinary case: the content is in place, no temp file", () => {
  writeFileAtomic(join(dir, "ok.json"), "{}\n");
  expect(readFileSync(join(dir, "ok.json"), "utf8")).toBe("{}\n");
  expect(readdirSync(dir).sort()).toEqual(["ok.json", "state.json"]);
});
