/**
 * Strict RFC 8032 Ed25519, the one signature primitive behind every `.sig`
 * file and checkpoint pkgswitch writes or accepts.
 *
 * "Strict" means the libsodium rules (which minisign itself uses), so that a
 * signature we accept is one minisign accepts and vice versa:
 *
 *   - signature is exactly 64 bytes and public key exactly 32 bytes;
 *   - S is fully reduced (S < L), so a signature cannot be re-encoded as S+L;
 *   - A (public key) and R are canonical encodings (y < p);
 *   - A and R are not small-order points, so a crafted key cannot make one
 *     signature valid for many messages;
 *   - the check is the cofactorless equation [S]B = R + [k]A with R compared
 *     byte for byte against the recomputed encoding.
 *
 * Two verifiers are provided and tested against each other (Wycheproof plus
 * random messages): `verifyStrictNoble` (pure JS, @noble/ed25519 with
 * `zip215: false`) and `verifyStrictNode` (node:crypto, ~50x faster), both
 * behind the same pure pre-checks. `verifyStrict` is the fast one.
 */
import * as ed from "@noble/ed25519";
import { sha512 } from "@noble/hashes/sha2.js";
import type { KeyObject } from "node:crypto";
import { nodeCrypto } from "../sys/index.ts";

// noble v3 ships without a hash; the sync API needs one wired in.
ed.hashes.sha512 = sha512;

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** Group order L = 2^252 + 27742317777372353535851937790883648493. */
const L = (1n << 252n) + 27742317777372353535851937790883648493n;
/** Field prime p = 2^255 - 19. */
const P = (1n << 255n) - 19n;

function leToBigint(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function bigintToLe32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** L and p as 32 little-endian bytes: the pre-checks compare bytes from
 * the most significant end (the same order as the integers; no BigInt per
 * signature — they run twice per audit file in `verify --all`). */
const L_LE = bigintToLe32(L);
const P_LE = bigintToLe32(P);

/** a < b for 32-byte little-endian integers; `topMask` masks a's top byte. */
function lessLe32(a: Uint8Array, b: Uint8Array, topMask: number): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 ? a[i]! & topMask : a[i]!;
    if (x !== b[i]) return x < b[i]!;
  }
  return false;
}

/** True if the 32-byte little-endian scalar is < L (RFC 8032 5.1.7, step 1). */
export function isCanonicalScalar(s: Uint8Array): boolean {
  return s.length === 32 && lessLe32(s, L_LE, 0xff);
}

/** The BigInt forms of the two range checks: the reference the byte
 * comparisons are tested against. */
export function isCanonicalScalarReference(s: Uint8Array): boolean {
  return s.length === 32 && leToBigint(s) < L;
}
export function isCanonicalPointEncodingReference(b: Uint8Array): boolean {
  if (b.length !== 32) return false;
  const y = b.slice();
  y[31]! &= 0x7f;
  return leToBigint(y) < P;
}

/** True if the point encoding's y (sign bit masked off) is < p. Non-canonical
 * encodings (y in [p, 2^255)) decode to the same point as y - p, which would
 * let one key or R have two byte forms. */
export function isCanonicalPointEncoding(b: Uint8Array): boolean {
  return b.length === 32 && lessLe32(b, P_LE, 0x7f);
}

/**
 * The y coordinates of the eight points of order 1, 2, 4 and 8, plus the two
 * non-canonical aliases p and p+1 (of 0 and 1); with the sign bit ignored this
 * is libsodium's `ge25519_has_small_order` blocklist. It also covers the
 * "negative zero" encodings (x = 0 with the sign bit set: y = 1 and y = p-1).
 */
const ORDER8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y: readonly bigint[] = [0n, 1n, P - 1n, ORDER8_Y, P - ORDER8_Y, P, P + 1n];
/** Encodings (sign bit clear) of every small-order y, exported for tests. */
export const SMALL_ORDER_ENCODINGS: readonly Uint8Array[] = SMALL_ORDER_Y.map(bigintToLe32);

/** True if the encoding names a point of small order (sign bit ignored). */
export function hasSmallOrder(b: Uint8Array): boolean {
  if (b.length !== 32) return false;
  // A plain loop, not .some(callback): a new closure per call made the
  // JIT's inlined callee check fail on every signature.
  for (let k = 0; k < SMALL_ORDER_ENCODINGS.length; k++) {
    const bad = SMALL_ORDER_ENCODINGS[k]!;
    let diff = (b[31]! & 0x7f) ^ bad[31]!;
    for (let i = 0; i < 31; i++) diff |= b[i]! ^ bad[i]!;
    if (diff === 0) return true;
  }
  return false;
}

/** The pure checks both verifiers share. Anything they reject would only be
 * accepted by a lax verifier, so rejecting it here is never a false negative
 * for an honest signature. */
function preChecks(sig: Uint8Array, pk: Uint8Array): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== PUBLIC_KEY_BYTES) return false;
  return sigChecks(sig) && isCanonicalPointEncoding(pk) && !hasSmallOrder(pk);
}

/** The signature's share of the pre-checks (S < L; R canonical, not of small order). */
function sigChecks(sig: Uint8Array): boolean {
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) return false;
  const r = sig.subarray(0, 32);
  return isCanonicalScalar(sig.subarray(32, 64)) && isCanonicalPointEncoding(r) && !hasSmallOrder(r);
}

/** Strict verification with @noble/ed25519 (pure JS, reference for tests). */
export function verifyStrictNoble(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  if (!preChecks(sig, pk)) return false;
  try {
    return ed.verify(sig, msg, pk, { zip215: false });
  } catch {
    return false; // undecodable point
  }
}

// DER prefixes for raw Ed25519 keys (RFC 8410): SubjectPublicKeyInfo and
// PKCS#8 PrivateKeyInfo, each followed by the 32 raw bytes.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** KeyObject per public key (hex). Building one costs more than a verify, and
 * an audit verifies many signatures under a handful of keys. Bounded so a
 * caller feeding arbitrary keys cannot grow it without limit. */
const keyCache = new Map<string, KeyObject | null>();
const KEY_CACHE_MAX = 256;

function publicKeyObject(pk: Uint8Array): KeyObject | null {
  const id = Buffer.from(pk).toString("hex");
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  let key: KeyObject | null;
  try {
    key = nodeCrypto().createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: "der", type: "spki" });
  } catch {
    key = null;
  }
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(id, key);
  return key;
}

/** The last public key that passed the pre-checks (a copy: the caller's
 * array may change), and its KeyObject. `verify --all`
 * checks thousands of signatures in a row under one key; comparing 32 bytes
 * skips the key's checks, its hex id and the map. */
let last: { pk: Uint8Array; key: KeyObject } | null = null;

function sameKey(pk: Uint8Array, known: Uint8Array): boolean {
  if (!(pk instanceof Uint8Array) || pk.length !== PUBLIC_KEY_BYTES) return false;
  for (let i = 0; i < PUBLIC_KEY_BYTES; i++) if (pk[i] !== known[i]) return false;
  return true;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new TypeError(`Ed25519 seed must be ${SEED_BYTES} bytes`);
  }
  return nodeCrypto().createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** Strict verification with node:crypto. The native verifier already does
 * the cofactorless byte comparison of R; the pre-checks add what it may not
 * (S < L, small-order A and R, canonical A). */
export function verifyStrictNode(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean {
  let key: KeyObject | null;
  if (last !== null && sameKey(pk, last.pk)) {
    if (!sigChecks(sig)) return false;
    key = last.key;
  } else {
    if (!preChecks(sig, pk)) return false;
    key = publicKeyObject(pk);
    if (key === null) return false;
    last = { pk: new Uint8Array(pk), key }; // a copy (Buffer#slice would share the memory)
  }
  try {
    return nodeCrypto().verify(null, msg, key, sig);
  } catch {
    return false; // e.g. A is not on the curve
  }
}

/** Strict RFC 8032 Ed25519 verification (see module comment). Never throws. */
export const verifyStrict: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean =
  verifyStrictNode;

/** Ed25519 signature (64 bytes) of `msg` under the 32-byte `seed`. */
export function sign(msg: Uint8Array, seed: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto().sign(null, msg, privateKeyObject(seed)));
}

/** The 32-byte public key for a 32-byte seed. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  const der = nodeCrypto().createPublicKey(privateKeyObject(seed)).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - PUBLIC_KEY_BYTES));
}
