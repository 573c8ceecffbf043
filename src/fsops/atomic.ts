/** Crash-safe file primitives: a crash leaves the old or the new file, never
 * half of one, and never a missing target path. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, symlinkSync, unlinkSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { libc, randomBytes } from "../sys/index.ts";

/** fsync a directory so a rename in it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `fsyncDir` off the main thread: the caller goes on (enable's smoke
 * test) and awaits it before anything depends on the entries being durable. */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const h = await open(dir, "r");
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** A temp name beside `path` (same directory, so rename is atomic). */
export function tempBeside(path: string, tag = "tmp"): string {
  return join(dirname(path), `.${basename(path)}.pkgswitch-${tag}-${randomBytes(4).toString("hex")}`);
}

/** Flush every pending write on the filesystem holding `path` (one syncfs
 * instead of an fsync per file, for batches such as backups and swaps). */
export function syncFilesystem(path: string): void {
  const fd = openSync(path, "r");
  try {
    if (libc().syncfs(fd) !== 0) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write `data` to `path` atomically: temp, fsync, rename, fsync dir. With
 * `durable: false` the fsyncs are left to a later `syncFilesystem` (the
 * rename is still atomic: a crash leaves the old or the new file). */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600, durable = true): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempBeside(path);
  fillNew(openSync(tmp, "wx", mode), tmp, data, durable);
  try {
    renameSync(tmp, path);
  } catch (e) {
    // A directory (or anything rename refuses) at `path`: nothing is
    // replaced, and the temp file must not stay behind either.
    rmSync(tmp, { force: true });
    throw e;
  }
  if (durable) fsyncDir(dirname(path));
}

/** Write a file that should not exist yet, without fsync (the caller makes
 * the batch durable with `syncFilesystem` before anything refers to it): no
 * temp name and rename, since no reader can see an old version. A file
 * already there (left by an interrupted run) is replaced atomically instead;
 * a failed write removes what it wrote. */
export function writeNewFile(path: string, data: string, mode = 0o600): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    writeFileAtomic(path, data, mode, false);
    return;
  }
  fillNew(fd, path, data, false);
}

/** Write all of `data` to the new file `fd` (at `path`) and close it; on
 * failure remove the file, so nothing half-written stays. */
function fillNew(fd: number, path: string, data: string | Uint8Array, sync: boolean): void {
  try {
    const buf = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    if (sync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {}
    throw e;
  }
  closeSync(fd);
}

/** Point `path` at `linkTarget` atomically: the path is never missing, it is
 * the old file until the rename and the new link after it. The caller makes
 * the batch durable with `syncFilesystem` / `fsyncDir`. */
export function replaceWithSymlink(path: string, linkTarget: string): void {
  const tmp = tempBeside(path, "link");
  symlinkSync(linkTarget, tmp);
  renameOver(tmp, path);
}

/** rename(2) a prepared temp file over `path`; on failure remove the temp. */
export function renameOver(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
}
