import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import * as ed from "@noble/ed25519";
import {
  hasSmallOrder,
  isCanonicalPointEncoding,
  isCanonicalPointEncodingReference,
  isCanonicalScalar,
  isCanonicalScalarReference,
  publicKeyFromSeed,
  sign,
  SMALL_ORDER_ENCODINGS,
  verifyStrict,
  verifyStrictNode,
  verifyStrictNoble,
} from "../../src/attest/ed25519.ts";
import { VECTORS } from "../helpers/paths.ts";

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  msg: string;
  sig: string;
  result: "valid" | "invalid";
}
interface WycheproofFile {
  numberOfTests: number;
  testGroups: { publicKey: { pk: string }; tests: WycheproofTest[] }[];
}

const hex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const wycheproof = JSON.parse(
  readFileSync(join(VECTORS, "wycheproof/ed25519_test.json"), "utf8"),
) as WycheproofFile;
const cases = wycheproof.testGroups.flatMap((g) =>
  g.tests.map((t) => ({ ...t, pk: hex(g.publicKey.pk) })),
);

describe("Wycheproof ed25519_test.json", () => {
  test("has the documented 151 cases, 88 valid and 63 invalid", () => {
    expect(cases.length).toBe(151);
    expect(cases.length).toBe(wycheproof.numberOfTests);
    expect(cases.filter((c) => c.result === "valid").length).toBe(88);
  });

  for (const [name, verify] of [
    ["verifyStrict", verifyStrict],
    ["verifyStrictNode", verifyStrictNode],
    ["verifyStrictNoble", verifyStrictNoble],
  ] as const) {
    test(`${name} gives every expected result`, () => {
      const wrong = cases
        .filter((c) => verify(hex(c.sig), hex(c.msg), c.pk) !== (c.result === "valid"))
        .map((c) => `tcId ${c.tcId} (${c.comment}) expected ${c.result}`);
      expect(wrong).toEqual([]);
    });
  }

  test("the lax ZIP-215 default of noble would accept something strict rejects", () => {
    // Proves the vectors exercise strictness: without { zip215: false } and the
    // pre-checks, some invalid case passes.
    const laxAccepts = cases.filter((c) => {
      if (c.result !== "invalid") return false;
      try {
        return ed.verify(hex(c.sig), hex(c.msg), c.pk);
      } catch {
        return false;
      }
    });
    expect(laxAccepts.length).toBeGreaterThan(0);
  });
});

describe("the two verifiers agree", () => {
  test("on every Wycheproof case, and on every single-bit flip of each valid one", () => {
    let compared = 0;
    for (const c of cases) {
      const sig = hex(c.sig);
      const msg = hex(c.msg);
      expect(verifyStrictNode(sig, msg, c.pk)).toBe(verifyStrictNoble(sig, msg, c.pk));
      compared++;
      if (c.result !== "valid") continue;
      for (let bit = 0; bit < 512; bit += 37) {
        const bad = sig.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyStrictNode(bad, msg, c.pk)).toBe(false);
        expect(verifyStrictNoble(bad, msg, c.pk)).toBe(false);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1200);
  }, 60_000); // ~1,400 pure-JS verifications

  test("on random keys and messages, valid and tampered", () => {
    for (let i = 0; i < 64; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const pk = publicKeyFromSeed(seed);
      expect(pk).toEqual(ed.getPublicKey(seed));
      const msg = new Uint8Array(randomBytes(i * 13));
      const sig = sign(msg, seed);
      // node:crypto signing is deterministic RFC 8032: same bytes as noble.
      expect(sig).toEqual(ed.sign(msg, seed));
      expect(verifyStrictNode(sig, msg, pk)).toBe(true);
      expect(verifyStrictNoble(sig, msg, pk)).toBe(true);
      const otherMsg = msg.length ? msg.map((b, j) => (j === 0 ? b ^ 1 : b)) : Uint8Array.of(0);
      expect(verifyStrictNode(sig, otherMsg, pk)).toBe(false);
      expect(verifyStrictNoble(sig, otherMsg, pk)).toBe(false);
      // S + L: same value mod L, rejected as malleable by both.
      const s = BigInt("0x" + Buffer.from(sig.subarray(32)).reverse().toString("hex"));
      const sPlusL = s + (1n << 252n) + 27742317777372353535851937790883648493n;
      if (sPlusL < 1n << 256n) {
        const mall = sig.slice();
        mall.set(Buffer.from(sPlusL.toString(16).padStart(64, "0"), "hex").reverse(), 32);
        expect(verifyStrictNode(mall, msg, pk)).toBe(false);
        expect(verifyStrictNoble(mall, msg, pk)).toBe(false);
      }
    }
  });
});

describe("pre-checks", () => {
  const seed = new Uint8Array(32).fill(1);
  const pk = publicKeyFromSeed(seed);
  const msg = new TextEncoder().encode("pkgswitch");
  const sig = sign(msg, seed);

  test("wrong lengths are rejected, not thrown", () => {
    expect(verifyStrict(sig, msg, pk)).toBe(true);
    expect(verifyStrict(sig.subarray(0, 63), msg, pk)).toBe(false);
    expect(verifyStrict(new Uint8Array([...sig, 0]), msg, pk)).toBe(false);
    expect(verifyStrict(sig, msg, pk.subarray(0, 31))).toBe(false);
    expect(verifyStrict(sig, msg, new Uint8Array([...pk, 0]))).toBe(false);
  });

  test("the small-order blocklist is exactly the 8-torsion points (and aliases)", () => {
    // Every canonical blocklisted y decodes (with either sign) to a point of
    // small order, and together they give all 8 points of the torsion group.
    const points = new Set<string>();
    for (const enc of SMALL_ORDER_ENCODINGS) {
      if (!isCanonicalPointEncoding(enc)) continue;
      for (const signBit of [0, 0x80]) {
        const b = enc.slice();
        b[31]! |= signBit;
        let p: ed.Point;
        try {
          p = ed.Point.fromBytes(b, true);
        } catch {
          continue;
        }
        expect(p.isSmallOrder()).toBe(true);
        points.add(p.toHex());
      }
    }
    expect(points.size).toBe(8);
    expect(SMALL_ORDER_ENCODINGS.filter((e) => !isCanonicalPointEncoding(e)).length).toBe(2);
    expect(hasSmallOrder(pk)).toBe(false);
  });

  test("a small-order public key is rejected even with a signature that satisfies the equation", () => {
    // With A = identity and R = identity, S = 0 satisfies [S]B = R + [k]A for
    // every message: the classic "signs everything" key.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = new Uint8Array(64);
    forged.set(identity, 0);
    expect(ed.verify(forged, msg, identity)).toBe(true); // ZIP-215 default is fooled
    expect(verifyStrictNode(forged, msg, identity)).toBe(false);
    expect(verifyStrictNoble(forged, msg, identity)).toBe(false);
  });

  test("scalar and encoding predicates", () => {
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const le = (n: bigint) => new Uint8Array(Buffer.from(n.toString(16).padStart(64, "0"), "hex").reverse());
    expect(isCanonicalScalar(le(L - 1n))).toBe(true);
    expect(isCanonicalScalar(le(L))).toBe(false);
    const p = (1n << 255n) - 19n;
    expect(isCanonicalPointEncoding(le(p - 1n))).toBe(true);
    expect(isCanonicalPointEncoding(le(p))).toBe(false);
    const withSign = le(p - 1n);
    withSign[31]! |= 0x80;
    expect(isCanonicalPointEncoding(withSign)).toBe(true);
  });

  test("the byte-comparison predicates agree with the BigInt references", () => {
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const p = (1n << 255n) - 19n;
    const le = (n: bigint) => new Uint8Array(Buffer.from(n.toString(16).padStart(64, "0"), "hex").reverse());
    const inputs: Uint8Array[] = [];
    // Around each bound, with and without the sign bit, and the extremes.
    for (const b of [0n, 1n, L, p, 1n << 252n, 1n << 255n, (1n << 256n) - 1n]) {
      for (let d = -300n; d <= 300n; d++) {
        const n = b + d;
        if (n < 0n || n >= 1n << 256n) continue;
        const x = le(n);
        inputs.push(x);
        const y = x.slice();
        y[31]! ^= 0x80;
        inputs.push(y);
      }
    }
    // Random values, and random values sharing a long prefix with L and p.
    for (let i = 0; i < 3000; i++) {
      const r = new Uint8Array(randomBytes(32));
      inputs.push(r);
      const k = i % 32;
      for (const bound of [le(L), le(p)]) {
        const m = r.slice();
        m.set(bound.subarray(32 - k), 32 - k);
        inputs.push(m);
      }
    }
    for (const x of inputs) {
      expect(isCanonicalScalar(x)).toBe(isCanonicalScalarReference(x));
      expect(isCanonicalPointEncoding(x)).toBe(isCanonicalPointEncodingReference(x));
    }
    expect(isCanonicalScalar(new Uint8Array(31))).toBe(false);
    expect(isCanonicalPointEncoding(new Uint8Array(33))).toBe(false);
  });
});

describe("the last-key shortcut of verifyStrictNode", () => {
  const msg = new TextEncoder().encode("pkgswitch");
  test("a key array changed in place after a verify is verified as the new key", () => {
    const seedA = new Uint8Array(32).fill(7);
    const seedB = new Uint8Array(32).fill(8);
    const pkA = publicKeyFromSeed(seedA);
    const pkB = publicKeyFromSeed(seedB);
    const sigA = sign(msg, seedA);
    const sigB = sign(msg, seedB);
    // A Buffer: its slice() would share memory, so a kept "copy" would change too.
    const key = Buffer.from(pkA);
    expect(verifyStrictNode(sigA, msg, key)).toBe(true);
    key.set(pkB);
    expect(verifyStrictNode(sigA, msg, key)).toBe(false);
    expect(verifyStrictNode(sigB, msg, key)).toBe(true);
    // Changed into a small-order key: the key's own checks run again.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const forged = new Uint8Array(64);
    forged.set(identity, 0);
    key.set(identity);
    expect(verifyStrictNode(forged, msg, key)).toBe(false);
    // And the same key again, after others: still verifies, still strict.
    expect(verifyStrictNode(sigA, msg, pkA)).toBe(true);
    expect(verifyStrictNode(sigA, msg, pkA)).toBe(true);
    const highS = new Uint8Array(sigA);
    highS[63] = 0xff;
    expect(verifyStrictNode(highS, msg, pkA)).toBe(false);
  });
});
