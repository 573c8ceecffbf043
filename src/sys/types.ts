/** What pkgswitch needs from its JavaScript runtime beyond the node:* APIs
 * both runtimes share. One implementation per runtime (./bun.ts, ./deno.ts);
 * ./index.ts picks one. Nothing outside src/sys/ names a runtime. */

export interface SpawnSyncResult {
  /** Exit status, or null when a signal ended the process. */
  exitCode: number | null;
  /** Signal name (e.g. "SIGKILL") when a signal ended the process. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface SpawnOptions {
  env: Record<string, string>;
  /** Kill the process after this many milliseconds. */
  timeoutMs?: number;
}

/** A running child whose stdin is closed and whose output is piped. */
export interface Child {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves to the exit status (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Signal name once exited by a signal, else null. */
  signal(): string | null;
  kill(signal: "SIGKILL" | "SIGTERM"): void;
}

/** libc calls the runtimes do not expose (flock, syncfs, ioctl), through FFI:
 * no external program, so they work with /usr/bin broken. */
export interface Libc {
  flock(fd: number, op: number): number;
  syncfs(fd: number): number;
  /** ioctl(2) with a pointer argument (`arg` is read and written in place). */
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
}

/** getrlimit(2)/setrlimit(2) through FFI; `value` is {rlim_cur, rlim_max}. */
export interface RLimits {
  get(resource: number, value: BigUint64Array): number;
  set(resource: number, value: BigUint64Array): number;
}

export interface Runtime {
  readonly name: "bun" | "deno";
  spawnSync(argv: string[], opts: SpawnOptions): SpawnSyncResult;
  spawn(argv: string[], opts: SpawnOptions): Child;
  /** Block the thread (the lock's retry loop runs before any async work). */
  sleepSync(ms: number): void;
  libc(): Libc;
  /** Resource limits (a dlopen of its own: the lock's libc stays as small). */
  rlimits(): RLimits;
  /** All of standard input as UTF-8 text. */
  stdinText(): Promise<string>;
  /** One line from standard input (a terminal prompt's answer), or null at EOF. */
  stdinLine(): Promise<string | null>;
  /** SHA-256 of a string (UTF-8) or bytes, as 64 lowercase hex digits. */
  sha256Hex(data: string | Uint8Array): string;
  /** Whether the running program is a compiled single-file binary. */
  compiled(): boolean;
  /** Ask the collector to run now (`full`: a whole, synchronous collection),
   * where a phase drops much garbage at once: the heap otherwise grows well
   * past what is live before it collects, and that sets peak RSS. */
  collectGarbage(full: boolean): void;
  /** The JIT back at its normal tier-up thresholds. The compiled binary
   * starts with them raised (package.json: --compile-jit-policy), so that
   * code run a few hundred times at start-up stays in the interpreter: a
   * no-op `relink` spent more time compiling its per-target helpers than
   * running them (bench/README.md). Work that loops longer — verification,
   * operations — calls this first. */
  fullJit(): void;
}
