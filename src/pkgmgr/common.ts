/** Small helpers every backend shares. */
import { lstatSync, readdirSync, readlinkSync, realpathSync, type Dirent } from "node:fs";
import { join, posix } from "node:path";
import { forgetResolvedDirs, hostPath, resolveInRoot } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";

/** The last line of a command's output: what a one-line error message quotes. */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Packages from `apt-get -s` output ("Inst pkg …", "Remv pkg …"): all
 * that change, and those removed; pure. */
export function parseSimulation(out: string): { changed: string[]; removed: string[] } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const m of out.matchAll(/^(Inst|Remv|Purg) (\S+)/gm)) {
    const name = m[2]!.replace(/:[a-z0-9]+$/, "");
    changed.add(name);
    if (m[1] !== "Inst") removed.add(name);
  }
  return { changed: [...changed].sort(), removed: [...removed].sort() };
}


/** Where a backend's tools keep their database, as paths inside the root.
 * dpkg-query/dpkg-divert --root, rpm --root and dnf --installroot run on the
 * host and open ROOT/<dir>: the KERNEL resolves the links on the way, not
 * chroot(2) as hostPath does, so an absolute link, or one that climbs out,
 * would take them to another directory — the host's own database, or any
 * directory the root's owner chose. A manager run inside the root (chroot)
 * declares nothing: there both resolve alike. */
export interface DatabaseLayout {
  /** Directories the tools read or write in (missing ones allowed). */
  readonly dirs: readonly string[];
  /** Files in them the tools open by name, following a link: each must be a
   * regular file when present. */
  readonly files: readonly string[];
  /** Directories whose entries the tools open by name, following a link
   * (dpkg's info/*.list, rpm's database files): each entry whose name
   * matches must be a regular file or a directory. There are thousands
   * (one .list per package), so they are read in one readdir pass with the
   * entry types (no lstat each), and only before a host-side tool runs
   * (checkEntries), not when the backend is opened: a no-op relink runs
   * none. Their directories are checked as `dirs` are. */
  readonly entries?: readonly EntryDir[];
  /** Directories a package transaction's host-side tool writes files into
   * by name, following a link (dnf's cache: expired_repos.json,
   * tempfiles.json, metadata_lock.pid, per-repository repodata/ and
   * packages/): every entry, down to `depth` levels of subdirectories, must
   * be a regular file or a directory. Checked before each write run
   * (checkWritten), never memoized; read-only runs do not use them. */
  readonly written?: readonly EntryDir[];
}

/** A directory whose entries a tool opens by name; `depth`: how many levels
 * of subdirectories below it it also opens entries in (0 when absent). */
export interface EntryDir {
  readonly dir: string;
  readonly names?: RegExp;
  readonly depth?: number;
}

/** At most this many entries are checked under one `written` directory: a
 * dnf cache holds a few per repository (more with keepcache=1). More is
 * refused rather than left unchecked. */
export const WRITTEN_ENTRIES_MAX = 100_000;

/** What is wrong with `dir` (inside `root`) as a place the package manager's
 * host-side tools use, or null when the kernel reaches the same real
 * directory as chroot(2) would, inside the root. A missing directory is
 * judged by its deepest existing ancestor (it would be created there); a
 * link on the way that leads nowhere for the kernel is wrong (a creation
 * would follow it). */
export function databaseDirProblem(root: string, dir: string): string | null {
  if (root === "/") return null; // the host's own tree is the operator's, links and all
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return null; // no root: opening the backend reports it
  }
  const where = `${dir} in ${root}`;
  const fix = `replace the link with a relative one that stays inside the root, or with the directory itself (${doneSoFar()})`;
  for (let d = posix.normalize(dir); ; d = posix.dirname(d)) {
    const literal = join(realRoot, d);
    let kernel: string | null = null;
    try {
      kernel = realpathSync(literal);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ELOOP") return `package database ${where}: too many levels of symbolic links; ${fix}`;
      if (code !== "ENOENT" && code !== "ENOTDIR") return null; // EACCES: the tool reports it
      let st;
      try {
        st = lstatSync(literal, { throwIfNoEntry: false });
      } catch {}
      if (st) return `package database ${where} goes through a symbolic link that leads nowhere on the host (the package manager would create it outside the root); ${fix}`;
      if (d === "/") return null;
      continue;
    }
    let inRoot: string | null = null;
    try {
      inRoot = realpathSync(resolveInRoot(realRoot, d));
    } catch {}
    const inside = kernel === realRoot || kernel.startsWith(realRoot + "/");
    if (inside && kernel === inRoot) return null;
    return `package database ${where} goes through a symbolic link that leaves the root (the package manager would use ${kernel} on the host); ${fix}`;
  }
}

/** Refuse (exit 70, like any hostile layout) a root whose package database
 * the backend's host-side tools would find outside it, or whose database
 * files are links or not regular files; checked once the backend is open,
 * before any package-manager command runs (factory.ts), and again by a
 * backend before it writes. */
export function checkDatabase(root: string, db: DatabaseLayout): void {
  if (root === "/") return;
  for (const dir of [...db.dirs, ...(db.entries ?? []).map((e) => e.dir)]) {
    const problem = databaseDirProblem(root, dir);
    if (problem) throw new PkgswitchError(Exit.PERMISSION, problem);
  }
  for (const file of db.files) {
    const host = hostPath(root, file);
    let st;
    try {
      st = lstatSync(host, { throwIfNoEntry: false });
    } catch {
      continue; // EACCES, ENOTDIR: the tool reports it
    }
    if (!st || st.isFile()) continue;
    throw notRegular(root, host, st.isSymbolicLink());
  }
}

/** What a refusal says was done: an operation's second transaction (or the
 * check right after one) is refused after the first ran. */
function doneSoFar(): string {
  return transactions === 0 ? "nothing was changed" : "the package transaction before it did run: see the audit record";
}

function notRegular(root: string, host: string, link: boolean): PkgswitchError {
  const done = doneSoFar();
  if (link && linkStaysInside(root, host)) {
    // Harmless inside the root, but the tools resolve every link on the
    // host, and an absolute one would lead out: none is let through.
    return new PkgswitchError(Exit.PERMISSION, `package database file ${host} is a symbolic link; the package manager's tools run on the host and pkgswitch does not let them follow links in the database — replace it with the file itself (${done})`);
  }
  const what = link ? "is a symbolic link" : "is not a regular file";
  return new PkgswitchError(Exit.PERMISSION, `package database file ${host} ${what}; the package manager would follow it out of the root or hang on it — move it aside, or replace it with the regular file it should be (${done})`);
}

/** Whether the link at `host` is relative and leads, as the kernel resolves
 * it from the host, to a file inside the root. */
function linkStaysInside(root: string, host: string): boolean {
  try {
    if (readlinkSync(host).startsWith("/")) return false;
    const realRoot = realpathSync(root);
    const target = realpathSync(host);
    return target.startsWith(realRoot + "/");
  } catch {
    return false; // dangling, a loop, unreadable: say what the worst case is
  }
}

/** Layouts found sound, per root, since the last
 * package transaction (whose maintainer scripts, run as the root's own
 * root user, may plant a link among them). */
const entriesChecked = new Map<DatabaseLayout, Set<string>>();
let transactions = 0;

/** Forget what checkEntries found: after every package transaction (inTransaction). */
export function forgetCheckedEntries(): void {
  transactions++;
  entriesChecked.clear();
}

/** Run a package transaction — anything that runs the packages' maintainer
 * scripts (apt-get, dnf and pacman transactions, a native switch's dpkg -i
 * and dpkg -r): every backend runs each one through here. The scripts run
 * as root inside the root and may put a link where a directory or a
 * database file was, so whatever the transaction's end: directories
 * resolved before it (config/paths.ts memoizes them) are resolved again,
 * and the database entries are checked again before the next host-side
 * tool runs. */
export function inTransaction<T>(run: () => T): T {
  try {
    return run();
  } finally {
    forgetResolvedDirs();
    forgetCheckedEntries();
  }
}

/** Everything checkDatabase checks, and every entry the tools open by name
 * (`db.entries`): a backend calls this before each host-side tool run; it
 * checks once per root until the next package transaction (nothing else
 * pkgswitch runs changes these; a backend that writes there checks again
 * itself). A dpkg root with 3,000 info entries costs about 1.7 ms. */
export function checkEntries(root: string, db: DatabaseLayout): void {
  if (root === "/") return;
  const seen = entriesChecked.get(db);
  if (seen?.has(root)) return;
  checkDatabase(root, db);
  scanEntries(root, db.entries ?? [], Infinity);
  entriesChecked.set(db, new Set([...(seen ?? []), root]));
}

/** Before a write run (a transaction): every entry of the directories the
 * tools write into by name (`db.written`, recursively to their depth) is a
 * regular file or a directory; checked each time, never remembered. */
export function checkWritten(root: string, db: DatabaseLayout): void {
  if (root === "/" || !db.written) return;
  for (const { dir } of db.written) {
    const problem = databaseDirProblem(root, dir);
    if (problem) throw new PkgswitchError(Exit.PERMISSION, problem);
  }
  scanEntries(root, db.written, WRITTEN_ENTRIES_MAX);
}

/** Whether readdir gave the entry's type (d_type is not DT_UNKNOWN). */
function typeKnown(e: Dirent): boolean {
  return e.isFile() || e.isDirectory() || e.isSymbolicLink() || e.isFIFO() || e.isSocket() || e.isBlockDevice() || e.isCharacterDevice();
}

/** One readdir pass (with entry types, no lstat each) per directory; throws
 * at the first entry that is neither a regular file nor a directory, or
 * when a directory tree holds more than `max` entries. */
function scanEntries(root: string, dirs: readonly EntryDir[], max: number): void {
  for (const { dir, names, depth = 0 } of dirs) {
    let seen = 0;
    const walk = (host: string, level: number): void => {
      let list: Dirent[];
      try {
        list = readdirSync(host, { withFileTypes: true });
      } catch {
        return; // missing (or EACCES): the tool finds nothing there, or reports it
      }
      seen += list.length;
      if (seen > max) {
        throw new PkgswitchError(Exit.PERMISSION, `${hostPath(root, dir)} holds more than ${max} entries; pkgswitch checks each for links before and after each dnf transaction — empty it (it is a cache) and try again (${doneSoFar()})`);
      }
      for (const e of list) {
        if (level === 0 && names && !names.test(e.name)) continue;
        const path = `${host}/${e.name}`;
        // DT_UNKNOWN (some file systems do not fill in d_type): ask lstat.
        const t = typeKnown(e) ? e : lstatSync(path, { throwIfNoEntry: false });
        if (!t || t.isFile()) continue;
        if (t.isDirectory()) {
          if (level < depth) walk(path, level + 1);
          continue;
        }
        throw notRegular(root, path, t.isSymbolicLink());
      }
    };
    walk(hostPath(root, dir), 0);
  }
}
