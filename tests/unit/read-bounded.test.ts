/** readBounded (src/config/bounded.ts) stops reading a regular file when a
 * short read ends at the size fstat gave, without the extra read that sees
 * EOF. Files whose size says nothing — /proc returns its text in page-sized
 * short reads and reports size 0 — must still be read whole. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBounded } from "../../src/config/bounded.ts";

const dir = mkdtempSync(join(tmpdir(), "pkgswitch-read-bounded-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("regular files of every size around the buffer's edges read whole", () => {
  for (const size of [0, 1, 4095, 4096, 4097, 8191, 8192, 100_000]) {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + size) & 0xff;
    const path = join(dir, `f-${size}`);
    writeFileSync(path, bytes);
    expect(Buffer.compare(readBounded(path, { max: 1 << 20 }), bytes)).toBe(0);
  }
});

test("a /proc file (size 0, text in several short reads) is read to its end", () => {
  // /proc/self/maps of a Bun process is longer than one page: the kernel
  // hands it out a page at a time, each read short of what was asked.
  const got = readBounded("/proc/self/maps", { max: 1 << 24 }).toString("utf8");
  const again = readFileSync("/proc/self/maps", "utf8");
  expect(got.length).toBeGreaterThan(4096);
  expect(got.endsWith("\n")).toBe(true);
  // The mappings change between two reads; the last one (the vsyscall page,
  // or the stack) does not.
  const last = (t: string) => t.trimEnd().split("\n").at(-1);
  expect(last(got)).toBe(last(again));
});

test("a file over the bound is refused, not truncated", () => {
  const path = join(dir, "big");
  writeFileSync(path, Buffer.alloc(5000, 0x61));
  expect(() => readBounded(path, { max: 4999 })).toThrow(/larger than 4999 bytes/);
  expect(readBounded(path, { max: 5000 }).length).toBe(5000);
});
