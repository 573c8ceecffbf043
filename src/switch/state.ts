/** What pkgswitch manages, kept in `<state-dir>/state.json` for status,
 * disable and relink. Written atomically; the filesystem stays the truth
 * (a target is switched when it is our link), the state says what is ours. */
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import type { OriginalFile } from "../fsops/backup.ts";
import { READ_LIMIT, readBoundedText, readProblem, tooDeep } from "../config/bounded.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { deniedError, isDenied, present } from "../config/access.ts";
import { isNormalAbsolute } from "../config/paths.ts";
import { stateShapeProblem } from "./state-shape.ts";

/** A target's prior identity (fsops/backup.ts: also the sidecar's content). */
export type { OriginalFile };

export interface ManagedTarget {
  applet: string;
  /** Absolute path inside the root (canonical, e.g. /usr/bin/ls). */
  path: string;
  /** What the link points to (inside the root). */
  link_target: string;
  /** Backup location inside the state dir (host path relative to stateDir). */
  backup: string;
  original: OriginalFile;
  /** The path as the package database records it (may be a /bin alias). */
  db_path?: string;
  /** Where the package manager now writes the original (its diversion), or null. */
  diverted_to?: string | null;
}

export interface ProviderState {
  provider: string;
  manager: string;
  package: string;
  replaces: string[];
  /** "pending" while an enable is between backup and completion;
   * "disabling" once a disable has started restoring. relink repairs only
   * "switched" providers: an interrupted command is finished by re-running it. */
  status: "pending" | "switched" | "disabling";
  /** Whether pkgswitch installed the package (so disable --remove-package may remove it). */
  installed_by_us: boolean;
  op: string;
  targets: ManagedTarget[];
}

export interface State {
  v: 1;
  providers: Record<string, ProviderState>;
}

export const emptyState = (): State => ({ v: 1, providers: {} });

export function statePath(stateDir: string): string {
  return join(stateDir, "state.json");
}

/** Identity of state.json as it is now (device, inode, size, times;
 * "absent"; null when it cannot be told): equal stamps mean an unchanged
 * file, since saveState replaces it whole (a new inode) and any write moves
 * its ctime. */
export function stateStamp(stateDir: string): string | null {
  try {
    const st = lstatSync(statePath(stateDir), { bigint: true, throwIfNoEntry: false });
    return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : "absent";
  } catch {
    return null;
  }
}

export function loadState(stateDir: string): State {
  const path = statePath(stateDir);
  if (!present(path)) return emptyState();
  let s: State;
  try {
    const text = readBoundedText(path, { max: READ_LIMIT.record, noFollow: true });
    if (tooDeep(text)) throw new Error("nested too deeply");
    s = JSON.parse(text) as State;
  } catch (e) {
    if (isDenied(e)) throw deniedError(path);
    throw stateCorrupt(path, (e as NodeJS.ErrnoException).code ? `it ${readProblem(e)}` : (e as Error).message);
  }
  // The whole shape first, so that nothing acts on a field of the wrong
  // type half-way through restoring the targets.
  const bad = stateShapeProblem(s) ?? untrustedPath(s);
  if (bad) throw stateCorrupt(path, bad);
  return s;
}

/** A clean absolute path inside the root: no `..`, `.`, empty component or NUL. */
function cleanAbsolute(p: unknown): p is string {
  return typeof p === "string" && isNormalAbsolute(p) && !p.includes("\0");
}

/** posix.dirname of a clean absolute path. */
function parentOf(clean: string): string {
  return clean.slice(0, clean.lastIndexOf("/")) || "/";
}

/**
 * state.json is read back as untrusted input (the root's owner can edit
 * it): every path in it must lie where it belongs — a target is a clean
 * absolute path, its backup exactly `backups/<target>` under the state dir,
 * its diverted name beside the target (or beside its database path) —
 * else the whole file is refused before anything changes. Returns the first
 * problem, or null.
 */
export function untrustedPath(s: State): string | null {
  for (const [name, p] of Object.entries(s.providers)) {
    if (typeof p !== "object" || p === null || !Array.isArray(p.targets)) return `provider "${name}" has no target list`;
    for (const [i, t] of p.targets.entries()) {
      const at = `providers.${name}.targets[${i}]`;
      if (typeof t !== "object" || t === null) return `${at} is not an object`;
      if (!cleanAbsolute(t.path)) return `${at}.path ${JSON.stringify(t.path)} is not a clean absolute path`;
      // backupRel (./sweep.ts) spells it so; not imported, to keep fsops out of a cycle.
      const backup = `backups${t.path}`;
      if (t.backup !== backup) return `${at}.backup ${JSON.stringify(t.backup)} is not ${backup}`;
      if (typeof t.link_target !== "string" || t.link_target === "" || t.link_target.includes("\0")) return `${at}.link_target is not a link text`;
      if (t.db_path !== undefined && t.db_path !== null && !cleanAbsolute(t.db_path)) return `${at}.db_path ${JSON.stringify(t.db_path)} is not a clean absolute path`;
      if (t.diverted_to !== undefined && t.diverted_to !== null) {
        const dirs = [parentOf(t.path), ...(t.db_path ? [parentOf(t.db_path)] : [])];
        if (!cleanAbsolute(t.diverted_to) || !dirs.includes(parentOf(t.diverted_to))) return `${at}.diverted_to ${JSON.stringify(t.diverted_to)} is not beside ${t.db_path ?? t.path}`;
      }
    }
  }
  return null;
}

/** Exit 80: the record of what is switched cannot be trusted, so nothing
 * acts on it; the playbook rebuilds it (the targets are unchanged). */
export function stateCorrupt(path: string, why: string): PkgswitchError {
  return new PkgswitchError(Exit.STATE_CORRUPT, `state file ${path} is corrupt (${why}); nothing was changed — see docs/recovery.md#a-corrupt-statejson`);
}

export function saveState(stateDir: string, state: State): void {
  writeFileAtomic(statePath(stateDir), JSON.stringify(state, null, 1) + "\n");
}

/** Which provider (if any) manages a target path. */
export function managerOf(state: State, path: string): string | null {
  for (const [name, p] of Object.entries(state.providers)) {
    if (p.targets.some((t) => t.path === path)) return name;
  }
  return null;
}
