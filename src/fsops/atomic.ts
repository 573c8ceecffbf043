/** Crash-safe file primitives: a crash leaves the old or the new file, never
 * half of one, and never a missing target path. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

/** fsync a directory so a rename in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temp name beside `path` (same directory, so rename is atomic). */
export function tempBeside(path: string, tag = "tmp"): string {
  return join(dirname(path), `.${basename(path)}.pkgswitch-${tag}-${randomBytes(4).toString("hex")}`);
}

/** Write `data` to `path` atomically: temp, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempBeside(path);
  const fd = openSync(tmp, "wx", mode);
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Point `path` at `linkTarget` atomically: the path is never missing, it is
 * the old file until the rename and the new link after it. */
export function replaceWithSymlink(path: string, linkTarget: string): void {
  const tmp = tempBeside(path, "link");
  symlinkSync(linkTarget, tmp);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  fsyncDir(dirname(path));
}
