/** Backups of targets and their restore. A backup is a hard link to the
 * original inode when the state dir shares its filesystem (no copy, exact
 * mode/owner/mtime), else a copy that keeps them; beside it a sidecar JSON
 * records what the target was. Restore puts the backup under a temp name in
 * the target's directory and renames it over the target: never missing. */
import {
  closeSync, copyFileSync, constants, fchmodSync, fchownSync, fsyncSync, futimesSync, linkSync, lstatSync, mkdirSync,
  openSync, readlinkSync, symlinkSync, unlinkSync,
} from "node:fs";
import { dirname, join, posix } from "node:path";
import { renameOver, tempBeside, writeNewFile } from "./atomic.ts";
import { READ_LIMIT, readBoundedText, tooDeep } from "../config/bounded.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { deniedError, isDenied } from "../config/access.ts";
import { isNormalAbsolute } from "../config/paths.ts";

/** A target's prior identity, as backed up (also the sidecar's content). */
export interface OriginalFile {
  kind: "file" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** SHA-256 of the content (regular files). */
  sha256: string | null;
  /** Link text when the original was itself a symlink. */
  link_target: string | null;
  owner: string | null;
}

export const SIDECAR_SUFFIX = ".pkgswitch.json";

/** `backups/` and at least one more name, in normal form (no empty, `.` or
 * `..` component, no trailing slash). */
const NORMAL_BACKUP = /^backups(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

/** Directories under a state dir already seen to be real directories. */
const realDirs = new Set<string>();

/** Refuse `dir` when it is a symbolic link or not a directory (missing is
 * fine); with `create`, make it (0700) first. */
function realDir(dir: string, create: boolean): void {
  if (realDirs.has(dir)) return;
  if (create) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  let st;
  try {
    st = lstatSync(dir, { throwIfNoEntry: false });
  } catch (e) {
    if (isDenied(e)) throw deniedError(dir);
    throw e;
  }
  if (!st) return;
  if (st.isSymbolicLink() || !st.isDirectory()) {
    throw new PkgswitchError(Exit.PERMISSION, `backup directory ${dir} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}; pkgswitch does not follow links in its state directory — move it aside`);
  }
  realDirs.add(dir);
}

/**
 * Host path of a backup, `rel` (`backups/usr/bin/ls`) under `stateDir`,
 * with every directory on the way checked to be a real directory (a link
 * planted at `backups/usr` would lead reads, writes and deletes outside).
 * With `create` the directories are made as they are checked.
 */
export function backupHostPath(stateDir: string, rel: string, create = false): string {
  // A normal `backups/…` under a normal state dir (every target's, as
  // state.json names them): the same directories checked, the same answer,
  // by slicing instead of normalize and join (status and relink's
  // inspection ask for every target's backup).
  if (NORMAL_BACKUP.test(rel) && isNormalAbsolute(stateDir)) {
    for (let slash = rel.indexOf("/"); slash > 0; slash = rel.indexOf("/", slash + 1)) realDir(`${stateDir}/${rel.slice(0, slash)}`, create);
    return `${stateDir}/${rel}`;
  }
  const parts = posix.normalize(rel).split("/");
  if (parts[0] !== "backups" || parts.includes("..") || rel.startsWith("/")) {
    throw new PkgswitchError(Exit.PERMISSION, `backup path ${rel} is not under ${join(stateDir, "backups")}`);
  }
  let dir = stateDir;
  for (const c of parts.slice(0, -1)) {
    dir = join(dir, c);
    realDir(dir, create);
  }
  return join(stateDir, ...parts);
}

/** Make `backupPath` the same file as `targetPath` and record what the
 * target was in the sidecar (written without fsync; the caller syncs once
 * for the batch). */
export function backupFile(targetPath: string, backupPath: string, original: OriginalFile): "link" | "copy" {
  mkdirSync(dirname(backupPath), { recursive: true, mode: 0o700 }); // checked by backupHostPath(…, true)
  const how = placeFile(targetPath, backupPath);
  // Durable, with the backup, through the caller's one sync before the state
  // names it; until then a crash leaves a sidecar nothing refers to.
  writeNewFile(backupPath + SIDECAR_SUFFIX, JSON.stringify(original) + "\n", 0o600);
  return how;
}

/** Put the file at `from` also at `to`, atomically (temp name beside `to`,
 * then rename over it): a hard link to the same inode when the filesystem
 * allows, else a copy keeping mode, owner and times; a symlink is copied as
 * a symlink. `to` is never missing or half-written. */
export function placeFile(from: string, to: string): "link" | "copy" {
  // Already the same inode (a re-run): rename(2) between two links of one
  // file succeeds doing nothing and would leave the temp name behind.
  const a = lstatSync(from);
  const b = lstatSync(to, { throwIfNoEntry: false });
  if (b && !a.isSymbolicLink() && a.ino === b.ino && a.dev === b.dev) return "link";
  // Nothing at `to` yet (a backup, a diverted name): link(2) makes the name
  // appear whole or not at all, so the temp name and rename are not needed.
  if (!b && !a.isSymbolicLink()) {
    try {
      linkSync(from, to);
      return "link";
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST" && code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw e;
    }
  }
  const tmp = tempBeside(to, "tmp");
  let how: "link" | "copy" = "link";
  if (a.isSymbolicLink()) {
    symlinkSync(readlinkSync(from), tmp);
    how = "copy";
  } else {
    try {
      linkSync(from, tmp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EXDEV" && code !== "EPERM" && code !== "EMLINK") throw e;
      copyPreserving(from, tmp);
      how = "copy";
    }
  }
  renameOver(tmp, to);
  return how;
}

/** Copy a regular file keeping mode, owner and times; fsynced. */
export function copyPreserving(from: string, to: string): void {
  const st = lstatSync(from);
  copyFileSync(from, to, constants.COPYFILE_EXCL);
  // Owner, mode and times set through the descriptor of the file just
  // created (O_NOFOLLOW): by path, a link swapped in meanwhile would hand a
  // host file root's uid and a setuid bit.
  const fd = openSync(to, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    fchownSync(fd, st.uid, st.gid);
    fchmodSync(fd, st.mode & 0o7777); // after chown: chown clears setuid bits
    futimesSync(fd, st.atime, st.mtime);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readSidecar(backupPath: string): OriginalFile | null {
  try {
    // Untrusted like state.json: a regular file of ours, bounded, shallow.
    const text = readBoundedText(backupPath + SIDECAR_SUFFIX, { max: READ_LIMIT.small, noFollow: true });
    return tooDeep(text) ? null : (JSON.parse(text) as OriginalFile);
  } catch {
    return null;
  }
}

/** Put the backup back at `targetPath` atomically. The backup stays until
 * the caller removes it (after the state no longer needs it); the caller
 * fsyncs the target directories once for the batch. */
export function restoreFile(backupPath: string, targetPath: string): void {
  placeFile(backupPath, targetPath);
}

/** Remove a backup and its sidecar (missing ones are fine). */
export function dropBackup(backupPath: string): void {
  for (const p of [backupPath + SIDECAR_SUFFIX, backupPath]) {
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}
