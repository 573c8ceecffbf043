/** `disable`: put every original back (atomically, from its backup), drop
 * the backups, forget the provider; optionally remove the replacement. */
import { lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { backupHostPath, dropBackup, readSidecar, restoreFile } from "../fsops/backup.ts";
import { fsyncDir } from "../fsops/atomic.ts";
import { toPackageInfo } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import { undivertTargets } from "./divert.ts";
import { sweepTempFiles, workDirs } from "./sweep.ts";
import { observe } from "./observe.ts";
import { loadState, saveState, type ManagedTarget, type ProviderState } from "./state.ts";
import type { OpContext, OpOutcome } from "./session.ts";

export interface DisableOptions {
  providers: string[] | "all";
  removePackage: boolean;
}

export async function disable(ctx: OpContext, opts: DisableOptions): Promise<OpOutcome> {
  const { op, session, backend } = ctx;
  const { root, stateDir } = session.layout;
  const state = loadState(stateDir);
  const names = opts.providers === "all" ? Object.keys(state.providers).sort() : opts.providers;
  const active = names.filter((n) => state.providers[n]);
  for (const n of names.filter((n) => !state.providers[n])) op.record("preflight.check", { check: "enabled", provider: n, ok: true, note: "not enabled; nothing to do" });
  const entries = active.map((n) => state.providers[n]!);

  // Package facts for the SBOM, before anything is removed.
  const pkgNames = [...new Set(entries.flatMap((e) => [...e.replaces, e.package]))];
  const installed = backend.installed(pkgNames);
  const repos = backend.sourceRepos([...installed.keys()]);
  const packages: PackageInfo[] = [];
  for (const e of entries) {
    for (const r of e.replaces) {
      const p = installed.get(r);
      if (p) packages.push(toPackageInfo(backend, p, repos.get(r) ?? "unknown", "replaced", e.targets.map((t) => t.applet)));
    }
    const p = installed.get(e.package);
    if (p) packages.push(toPackageInfo(backend, p, repos.get(e.package) ?? "unknown", opts.removePackage ? "removed" : "replacing", e.targets.map((t) => t.applet)));
  }

  const plan = entries.map((e) => {
    const ours = new Set(e.targets.filter((t) => isOurLink(root, t.path, t.link_target)).map((t) => t.path));
    return {
      provider: e.provider,
      restore: [...ours],
      untouched: e.targets.map((t) => t.path).filter((p) => !ours.has(p)),
      remove_package: opts.removePackage ? e.package : null,
    };
  });
  if (session.dryRun) return { status: "dry_run", exitCode: Exit.OK, packages, result: { dry_run: true, plan } };

  sweepTempFiles(workDirs(root, stateDir, entries.flatMap((e) => e.targets.map((t) => t.path))));
  // Mark the providers first: a relink (a hook) must not re-switch what an
  // interrupted disable already restored.
  for (const e of entries) e.status = "disabling";
  if (entries.length > 0) saveState(stateDir, state);
  let restored = 0;
  let missingBackups = 0;
  let firstMissing: ManagedTarget | null = null;
  for (const e of entries) {
    const r = restoreProvider(ctx, e, "disable");
    restored += r.restored;
    missingBackups += r.remaining.length;
    firstMissing ??= r.remaining[0] ?? null;
    // What could not be restored (no backup) is still switched, not "disabling".
    if (r.remaining.length > 0) state.providers[e.provider] = { ...e, status: "switched", targets: r.remaining } satisfies ProviderState;
    else delete state.providers[e.provider];
  }
  saveState(stateDir, state);
  if (missingBackups > 0) {
    const t = firstMissing!;
    const copies = `${t.diverted_to ? `neither its diverted original ${t.diverted_to} nor ` : "not "}its backup ${join(stateDir, t.backup)} exists`;
    throw new PkgswitchError(Exit.BACKUP_MISSING, `${missingBackups} target(s) could not be restored, first ${t.path}: ${copies}; reinstall the package so it rewrites the original, then run disable again: ${backend.wording.reinstall(entries.flatMap((e) => e.replaces))} (docs/recovery.md#exit-60-backup-missing)`);
  }
  let removed: string[] = [];
  if (opts.removePackage) {
    removed = entries.map((e) => e.package).filter((p) => installed.has(p));
    if (removed.length > 0) {
      const t0 = performance.now();
      backend.remove(removed);
      op.record("pkg.remove", { manager: backend.kind, packages: removed, rc: 0, duration_ms: Math.round(performance.now() - t0) });
    }
  }
  return { status: "ok", exitCode: Exit.OK, packages, counts: { restored, removed: removed.length }, result: { plan, restored, removed } };
}

/** Put every original of a provider back: from the diverted name when the
 * package manager keeps the package's current file there, else from the backup; then drop
 * backups and diversions. Targets that are no longer our link are left as
 * they are. Returns the targets that could not be restored (no backup). */
export function restoreProvider(ctx: OpContext, e: ProviderState, reason: string): { restored: number; remaining: ManagedTarget[] } {
  const { op, session, cache } = ctx;
  const { root, stateDir } = session.layout;
  const remaining: ManagedTarget[] = [];
  let restored = 0;
  let n = 0;
  for (const t of e.targets) {
    session.out.progress(`restoring ${e.provider}`, ++n, e.targets.length);
    const backup = backupHostPath(stateDir, t.backup);
    if (!isOurLink(root, t.path, t.link_target)) {
      // Restored already (a re-run after a crash), or replaced by the package manager.
      const now = observe(root, t.path);
      op.record("file.restore", { path: t.path, action: "none", reason: now.kind === "missing" ? "target missing" : "target is no longer our link", observed_kind: now.kind });
      dropBackup(backup);
      continue;
    }
    // With a diversion, the package's current original is at the diverted
    // name (an upgrade may have replaced it); else the backup is.
    const diverted = t.diverted_to ? hostPath(root, t.diverted_to) : null;
    const fromDiverted = diverted !== null && lstatSync(diverted, { throwIfNoEntry: false })?.isFile() === true;
    const source = fromDiverted ? diverted! : backup;
    if (!lstatSync(source, { throwIfNoEntry: false })) {
      remaining.push(t);
      op.record("error", { message: `backup missing for ${t.path}: ${backup}`, path: t.path, exit_code: Exit.BACKUP_MISSING });
      continue;
    }
    const side = readSidecar(backup) ?? t.original;
    restoreFile(source, hostPath(root, t.path));
    const after = t.original.kind === "file" ? cache.digest(hostPath(root, t.path)) : null;
    const st = lstatSync(hostPath(root, t.path));
    op.record("file.restore", {
      path: t.path, action: "restore", reason, source: fromDiverted ? "diverted" : "backup", before_kind: "symlink", link_target: t.link_target, after_kind: side.kind,
      after_link_target: side.kind === "symlink" ? side.link_target : null,
      before_sha256: null, after_sha256: after, expected_sha256: side.sha256,
      mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, matches_original: after === side.sha256 || side.kind === "symlink",
    });
    dropBackup(backup);
    restored++;
  }
  undivertTargets(ctx, e.targets.filter((t) => !remaining.includes(t)), reason);
  for (const d of new Set(e.targets.map((t) => dirname(t.path)))) fsyncDir(hostPath(root, d));
  return { restored, remaining };
}

/** Is the target a symlink with exactly our link text? */
export function isOurLink(root: string, path: string, linkTarget: string): boolean {
  const o = observe(root, path);
  return o.kind === "symlink" && o.linkText === linkTarget;
}
