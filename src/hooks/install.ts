/** Which hook files a root has and should have (reads only). A file that
 * exists without pkgswitch's marker belongs to someone else: never
 * overwritten, never removed (src/switch/guards.ts writes and removes). */
import { existsSync, lstatSync } from "node:fs";
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";
import { basename } from "node:path";
import { hostPath } from "../config/paths.ts";
import type { Provider } from "../providers/catalog.ts";
import type { ManagerKind } from "../pkgmgr/types.ts";
import { HOOK_PATHS, MARKER, hookFilesFor, type HookFile } from "./files.ts";

export const DEFAULT_HOOK_BINARY = "/usr/bin/pkgswitch";

/** The path the hooks should run, inside the root: the running binary when
 * it lives inside the root (`/` in production), else /usr/bin/pkgswitch. */
export function hookBinary(root: string, execPath = process.execPath): string {
  if (!basename(execPath).startsWith("pkgswitch")) return DEFAULT_HOOK_BINARY; // run from source
  if (root === "/") return execPath;
  return execPath.startsWith(root + "/") ? execPath.slice(root.length) : DEFAULT_HOOK_BINARY;
}

/** Whether the hook file at `path` is ours (null: there is none). A link
 * there is someone else's, never read through: it could lead to any host file. */
function ours(root: string, path: string): boolean | null {
  const host = hostPath(root, path);
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (!st) return null;
  if (st.isSymbolicLink()) return false;
  return readBoundedText(host, { max: READ_LIMIT.small, noFollow: true }).includes(MARKER);
}

/** Hook files present in the root (the known paths and `extra`): ours
 * (with the marker) and foreign ones. */
export function presentHooks(root: string, extra: string[] = []): { ours: string[]; foreign: string[] } {
  const out = { ours: [] as string[], foreign: [] as string[] };
  for (const p of [...HOOK_PATHS, ...extra]) {
    const o = ours(root, p);
    if (o !== null) (o ? out.ours : out.foreign).push(p);
  }
  return out;
}

/** Files among `files` that exist and are not ours (writing them would clobber). */
export function foreignAmong(root: string, files: HookFile[]): string[] {
  return files.filter((f) => ours(root, f.path) === false).map((f) => f.path);
}

/** The hook files for this root's package manager (`kind`), running `binary`. */
export function hooksForRoot(root: string, kind: string, binary: string, providers: Iterable<Provider>): HookFile[] {
  // The packages the providers involve on this manager (what a transaction hook triggers on).
  const list = [...providers]; // an iterator is read once
  const packages = list.flatMap((p) => {
    const r = p.recipes[kind as ManagerKind];
    return r ? [...r.replaces, r.package] : [];
  });
  const replacements = list.flatMap((p) => (p.recipes[kind as ManagerKind] ? [p.recipes[kind as ManagerKind]!.package] : []));
  return hookFilesFor(kind, binary, { exists: (p) => existsSync(hostPath(root, p)), packages, replacements });
}
