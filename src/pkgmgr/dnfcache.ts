/** dnf's cache and logs for a transaction on a root other than "/". dnf 4
 * writes them by name, following a link, AFTER the packages' scriptlets ran
 * (traced: hawkey.log appended when the transaction ends; expired_repos.json
 * and tempfiles.json truncated and rewritten by _finalize_base), so a
 * scriptlet could plant a link there and have the host's dnf write a host
 * file. The transaction therefore gets a private cache and log directory in
 * a host temp dir, seeded from the root's cache before dnf runs. Nothing
 * goes back into the root: writing there after the scriptlets ran is the
 * very thing a planted link turns against the host, and the root's cache is
 * only a cache (dnf fetches what it lacks). */
import { closeSync, constants, fstatSync, futimesSync, lstatSync, mkdirSync, opendirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, rmSync, statfsSync, writeSync, type Dirent } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostPath } from "../config/paths.ts";

/** At most this many entries and bytes (apparent and allocated) are copied
 * from the root's cache; a bigger cache is copied in part and dnf downloads
 * what is missing. */
export const SEED_ENTRIES_MAX = 100_000;
export const SEED_BYTES_MAX = 2 * 1024 ** 3;
/** Name prefix of pkgswitch's dnf temp dirs (pkgswitch-dnf-, pkgswitch-dnfwork-). */
export const DNF_TEMP_PREFIX = "pkgswitch-dnf";
/** A temp dir of ours this old is left from a run that was killed. */
export const STALE_MS = 24 * 3600 * 1000;
const CHUNK = 1 << 20;

/** Copy `max` bytes at most from the open file `src` to `dest`. */
function copyFd(src: number, dest: number, max: number): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  let total = 0;
  while (total < max) {
    const n = readSync(src, buf, 0, Math.min(CHUNK, max - total), null);
    if (n <= 0) break;
    for (let off = 0; off < n; ) off += writeSync(dest, buf, off, n - off);
    total += n;
  }
}

/** The real path of an open descriptor, as the kernel knows it (not the
 * name it was opened by: a directory swapped for a link between the listing
 * and the open shows here). Null without /proc. */
export function fdRealPath(fd: number): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** The id of the mount an open descriptor is on (/proc/self/fdinfo), or
 * null without /proc. The real path alone is not enough: a file reached
 * through another mount namespace (/proc/PID/root/… of a process of the
 * root's that bind-mounted something over the root's cache in its own
 * namespace) reads as a path under the root; its mount is not the root's. */
export function fdMountId(fd: number): number | null {
  try {
    const m = /^mnt_id:\s*(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** `f` of a descriptor of the directory `dir`, or `none` when it cannot be opened. */
function onDir<T>(dir: string, f: (fd: number) => T, none: T): T {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return none;
  }
  try {
    return f(fd);
  } finally {
    closeSync(fd);
  }
}

/** The mount id of the directory `dir`, or null. */
const dirMountId = (dir: string): number | null => onDir(dir, fdMountId, null);

/** Whether fdRealPath works here: it is the only check that a file opened
 * by name is inside the root, so without it nothing is seeded. */
const procFdWorks = (dir: string): boolean => onDir(dir, (fd) => fdRealPath(fd) !== null, false);

/** Copy the root's cache file `src` to the new private file `out` when it is
 * a regular file with one link, on the mount `mount` (the root's), whose
 * descriptor's real path is under `inside` (the root's real
 * /var/cache/dnf/), and which fits in `room` bytes, apparent and allocated.
 * Returns the bytes it counts (0: skipped), or -1 when writing into the temp
 * dir failed (ENOSPC): the caller stops seeding. */
export function seedFile(src: string, out: string, inside: string, room: number, mount: number): number {
  let fd: number;
  try {
    fd = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return 0; // ELOOP (a link), ENXIO, EACCES, gone
  }
  try {
    const st = fstatSync(fd);
    // A second name is a hard link: dnf makes none, and it could name a
    // file of the host's on the same file system.
    if (!st.isFile() || st.nlink !== 1) return 0;
    const allocated = st.blocks * 512;
    // Copying writes a file's holes out in full; dnf writes its cache
    // files whole, so a sparse one is not dnf's.
    if (st.size > allocated + CHUNK) return 0;
    const cost = Math.max(st.size, allocated);
    if (cost > room) return 0;
    // O_NOFOLLOW guards the last component only: a directory above it
    // swapped for a link shows in the descriptor's real path.
    if (!fdRealPath(fd)?.startsWith(inside) || fdMountId(fd) !== mount) return 0;
    let w: number;
    try {
      w = openSync(out, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    } catch {
      return -1;
    }
    try {
      copyFd(fd, w, st.size);
      futimesSync(w, st.atime, st.mtime);
    } catch {
      // A read error or ENOSPC: no half file for dnf to trust.
      closeSync(w);
      rmSync(out, { force: true });
      return -1;
    }
    closeSync(w);
    return cost;
  } finally {
    closeSync(fd);
  }
}

/** Seed `dest` (a new private dir) from the root's /var/cache/dnf: its
 * regular files, down to three levels of directories (repositories'
 * repodata/ and solv files), with their mtimes (dnf judges a repository's
 * metadata age by them). The root's directories are walked by name, and a
 * scriptlet or another process of the root may swap one for a link at any
 * moment: so each file is opened without following a link (O_NOFOLLOW
 * covers the last component only) and copied only when the descriptor's
 * real path is under the root's real /var/cache/dnf/ and it is on the
 * root's own mount with one link — a file reached through a swapped
 * directory, another mount namespace or a hard link is skipped, its bytes
 * never copied. At most half the temp dir's free space is used. Links, FIFOs,
 * devices, sparse files, downloaded packages/ and what does not fit the
 * bounds are skipped; a write error in the temp dir (ENOSPC) ends the seed.
 * Best effort throughout: dnf fetches whatever is not there. */
export function seedDnfCache(root: string, dest: string, bounds = { entries: SEED_ENTRIES_MAX, bytes: SEED_BYTES_MAX }): void {
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  let inside: string;
  try {
    inside = join(realpathSync(root), "var/cache/dnf") + "/";
  } catch {
    return;
  }
  if (!procFdWorks(dest)) return;
  // Files are taken only from the root's own mount (see fdMountId); a root
  // whose cache is a mount of its own is not seeded.
  const mount = dirMountId(root);
  if (mount === null) return;
  // At most half the temp dir's free space: the seed must not be what fills
  // it (dnf, and the next operation, write there too).
  let room = bounds.bytes;
  try {
    const fs = statfsSync(dest);
    room = Math.min(room, Math.floor((Number(fs.bavail) * Number(fs.bsize)) / 2));
  } catch {
    return;
  }
  let entries = 0;
  let bytes = 0;
  let full = false; // a write into the temp dir failed: stop
  const walk = (from: string, to: string, level: number): void => {
    let list: Dirent[];
    try {
      list = readdirSync(from, { withFileTypes: true });
    } catch {
      return; // no cache (or unreadable): dnf fetches the metadata
    }
    for (const e of list) {
      if (full || ++entries > bounds.entries) return;
      const src = join(from, e.name);
      const out = join(to, e.name);
      // d_type from readdir: a link is never a directory here (and one it
      // becomes later leads to files the real-path check refuses).
      if (e.isDirectory()) {
        if (level >= 3 || e.name === "packages") continue;
        try {
          mkdirSync(out, { mode: 0o755 });
        } catch {
          full = true;
          return;
        }
        walk(src, out, level + 1);
        continue;
      }
      // Anything else (a link, a FIFO, d_type unknown) is opened without
      // following a link and copied only when it is a regular file.
      const n = seedFile(src, out, inside, room - bytes, mount);
      if (n < 0) full = true;
      else bytes += n;
    }
  };
  walk(hostPath(root, "/var/cache/dnf"), dest, 0);
}

/** Remove what a killed pkgswitch left in the host's temp dir (SIGKILL and
 * Ctrl-C skip the `finally` that removes a dnf temp dir): directories
 * directly in `dir` named pkgswitch-dnf*, owned by this uid, not a link,
 * unchanged for 24 hours. Bounded; errors ignored (another run's sweep, a
 * dir still in use by its owner is younger). */
export function sweepStaleDnfTemp(dir = tmpdir(), now = Date.now(), max = 10_000): void {
  let d;
  try {
    d = opendirSync(dir);
  } catch {
    return;
  }
  try {
    for (let i = 0; i < max; i++) {
      const e = d.readSync();
      if (!e) break;
      if (!e.name.startsWith(DNF_TEMP_PREFIX)) continue;
      const p = join(dir, e.name);
      try {
        const st = lstatSync(p);
        if (!st.isDirectory() || st.uid !== process.getuid?.() || now - st.mtimeMs < STALE_MS) continue;
        rmSync(p, { recursive: true, force: true });
      } catch {}
    }
  } catch {
  } finally {
    try {
      d.closeSync();
    } catch {}
  }
}
