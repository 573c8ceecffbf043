/** dnf's cache and logs for a transaction on a root other than "/". dnf 4
 * writes them by name, following a link, AFTER the packages' scriptlets ran
 * (traced: hawkey.log appended when the transaction ends; expired_repos.json
 * and tempfiles.json truncated and rewritten by _finalize_base), so a
 * scriptlet could plant a link there and have the host's dnf write a host
 * file. The transaction therefore gets a private cache and log directory
 * in a host temp dir: the cache is seeded from the root's (regular files
 * only, never through a link, bounded), and the logs are appended back to
 * the root's /var/log by pkgswitch itself, resolved inside the root and
 * opened without following a link. */
import { closeSync, constants, fstatSync, futimesSync, mkdirSync, openSync, readdirSync, readSync, writeSync, type Dirent } from "node:fs";
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
  walk(hostPath(root, "/var/cache/dnf"), dest, 0);
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
