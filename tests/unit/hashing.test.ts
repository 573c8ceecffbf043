import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { CHUNK_SIZE, sha256Hex, sha256File, sha256FileSync } from "../../src/hashing/hash.ts";

/** Independent reference implementation (pure JS). */
const reference = (b: Uint8Array) => bytesToHex(sha256(b));

// Sizes around the 64-byte block and padding boundaries, and around the
// 1 MiB read chunk and the sync/async switch-over (4 chunks).
const SIZES = [
  0, 1, 55, 56, 63, 64, 65, 119, 127, 128, 1000, 4096, 65535, 65536,
  CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 7, 2 * CHUNK_SIZE + 1,
  4 * CHUNK_SIZE, 4 * CHUNK_SIZE + 1, 9 * CHUNK_SIZE + 12345,
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pkgswitch-hash-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("sha256Hex", () => {
  test("known answers (FIPS 180-2)", () => {
    expect(sha256Hex(new Uint8Array(0))).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    expect(sha256Hex("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  for (const size of SIZES) {
    test(`matches @noble/hashes on ${size} random bytes`, () => {
      const data = randomBytes(size);
      expect(sha256Hex(data)).toBe(reference(data));
    });
  }
});

describe("sha256File / sha256FileSync", () => {
  for (const size of SIZES) {
    test(`file of ${size} random bytes matches @noble/hashes`, async () => {
      const data = randomBytes(size);
      const path = join(dir, `f${size}`);
      writeFileSync(path, data);
      const want = reference(data);
      expect(sha256FileSync(path)).toBe(want);
      expect(await sha256File(path)).toBe(want);
    });
  }

  test("output is 64 lowercase hex digits", async () => {
    const path = join(dir, "hexcase");
    writeFileSync(path, "pkgswitch");
    expect(await sha256File(path)).toMatch(/^[0-9a-f]{64}$/);
  });

  test("real files on this system match the reference", async () => {
    // Whatever of these exists; at least the test file itself does.
    const candidates = [import.meta.path, "/etc/hostname", "/etc/passwd", process.execPath];
    let checked = 0;
    for (const path of candidates) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
      } catch {
        continue;
      }
      const want = reference(bytes);
      expect(sha256FileSync(path)).toBe(want);
      expect(await sha256File(path)).toBe(want);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  test("concurrent async hashing of large files does not mix buffers", async () => {
    const a = randomBytes(5 * CHUNK_SIZE + 3);
    const b = randomBytes(6 * CHUNK_SIZE + 5);
    writeFileSync(join(dir, "ca"), a);
    writeFileSync(join(dir, "cb"), b);
    const [ha, hb] = await Promise.all([sha256File(join(dir, "ca")), sha256File(join(dir, "cb"))]);
    expect(ha).toBe(reference(a));
    expect(hb).toBe(reference(b));
  });

  test("follows symlinks (content of the target)", () => {
    writeFileSync(join(dir, "target"), "target content");
    symlinkSync(join(dir, "target"), join(dir, "link"));
    expect(sha256FileSync(join(dir, "link"))).toBe(sha256Hex("target content"));
  });

  test("missing file rejects with ENOENT", async () => {
    expect(() => sha256FileSync(join(dir, "nope"))).toThrow(/ENOENT/);
    await expect(sha256File(join(dir, "nope"))).rejects.toThrow(/ENOENT/);
  });
});
