/** The Bun implementation of ./types.ts. `bun:ffi` is loaded with require on
 * first use, so this module also loads (unused) under Deno. */
import type { Child, Libc, RLimits, Runtime, SpawnOptions, SpawnSyncResult } from "./types.ts";

let libc: Libc | null = null;

function openLibc(): Libc {
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const { FFIType } = ffi;
  const s = ffi.dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
  return {
    flock: (fd, op) => s.flock(fd, op) as number,
    syncfs: (fd) => s.syncfs(fd) as number,
    ioctl: (fd, request, arg) => s.ioctl(fd, request, arg) as number,
    errno: () => ffi.read.i32(s.__errno_location() as never, 0),
  };
}

function openRLimits(): RLimits {
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const { FFIType } = ffi;
  const s = ffi.dlopen("libc.so.6", {
    getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  }).symbols;
  return {
    get: (resource, value) => s.getrlimit(resource, value) as number,
    set: (resource, value) => s.setrlimit(resource, value) as number,
  };
}

export const bunRuntime: Runtime = {
  name: "bun",
  spawnSync(argv: string[], opts: SpawnOptions): SpawnSyncResult {
    const p = Bun.spawnSync(argv, { env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs });
    return { exitCode: p.exitCode, signal: p.signalCode ? String(p.signalCode) : null, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
  },
  spawn(argv: string[], opts: SpawnOptions): Child {
    const p = Bun.spawn(argv, { env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: opts.timeoutMs });
    return {
      stdout: p.stdout,
      stderr: p.stderr,
      exited: p.exited.then(() => p.exitCode),
      signal: () => (p.signalCode ? String(p.signalCode) : null),
      kill: (sig) => p.kill(sig),
    };
  },
  sleepSync: (ms) => Bun.sleepSync(ms),
  libc: () => (libc ??= openLibc()),
  rlimits: openRLimits,
  stdinText: () => Bun.stdin.text(),
  async stdinLine() {
    for await (const line of console) return line;
    return null;
  },
  sha256Hex: (data) => Bun.SHA256.hash(data, "hex") as string,
  compiled: () => import.meta.url.includes("/$bunfs/"),
  collectGarbage: (full) => Bun.gc(full),
  fullJit: () => Bun.unsafe.setJITPolicy(1),
};
