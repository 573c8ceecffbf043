/** Read-only commands about providers and switches: list, status. */
import { existsSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { Exit, type CommandExit } from "../errors.ts";
import { backupHostPath } from "../fsops/backup.ts";
import { loadCatalog, resolveProviders } from "../providers/catalog.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import { lockHoldersOf } from "../pkgmgr/locks.ts";
import { loadState } from "../switch/state.ts";
import { executableInfoPass, isLinkTo, observe } from "../switch/observe.ts";
import { presentHooks } from "../hooks/install.ts";
import { hookPackagePaths } from "../switch/guards.ts";
import { rollbackIncomplete, unfinishedOps } from "../switch/outcome.ts";
import { nativeProviders } from "../switch/native.ts";
import type { CommandContext } from "./command.ts";

export async function cmdList(ctx: CommandContext): Promise<CommandExit> {
  const s = ctx.session();
  const catalog = loadCatalog(s.layout.providersDir);
  const backend = openBackend({ root: s.layout.root, observe: () => {}, readOnly: true });
  const state = loadState(s.layout.stateDir);
  const pkgs = [...catalog.values()].map((p) => p.recipes[backend.kind]?.package).filter((x): x is string => !!x);
  const installed = backend.installed(pkgs);
  const rows = [...catalog.values()].map((p) => {
    const recipe = p.recipes[backend.kind];
    return {
      provider: p.name,
      description: p.description,
      package: recipe?.package ?? null,
      replaces: recipe?.replaces ?? [],
      installed: recipe ? installed.has(recipe.package) : false,
      version: recipe ? installed.get(recipe.package)?.version ?? null : null,
      enabled: state.providers[p.name]?.status ?? null,
    };
  });
  ctx.out.json({ manager: backend.kind, providers: rows });
  const w = Math.max(...rows.map((r) => r.provider.length));
  for (const r of rows) {
    // Pad before painting: escape codes must not count as width.
    const flag = r.enabled ? ctx.out.paint("green", "enabled".padEnd(9)) : r.installed ? "installed" : ctx.out.paint("dim", "-".padEnd(9));
    ctx.out.line(`${r.provider.padEnd(w)}  ${flag}  ${r.package ?? "(no recipe for " + backend.kind + ")"}${r.version ? " " + r.version : ""}  — ${r.description}`);
  }
  return Exit.OK;
}

export async function cmdStatus(ctx: CommandContext): Promise<CommandExit> {
  const s = ctx.session();
  const state = loadState(s.layout.stateDir);
  const catalog = loadCatalog(s.layout.providersDir);
  const asked = ctx.args.length > 0 ? resolveProviders(catalog, ctx.args) : null;
  const backend = openBackend({ root: s.layout.root, observe: () => {}, readOnly: true });
  // Providers the distribution switches itself (docs/native.md): reported
  // from the package database, never from pkgswitch's state.
  const natives = nativeProviders(backend, asked ?? [...catalog.values()]).map((n) => ({
    provider: n.provider.name, mechanism: n.spec.kind, active: n.facts.active, active_name: n.facts.activeName, paths: n.facts.paths.length, packages: n.facts.packages,
  }));
  const nativeNames = natives.map((n) => n.provider);
  const names = (asked ? asked.map((p) => p.name) : Object.keys(state.providers).sort()).filter((n) => !nativeNames.includes(n) || state.providers[n]);
  const diversions = backend.diverter?.list() ?? new Map();
  const unfinished = unfinishedOps(s.layout.auditDir);
  const pmLock = unfinished.length > 0 ? backend.lockHolder() : null;
  const executable = executableInfoPass(s.layout.root);
  const report = names.map((name) => {
    const p = state.providers[name];
    if (!p) return { provider: name, enabled: false, status: null, failed: false, switched: 0, broken: [], restored: [], drifted: [], missing_backups: [], targets: 0, diversions: 0, diversions_missing: [] };
    // An enable whose rollback was incomplete (exit 50) is "pending" like a
    // killed one, but its next step is disable, not enable again.
    const failed = p.status === "pending" && rollbackIncomplete(s.layout.auditDir, p.op);
    const drifted: Array<{ path: string; now: string }> = [];
    const missingBackups: string[] = [];
    const broken: string[] = [];
    const restored: string[] = [];
    let switched = 0;
    for (const t of p.targets) {
      const o = isLinkTo(s.layout.root, t.path, t.link_target) ? null : observe(s.layout.root, t.path);
      const hasBackup = lstatSync(backupHostPath(s.layout.stateDir, t.backup), { throwIfNoEntry: false }) !== undefined;
      if (!o || (o.kind === "symlink" && o.linkText === t.link_target)) {
        if (executable(t.link_target).exists) switched++;
        else broken.push(t.path); // the link dangles: the replacement is gone
        if (!hasBackup) missingBackups.push(t.path);
      } else if ((!hasBackup || failed) && o.kind === "file") restored.push(t.path); // an interrupted disable (or the failed enable's rollback) got this far
      else drifted.push({ path: t.path, now: o.kind === "symlink" ? `link to ${o.linkText}` : o.kind });
    }
    // Count every registered diversion of a recorded target (what the
    // package manager lists); only our links need one, so only they can miss it.
    const isRegistered = (t: (typeof p.targets)[number]) => !!t.diverted_to && !!t.db_path && diversions.get(t.db_path)?.to === t.diverted_to;
    const registered = p.targets.filter(isRegistered);
    const diversionsMissing = p.targets.filter((t) => t.diverted_to && t.db_path && !isRegistered(t) && !restored.includes(t.path) && !drifted.some((d) => d.path === t.path)).map((t) => t.db_path!);
    return { provider: name, enabled: true, status: p.status, failed, package: p.package, op: p.op, targets: p.targets.length, switched, broken, restored, drifted, missing_backups: missingBackups, diversions: registered.length, diversions_missing: diversionsMissing };
  });
  const hooks = presentHooks(s.layout.root, hookPackagePaths(backend.hookPackage));
  ctx.out.json({ root: s.layout.root, providers: report, native: natives, state_file: existsSync(join(s.layout.stateDir, "state.json")), unfinished, package_manager_lock: pmLock, hooks: hooks.ours, foreign_hooks: hooks.foreign });
  // pkgswitch's own flock shows whether the operation is still running.
  const running = unfinished.length > 0 ? lockHoldersOf([s.layout.lockFile]) : null;
  for (const u of unfinished) ctx.out.line(ctx.out.paint("yellow", `unfinished operation ${u.op} (${u.command}): ${running ? `still running (${running})` : "interrupted — run the same command again"}`));
  if (pmLock) ctx.out.line(ctx.out.paint("yellow", `the package manager's lock is held (${pmLock}); wait for it to finish`));
  for (const n of natives) {
    const what = n.mechanism === "packages" ? "packages" : "alternatives";
    const side = n.active === "replacement" ? "enabled" : n.active === "original" ? "not enabled" : "neither side active";
    ctx.out.line(`${n.provider}: ${side} — native switch (${what}): ${n.active_name ?? "nothing"} is active, ${n.paths} path(s) owned by the package manager; pkgswitch adds no links of its own`);
  }
  if (report.length === 0 && natives.length === 0) ctx.out.line("no provider is enabled");
  for (const r of report) {
    if (!r.enabled) {
      ctx.out.line(`${r.provider}: not enabled`);
      continue;
    }
    const drift = (r.drifted.length ? ctx.out.paint("yellow", `, ${r.drifted.length} drifted`) : "")
      + (r.broken.length ? ctx.out.paint("red", `, ${r.broken.length} broken (replacement missing: run relink)`) : "")
      + (r.restored.length ? ctx.out.paint("yellow", `, ${r.restored.length} already restored${r.status === "switched" ? " (interrupted disable: run disable again)" : ""}`) : "");
    const miss = r.missing_backups.length ? ctx.out.paint("red", `, ${r.missing_backups.length} backup(s) missing`) : "";
    const div = r.diversions || r.diversions_missing.length ? `, ${r.diversions} ${backend.diverter?.noun ?? "diversion"}(s)${r.diversions_missing.length ? ctx.out.paint("yellow", ` (${r.diversions_missing.length} missing: run relink)`) : ""}` : "";
    const state = r.failed ? ctx.out.paint("red", `enable failed, rollback incomplete (run disable ${r.provider} --yes)`) : r.status === "pending" ? ctx.out.paint("yellow", "interrupted enable (run enable again, or disable)") : r.status === "disabling" ? ctx.out.paint("yellow", "interrupted disable (run disable again)") : "enabled";
    ctx.out.line(`${r.provider}: ${state} — ${r.switched}/${r.targets} switched${drift}${miss}${div} (${r.package}, op ${r.op})`);
    for (const d of r.drifted) ctx.out.line(`  drifted ${d.path}: now ${d.now}`);
    for (const m of r.missing_backups) ctx.out.line(`  backup missing ${m}`);
  }
  if (hooks.ours.length > 0) ctx.out.line(`package-manager hooks: ${hooks.ours.join(", ")}`);
  else if (report.some((r) => r.enabled)) ctx.out.line(ctx.out.paint("yellow", "package-manager hooks: none (an upgrade or removal can break the switch until `pkgswitch relink`; install them with `pkgswitch hooks install`)"));
  return Exit.OK;
}
