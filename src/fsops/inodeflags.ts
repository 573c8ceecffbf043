/** Inode attribute flags (what `lsattr` shows), read with the
 * FS_IOC_GETFLAGS ioctl — no `lsattr` process, so this works with /usr/bin
 * broken. An immutable or append-only file cannot be renamed over, and an
 * immutable directory takes no new entry: a switch would fail half-way. */
import { closeSync, constants, openSync } from "node:fs";
import { libc } from "../sys/index.ts";

/** _IOR('f', 1, long) on 64-bit Linux; the kernel reads and writes an int. */
const FS_IOC_GETFLAGS = 0x80086601;
export const FS_IMMUTABLE_FL = 0x10;
export const FS_APPEND_FL = 0x20;

/** The inode flags of a regular file or directory, or null when they
 * cannot be read (no such file, a filesystem without them such as some
 * tmpfs, a symlink). */
export function inodeFlags(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const buf = new Uint8Array(8);
    if (libc().ioctl(fd, FS_IOC_GETFLAGS, buf) !== 0) return null;
    return new DataView(buf.buffer).getInt32(0, true);
  } finally {
    closeSync(fd);
  }
}

/** "immutable", "append-only", or null. */
export function lockedAttribute(path: string): string | null {
  const f = inodeFlags(path);
  if (f === null) return null;
  if (f & FS_IMMUTABLE_FL) return "immutable";
  if (f & FS_APPEND_FL) return "append-only";
  return null;
}
