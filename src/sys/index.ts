/** The runtime boundary: the one place that chooses between the Bun and
 * Deno implementations. Everything else imports these functions and never
 * names a runtime (scripts/check-structure.ts enforces it). */
import type { Runtime } from "./types.ts";
import { lowerFileLimit } from "./limits.ts";

export type { Child, Libc, SpawnOptions, SpawnSyncResult } from "./types.ts";

// Only the running runtime's implementation is loaded and evaluated: the
// other one is dead weight at start-up (the build splits each into a chunk
// of its own, and Deno never reads bun.ts).
const rt: Runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? (await import("./bun.ts")).bunRuntime
  : (await import("./deno.ts")).denoRuntime;

export const RUNTIME = rt.name;

let childrenPrepared = false;
/** Before the first child: the open-files soft limit children inherit goes
 * back to 1024 (./limits.ts says why). Idempotent; code that starts
 * children without spawn/spawnSync below calls it first. Without FFI
 * (a restricted Deno), children keep the runtime's limit. */
export function prepareChildren(): void {
  if (childrenPrepared) return;
  childrenPrepared = true;
  try {
    lowerFileLimit(rt.rlimits());
  } catch {
    // no FFI: nothing to do
  }
}

export const spawnSync: Runtime["spawnSync"] = (argv, opts) => (prepareChildren(), rt.spawnSync(argv, opts));
export const spawn: Runtime["spawn"] = (argv, opts) => (prepareChildren(), rt.spawn(argv, opts));
export const sleepSync = rt.sleepSync;
export const libc = rt.libc;
export const stdinText = rt.stdinText;
export const stdinLine = rt.stdinLine;
/** SHA-256 as 64 lowercase hex digits: the one helper for digests of
 * in-memory strings and bytes (files: src/hashing/hash.ts streams them). */
export const sha256Hex = rt.sha256Hex;
export const compiledBinary = rt.compiled;
export const collectGarbage = rt.collectGarbage;
export const fullJit = rt.fullJit;
export { nodeCrypto, nodeOs, randomBytes, workerThreads } from "./builtins.ts";
