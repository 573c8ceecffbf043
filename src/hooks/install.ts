/** Writing and removing the hook files inside an operation, so `enable`,
 * `disable` and `hooks install/remove` share one audited path. A file that
 * exists without pkgswitch's marker belongs to someone else: never
 * overwritten, never removed. */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import { createHash } from "node:crypto";
import { hostPath } from "../config/paths.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import type { OpBuffer } from "../audit/opbuffer.ts";
import type { Provider } from "../providers/catalog.ts";
import { HOOK_PATHS, MARKER, hookFilesFor, type HookFile } from "./files.ts";

export const DEFAULT_HOOK_BINARY = "/usr/bin/pkgswitch";

/** The path the hooks should run, inside the root: the running binary when
 * it lives inside the root (`/` in production), else /usr/bin/pkgswitch. */
export function hookBinary(root: string, execPath = process.execPath): string {
  if (!basename(execPath).startsWith("pkgswitch")) return DEFAULT_HOOK_BINARY; // run from source
  if (root === "/") return execPath;
  return execPath.startsWith(root + "/") ? execPath.slice(root.length) : DEFAULT_HOOK_BINARY;
}

function ours(root: string, path: string): boolean | null {
  const host = hostPath(root, path);
  if (!existsSync(host)) return null;
  return readFileSync(host, "utf8").includes(MARKER);
}

/** Hook files present in the root: ours (with the marker) and foreign ones. */
export function presentHooks(root: string): { ours: string[]; foreign: string[] } {
  const out = { ours: [] as string[], foreign: [] as string[] };
  for (const p of HOOK_PATHS) {
    const o = ours(root, p);
    if (o !== null) (o ? out.ours : out.foreign).push(p);
  }
  return out;
}

/** Files among `files` that exist and are not ours (writing them would clobber). */
export function foreignAmong(root: string, files: HookFile[]): string[] {
  return files.filter((f) => ours(root, f.path) === false).map((f) => f.path);
}

/** Write the hook files whose content differs from what is there; record each. */
export function writeHooks(op: OpBuffer, root: string, files: HookFile[], dryRun: boolean, reason?: string): string[] {
  const written: string[] = [];
  for (const f of files) {
    const host = hostPath(root, f.path);
    if (existsSync(host) && readFileSync(host, "utf8") === f.content) continue;
    if (!dryRun) {
      mkdirSync(dirname(host), { recursive: true, mode: 0o755 });
      writeFileAtomic(host, f.content, f.mode ?? 0o644);
    }
    op.record("hook.install", { path: f.path, sha256: createHash("sha256").update(f.content).digest("hex"), ...(reason ? { reason } : {}) });
    written.push(f.path);
  }
  return written;
}

/** Remove every hook file of ours; record each. Foreign files stay. */
export function removeHooks(op: OpBuffer, root: string, dryRun: boolean, reason?: string): string[] {
  const mine = presentHooks(root).ours;
  for (const p of mine) {
    if (!dryRun) rmSync(hostPath(root, p));
    op.record("hook.remove", { path: p, ...(reason ? { reason } : {}) });
  }
  return mine;
}

/** The hook files for this root's package manager (`kind`), running `binary`. */
export function hooksForRoot(root: string, kind: string, binary: string, providers: Iterable<Provider>): HookFile[] {
  const pacmanPackages = [...providers].flatMap((p) => (p.recipes.pacman ? [...p.recipes.pacman.replaces, p.recipes.pacman.package] : []));
  return hookFilesFor(kind, binary, { withApt: existsSync(hostPath(root, "/etc/apt")), pacmanPackages });
}
