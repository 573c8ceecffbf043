/** Node built-ins that only some commands need, loaded on first use.
 *
 * Why: in the compiled binary, merely importing node:crypto costs ~10 ms of
 * CPU and node:worker_threads ~3 ms, more than evaluating all of pkgswitch's
 * own modules, and `--version`, `status` and a no-op `relink` (run after
 * every package transaction) need neither. A static import would load them
 * at start-up; `process.getBuiltinModule` (Node ≥ 22.3, Bun, Deno 2) loads
 * them synchronously when first called. Randomness uses the Web Crypto
 * global, which is always loaded. Runtime-neutral: both runtimes use it. */
import type * as NodeCrypto from "node:crypto";
import type * as WorkerThreads from "node:worker_threads";
import type * as NodeOs from "node:os";

let cryptoMod: typeof NodeCrypto | undefined;
let workersMod: typeof WorkerThreads | undefined;
let osMod: typeof NodeOs | undefined;

export function nodeCrypto(): typeof NodeCrypto {
  return (cryptoMod ??= process.getBuiltinModule("node:crypto"));
}

export function workerThreads(): typeof WorkerThreads {
  return (workersMod ??= process.getBuiltinModule("node:worker_threads"));
}

/** node:os: one backend needs it (a temp directory) for some of its runs,
 * and the backends are loaded by every command that opens a package
 * manager, so it is loaded on first use. */
export function nodeOs(): typeof NodeOs {
  return (osMod ??= process.getBuiltinModule("node:os"));
}

/** `n` cryptographically random bytes. */
export function randomBytes(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  crypto.getRandomValues(b);
  return b;
}
