/** The command table: each command's usage, options and handler. Handlers
 * return an exit code; expected failures throw PkgswitchError. */
import { loadConfig } from "../config/config.ts";
import { checkLayout, hostPath, layoutFor, type Layout } from "../config/paths.ts";
import { Exit, usageError, type CommandExit } from "../errors.ts";
import { loadCatalog, resolveProviders } from "../providers/catalog.ts";
import { runOperation, type Session } from "../switch/session.ts";
import { enable } from "../switch/enable.ts";
import { disable } from "../switch/disable.ts";
import { dropGuardsIfIdle, installGuards, type GuardResult } from "../switch/guards.ts";
import { loadState } from "../switch/state.ts";
import { nativeProviders, switchNative } from "../switch/native.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import type { NativeSide } from "../pkgmgr/backend.ts";
import type { Provider } from "../providers/catalog.ts";
import { signingFor } from "../attest/signing.ts";
import type { GlobalFlags } from "./args.ts";
import { Output } from "./output.ts";
import { confirm } from "./confirm.ts";
import { cmdList, cmdStatus } from "./info.ts";
import { cmdAuditArchive, cmdAuditList, cmdAuditShow } from "./audit.ts";
import { keyCommands } from "./attest.ts";
import { verifyCommands } from "./verify.ts";
import { cmdCompletion, cmdMan } from "./docs.ts";
import { lifecycleCommands } from "./lifecycle.ts";
import { checkCommands } from "./check.ts";
import { fleetCommands } from "./fleet.ts";

// The command shapes live in ./command.ts: subcommand files import them
// from there, never this table, so the table imports them without a cycle.
import type { Command, CommandContext } from "./command.ts";

const PROVIDER_HELP = "Providers: see `pkgswitch list` (coreutils, findutils, diffutils, sudo-rs, busybox, and any in <root>/etc/pkgswitch/providers.d/).";

export const COMMANDS: Command[] = [
  {
    path: ["list"],
    args: "",
    summary: "list providers, whether their package is installed, whether they are enabled",
    help: "Shows every provider in the catalog for this root's package manager.",
    options: {},
    run: cmdList,
  },
  {
    path: ["status"],
    args: "[provider…]",
    summary: "what is switched, and drift from the recorded state",
    help: "For each enabled provider, counts targets that are switched, drifted (no longer our link: a package upgrade or a hand edit), or missing, and whether every backup is present. Exit 0 even with drift; `relink` repairs it.",
    options: {},
    run: cmdStatus,
  },
  {
    path: ["enable"],
    args: "<provider…>",
    summary: "install the replacement package and switch its commands",
    help: `Installs the replacement with the package manager if needed, preflights every target (ownership, kind, setuid, replacement executable, immutable attributes, read-only and noexec mounts, hard links), runs the compatibility probes (see \`check\`; results are recorded in the operation and reused while the binaries and the corpus are unchanged), backs each one up, swaps it for a symlink atomically (the path is never missing), smoke-tests the switched commands and rolls everything back on failure. --require-compat refuses (exit 10, nothing switched) when any probe does not match. Then installs the package-manager hooks (\`pkgswitch hooks install\`) that keep the switch safe across upgrades and removals, unless --no-hooks. ${PROVIDER_HELP}`,
    options: { "require-compat": { type: "boolean" }, "no-hooks": { type: "boolean" } },
    async run(ctx) {
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
        return { ...o, result: { ...(o.result as object), hooks: installGuards(c, catalog.values()) } };
      });
      reportSwitch(ctx.out, "enable", outcome.result, summary.opId, s.dryRun, outcome.counts);
      return outcome.exitCode;
    },
  },
  {
    path: ["disable"],
    args: "<provider…> | --all",
    summary: "restore the original commands",
    help: "Restores every target of the provider from its backup (atomically), then forgets the provider. With --remove-package the replacement package is removed afterwards.",
    options: { all: { type: "boolean" }, "remove-package": { type: "boolean" } },
    async run(ctx) {
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
        if (o.exitCode !== Exit.OK || s.dryRun) return o;
        return { ...o, result: { ...(o.result as object), hooks_removed: dropGuardsIfIdle(c) } };
      });
      reportSwitch(ctx.out, "disable", outcome.result, summary.opId, s.dryRun, outcome.counts);
      return outcome.exitCode;
    },
  },
  {
    path: ["audit", "list"],
    args: "[--provider P] [--command C] [--result R] [--signature S] [--since DATE] [--until DATE] [--jsonl]",
    summary: "list recorded operations (filtered)",
    help: "One line per operation in the ledger: op id, status, signature, command. Filters (all must match): --provider P (named by the operation), --command C (the command, or its first words: `enable`, `hooks install`), --result ok|failed|rolled_back|dry_run, --signature signed|unsigned|failed, --since DATE (at or after), --until DATE (before; a bare YYYY-MM-DD includes that day); DATE is YYYY-MM-DD (UTC) or an ISO 8601 time. --json streams one document whose operations are one per line; --jsonl prints one JSON object per operation per line and nothing else. Reads a cache of summaries (<state dir>/audit-list-index.jsonl) rebuilt from the record when the ledger changed; `audit verify` never uses it. Archived operations (`audit archive`) are listed too.",
    options: { provider: { type: "string" }, command: { type: "string" }, result: { type: "string" }, signature: { type: "string" }, since: { type: "string" }, until: { type: "string" }, jsonl: { type: "boolean" } },
    run: cmdAuditList,
  },
  {
    path: ["audit", "show"],
    args: "<op_id>",
    summary: "show one operation's events",
    help: "Prints a readable summary of the operation's events; --json prints the events themselves.",
    options: {},
    run: cmdAuditShow,
  },
  {
    path: ["audit", "archive"],
    args: "--keep N | --before DATE",
    summary: "move old operations' files into signed, compressed archive segments",
    help: "Moves the files of operations older than the newest N (--keep N) or recorded before DATE (--before YYYY-MM-DD or an ISO 8601 time) into segments under <audit dir>/archive/ (gzip-compressed ustar, at most 400 operations each, with a minisign .minisig when a key is configured), recorded by a signed archive operation (one archive.segment event per segment: its SHA-256 and its operations). Ledger lines, chain, Merkle tree and checkpoints are unchanged; `audit verify --all` reads the segments. Operations holding archive records are never archived. An interrupted archive is repaired by the next run: a recorded segment is finished, an unrecorded one undone. --dry-run says what would be archived. Exit 0; 2 bad usage; 10 an operation file does not match its ledger line (nothing archived; run `audit verify --all`); 30 locked; 70 unreadable or unwritable audit directory.",
    options: { keep: { type: "string" }, before: { type: "string" } },
    run: cmdAuditArchive,
  },
  ...lifecycleCommands,
  ...checkCommands,
  ...verifyCommands,
  ...keyCommands,
  ...fleetCommands,
  {
    path: ["completion"],
    args: "<bash|zsh|fish>",
    summary: "print a shell completion script",
    help: "Example: pkgswitch completion bash > /etc/bash_completion.d/pkgswitch",
    options: {},
    run: (ctx) => cmdCompletion(ctx, COMMANDS),
  },
  {
    path: ["man"],
    args: "",
    summary: "print the man page (roff)",
    help: "Example: pkgswitch man > /usr/local/share/man/man8/pkgswitch.8",
    options: {},
    run: (ctx) => cmdMan(ctx, COMMANDS),
  },
];

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
  const r = result as { hooks?: GuardResult; hooks_removed?: string[] };
  if (r.hooks?.written.length) {
    out.line(`${dryRun ? "would install" : "installed"} package-manager hooks (--no-hooks to skip): ${r.hooks.written.join(", ")}`);
    // Not an error: the operator may install the binary afterwards.
    if (!r.hooks.binary_present) out.line(`  they run ${r.hooks.binary}, which is not in this root yet: until it is, they do nothing`);
  }
  if (r.hooks?.package) out.line(`${dryRun ? "would install" : "installed"} hook package ${r.hooks.package}`);
  for (const f of r.hooks?.foreign ?? []) out.warn(`${f} exists and was not written by pkgswitch; left alone (that hook is not installed)`);
  if (r.hooks_removed?.length) out.line(`removed package-manager hooks (no provider is enabled): ${r.hooks_removed.join(", ")}`);
  if (!dryRun) out.line(out.paint("dim", `op ${opId} — verify with: pkgswitch audit verify --op ${opId}`));
  else out.line(out.paint("dim", "dry run: nothing was changed"));
}

/** Build the session (layout, config, output) for commands that need one. */
export function makeSession(globals: GlobalFlags, out: Output, argv: string[]): Session {
  const overrides: Partial<Layout> = {};
  if (globals.auditDir) overrides.auditDir = globals.auditDir;
  if (globals.stateDir) overrides.stateDir = globals.stateDir;
  if (globals.config) overrides.configFile = globals.config;
  let layout = layoutFor(globals.root, overrides);
  const flagged = { auditDir: globals.auditDir !== undefined, stateDir: globals.stateDir !== undefined };
  checkLayout(layout, flagged);
  const config = loadConfig(layout.configFile, globals.config !== undefined);
  // Config paths are inside the root; flags win over config.
  if (config.auditDir && !globals.auditDir) layout = { ...layout, auditDir: hostPath(layout.root, config.auditDir) };
  if (config.stateDir && !globals.stateDir) layout = { ...layout, stateDir: hostPath(layout.root, config.stateDir) };
  if (config.auditDir || config.stateDir) checkLayout(layout, flagged);
  return { layout, config, out, dryRun: globals.dryRun, yes: globals.yes, argv, signing: (host) => signingFor(layout, config, process.env, host, globals.key) };
}

export { Exit };
