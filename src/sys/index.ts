/** The runtime boundary: the one place that chooses between the Bun and
 * Deno implementations. Everything else imports these functions and never
 * names a runtime (scripts/check-structure.ts enforces it). */
import type { Runtime } from "./types.ts";

export type { Child, Libc, SpawnOptions, SpawnSyncResult } from "./types.ts";

// Only the running runtime's implementation is loaded and evaluated: the
// other one is dead weight at start-up (the build splits each into a chunk
// of its own, and Deno never reads bun.ts).
const rt: Runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? (await import("./bun.ts")).bunRuntime
  : (await import("./deno.ts")).denoRuntime;

export const RUNTIME = rt.name;
export const spawnSync = rt.spawnSync;
export const spawn = rt.spawn;
export const sleepSync = rt.sleepSync;
export const libc = rt.libc;
export const stdinText = rt.stdinText;
export const stdinLine = rt.stdinLine;
/** SHA-256 as 64 lowercase hex digits: the one helper for digests of
 * in-memory strings and bytes (files: src/hashing/hash.ts streams them). */
export const sha256Hex = rt.sha256Hex;
export const compiledBinary = rt.compiled;
export const collectGarbage = rt.collectGarbage;
export { nodeCrypto, nodeOs, randomBytes, workerThreads } from "./builtins.ts";
