/** `enable` and `disable`: switching providers (through pkgswitch's links
 * or, where the distribution has its own mechanism, natively). */
import { Exit, usageError, type CommandExit } from "../errors.ts";
import { loadCatalog, resolveProviders } from "../providers/catalog.ts";
import { runOperation, type Session } from "../switch/session.ts";
import { enable } from "../switch/enable.ts";
import { disable } from "../switch/disable.ts";
import { dropGuardsIfIdle, guardSwitched, guardsToDrop, type GuardResult } from "../switch/guards.ts";
import { loadState } from "../switch/state.ts";
import { nativeProviders, switchNative } from "../switch/native.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import type { NativeSide } from "../pkgmgr/backend.ts";
import type { Provider } from "../providers/catalog.ts";
import type { CommandContext } from "./command.ts";
import type { Output } from "./output.ts";
import { reportHooksDropped, type HooksDroppedResult } from "./hooks-report.ts";
import { confirm } from "./confirm.ts";

export async function cmdEnable(ctx: CommandContext): Promise<CommandExit> {
  if (ctx.args.length === 0) throw usageError("enable: name at least one provider (see `pkgswitch list`)");
  const s = ctx.session();
  const catalog = loadCatalog(s.layout.providersDir);
  const providers = resolveProviders(catalog, ctx.args);
  const noHooks = ctx.parsed.values["no-hooks"] === true;
  loadState(s.layout.stateDir); // unreadable or corrupt: refuse before the lock and the record
  if (nativeRoute(s, providers)) return runNative(ctx, s, providers, "replacement");
  await confirm(ctx, `switch ${ctx.args.join(", ")} in ${s.layout.root}`);
  const { outcome, summary } = await runOperation(s, `enable ${ctx.args.join(" ")}`, async (c) => {
    const o = await enable(c, providers, { requireCompat: ctx.parsed.values["require-compat"] === true });
    if (o.exitCode !== Exit.OK || noHooks) return o;
    return guardSwitched(c, o, catalog.values());
  });
  reportSwitch(ctx.out, "enable", outcome.result, summary.opId, s.dryRun, outcome.counts);
  // Switched, hooks not installed: the summary above stands; one error line.
  const failed = (outcome.result as { error?: string }).error;
  if (failed) ctx.out.error(`${failed} [op ${summary.opId}]`);
  return outcome.exitCode;
}

export async function cmdDisable(ctx: CommandContext): Promise<CommandExit> {
  const all = ctx.parsed.values.all === true;
  if (all === ctx.args.length > 0) throw usageError("disable: name providers or give --all (not both)");
  const s = ctx.session();
  if (!all) {
    const providers = resolveProviders(loadCatalog(s.layout.providersDir), ctx.args);
    if (nativeRoute(s, providers)) return runNative(ctx, s, providers, "original");
  }
  // Nothing enabled to disable: say so and write nothing (no operation),
  // like a no-op relink.
  const enabled = Object.keys(loadState(s.layout.stateDir).providers);
  if (all ? enabled.length === 0 : !ctx.args.some((a) => enabled.includes(a))) {
    ctx.out.json({ op: null, dry_run: s.dryRun, counts: {}, plan: [] });
    ctx.out.line(all ? "no provider is enabled; nothing to do" : `${ctx.args.join(", ")}: not enabled; nothing to do`);
    return Exit.OK;
  }
  await confirm(ctx, `restore the originals of ${all ? "every enabled provider" : ctx.args.join(", ")} in ${s.layout.root}`);
  const { outcome, summary } = await runOperation(s, `disable ${all ? "--all" : ctx.args.join(" ")}`, async (c) => {
    const o = await disable(c, { providers: all ? "all" : ctx.args, removePackage: ctx.parsed.values["remove-package"] === true });
    if (o.exitCode !== Exit.OK) return o;
    if (s.dryRun) return { ...o, result: { ...(o.result as object), hooks_removed: guardsToDrop(c, all ? enabled : ctx.args) } };
    const hooks = dropGuardsIfIdle(c);
    return { ...o, result: { ...(o.result as object), hooks_removed: hooks.removed, ...(hooks.left.length ? { hooks_left: hooks.left } : {}) } };
  });
  reportSwitch(ctx.out, "disable", outcome.result, summary.opId, s.dryRun, outcome.counts);
  return outcome.exitCode;
}

/** Whether these providers switch natively on this root (docs/native.md):
 * all of them (true), none (false); a mix is refused, one command each. */
function nativeRoute(s: Session, providers: Provider[]): boolean {
  const backend = openBackend({ root: s.layout.root, observe: () => {}, readOnly: true });
  const natives = nativeProviders(backend, providers);
  if (natives.length === 0) return false;
  if (natives.length < providers.length) {
    const n = natives.map((x) => x.provider.name);
    throw usageError(`${n.join(", ")} switch${n.length === 1 ? "es" : ""} natively in ${s.layout.root} and ${providers.filter((p) => !n.includes(p.name)).map((p) => p.name).join(", ")} do${providers.length - n.length === 1 ? "es" : ""} not; run them as separate commands`);
  }
  return true;
}

/** enable/disable of natively switched providers: one attested operation. */
async function runNative(ctx: CommandContext, s: Session, providers: Provider[], side: NativeSide): Promise<CommandExit> {
  const verb = side === "replacement" ? "enable" : "disable";
  const names = providers.map((p) => p.name).join(" ");
  await confirm(ctx, `switch ${names} to its ${side === "replacement" ? "replacement" : "original"} with the distribution's own mechanism in ${s.layout.root}`);
  const { outcome, summary } = await runOperation(s, `${verb} ${names}`, (c) => switchNative(c, nativeProviders(c.backend, providers), side));
  const plan = (outcome.result as { plan: Array<{ provider: string; native: string; from: string | null; to: string; install: string[]; remove: string[]; paths: number; already: boolean }> }).plan;
  ctx.out.json({ op: s.dryRun ? null : summary.opId, dry_run: s.dryRun, counts: outcome.counts ?? {}, native: true, plan });
  for (const p of plan) {
    const how = p.native === "packages" ? "packages" : "alternatives";
    if (p.already) ctx.out.line(`${ctx.out.paint("bold", p.provider)}: ${p.to} is already active (native ${how}); nothing to do`);
    else ctx.out.line(`${ctx.out.paint("bold", p.provider)}: ${s.dryRun ? "would switch" : "switched"} natively (${how}): ${p.from ?? "nothing"} → ${p.to}${p.install.length ? `; ${s.dryRun ? "would install" : "installed"} ${p.install.join(" ")}` : ""}${p.remove.length ? `; ${s.dryRun ? "would remove" : "removed"} ${p.remove.join(" ")}` : ""} (${p.paths} paths)`);
  }
  if (!s.dryRun) ctx.out.line(ctx.out.paint("dim", `op ${summary.opId} — verify with: pkgswitch audit verify --op ${summary.opId}`));
  else ctx.out.line(ctx.out.paint("dim", "dry run: nothing was changed"));
  return outcome.exitCode;
}

function reportSwitch(out: Output, verb: string, result: unknown, opId: string, dryRun: boolean, counts?: Record<string, number>): void {
  // A dry run records nothing: there is no op id to cite.
  out.json({ op: dryRun ? null : opId, dry_run: dryRun, counts: counts ?? {}, ...(result as object) });
  const plan = (result as { plan?: Array<Record<string, unknown>> }).plan ?? [];
  for (const p of plan) {
    if (verb === "enable") {
      const sw = (p.switch as string[]).length;
      const already = (p.already as string[]).length;
      const skip = p.skip as Array<{ target: string; reason: string }>;
      const head = dryRun ? "would switch" : "switched";
      const what = p.install && dryRun ? `then switch the commands it provides among ${p.candidates} candidates (the exact list is known once it is installed)` : `${head} ${sw} command(s)`;
      out.line(`${out.paint("bold", String(p.provider))}: ${p.install ? `${dryRun ? "would install" : "installed"} ${p.package}; ` : ""}${what}${already ? `, ${already} already switched` : ""}${skip.length ? `, ${skip.length} skipped` : ""}`);
      if (p.compat) out.line(`  ${p.compat}`);
      if (dryRun || out.opts.verbose) for (const t of p.switch as string[]) out.line(`  ${t}`);
      for (const s of skip) out.line(`  skip ${s.target}: ${s.reason}`);
      if (dryRun) for (const w of (p.way_back as string[] | undefined) ?? []) out.line(`  way back: ${w}`);
    } else {
      const restore = p.restore as string[];
      out.line(`${out.paint("bold", String(p.provider))}: ${dryRun ? "would restore" : "restored"} ${restore.length} command(s)${p.remove_package ? `; ${dryRun ? "would remove" : "removed"} ${p.remove_package}` : ""}`);
      if (dryRun || out.opts.verbose) for (const t of restore) out.line(`  ${t}`);
    }
  }
  if (plan.length === 0) out.line("nothing to do");
  const r = result as { hooks?: GuardResult } & HooksDroppedResult;
  if (r.hooks?.written.length) {
    out.line(`${dryRun ? "would install" : "installed"} package-manager hooks (--no-hooks to skip): ${r.hooks.written.join(", ")}`);
    // Not an error: the operator may install the binary afterwards.
    if (!r.hooks.binary_present) out.line(`  they run ${r.hooks.binary}, which is not in this root yet: until it is, they do nothing`);
  }
  if (r.hooks?.package) out.line(`${dryRun ? "would install" : "installed"} hook package ${r.hooks.package}`);
  for (const f of r.hooks?.foreign ?? []) out.warn(`${f} exists and was not written by pkgswitch; left alone (that hook is not installed)`);
  reportHooksDropped(out, r, dryRun);
  if (!dryRun) out.line(out.paint("dim", `op ${opId} — verify with: pkgswitch audit verify --op ${opId}`));
  else out.line(out.paint("dim", "dry run: nothing was changed"));
}

