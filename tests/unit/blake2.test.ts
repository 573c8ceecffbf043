import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { blake2b } from "@noble/hashes/blake2.js";
import { blake2b512, nativeBlake2b } from "../../src/attest/blake2.ts";

describe("BLAKE2b-512: native against @noble/hashes", () => {
  test("the runtime has a native BLAKE2b-512 (else verify is ~30x slower)", () => expect(nativeBlake2b()).toBe(true));
  for (const n of [0, 1, 127, 128, 129, 1000, 35_000, 1 << 20]) {
    test(`${n} bytes`, () => {
      const b = new Uint8Array(randomBytes(n));
      expect(Buffer.from(blake2b512(b)).toString("hex")).toBe(Buffer.from(blake2b(b, { dkLen: 64 })).toString("hex"));
    });
  }
  test("RFC 7693 appendix A: BLAKE2b-512(\"abc\")", () => {
    expect(Buffer.from(blake2b512(new TextEncoder().encode("abc"))).toString("hex")).toBe(
      "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
    );
  });
});
