/** Telling "not there" from "not allowed to look". `existsSync` answers
 * false when a directory on the way cannot be searched, so a non-root user
 * was told "no provider is enabled" about a 0700 state dir: every read of
 * our own state and record goes through `present`, which says exit 70 and
 * the path instead. */
import { lstatSync, statSync } from "node:fs";
import { Exit, PkgswitchError } from "../errors.ts";

const DENIED = new Set(["EACCES", "EPERM"]);

/** Whether the error is a permission refusal (EACCES/EPERM). */
export function isDenied(e: unknown): boolean {
  return DENIED.has((e as NodeJS.ErrnoException)?.code ?? "");
}

/** The one-line exit-70 error for a path we may not read. */
export function deniedError(path: string): PkgswitchError {
  return new PkgswitchError(Exit.PERMISSION, `cannot read ${path}: permission denied; run as root (pkgswitch's state and audit record are readable by root only)`);
}

/** true when `path` exists, false when it does not; exit 70 naming it when
 * it (or a directory on the way) may not be read. */
export function present(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (e) {
    if (isDenied(e)) throw deniedError(path);
    if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw e;
  }
}

/** Whether anything is at `path` itself, a dangling link included (a link
 * to nothing is a mistake to report, not an absent file); unreadable counts
 * as absent (what needs the file reports the error). */
export function entryAt(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
