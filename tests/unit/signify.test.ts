import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  generateSecretKey,
  keyIdHex,
  MinisignError,
  parsePublicKey,
  parseSignature,
  verifySignature,
} from "../../src/attest/minisign.ts";
import { VECTORS } from "../helpers/paths.ts";

// OpenBSD signify regress files: legacy "Ed" signatures over the raw file,
// 2-line files without a trusted comment.
const dir = join(VECTORS, "signify");
const readBytes = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
const readText = (f: string) => readFileSync(join(dir, f), "utf8");

describe("signify regress vectors", () => {
  const key = parsePublicKey(readText("regresskey.pub"));
  const orders = readBytes("orders.txt");
  const ordersSig = readText("orders.txt.sig");

  test("regresskey.pub parses despite its signify comment", () => {
    expect(readText("regresskey.pub").startsWith("untrusted comment: signify public key\n")).toBe(true);
    expect(key.pk.length).toBe(32);
    expect(keyIdHex(key.keyId)).toMatch(/^[0-9A-F]{16}$/);
  });

  test("orders.txt.sig verifies with regresskey.pub only with allowLegacy", () => {
    expect(verifySignature(orders, ordersSig, [key], { allowLegacy: true })).toEqual({
      ok: true,
      keyId: keyIdHex(key.keyId),
      trustedComment: undefined,
      legacy: true,
    });
    expect(verifySignature(orders, ordersSig, [key])).toMatchObject({ ok: false, reason: "legacy not allowed" });
    expect(verifySignature(orders, ordersSig, [key], { lenient: true })).toMatchObject({
      ok: false,
      reason: "legacy not allowed",
    });
  });

  test("the 2-line form is lenient-only", () => {
    expect(() => parseSignature(ordersSig)).toThrow(MinisignError);
    const parsed = parseSignature(ordersSig, { lenient: true });
    expect(parsed.algorithm).toBe("Ed");
    expect(parsed.trustedComment).toBeUndefined();
    expect(parsed.keyId).toEqual(key.keyId);
  });

  test("forgery.txt.sig fails: same signature, different message", () => {
    const forgery = readBytes("forgery.txt");
    const forgerySig = readText("forgery.txt.sig");
    expect(Buffer.from(forgery).equals(Buffer.from(orders))).toBe(false);
    expect(verifySignature(forgery, forgerySig, [key], { allowLegacy: true })).toMatchObject({
      ok: false,
      reason: "bad signature",
    });
    // And the genuine signature does not cover the forged text either.
    expect(verifySignature(forgery, ordersSig, [key], { allowLegacy: true }).ok).toBe(false);
  });

  test("another key is reported as untrusted, not as a bad signature", () => {
    const other = generateSecretKey();
    expect(verifySignature(orders, ordersSig, [other], { allowLegacy: true })).toMatchObject({
      ok: false,
      reason: "untrusted key",
      keyId: keyIdHex(key.keyId),
    });
  });
});
