/** `enable`: install the replacement, then switch each target to it —
 * preflight everything, back up, swap atomically, smoke test, and roll back
 * in reverse on any failure (architecture.md, "The switch, step by step"). */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { BIN_DIRS, hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { fsyncDir, fsyncDirAsync, replaceWithSymlink, syncFilesystem } from "../fsops/atomic.ts";
import { backupFile, backupHostPath, dropBackup, restoreFile } from "../fsops/backup.ts";
import type { Provider, ManagerRecipe } from "../providers/catalog.ts";
import { discoverApplets, parseAppletList, replacementCommands, type Applet } from "../providers/discover.ts";
import { inRoot, run } from "../pkgmgr/exec.ts";
import { toPackageInfo, type InstalledPackage } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import { describeOriginal, executableInfo, observe, resolvedDigest } from "./observe.ts";
import type { HashCache } from "../hashing/cache.ts";
import { planEnable, type Action } from "./plan.ts";
import { smokeTest } from "./smoke.ts";
import { checkTargets, currentMounts, fsFacts } from "./preflight.ts";
import { wayBack } from "./wayback.ts";
import { loadState, managerOf, saveState, statePath, type ManagedTarget, type State } from "./state.ts";
import type { OpContext, OpOutcome } from "./session.ts";
import { divertedName, divertTargets, UndivertError, undivertTargets } from "./divert.ts";
import { backupRel, sweepTempFiles, workDirs } from "./sweep.ts";
import { problemLine, writeProblem } from "../fsops/reserve.ts";
import { corpusTexts } from "../probes/corpus.ts";
import { probeWithCache, probesDirOf, readScripts, summaryLine } from "./compat.ts";

export interface EnableOptions {
  /** Refuse (exit 10) when any compatibility probe does not match. */
  requireCompat?: boolean;
}

export interface ProviderPlan {
  provider: Provider;
  recipe: ManagerRecipe;
  applets: Applet[];
  actions: Action[];
  installed: Map<string, InstalledPackage>;
  willInstall: boolean;
  repos: Map<string, string>;
}

function recipeFor(ctx: OpContext, p: Provider): ManagerRecipe {
  const recipe = p.recipes[ctx.backend.kind];
  if (!recipe) throw new PkgswitchError(Exit.PREFLIGHT, `provider "${p.name}" has no recipe for ${ctx.backend.kind} systems`);
  return recipe;
}


function listApplets(ctx: OpContext, recipe: ManagerRecipe): string[] {
  if (!("list" in recipe.applets)) return [];
  const r = run(inRoot(ctx.session.layout.root, [recipe.applets.list, "--list"]));
  ctx.op.record("pkg.query", { manager: "applet-list", args: [recipe.applets.list, "--list"], rc: r.rc, duration_ms: r.durationMs });
  if (r.rc !== 0) throw new PkgswitchError(Exit.PREFLIGHT, `${recipe.applets.list} --list failed in ${ctx.session.layout.root} (exit ${r.rc})`);
  return parseAppletList(r.stdout);
}

/** Discover and preflight one provider. Installs the package unless dry-run. */
async function prepare(ctx: OpContext, provider: Provider, state: State, installedByUs: string[]): Promise<ProviderPlan> {
  const { op, backend, session } = ctx;
  const root = session.layout.root;
  const recipe = recipeFor(ctx, provider);
  let installed = backend.installed([...recipe.replaces, recipe.package]);
  const missingReplaced = recipe.replaces.filter((r) => !installed.has(r));
  op.record("preflight.check", { check: "packages", provider: provider.name, replaced_installed: recipe.replaces.filter((r) => installed.has(r)), replaced_missing: missingReplaced, replacement_installed: installed.has(recipe.package), ok: missingReplaced.length < recipe.replaces.length });
  if (missingReplaced.length === recipe.replaces.length) {
    throw new PkgswitchError(Exit.PREFLIGHT, `provider "${provider.name}": none of ${recipe.replaces.join(", ")} is installed in ${root}; nothing to replace`);
  }
  let willInstall = false;
  if (!installed.has(recipe.package)) {
    if (session.dryRun) {
      // Changes nothing, but tells now if the install would fail (exit 20).
      backend.simulate("install", [recipe.package]);
      willInstall = true;
    }
    else {
      const t0 = performance.now();
      backend.install([recipe.package]);
      installedByUs.push(recipe.package);
      installed = backend.installed([...recipe.replaces, recipe.package]);
      const v = installed.get(recipe.package);
      op.record("pkg.install", { manager: backend.kind, packages: [recipe.package], version: v?.version ?? null, rc: 0, duration_ms: Math.round(performance.now() - t0) });
      if (!v) throw new PkgswitchError(Exit.PKGMGR, `${backend.wording.installer} reported success but ${recipe.package} is not installed in ${root}`);
    }
  }
  const replacedFiles = new Map<string, string[]>();
  for (const r of recipe.replaces) if (installed.has(r)) replacedFiles.set(r, installed.get(r)!.files);
  const pkgNames = [...replacedFiles.keys(), ...(installed.has(recipe.package) ? [recipe.package] : [])];
  // The source-repository query (20-50 ms on Debian) runs while ownership
  // and the preflight below are worked out (and the digests are warmed); its
  // answer is needed only for the provenance records. It starts once the
  // package set is final, so the record holds one query, asked after any
  // install.
  const reposAsync = backend.sourceReposAsync?.(pkgNames);
  reposAsync?.catch(() => {}); // awaited below; a throw before that must not leave it unhandled
  const exclude = new Set([...provider.exclude, ...(session.config.exclude[provider.name] ?? [])]);
  const replacement = willInstall ? null : replacementCommands(recipe, installed.get(recipe.package)!.files, listApplets(ctx, recipe));
  const applets = replacement ? discoverApplets(replacement, replacedFiles, backend.usrMerged, exclude) : [];
  const owners = backend.owners(applets.map((a) => a.target));
  const plan = planEnable({
    applets,
    observe: (t) => observe(root, t),
    owners,
    replaces: recipe.replaces,
    managedBy: (t) => managerOf(state, t),
    provider: provider.name,
    setuidRequired: new Set(provider.setuid),
    replacementIsSetuid: (lt) => executableInfo(root, lt).setuidRoot,
  });
  for (const a of applets) {
    const info = executableInfo(root, a.linkTarget);
    if (!info.executable) plan.refusals.push({ target: a.target, reason: `replacement ${a.linkTarget} is ${info.exists ? "not executable" : "missing"}` });
  }
  // Attributes, mounts and hard links of what is about to be swapped.
  // A re-run after an interrupted enable finds our own backup and diverted-name links.
  const switching = plan.actions.filter((a) => a.kind === "switch").map((a) => ({
    target: a.applet.target,
    linkTarget: a.applet.linkTarget,
    ownLinks: [join(session.layout.stateDir, backupRel(a.applet.target)), ...(backend.diverter ? [hostPath(root, divertedName(a.applet.dbPath))] : [])],
  }));
  // A run killed between linking a temp name and renaming it left that temp
  // name as one more hard link of the original: ours, swept before counting.
  if (!session.dryRun) sweepTempFiles(workDirs(root, session.layout.stateDir, switching.map((s) => s.target)));
  plan.refusals.push(...checkTargets(fsFacts(root, switching), currentMounts(), root));
  if (reposAsync && !session.dryRun && plan.refusals.length === 0) warmDigests(root, plan.actions, ctx.cache);
  const repos = reposAsync ? await reposAsync : backend.sourceRepos(pkgNames);
  for (const a of applets) {
    const owner = owners.get(a.target) ?? null;
    const ownerPkg = owner ? installed.get(owner) : undefined;
    const repo = owner ? repos.get(owner) ?? "unknown" : "none";
    op.record("provenance", { path: a.target, applet: a.applet, owner, version: ownerPkg?.version ?? null, source_repo: repo, foreign: repo === "local" || repo === "unknown" || owner === null });
  }
  for (const r of plan.refusals) op.record("preflight.check", { check: "target", path: r.target, ok: false, reason: r.reason });
  for (const a of plan.actions.filter((x) => x.kind === "skip")) op.record("preflight.check", { check: "target", path: a.applet.target, ok: true, skipped: true, reason: a.reason ?? null });
  op.record("preflight.check", { check: "plan", provider: provider.name, applets: applets.length, switch: plan.actions.filter((a) => a.kind === "switch").length, already: plan.actions.filter((a) => a.kind === "already").length, skip: plan.actions.filter((a) => a.kind === "skip").length, refused: plan.refusals.length, ok: plan.refusals.length === 0 });
  if (plan.refusals.length > 0) {
    const first = plan.refusals[0]!;
    throw new PkgswitchError(Exit.PREFLIGHT, `preflight refused ${plan.refusals.length} target(s) of "${provider.name}"; first: ${first.target}: ${first.reason}`);
  }
  return { provider, recipe, applets, actions: plan.actions, installed, willInstall, repos };
}

/** While the source-repository query runs, hash what the compatibility key
 * and the backups will ask for next: each original and its replacement
 * (~7 MB for coreutils, whose originals' ctimes the last disable moved).
 * Nothing is trusted from here: the hash cache compares each file's stat
 * again when asked, and a file that cannot be hashed is left for those steps
 * to report. */
function warmDigests(root: string, actions: Action[], cache: HashCache): void {
  for (const a of actions) {
    if (a.kind !== "switch") continue;
    try {
      resolvedDigest(root, a.applet.target, cache);
      resolvedDigest(root, a.applet.linkTarget, cache);
    } catch {
      // reported where the digest is needed
    }
  }
}

/** Packages of a provider plan, for the SBOM. */
function packagesOf(ctx: OpContext, p: ProviderPlan): PackageInfo[] {
  const out: PackageInfo[] = [];
  const switched = p.actions.filter((a) => a.kind !== "skip");
  for (const name of p.recipe.replaces) {
    const pkg = p.installed.get(name);
    if (!pkg) continue;
    const applets = switched.filter((a) => a.applet.replacedPackage === name).map((a) => a.applet.applet);
    out.push(toPackageInfo(ctx.backend, pkg, p.repos.get(name) ?? "unknown", "replaced", applets));
  }
  const repl = p.installed.get(p.recipe.package);
  if (repl) out.push(toPackageInfo(ctx.backend, repl, p.repos.get(p.recipe.package) ?? "unknown", "replacing", switched.map((a) => a.applet.applet)));
  return out;
}

/** Run the compatibility probes for what is about to be switched (before any
 * change), record them, and refuse under --require-compat when any differs. */
async function probeCompat(ctx: OpContext, plans: ProviderPlan[], opts: EnableOptions): Promise<Array<{ provider: string; summary: string }>> {
  const { op, session, backend, cache } = ctx;
  const { root, stateDir, providersDir } = session.layout;
  const corpus = corpusTexts(probesDirOf(providersDir));
  const scripts = readScripts(root, backend);
  const lines: Array<{ provider: string; summary: string }> = [];
  const refused: string[] = [];
  for (const p of plans) {
    const pairs = p.actions.filter((a) => a.kind === "switch").map((a) => ({ applet: a.applet.applet, original: { inRoot: a.applet.target }, replacement: a.applet.linkTarget }));
    if (pairs.length === 0) continue;
    // The probes run through the root's own shell; a root without one (a
    // bare image) cannot be probed, and says so.
    const skipped = existsSync(hostPath(root, "/bin/sh")) ? null : "no /bin/sh in the root";
    if (skipped) {
      op.record("compat.check", { provider: p.provider.name, skipped });
      if (opts.requireCompat) refused.push(`${p.provider.name}: probes cannot run (${skipped})`);
      continue;
    }
    const t0 = performance.now();
    const { report, key, cached } = await probeWithCache(root, stateDir, corpus, pairs, scripts, cache);
    const notSame = report.results.filter((r) => r.verdict !== "same");
    op.record("compat.check", {
      provider: p.provider.name, probes: report.probes, same: report.same, differs: report.differs, unsupported: report.unsupported,
      cached, key, scripts: report.scripts.files, duration_ms: Math.round(performance.now() - t0),
      // The first 50 (by id) keep the event line well under the 16 KiB limit.
      not_same: notSame.slice(0, 50).map((r) => ({ id: r.id, verdict: r.verdict, difference: r.difference ? r.difference.slice(0, 160) : null })),
    });
    const summary = summaryLine(report);
    lines.push({ provider: p.provider.name, summary });
    session.out.detail(`${p.provider.name}: ${summary}`);
    if (opts.requireCompat && notSame.length > 0) refused.push(`${p.provider.name}: ${notSame.slice(0, 5).map((r) => r.id).join(", ")}${notSame.length > 5 ? ` and ${notSame.length - 5} more` : ""}`);
  }
  if (refused.length > 0) {
    throw new PkgswitchError(Exit.PREFLIGHT, `--require-compat: probes do not match (${refused.join("; ")}); see \`pkgswitch check PROVIDER\` for each difference; nothing was switched`);
  }
  return lines;
}

export async function enable(ctx: OpContext, providers: Provider[], opts: EnableOptions = {}): Promise<OpOutcome> {
  const { op, session, backend, cache } = ctx;
  const { root, stateDir } = session.layout;
  const state = loadState(stateDir);
  const installedByUs: string[] = [];
  const plans: ProviderPlan[] = [];
  try {
    for (const p of providers) plans.push(await prepare(ctx, p, state, installedByUs));
  } catch (e) {
    undoInstalls(ctx, installedByUs);
    throw e;
  }
  const packages = plans.flatMap((p) => packagesOf(ctx, p));
  const toSwitch = plans.flatMap((p) => p.actions.filter((a) => a.kind === "switch").map((a) => ({ plan: p, action: a })));
  const summary = plans.map((p) => ({
    provider: p.provider.name,
    package: p.recipe.package,
    install: p.willInstall || installedByUs.includes(p.recipe.package),
    // Before the install the replacement's command list is unknown: these are
    // the replaced packages' commands it may take over.
    candidates: p.willInstall ? [...p.installed.values()].filter((i) => p.recipe.replaces.includes(i.name)).flatMap((i) => i.files.filter((f) => (BIN_DIRS as readonly string[]).includes(dirname(f)))).length : undefined,
    switch: p.actions.filter((a) => a.kind === "switch").map((a) => a.applet.target),
    already: p.actions.filter((a) => a.kind === "already").map((a) => a.applet.target),
    skip: p.actions.filter((a) => a.kind === "skip").map((a) => ({ target: a.applet.target, reason: a.reason })),
    way_back: wayBack(root, p.provider.name, p.actions.filter((a) => a.kind !== "skip").map((a) => a.applet.target)),
  }));
  for (const p of summary) op.record("preflight.check", { check: "way-back", provider: p.provider, ok: true, ways: p.way_back });
  if (session.dryRun) {
    return { status: "dry_run", exitCode: Exit.OK, packages, counts: { switch: toSwitch.length }, result: { dry_run: true, plan: summary } };
  }

  // 0. Compatibility probes, before any change to a target.
  let compat: Array<{ provider: string; summary: string }>;
  try {
    compat = await probeCompat(ctx, plans, opts);
  } catch (e) {
    undoInstalls(ctx, installedByUs);
    throw e;
  }
  for (const s of summary) (s as Record<string, unknown>).compat = compat.find((c) => c.provider === s.provider)?.summary ?? null;

  // Leftovers of a killed run: temp names beside targets.
  sweepTempFiles(workDirs(root, stateDir, toSwitch.map((s) => s.action.applet.target)));

  // 1. Back up every target and record it as managed ("pending") before any swap.
  const managed = new Map<string, ManagedTarget>();
  let n = 0;
  try {
    for (const { plan, action } of toSwitch) {
      const a = action.applet;
      const original = describeOriginal(root, a.target, a.replacedPackage, cache);
      const backup = backupRel(a.target);
      const how = backupFile(hostPath(root, a.target), backupHostPath(stateDir, backup, true), original);
      op.record("file.backup", { path: a.target, backup: join(stateDir, backup), method: how, kind: original.kind, mode: original.mode, uid: original.uid, gid: original.gid, sha256: original.sha256 });
      const diverted = backend.diverter ? divertedName(a.dbPath) : null;
      managed.set(a.target, { applet: a.applet, path: a.target, link_target: a.linkTarget, backup, original, db_path: a.dbPath, diverted_to: diverted });
      session.out.progress(`backing up ${plan.provider.name}`, ++n, toSwitch.length);
    }
    for (const p of plans) {
      const prev = state.providers[p.provider.name];
      const targets = new Map((prev?.targets ?? []).map((t) => [t.path, t]));
      for (const a of p.actions) {
        const m = managed.get(a.applet.target);
        if (m) targets.set(m.path, m);
      }
      state.providers[p.provider.name] = {
        provider: p.provider.name,
        manager: backend.kind,
        package: p.recipe.package,
        replaces: p.recipe.replaces,
        status: "pending",
        installed_by_us: (prev?.installed_by_us ?? false) || installedByUs.includes(p.recipe.package),
        op: op.opId,
        targets: [...targets.values()].sort((x, y) => (x.path < y.path ? -1 : 1)),
      };
    }
    syncFilesystem(stateDir); // backups and sidecars durable before any swap
    op.flush();
    saveState(stateDir, state);
  } catch (e) {
    // No target has changed yet: a disk that fills (or fails) while backing
    // up undoes the backups and the install, and says so in one line.
    const full = writeProblem(e);
    if (!full) throw e;
    for (const m of managed.values()) {
      try {
        dropBackup(backupHostPath(stateDir, m.backup));
      } catch {}
    }
    undoInstalls(ctx, installedByUs);
    throw new PkgswitchError(Exit.ROLLED_BACK, `backing up the targets failed: ${(e as Error).message.split("\n")[0]}; nothing was switched, system is as before`);
  }

  // 2. Divert (where the backend can): the original also lives at a diverted name, where
  //    upgrades of the replaced package will write from now on. Then swap,
  //    then smoke test; any failure rolls back what was done.
  const swapped: ManagedTarget[] = [];
  try {
    divertTargets(ctx, [...managed.values()]);
    n = 0;
    for (const { action } of toSwitch) {
      const m = managed.get(action.applet.target)!;
      replaceWithSymlink(hostPath(root, m.path), m.link_target);
      swapped.push(m);

      op.record("file.switch", {
        path: m.path, applet: m.applet, before_kind: m.original.kind, after_kind: "symlink", link_target: m.link_target,
        before_sha256: m.original.sha256, after_sha256: resolvedDigest(root, m.link_target, cache),
        mode: m.original.mode, uid: m.original.uid, gid: m.original.gid,
      });
      session.out.progress("switching", ++n, toSwitch.length);
    }
    // The swaps' directories are made durable while the smoke test runs
    // (it reads the same files either way); both end before the state says
    // "switched", which is what must never be durable before the swaps.
    const synced = Promise.all([...new Set(swapped.map((m) => dirname(m.path)))].map((d) => fsyncDirAsync(hostPath(root, d))));
    synced.catch(() => {}); // awaited below; a smoke failure must not leave it unhandled
    if (session.config.smokeTest) {
      const targets = plans.flatMap((p) => p.actions.filter((a) => a.kind !== "skip").map((a) => a.applet.target));
      const results = await smokeTest(root, targets);
      const failed = results.filter((r) => !r.ok);
      op.record("smoke.test", { tested: results.length, failed: failed.length, failures: failed.slice(0, 20).map((f) => ({ path: f.target, rc: f.rc, signal: f.signal ?? null, output: f.output })), duration_ms: Math.max(0, ...results.map((r) => r.durationMs)) });
      if (failed.length > 0) throw new PkgswitchError(Exit.ROLLED_BACK, `smoke test failed for ${failed.length} command(s), first ${failed[0]!.target} (${failed[0]!.signal ? `killed by ${failed[0]!.signal}` : failed[0]!.rc === null ? "did not run" : `exit ${failed[0]!.rc}`})${failed[0]!.output ? `: ${failed[0]!.output}` : ""}`);
    }
    await synced;
    for (const p of plans) state.providers[p.provider.name]!.status = "switched";
    ctx.spare?.state.release(); // this write must not fail for want of space
    saveState(stateDir, state);
  } catch (e) {
    rollback(ctx, state, plans, swapped, [...managed.values()], installedByUs, e as Error);
  }
  return {
    status: "ok",
    exitCode: Exit.OK,
    packages,
    counts: { switched: toSwitch.length, already: plans.reduce((s, p) => s + p.actions.filter((a) => a.kind === "already").length, 0), installed: installedByUs.length },
    result: { plan: summary },
  };
}

/** Remove what this run installed; false (recorded) when that failed. */
function undoInstalls(ctx: OpContext, installedByUs: string[]): boolean {
  if (installedByUs.length === 0) return true;
  try {
    ctx.backend.remove(installedByUs);
    ctx.op.record("pkg.remove", { manager: ctx.backend.kind, packages: installedByUs, reason: "undo install after failure", rc: 0 });
    return true;
  } catch (e) {
    ctx.op.record("error", { message: `could not remove ${installedByUs.join(" ")} after failure: ${(e as Error).message}` });
    return false;
  }
}


/** Undo swaps in reverse order, drop this run's backups and state; always
 * throws. Every step is attempted whatever failed before it (each failure
 * recorded as a `rollback.step`): a failed fsync or diversion removal must
 * not leave the rest undone. A target that could not be restored keeps what
 * `disable` needs to put it back (its diversion, backups, the "pending"
 * state and the installed replacement its link points to). */
function rollback(ctx: OpContext, state: State, plans: ProviderPlan[], swapped: ManagedTarget[], backedUp: ManagedTarget[], installedByUs: string[], cause: Error): never {
  const { op, session } = ctx;
  const { root, stateDir } = session.layout;
  const names = plans.map((p) => p.provider.name).join(" ");
  const incomplete: string[] = [];
  /** What the other failed steps left behind. */
  const left: string[] = [];
  let firstError = "";
  /** Run one step; its error (recorded), or null when it worked. */
  const step = (path: string, action: string, fn: () => void): Error | null => {
    try {
      fn();
      return null;
    } catch (e) {
      op.record("rollback.step", { path, action, ok: false, error: (e as Error).message });
      firstError ||= (e as Error).message;
      return e as Error;
    }
  };
  for (const m of [...swapped].reverse()) {
    if (!step(m.path, "restore", () => restoreFile(backupHostPath(stateDir, m.backup), hostPath(root, m.path)))) op.record("rollback.step", { path: m.path, action: "restore", ok: true });
    else incomplete.push(m.path);
  }
  for (const d of new Set(swapped.map((m) => dirname(m.path)))) {
    const e = step(d, "fsync", () => fsyncDir(hostPath(root, d)));
    if (e) left.push(`the restores in ${d} may not be on disk yet (fsync: ${problemLine(e)})`);
  }
  if (incomplete.length > 0) {
    // One next step, the same that status and relink give: disable puts the
    // rest back from the diverted originals (the diversions are still there).
    throw new PkgswitchError(Exit.ROLLBACK_INCOMPLETE, `rollback incomplete: ${incomplete.length} target(s) could not be restored, first ${incomplete[0]}${firstError ? ` (${firstError})` : ""}; the other ${swapped.length - incomplete.length} are original again${left.length ? `; also ${left.join("; ")}` : ""} — run \`pkgswitch disable ${names} --yes\` (docs/recovery.md#exit-50-rollback-incomplete)`);
  }
  // Recorded per target it concerns, like the restores (never a step
  // without a path).
  let undivert: Error | null = null;
  try {
    undivertTargets(ctx, backedUp, "rollback");
  } catch (e) {
    undivert = e as Error;
    const failures = e instanceof UndivertError ? e.failures : new Map(backedUp.map((m) => [m.path, undivert!.message]));
    for (const [path, error] of failures) op.record("rollback.step", { path, action: "undivert", ok: false, error });
    firstError ||= undivert.message;
  }
  if (undivert) {
    // The backups and the "pending" state stay: disable removes the
    // diversions (or copies) of a provider it finds there.
    const what = undivert instanceof UndivertError && undivert.diversionsRemoved
      ? `${undivert.failures.size} .pkgswitch-orig cop${undivert.failures.size === 1 ? "y" : "ies"} of the diverted originals could not be removed (${problemLine(undivert)})`
      : `the diversions (and their .pkgswitch-orig copies) could not be removed (${problemLine(undivert)})`;
    left.push(`${what}, so state.json keeps ${names} as pending`);
  } else {
    const kept = backedUp.filter((m) => step(m.path, "drop-backup", () => dropBackup(backupHostPath(stateDir, m.backup))));
    if (kept.length > 0) left.push(`${kept.length} backup(s) could not be removed, first ${join(stateDir, kept[0]!.backup)}`);
    for (const p of plans) {
      const st = state.providers[p.provider.name]!;
      st.targets = st.targets.filter((t) => !backedUp.includes(t) || kept.includes(t));
      if (st.targets.length === 0) delete state.providers[p.provider.name];
      else if (!st.targets.some((t) => kept.includes(t))) st.status = "switched";
    }
    ctx.spare?.state.release();
    const saved = step(statePath(stateDir), "save-state", () => saveState(stateDir, state));
    if (saved) left.push(`state.json could not be updated (${problemLine(saved)}) and still lists ${names} as pending`);
  }
  if (!undoInstalls(ctx, installedByUs)) left.push(`${installedByUs.join(" ")} could not be removed and is still installed`);
  const why = writeProblem(cause) ? cause.message.split("\n")[0] : cause.message;
  if (left.length === 0) throw new PkgswitchError(Exit.ROLLED_BACK, `${why}; rolled back ${swapped.length} target(s), system is as before`);
  throw new PkgswitchError(Exit.ROLLBACK_INCOMPLETE, `${why}; rollback incomplete: all ${swapped.length} target(s) are original again, but ${left.join("; ")} — run \`pkgswitch status\`, and \`pkgswitch disable ${names} --yes\` if it still lists ${names} (docs/recovery.md#exit-50-rollback-incomplete)`);
}



