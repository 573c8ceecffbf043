/** dnf's cache and logs for a transaction on a root other than "/". dnf 4
 * writes them by name, following a link, AFTER the packages' scriptlets ran
 * (traced: hawkey.log appended when the transaction ends; expired_repos.json
 * and tempfiles.json truncated and rewritten by _finalize_base), so a
 * scriptlet could plant a link there and have the host's dnf write a host
 * file. The transaction therefore gets a private cache and log directory
 * in a host temp dir. pkgswitch seeds the cache from the root's before dnf
 * runs (regular files only, never through a link, bounded), and once the
 * transaction is over and re-checked puts the cache back and appends the
 * logs to the root's, itself: resolved inside the root, never through a
 * link. */
import { closeSync, constants, fstatSync, futimesSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync, type Dirent } from "node:fs";
import { join } from "node:path";
import { hostPath } from "../config/paths.ts";

/** At most this many entries and bytes are copied from the root's cache; a
 * bigger cache is copied in part and dnf downloads what is missing. */
export const SEED_ENTRIES_MAX = 100_000;
export const SEED_BYTES_MAX = 2 * 1024 ** 3;
/** dnf's log files; anything else dnf leaves in the log dir is dropped. */
export const DNF_LOGS = ["dnf.log", "dnf.librepo.log", "dnf.rpm.log", "hawkey.log"] as const;
const CHUNK = 1 << 20;

/** Copy an open regular file `src` to the new file `dest` (O_EXCL); up to
 * `max` bytes; returns how many were copied. */
function copyFd(src: number, dest: number, max: number): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  while (total < max) {
    const n = readSync(src, buf, 0, Math.min(CHUNK, max - total), null);
    if (n <= 0) break;
    for (let off = 0; off < n; ) off += writeSync(dest, buf, off, n - off);
    total += n;
  }
  return total;
}

/** Open a regular file for reading without following a link or waiting on a
 * FIFO; null when it is anything else or unreadable. */
function openRegular(path: string): { fd: number; size: number; atime: Date; mtime: Date } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    return null;
  }
  return { fd, size: st.size, atime: st.atime, mtime: st.mtime };
}

/** Seed `dest` (an empty private dir) from the root's /var/cache/dnf: its
 * regular files, down to three levels of directories (repositories'
 * repodata/ and solv files), with their mtimes (dnf judges a repository's
 * metadata age by them). Links, FIFOs, devices and downloaded packages/
 * are skipped; past the bounds the rest is left for dnf to download. */
export function seedDnfCache(root: string, dest: string, bounds = { entries: SEED_ENTRIES_MAX, bytes: SEED_BYTES_MAX }): void {
  let entries = 0;
  let bytes = 0;
  const walk = (from: string, to: string, level: number): void => {
    let list: Dirent[];
    try {
      list = readdirSync(from, { withFileTypes: true });
    } catch {
      return; // no cache (or unreadable): dnf fetches the metadata
    }
    for (const e of list) {
      if (++entries > bounds.entries) return;
      const src = join(from, e.name);
      const out = join(to, e.name);
      // d_type from readdir: a link is never a directory here.
      if (e.isDirectory()) {
        if (level >= 3 || e.name === "packages") continue;
        mkdirSync(out, { mode: 0o755 });
        walk(src, out, level + 1);
        continue;
      }
      // Anything else (a link, a FIFO, d_type unknown) is opened without
      // following a link and copied only when it is a regular file.
      const f = openRegular(src);
      if (!f) continue;
      try {
        if (bytes + f.size > bounds.bytes) continue;
        const fd = openSync(out, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
        try {
          bytes += copyFd(f.fd, fd, f.size);
          futimesSync(fd, f.atime, f.mtime);
        } finally {
          closeSync(fd);
        }
      } finally {
        closeSync(f.fd);
      }
    }
  };
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  walk(hostPath(root, "/var/cache/dnf"), dest, 0);
}

/** Put the private cache `from` back into the root's /var/cache/dnf, so the
 * next transaction finds the metadata dnf fetched: run once the scriptlets
 * are over and the root's directories are resolved afresh (chroot-style:
 * hostPath). Only into real directories (one that is now a link or a file
 * is skipped, with what is below it); each file is written to a fresh temp
 * name (O_EXCL|O_NOFOLLOW) and renamed over the old entry, which replaces a
 * link rather than following it; files the root already has with the same
 * size and mtime are left alone. Downloaded packages/ are not kept; bounded
 * as the seed is. Best effort: a cache is not worth failing a transaction
 * that ran. */
export function storeDnfCache(root: string, from: string, bounds = { entries: SEED_ENTRIES_MAX, bytes: SEED_BYTES_MAX }): void {
  let entries = 0;
  let bytes = 0;
  const isDir = (p: string) => lstatSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const walk = (src: string, to: string, level: number): void => {
    let list: Dirent[];
    try {
      list = readdirSync(src, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (++entries > bounds.entries) return;
      const s = join(src, e.name);
      const d = join(to, e.name);
      try {
        if (e.isDirectory()) {
          if (level >= 3 || e.name === "packages") continue;
          if (!lstatSync(d, { throwIfNoEntry: false })) mkdirSync(d, { mode: 0o755 });
          if (isDir(d)) walk(s, d, level + 1);
          continue;
        }
        const f = openRegular(s);
        if (!f) continue;
        try {
          const old = lstatSync(d, { throwIfNoEntry: false });
          if (old?.isFile() && old.size === f.size && old.mtimeMs === f.mtime.getTime()) continue;
          if (old?.isDirectory() || bytes + f.size > bounds.bytes) continue;
          const tmp = join(to, `.pkgswitch-tmp-${process.pid}-${e.name}`);
          const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
          try {
            try {
              bytes += copyFd(f.fd, fd, f.size);
              futimesSync(fd, f.atime, f.mtime);
            } finally {
              closeSync(fd);
            }
            renameSync(tmp, d);
          } catch (err) {
            rmSync(tmp, { force: true }); // our own temp file: a plain file we created
            throw err;
          }
        } finally {
          closeSync(f.fd);
        }
      } catch {
        // ENOSPC, EACCES, a name too long with the prefix: left for dnf to fetch.
      }
    }
  };
  let base: string;
  try {
    base = hostPath(root, "/var/cache/dnf");
    if (!lstatSync(base, { throwIfNoEntry: false })) mkdirSync(base, { recursive: true, mode: 0o755 });
  } catch {
    return;
  }
  if (isDir(base)) walk(from, base, 0);
}

/** Append what dnf logged in the private `logDir` to the root's own logs in
 * /var/log (resolved inside the root, each opened without following a link
 * and only when it is a regular file or missing): the root keeps dnf's
 * record of its transactions. Best effort: a log is not worth failing a
 * transaction that ran; a log that is a link or not a file is left alone. */
export function appendDnfLogs(root: string, logDir: string): void {
  for (const name of DNF_LOGS) {
    const f = openRegular(join(logDir, name));
    if (!f) continue;
    try {
      const fd = openSync(hostPath(root, `/var/log/${name}`), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
      try {
        if (fstatSync(fd).isFile()) copyFd(f.fd, fd, f.size);
      } finally {
        closeSync(fd);
      }
    } catch {
      // ELOOP (a link), ENXIO (a FIFO), ENOENT (no /var/log): skipped.
    } finally {
      closeSync(f.fd);
    }
  }
}
