/** `relink`: idempotent repair after package transactions (hooks run it).
 *
 * `inspect` is read-only and starts no process, so the common case — nothing
 * changed — costs a few syscalls per target and writes nothing. Only when it
 * finds something does `relink` run as an audited operation:
 *   overwritten / missing target  → back up what is there now, re-apply the link
 *   backup stale (an upgrade rewrote the diverted original) → refresh the backup
 *   diversion missing             → register it again
 *   replacement uninstalled       → restore every original of the provider */
import { lstatSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostPath } from "../config/paths.ts";
import { Exit } from "../errors.ts";
import { replaceWithSymlink, fsyncDir, syncFilesystem } from "../fsops/atomic.ts";
import { backupFile, backupHostPath, placeFile } from "../fsops/backup.ts";
import { toPackageInfo, type Diversion } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import { restoreProvider } from "./disable.ts";
import { describeOriginal, executableInfoPass, isLinkTo, observe, resolvedDigest } from "./observe.ts";
import { saveState, type ProviderState, type State } from "./state.ts";
import type { OpContext, OpOutcome } from "./session.ts";

export type Problem = "replacement-gone" | "overwritten" | "missing" | "backup-stale" | "diversion-missing";

export interface Finding {
  provider: string;
  path: string;
  problem: Problem;
  detail: string;
}

/** What needs repair; pure reads (lstat/readlink) only. */
export function inspect(root: string, stateDir: string, state: State, diversions: Map<string, Diversion> | null): Finding[] {
  const findings: Finding[] = [];
  const executable = executableInfoPass(root);
  for (const p of Object.values(state.providers)) {
    if (p.status !== "switched") continue; // an interrupted enable/disable: re-run that command
    const gone = p.targets.find((t) => !executable(t.link_target).exists);
    if (gone) {
      findings.push({ provider: p.provider, path: gone.link_target, problem: "replacement-gone", detail: `${gone.link_target} is gone: ${p.package} was removed (or its files deleted)` });
      continue;
    }
    for (const t of p.targets) {
      const o = isLinkTo(root, t.path, t.link_target) ? null : observe(root, t.path);
      if (o?.kind === "missing") findings.push({ provider: p.provider, path: t.path, problem: "missing", detail: "target is missing" });
      else if (o && !(o.kind === "symlink" && o.linkText === t.link_target)) findings.push({ provider: p.provider, path: t.path, problem: "overwritten", detail: o.kind === "symlink" ? `now a link to ${o.linkText}` : `now a ${o.kind} (a package upgrade or a hand edit)` });
      if (!t.diverted_to || !t.db_path || !diversions) continue;
      const d = diversions.get(t.db_path);
      if (!d || d.to !== t.diverted_to) findings.push({ provider: p.provider, path: t.path, problem: "diversion-missing", detail: `no diversion of ${t.db_path}` });
      const div = lstatSync(hostPath(root, t.diverted_to), { throwIfNoEntry: false });
      const bak = lstatSync(backupHostPath(stateDir, t.backup), { throwIfNoEntry: false });
      if (div && (!bak || div.ino !== bak.ino || div.dev !== bak.dev)) findings.push({ provider: p.provider, path: t.path, problem: "backup-stale", detail: `${t.diverted_to} was updated by the package manager` });
    }
  }
  return findings;
}

export async function relink(ctx: OpContext, state: State, findings: Finding[]): Promise<OpOutcome> {
  const { op, session, backend, cache } = ctx;
  const { root, stateDir } = session.layout;
  const byProvider = new Map<string, Finding[]>();
  for (const f of findings) byProvider.set(f.provider, [...(byProvider.get(f.provider) ?? []), f]);
  for (const f of findings) op.record("preflight.check", { check: "relink", provider: f.provider, path: f.path, problem: f.problem, reason: f.detail, ok: false });

  const involved = [...byProvider.keys()].map((n) => state.providers[n]!);
  const installed = backend.installed([...new Set(involved.flatMap((p) => [...p.replaces, p.package]))]);
  const repos = backend.sourceRepos([...installed.keys()]);
  const packages: PackageInfo[] = [];
  for (const p of involved) {
    for (const r of p.replaces) if (installed.has(r)) packages.push(toPackageInfo(backend, installed.get(r)!, repos.get(r) ?? "unknown", "replaced", p.targets.map((t) => t.applet)));
    if (installed.has(p.package)) packages.push(toPackageInfo(backend, installed.get(p.package)!, repos.get(p.package) ?? "unknown", "replacing", p.targets.map((t) => t.applet)));
  }

  const counts = { reapplied: 0, backups_refreshed: 0, diversions_added: 0, restored: 0 };
  for (const [name, list] of byProvider) {
    const p = state.providers[name]!;
    const gone = list.find((f) => f.problem === "replacement-gone");
    if (gone) {
      // The replacement was removed behind our back: links would dangle.
      const r = restoreProvider(ctx, p, `relink: ${gone.detail}`);
      counts.restored += r.restored;
      if (r.remaining.length > 0) state.providers[name] = { ...p, targets: r.remaining } satisfies ProviderState;
      else delete state.providers[name];
      continue;
    }
    const targets = new Map(p.targets.map((t) => [t.path, t]));
    const stale = list.filter((f) => f.problem === "backup-stale").map((f) => targets.get(f.path)!);
    for (const t of stale) {
      const original = describeOriginal(root, t.diverted_to!, t.original.owner, cache);
      backupFile(hostPath(root, t.diverted_to!), backupHostPath(stateDir, t.backup, true), original);
      t.original = original;
      op.record("file.backup", { path: t.path, backup: join(stateDir, t.backup), source: t.diverted_to, reason: "the package manager updated the diverted original", sha256: original.sha256, mode: original.mode, uid: original.uid, gid: original.gid });
      counts.backups_refreshed++;
    }
    const broken = list.filter((f) => f.problem === "overwritten" || f.problem === "missing").map((f) => targets.get(f.path)!);
    for (const t of broken) {
      if (observe(root, t.path).kind !== "missing") {
        // What is there now is the newest original: keep it as the backup.
        const original = describeOriginal(root, t.path, t.original.owner, cache);
        backupFile(hostPath(root, t.path), backupHostPath(stateDir, t.backup, true), original);
        if (t.diverted_to) placeFile(hostPath(root, t.path), hostPath(root, t.diverted_to));
        t.original = original;
        op.record("file.backup", { path: t.path, backup: join(stateDir, t.backup), reason: "target was overwritten", sha256: original.sha256, mode: original.mode, uid: original.uid, gid: original.gid });
      }
    }
    syncFilesystem(stateDir);
    const undiverted = list.filter((f) => f.problem === "diversion-missing").map((f) => targets.get(f.path)!);
    const toDivert = [...new Set([...undiverted, ...broken.filter((t) => t.diverted_to)])];
    if (backend.diverter && toDivert.length > 0) {
      for (const t of toDivert) {
        if (!lstatSync(hostPath(root, t.diverted_to!), { throwIfNoEntry: false })) placeFile(backupHostPath(stateDir, t.backup), hostPath(root, t.diverted_to!));
      }
      backend.diverter.add(toDivert.map((t) => ({ from: t.db_path!, to: t.diverted_to! })));
      for (const t of toDivert) op.record("pkg.divert", { manager: backend.kind, action: "add", path: t.db_path, diverted_to: t.diverted_to, reason: "relink" });
      counts.diversions_added += toDivert.length;
    }
    op.flush();
    saveState(stateDir, state);
    for (const t of broken) {
      replaceWithSymlink(hostPath(root, t.path), t.link_target);
      op.record("file.switch", {
        path: t.path, applet: t.applet, reason: list.find((f) => f.path === t.path)!.detail, before_kind: t.original.kind, after_kind: "symlink", link_target: t.link_target,
        before_sha256: t.original.sha256, after_sha256: resolvedDigest(root, t.link_target, cache), mode: t.original.mode, uid: t.original.uid, gid: t.original.gid,
      });
      counts.reapplied++;
    }
    for (const d of new Set(broken.map((t) => dirname(t.path)))) fsyncDir(hostPath(root, d));
  }
  saveState(stateDir, state);
  return { status: "ok", exitCode: Exit.OK, packages, counts, result: { findings, counts } };
}

