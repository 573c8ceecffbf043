/** Small helpers every backend shares. */
import { lstatSync, readdirSync, realpathSync, type Dirent } from "node:fs";
import { join, posix } from "node:path";
import { hostPath, resolveInRoot } from "../config/paths.ts";
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
  readonly entries?: readonly { readonly dir: string; readonly names?: RegExp }[];
}

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
  const fix = "replace the link with a relative one that stays inside the root, or with the directory itself (nothing was changed)";
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
    throw notRegular(host, st.isSymbolicLink());
  }
}

function notRegular(host: string, link: boolean): PkgswitchError {
  const what = link ? "is a symbolic link" : "is not a regular file";
  const done = transactions === 0 ? "nothing was changed" : "the package transaction before it did run: see the audit record";
  return new PkgswitchError(Exit.PERMISSION, `package database file ${host} ${what}; the package manager would follow it out of the root or hang on it — move it aside, or replace it with the regular file it should be (${done})`);
}

/** Layouts found sound, per root, since the last
 * package transaction (whose maintainer scripts, run as the root's own
 * root user, may plant a link among them). */
const entriesChecked = new Map<DatabaseLayout, Set<string>>();
let transactions = 0;

/** Forget what checkEntries found: after every package transaction (factory.ts). */
export function forgetCheckedEntries(): void {
  transactions++;
  entriesChecked.clear();
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
  for (const { dir, names } of db.entries ?? []) {
    const host = hostPath(root, dir);
    let list: Dirent[];
    try {
      list = readdirSync(host, { withFileTypes: true });
    } catch {
      continue; // missing (or EACCES): the tool finds nothing there, or reports it
    }
    for (const e of list) {
      if (names && !names.test(e.name)) continue;
      if (e.isFile() || e.isDirectory()) continue;
      let link = e.isSymbolicLink();
      if (!link && !e.isFIFO() && !e.isSocket() && !e.isBlockDevice() && !e.isCharacterDevice()) {
        // DT_UNKNOWN (some file systems do not fill in d_type): ask lstat.
        const st = lstatSync(`${host}/${e.name}`, { throwIfNoEntry: false });
        if (!st || st.isFile() || st.isDirectory()) continue;
        link = st.isSymbolicLink();
      }
      throw notRegular(`${host}/${e.name}`, link);
    }
  }
  entriesChecked.set(db, new Set([...(seen ?? []), root]));
}
