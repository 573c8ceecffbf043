/** The few libc calls the runtime does not expose (flock, syncfs, ioctl), through
 * bun:ffi — no external program, so they work with /usr/bin broken. */
import { dlopen, FFIType, read } from "bun:ffi";

type Libc = {
  flock: (fd: number, op: number) => number;
  syncfs: (fd: number) => number;
  ioctl: (fd: number, request: number, arg: Uint8Array) => number;
  __errno_location: () => unknown;
};

let libc: Libc | null = null;

export function lib(): Libc {
  libc ??= dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    syncfs: { args: [FFIType.i32], returns: FFIType.i32 },
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols as unknown as Libc;
  return libc;
}

/** errno of the last failed call on this thread. */
export function errno(): number {
  return read.i32(lib().__errno_location() as never, 0);
}
