/** The Deno implementation of ./types.ts: FFI through Deno.dlopen; processes,
 * stdin and hashing through the node:* APIs Deno provides. */
import type * as ChildProcess from "node:child_process";
import type * as Readline from "node:readline";
import type * as Stream from "node:stream";
import { nodeCrypto } from "./builtins.ts";
import type { Child, Libc, RLimits, Runtime, SpawnOptions, SpawnSyncResult } from "./types.ts";

/** The part of Deno's global this file uses (tsc here knows Bun's types only). */
declare const Deno: {
  dlopen(path: string, symbols: Record<string, { parameters: string[]; result: string }>): { symbols: Record<string, (...a: unknown[]) => unknown> };
  UnsafePointerView: new (p: unknown) => { getInt32(offset: number): number };
  mainModule: string;
};

let libc: Libc | null = null;

// Loaded only under Deno (index.ts). The node:* modules it uses are
// loaded on first use (./builtins.ts).
const child = () => process.getBuiltinModule("node:child_process") as typeof ChildProcess;
const readline = () => process.getBuiltinModule("node:readline") as typeof Readline;
const Readable = { toWeb: (s: Stream.Readable) => (process.getBuiltinModule("node:stream") as typeof Stream).Readable.toWeb(s) };

function openLibc(): Libc {
  const s = Deno.dlopen("libc.so.6", {
    flock: { parameters: ["i32", "i32"], result: "i32" },
    syncfs: { parameters: ["i32"], result: "i32" },
    ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  }).symbols;
  return {
    flock: (fd, op) => s.flock!(fd, op) as number,
    syncfs: (fd) => s.syncfs!(fd) as number,
    ioctl: (fd, request, arg) => s.ioctl!(fd, BigInt(request), arg) as number,
    errno: () => new Deno.UnsafePointerView(s.__errno_location!()).getInt32(0),
  };
}

function openRLimits(): RLimits {
  const s = Deno.dlopen("libc.so.6", {
    getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
    setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  }).symbols;
  return {
    get: (resource, value) => s.getrlimit!(resource, value) as number,
    set: (resource, value) => s.setrlimit!(resource, value) as number,
  };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export const denoRuntime: Runtime = {
  name: "deno",
  spawnSync(argv: string[], opts: SpawnOptions): SpawnSyncResult {
    const p = child().spawnSync(argv[0]!, argv.slice(1), { env: opts.env, stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs, maxBuffer: 1 << 30 });
    if (p.error && (p.error as NodeJS.ErrnoException).code === "ENOENT") throw p.error;
    return { exitCode: p.status, signal: p.signal ?? null, stdout: p.stdout?.toString() ?? "", stderr: p.stderr?.toString() ?? "" };
  },
  spawn(argv: string[], opts: SpawnOptions): Child {
    const p = child().spawn(argv[0]!, argv.slice(1), { env: opts.env, stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeoutMs });
    const exited = new Promise<number | null>((resolve, reject) => {
      p.once("error", reject);
      p.once("close", (code) => resolve(code));
    });
    return {
      stdout: Readable.toWeb(p.stdout!) as ReadableStream<Uint8Array>,
      stderr: Readable.toWeb(p.stderr!) as ReadableStream<Uint8Array>,
      exited,
      signal: () => p.signalCode ?? null,
      kill: (sig) => void p.kill(sig),
    };
  },
  sleepSync: (ms) => void Atomics.wait(sleeper, 0, 0, ms),
  libc: () => (libc ??= openLibc()),
  rlimits: openRLimits,
  async stdinText() {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  },
  async stdinLine() {
    const rl = readline().createInterface({ input: process.stdin });
    try {
      for await (const line of rl) return line;
      return null;
    } finally {
      rl.close();
    }
  },
  sha256Hex: (data) => nodeCrypto().createHash("sha256").update(data).digest("hex"),
  compiled: () => false,
  // No collector call without --expose-gc; V8's own heuristics decide.
  collectGarbage: () => {},
  // V8 tiers up by its own heuristics; there is no policy to restore.
  fullJit: () => {},
};
