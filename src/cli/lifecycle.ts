/** Staying switched across package transactions: relink, hooks, pkg. */
import { existsSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError, usageError, type CommandExit } from "../errors.ts";
import { acquireLock } from "../fsops/lock.ts";
import { stdinText } from "../sys/index.ts";
import { loadCatalog } from "../providers/catalog.ts";
import { detectManager, openBackend } from "../pkgmgr/factory.ts";
import type { HookPackage } from "../pkgmgr/backend.ts";
import type { HookFile } from "../hooks/files.ts";
import { HOOK_INSTALL_FLAGS, HOOK_INSTALL_HELP, PRE_TRANSACTION_HOOKS } from "../pkgmgr/hooks.ts";
import { transactionCommands } from "../pkgmgr/factory.ts";
import { foreignAmong, hookBinary, hooksForRoot, presentHooks } from "../hooks/install.ts";
import { dropHookPackage, ensureHookPackage, hookPackagePaths, removeHooks, writeHooks } from "../switch/guards.ts";
import { runOperation } from "../switch/session.ts";
import { inspect, relink } from "../switch/relink.ts";
import { loadState } from "../switch/state.ts";
import { rollbackIncomplete } from "../switch/outcome.ts";
import { pkgTransaction } from "../switch/transaction.ts";
import type { Command, CommandContext } from "./command.ts";
import { confirm } from "./confirm.ts";
import { writeStderr } from "./output.ts";
import { withHookPush } from "./fleet.ts";

async function cmdRelink(ctx: CommandContext): Promise<CommandExit> {
  const hook = ctx.parsed.values.hook === true;
  if (ctx.args.length > 0) throw usageError("relink takes no arguments");
  // Called before a transaction (pkgmgr/hooks.ts): a package list on stdin
  // must be read whole, whatever happens next.
  const pre = PRE_TRANSACTION_HOOKS.find((h) => ctx.parsed.values[h.flag] === true);
  const list = pre?.fromStdin ? await stdinText() : "";
  if (hook && process.env.PKGSWITCH_IN_OPERATION) return Exit.OK; // our own package-manager run: the outer operation relinks
  try {
    const s = ctx.session();
    s.hook = hook;
    let state = loadState(s.layout.stateDir);
    if (Object.keys(state.providers).length > 0 && !s.dryRun) {
      // An enable or disable that is running looks like an interrupted one
      // ("pending"/"disabling"): wait for it (bounded, exit 30 naming the
      // lock), then read the state it left.
      acquireLock(s.layout.lockFile, s.config.lockTimeoutMs).release();
      state = loadState(s.layout.stateDir);
    }
    if (Object.keys(state.providers).length === 0) {
      ctx.out.json({ findings: [], changed: false });
      if (!hook) ctx.out.line("no provider is enabled; nothing to relink");
      return Exit.OK;
    }
    const backend = openBackend({ root: s.layout.root, observe: () => {}, readOnly: true });
    for (const p of Object.values(state.providers).filter((p) => p.status !== "switched")) {
      if (p.status === "pending" && rollbackIncomplete(s.layout.auditDir, p.op)) {
        ctx.out.warn(`${p.provider}: enable failed and its rollback is incomplete; relink leaves it alone — run \`pkgswitch disable ${p.provider} --yes\``);
        continue;
      }
      const cmd = p.status === "pending" ? "enable" : "disable";
      ctx.out.warn(`${p.provider}: an interrupted ${cmd} is unfinished; relink leaves it alone — run \`pkgswitch ${cmd} ${p.provider}\` again`);
    }
    // Before a transaction: providers whose package it is about to remove.
    const candidates = Object.values(state.providers).map((p) => p.package);
    const removing = !pre ? [] : pre.fromStdin ? pre.fromStdin(list) : backend.pendingRemovals?.(candidates) ?? [];
    const who = pre?.who ?? `${backend.kind}`;
    const findings = pre
      ? Object.values(state.providers).filter((p) => removing.includes(p.package)).map((p) => ({ provider: p.provider, path: p.package, problem: "replacement-gone" as const, detail: `${who} is about to remove ${p.package}` }))
      : inspect(s.layout.root, s.layout.stateDir, state, backend.diverter?.list() ?? null);
    if (findings.length === 0) {
      ctx.out.json({ findings: [], changed: false });
      if (!hook) ctx.out.line(Object.values(state.providers).every((p) => p.status === "switched") ? "every switch is in place; nothing to do" : "nothing else to do");
      return Exit.OK;
    }
    if (hook) ctx.out.line(`pkgswitch: ${findings.length} switch problem(s) to repair, first: ${findings[0]!.provider}: ${findings[0]!.detail}`);
    else for (const f of findings) ctx.out.line(`${f.provider}: ${f.path}: ${f.detail}`);
    if (s.dryRun) {
      ctx.out.json({ findings, changed: false, dry_run: true });
      return Exit.OK;
    }
    const before = pre !== undefined;
    const command = pre ? `relink --hook --${pre.flag}` : hook ? "relink --hook" : "relink";
    const { outcome, summary } = await runOperation(s, command, async (c) => {
      // Look again under the lock: another run may have repaired it meanwhile.
      const fresh = loadState(s.layout.stateDir);
      return relink(c, fresh, before ? findings.filter((f) => fresh.providers[f.provider]) : inspect(s.layout.root, s.layout.stateDir, fresh, c.backend.diverter?.list() ?? null));
    });
    ctx.out.json({ op: summary.opId, changed: true, ...(outcome.result as object) });
    ctx.out.line(`relinked: ${JSON.stringify(outcome.counts)} (op ${summary.opId})`);
    return outcome.exitCode;
  } catch (e) {
    if (!hook) throw e;
    // A hook never fails the package manager's transaction.
    const err = e as PkgswitchError;
    writeStderr(`pkgswitch relink (hook): ${err.message}${err.opId ? ` [op ${err.opId}]` : ""} — run \`pkgswitch relink\` by hand\n`);
    return Exit.OK;
  }
}

/** The hook files for this root, and the package to install after writing
 * them when the manager keeps hooks in its database. A flag of
 * HOOK_INSTALL_FLAGS picks a manager's hooks; without one, those of the
 * root's package manager. */
function hookFiles(ctx: CommandContext): { files: HookFile[]; pkg: HookPackage | null; binary: string } {
  const v = ctx.parsed.values;
  const s = ctx.session();
  const binary = (v.binary as string | undefined) ?? hookBinary(s.layout.root);
  if (!binary.startsWith("/")) throw usageError("--binary must be an absolute path inside the root");
  const chosen = HOOK_INSTALL_FLAGS.filter((f) => v[f.flag] === true);
  const kind = detectManager(s.layout.root);
  const packaged = chosen.length > 0 ? chosen.find((f) => f.packaged) : HOOK_INSTALL_FLAGS.find((f) => f.packaged && f.kind === kind);
  const pkg = packaged ? hookPackageOf(s.layout.root) : null;
  if (packaged && chosen.length > 0 && !pkg) throw usageError(`hooks install --${packaged.flag}: ${packaged.packaged!.missing}`);
  const catalog = [...loadCatalog(s.layout.providersDir).values()];
  const files: HookFile[] = [];
  for (const f of chosen) if (!f.packaged) files.push(...(f.files ? f.files(binary) : hooksForRoot(s.layout.root, f.kind, binary, catalog)));
  if (chosen.length === 0 && kind && !packaged) files.push(...hooksForRoot(s.layout.root, kind, binary, catalog));
  if (pkg) files.push(...pkg.files(binary));
  const flags = HOOK_INSTALL_FLAGS.map((f) => `--${f.flag}`);
  if (files.length === 0) throw usageError(`hooks install: give ${flags.slice(0, -1).join(", ")} or ${flags[flags.length - 1]} (no package manager with hooks found in this root)`);
  return { files, pkg, binary };
}

/** The root's hook package, when its package manager keeps hooks in one. */
function hookPackageOf(root: string): HookPackage | null {
  try {
    return openBackend({ root, observe: () => {}, readOnly: true }).hookPackage ?? null;
  } catch {
    return null;
  }
}

async function cmdHooksInstall(ctx: CommandContext): Promise<CommandExit> {
  const { files, pkg, binary } = hookFiles(ctx);
  const s = ctx.session();
  const foreign = foreignAmong(s.layout.root, files);
  if (foreign.length > 0) throw new PkgswitchError(Exit.PREFLIGHT, `${foreign[0]} exists and was not written by pkgswitch; move it aside first (nothing was changed)`);
  if (!existsSync(hostPath(s.layout.root, binary))) ctx.out.warn(`${binary} does not exist in ${s.layout.root}; the hook skips itself until it does`);
  let written: string[] = [];
  const { summary } = await runOperation(s, "hooks install", async ({ op, backend }) => {
    written = writeHooks(op, s.layout.root, files, s.dryRun);
    if (pkg) ensureHookPackage(op, backend, s.layout.root, pkg, s.dryRun, true);
    return { status: "ok", exitCode: Exit.OK, counts: { hooks: written.length } };
  });
  ctx.out.json({ op: s.dryRun ? null : summary.opId, installed: written, package: pkg?.name ?? null, dry_run: s.dryRun });
  for (const f of written) ctx.out.line(`${s.dryRun ? "would write" : "wrote"} ${f}`);
  if (pkg) ctx.out.line(`${s.dryRun ? "would install" : "installed"} package ${pkg.name}`);
  return Exit.OK;
}

async function cmdHooksRemove(ctx: CommandContext): Promise<CommandExit> {
  const s = ctx.session();
  const pkg = hookPackageOf(s.layout.root);
  const pkgInstalled = pkg ? openBackend({ root: s.layout.root, observe: () => {}, readOnly: true }).installed([pkg.name]).size > 0 : false;
  const present = presentHooks(s.layout.root, hookPackagePaths(pkg ?? undefined));
  for (const p of present.foreign) ctx.out.warn(`${p} was not written by pkgswitch; left alone`);
  if (present.ours.length === 0 && !pkgInstalled) {
    ctx.out.json({ removed: [] });
    ctx.out.line("no pkgswitch hooks installed");
    return Exit.OK;
  }
  let removed: string[] = [];
  const { summary } = await runOperation(s, "hooks remove", async ({ op, backend }) => {
    if (pkg && pkgInstalled) dropHookPackage(op, backend, pkg, s.dryRun);
    removed = removeHooks(op, s.layout.root, s.dryRun, undefined, hookPackagePaths(pkg ?? undefined));
    return { status: "ok", exitCode: Exit.OK, counts: { hooks: removed.length } };
  });
  ctx.out.json({ op: s.dryRun ? null : summary.opId, removed, package: pkgInstalled ? pkg!.name : null, dry_run: s.dryRun });
  if (pkgInstalled) ctx.out.line(`${s.dryRun ? "would remove" : "removed"} package ${pkg!.name}`);
  for (const p of removed) ctx.out.line(`${s.dryRun ? "would remove" : "removed"} ${p}`);
  return Exit.OK;
}

function pkgCommand(action: "install" | "remove"): Command {
  return {
    path: ["pkg", action],
    args: action === "install" ? "<package|/path/to/package-file…>" : "<package…>",
    summary: `${action} packages as an attested operation`,
    help: `Runs the root's package manager (${transactionCommands(action).join(", ")}) inside the root and records provenance and before/after SHA-256 of every file of every package whose version changed (dependencies included), an SBOM with versions before and after, and any relink repairs the transaction made necessary.`,
    options: {},
    async run(ctx) {
      if (ctx.args.length === 0) throw usageError(`pkg ${action}: name at least one package`);
      // A name, or (install) the absolute path of a package file inside the root.
      const isFile = (a: string) => action === "install" && /^\/[^\s\0]*[^/\s\0]$/.test(a) && !a.split("/").includes("..");
      for (const a of ctx.args) if (!/^[a-z0-9][a-z0-9+.:-]*$/.test(a) && !isFile(a)) throw usageError(`pkg ${action}: "${a}" is not a package name${action === "install" ? " or an absolute path of a package file inside the root" : ""}`);
      const s = ctx.session();
      await confirm(ctx, `${action} ${ctx.args.join(" ")} in ${s.layout.root}`);
      const { outcome, summary } = await runOperation(s, `pkg ${action} ${ctx.args.join(" ")}`, (c) => pkgTransaction(c, action, ctx.args));
      ctx.out.json({ op: s.dryRun ? null : summary.opId, ...(outcome.result as object), counts: outcome.counts });
      const r = outcome.result as { packages: Array<{ name: string; before: string | null; after: string | null }>; restore_first?: string[] };
      for (const p of r.packages) ctx.out.line(`${s.dryRun ? "would change " : ""}${p.name}: ${p.before ?? "(none)"} → ${p.after ?? "(removed)"}`);
      for (const prov of r.restore_first ?? []) ctx.out.line(`would first restore the originals of ${prov} (its package is removed)`);
      if (!s.dryRun) ctx.out.line(ctx.out.paint("dim", `op ${summary.opId} — verify with: pkgswitch audit verify --op ${summary.opId}`));
      return outcome.exitCode;
    },
  };
}

export const lifecycleCommands: Command[] = [
  {
    path: ["relink"],
    args: "[--hook]",
    summary: "re-apply switches after package upgrades (idempotent)",
    help: `Checks every managed target without starting any process: re-applies links an upgrade overwrote, refreshes backups of originals an upgrade updated at their diverted names, re-registers missing diversions, and restores the originals of a provider whose package was removed. Writes an operation only when it changed something. ${PRE_TRANSACTION_HOOKS.map((h) => h.help).join(" ")} --hook (used by the package-manager hooks) never fails: errors are printed and the exit code is 0.`,
    options: { hook: { type: "boolean" }, ...Object.fromEntries(PRE_TRANSACTION_HOOKS.map((h) => [h.flag, { type: "boolean" as const }])) },
    // Push after the transaction (post-invoke), not before it (pre-install, pre-invoke, pre-remove).
    run: withHookPush(cmdRelink, (ctx) => PRE_TRANSACTION_HOOKS.every((h) => ctx.parsed.values[h.flag] !== true)),
  },
  {
    path: ["hooks", "install"],
    args: `[${HOOK_INSTALL_FLAGS.map((f) => `--${f.flag}`).join("|")}] [--binary PATH]`,
    summary: "install package-manager hooks that run `relink --hook`",
    help: `\`enable\` installs the hook files by default (unless --no-hooks) and disabling the last provider removes them; this command installs them by hand. ${HOOK_INSTALL_HELP} --binary is the path of pkgswitch inside the root (default: this binary when it lives inside the root, else /usr/bin/pkgswitch).`,
    options: { ...Object.fromEntries(HOOK_INSTALL_FLAGS.map((f) => [f.flag, { type: "boolean" as const }])), binary: { type: "string" } },
    run: cmdHooksInstall,
  },
  {
    path: ["hooks", "remove"],
    args: "",
    summary: "remove the hooks pkgswitch installed",
    help: "Removes only files that carry pkgswitch's marker.",
    options: {},
    run: cmdHooksRemove,
  },
  pkgCommand("install"),
  pkgCommand("remove"),
];
