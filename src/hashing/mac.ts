/** MACs over pkgswitch's own state files, keyed from the signing key
 * (docs/formats.md "Journals and their MAC", "State files"). Whoever can
 * write the state or audit directory — a container's root, when the
 * operator signs with a key kept outside the container — must not be able
 * to plant what the next signed operation would take as its own: a journal
 * to finalize, a digest to record. Each use derives its own key from the
 * seed under a context string, so no MAC says anything about the signing
 * key or about another use's MAC. */
import { nodeCrypto } from "../sys/index.ts";

/** SHA-256(context ‖ seed): a key of its own per use, never the seed. */
export function derivedMacKey(context: string, seed: Uint8Array): Uint8Array {
  return new Uint8Array(nodeCrypto().createHash("sha256").update(context).update(seed).digest());
}

/** HMAC-SHA256 of `data` under `key`, 64 lowercase hex. */
export function hmacHex(key: Uint8Array, data: string | Uint8Array): string {
  return nodeCrypto().createHmac("sha256", key).update(data).digest("hex");
}

/** `got` equals the hex MAC `want` (constant time in the common length). */
export function macEquals(got: string, want: string): boolean {
  const a = Buffer.from(got);
  const b = Buffer.from(want);
  return a.length === b.length && nodeCrypto().timingSafeEqual(a, b);
}
