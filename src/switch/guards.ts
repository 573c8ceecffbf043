/** Guards on by default: `enable` installs the package-manager hooks that
 * keep a switch safe across package transactions (an upgrade re-applied, a
 * removed replacement restored before the package manager needs rm), and
 * disabling the last provider removes them. Part of the same operation, so
 * the audit record says which hook files were written or removed. */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { hostPath } from "../config/paths.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import type { OpBuffer } from "../audit/opbuffer.ts";
import type { Provider } from "../providers/catalog.ts";
import type { HookFile } from "../hooks/files.ts";
import type { HookPackage, PackageBackend } from "../pkgmgr/backend.ts";
import { foreignAmong, hookBinary, hooksForRoot, presentHooks } from "../hooks/install.ts";
import { Exit } from "../errors.ts";
import { problemLine } from "../fsops/reserve.ts";
import { executableInfo } from "./observe.ts";
import { loadState } from "./state.ts";
import type { OpContext, OpOutcome } from "./session.ts";

export interface GuardResult {
  /** Hook files written (or that would be, in a dry run). */
  written: string[];
  /** Same-named files pkgswitch did not write: left alone, not guarded. */
  foreign: string[];
  /** The hook package installed (or that would be), for managers that keep
   * hooks in their database (file triggers); null when none was needed. */
  package: string | null;
  /** The path the hooks run; they skip themselves while it is absent. */
  binary: string;
  binary_present: boolean;
}

export function installGuards(ctx: OpContext, catalog: Iterable<Provider>): GuardResult {
  const root = ctx.session.layout.root;
  const binary = hookBinary(root);
  const pkg = ctx.backend.hookPackage;
  const pkgFiles = pkg?.files(binary) ?? [];
  const files = [...hooksForRoot(root, ctx.backend.kind, binary, catalog), ...pkgFiles];
  const foreign = foreignAmong(root, files);
  for (const path of foreign) ctx.op.record("hook.install", { path, skipped: true, reason: "a file pkgswitch did not write is there; left alone" });
  const written = writeHooks(ctx.op, root, files.filter((f) => !foreign.includes(f.path)), ctx.session.dryRun, { reason: "enable installs the package-manager hooks (--no-hooks to skip)", onlyChanged: true });
  // The package carries the triggers: without every one of its files, or
  // with a file of someone else's in its place, it would run the wrong thing.
  const usable = pkg && !pkgFiles.some((f) => foreign.includes(f.path));
  let installed = false;
  try {
    installed = usable ? ensureHookPackage(ctx.op, ctx.backend, root, pkg, ctx.session.dryRun, written.includes(pkg.packageFile)) : false;
  } catch (e) {
    // Without the package its files (ours: the script its triggers run and
    // the package file) guard nothing: take them out, so that neither the
    // root nor the record shows hooks that are not installed. An older
    // package still installed (its removal failed) keeps them.
    const stillInstalled = ((): boolean => {
      try {
        return ctx.backend.installed([pkg!.name]).size > 0;
      } catch {
        return true;
      }
    })();
    const mine = stillInstalled || ctx.session.dryRun ? [] : pkgFiles.map((f) => f.path).filter((p) => !foreign.includes(p) && existsSync(hostPath(root, p)));
    // The cause is what the exit-90 line reports; a file that cannot be
    // removed as well is recorded as such and does not replace it.
    removeFiles(ctx.op, root, mine, `the hook package ${pkg!.name} could not be installed`);
    throw e;
  }
  return { written, foreign, package: installed ? pkg!.name : null, binary, binary_present: executableInfo(root, binary).executable };
}

/** After a switch that succeeded (and is in state.json): install the guards.
 * Their failure does not undo the switch — the commands work, only the
 * protection across package transactions is missing — so it is its own
 * outcome: status "ok" (what was switched stays switched), exit 90, one line
 * that says both and what to run, and an `error` event in the record. */
export function guardSwitched(ctx: OpContext, switched: OpOutcome, catalog: Iterable<Provider>): OpOutcome {
  try {
    return { ...switched, result: { ...(switched.result as object), hooks: installGuards(ctx, catalog) } };
  } catch (e) {
    const why = problemLine(e);
    const message = `the commands are switched, but the package-manager hooks are NOT installed (${why}); until they are, a package upgrade or removal can break the switch — run \`pkgswitch hooks install\``;
    ctx.op.record("error", { message, exit_code: Exit.HOOKS_NOT_INSTALLED, step: "hook.install" });
    return { ...switched, status: "ok", exitCode: Exit.HOOKS_NOT_INSTALLED, result: { ...(switched.result as object), hooks: null, error: message, exit_code: Exit.HOOKS_NOT_INSTALLED } };
  }
}

/** Install the hook package from its file inside the root when it is not
 * installed, or (`reinstall`) when that file changed; records `pkg.install`.
 * True when it was (or, in a dry run, would be) installed. */
export function ensureHookPackage(op: OpBuffer, backend: PackageBackend, root: string, pkg: HookPackage, dryRun: boolean, reinstall: boolean): boolean {
  const present = backend.installed([pkg.name]).size > 0;
  if (present && !reinstall) return false;
  if (dryRun) return true;
  // Re-installing replaces an older hook package; the triggers it fires
  // now see PKGSWITCH_IN_OPERATION and leave the work to us.
  const t0 = performance.now();
  if (present) backend.remove([pkg.name]);
  backend.install([hostPath(root, pkg.packageFile)]);
  op.record("pkg.install", { manager: backend.kind, packages: [pkg.name], version: backend.installed([pkg.name]).get(pkg.name)?.version ?? null, rc: 0, duration_ms: Math.round(performance.now() - t0) });
  return true;
}

/** Erase the hook package when it is installed; records `pkg.remove`. */
export function dropHookPackage(op: OpBuffer, backend: PackageBackend, pkg: HookPackage, dryRun: boolean): boolean {
  if (backend.installed([pkg.name]).size === 0) return false;
  if (dryRun) return true;
  const t0 = performance.now();
  backend.remove([pkg.name]);
  op.record("pkg.remove", { manager: backend.kind, packages: [pkg.name], rc: 0, duration_ms: Math.round(performance.now() - t0) });
  return true;
}

/** The paths a hook package's files take (whatever binary they run). */
export const hookPackagePaths = (pkg: HookPackage | undefined): string[] => pkg?.files("/usr/bin/pkgswitch").map((f) => f.path) ?? [];

/** What dropGuardsIfIdle did: hooks removed, and those left in place. */
export interface GuardsDropped {
  removed: string[];
  /** Hooks that could not be removed (each recorded with `ok: false`). */
  left: string[];
}

/** After a disable (or a pkg remove of the last replacement): with no
 * provider left, the hooks have nothing to guard. What was switched is
 * already restored and saved, so a hook that cannot be removed does not fail
 * the operation: left in place it finds no provider and does nothing; it is
 * recorded and named in `left` for a warning. A hook package that stays
 * keeps its files (its triggers run them). */
export function dropGuardsIfIdle(ctx: OpContext): GuardsDropped {
  // A dry run asks guardsToDrop instead.
  if (ctx.session.dryRun) return { removed: [], left: [] };
  if (Object.keys(loadState(ctx.session.layout.stateDir).providers).length > 0) return { removed: [], left: [] };
  const pkg = ctx.backend.hookPackage;
  const reason = "no provider is enabled any more";
  const removed: string[] = [];
  const left: string[] = [];
  let pkgStays = false;
  if (pkg) {
    try {
      if (dropHookPackage(ctx.op, ctx.backend, pkg, false)) removed.push(pkg.name);
    } catch (e) {
      pkgStays = true;
      left.push(pkg.name);
      ctx.op.record("hook.remove", { path: pkg.packageFile, package: pkg.name, reason, ok: false, error: problemLine(e) });
    }
  }
  const root = ctx.session.layout.root;
  const keep = pkgStays ? hookPackagePaths(pkg) : [];
  const files = presentHooks(root, hookPackagePaths(pkg)).ours.filter((p) => !keep.includes(p));
  const gone = removeFiles(ctx.op, root, files, reason);
  removed.push(...gone);
  left.push(...files.filter((p) => !gone.includes(p)), ...keep.filter((p) => existsSync(hostPath(root, p))));
  return { removed, left };
}

/** A dry run's plan: the hooks dropGuardsIfIdle would remove once the
 * `leaving` providers are gone (none while another provider stays). */
export function guardsToDrop(ctx: OpContext, leaving: readonly string[]): string[] {
  if (Object.keys(loadState(ctx.session.layout.stateDir).providers).some((p) => !leaving.includes(p))) return [];
  const pkg = ctx.backend.hookPackage;
  const installed = pkg && ctx.backend.installed([pkg.name]).size > 0 ? [pkg.name] : [];
  return [...installed, ...presentHooks(ctx.session.layout.root, hookPackagePaths(pkg)).ours];
}

/** Remove `paths` (hook files of ours), each recorded; one that cannot be
 * removed is recorded with `ok: false` and its error, and the others are
 * still removed. Returns those removed. */
function removeFiles(op: OpBuffer, root: string, paths: string[], reason: string): string[] {
  const removed: string[] = [];
  for (const p of paths) {
    try {
      rmSync(hostPath(root, p), { force: true });
    } catch (e) {
      op.record("hook.remove", { path: p, reason, ok: false, error: problemLine(e) });
      continue;
    }
    op.record("hook.remove", { path: p, reason });
    removed.push(p);
  }
  return removed;
}

/** Write the hook files and record each. With `onlyChanged` (enable), a
 * file whose content is already right is left alone and not recorded;
 * `hooks install` rewrites them all. */
export function writeHooks(op: OpBuffer, root: string, files: HookFile[], dryRun: boolean, opts: { reason?: string; onlyChanged?: boolean } = {}): string[] {
  const written: string[] = [];
  for (const f of files) {
    const host = hostPath(root, f.path);
    if (opts.onlyChanged && existsSync(host) && Buffer.from(f.content).equals(readFileSync(host))) continue;
    if (!dryRun) {
      mkdirSync(dirname(host), { recursive: true, mode: 0o755 });
      writeFileAtomic(host, f.content, f.mode ?? 0o644);
    }
    op.record("hook.install", { path: f.path, sha256: sha256Hex(f.content), ...(opts.reason ? { reason: opts.reason } : {}) });
    written.push(f.path);
  }
  return written;
}

/** Remove every hook file of ours (the known paths and `extra`); record each. Foreign files stay. */
export function removeHooks(op: OpBuffer, root: string, dryRun: boolean, reason?: string, extra: string[] = []): string[] {
  const mine = presentHooks(root, extra).ours;
  for (const p of mine) {
    if (!dryRun) rmSync(hostPath(root, p));
    op.record("hook.remove", { path: p, ...(reason ? { reason } : {}) });
  }
  return mine;
}
