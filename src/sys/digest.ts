/** SHA-256 into a caller's buffer, for hot loops that compare digests
 * without building hex strings (verify's per-line chain hash). Bun hashes
 * into the buffer natively; elsewhere node:crypto's digest is copied in.
 * (Kept apart from ./index.ts, which chooses the runtime module.) */
import { nodeCrypto } from "./builtins.ts";

type BunSha = { SHA256: { hash(data: Uint8Array, out: Uint8Array): Uint8Array } };
const bunSha = (globalThis as { Bun?: BunSha }).Bun;

/** Write SHA-256(data) into out[0, 32). */
export const sha256Into: (data: Uint8Array, out: Uint8Array) => void = bunSha
  ? (data, out) => void bunSha.SHA256.hash(data, out)
  : (data, out) => out.set(nodeCrypto().createHash("sha256").update(data).digest());
