/** What pkgswitch manages, kept in `<state-dir>/state.json` for status,
 * disable and relink. Written atomically; the filesystem stays the truth
 * (a target is switched when it is our link), the state says what is ours. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { deniedError, isDenied, present } from "../config/access.ts";

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
  /** Where the package manager now writes the original (dpkg diversion), or null. */
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

export function loadState(stateDir: string): State {
  const path = statePath(stateDir);
  if (!present(path)) return emptyState();
  try {
    const s = JSON.parse(readFileSync(path, "utf8")) as State;
    if (s.v !== 1 || typeof s.providers !== "object" || s.providers === null) throw new Error("unknown state version");
    return s;
  } catch (e) {
    if (isDenied(e)) throw deniedError(path);
    throw stateCorrupt(path, (e as Error).message);
  }
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
