/** BLAKE2b-512, minisign's prehash. node:crypto's native BLAKE2b is ~30x
 * faster than @noble/hashes over a 35 KB audit file (it is what `audit
 * verify --all` spends its time on); noble is the fallback and the
 * reference the native one is tested against (tests/unit/blake2.test.ts). */
import { nodeCrypto } from "../sys/index.ts";
import { blake2b } from "@noble/hashes/blake2.js";

let native: boolean | null = null;

/** Whether the runtime's BLAKE2b-512 exists and agrees with noble's. */
export function nativeBlake2b(): boolean {
  if (native === null) {
    try {
      const abc = new TextEncoder().encode("abc");
      native = nodeCrypto().createHash("blake2b512").update(abc).digest("hex") === Buffer.from(blake2b(abc, { dkLen: 64 })).toString("hex");
    } catch {
      native = false;
    }
  }
  return native;
}

export function blake2b512(bytes: Uint8Array): Uint8Array {
  return nativeBlake2b() ? new Uint8Array(nodeCrypto().createHash("blake2b512").update(bytes).digest()) : blake2b(bytes, { dkLen: 64 });
}
