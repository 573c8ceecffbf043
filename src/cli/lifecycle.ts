/** Staying switched across package transactions: hooks, pkg (relink is
 * ./relink.ts). */
import { existsSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError, usageError, type CommandExit } from "../errors.ts";
import { HOOK_INSTALL_FLAGS, safeHookBinary } from "../pkgmgr/hooks.ts";
import { loadCatalog } from "../providers/catalog.ts";
import { detectManager, openBackend } from "../pkgmgr/factory.ts";
import type { HookPackage } from "../pkgmgr/backend.ts";
import type { HookFile } from "../hooks/files.ts";
import { foreignAmong, hookBinary, hooksForRoot, presentHooks } from "../hooks/install.ts";
import { dropHookPackage, ensureHookPackage, hookPackagePaths, removeHooks, writeHooks } from "../switch/guards.ts";
import { runOperation } from "../switch/session.ts";
import { pkgTransaction } from "../switch/transaction.ts";
import type { CommandContext } from "./command.ts";
import { confirm } from "./confirm.ts";
import { reportHooksDropped, type HooksDroppedResult } from "./hooks-report.ts";

/** The hook files for this root, and the package to install after writing
 * them when the manager keeps hooks in its database. A flag of
 * HOOK_INSTALL_FLAGS picks a manager's hooks; without one, those of the
 * root's package manager. */
function hookFiles(ctx: CommandContext): { files: HookFile[]; pkg: HookPackage | null; binary: string } {
  const v = ctx.parsed.values;
  const s = ctx.session();
  const binary = (v.binary as string | undefined) ?? hookBinary(s.layout.root);
  if (!binary.startsWith("/")) throw usageError("--binary must be an absolute path inside the root");
  if (!safeHookBinary(binary)) throw usageError(`--binary ${JSON.stringify(binary)}: use a path of letters, digits and . _ + - / only (it is written into the hooks' shell lines)`);
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

export async function cmdHooksInstall(ctx: CommandContext): Promise<CommandExit> {
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

export async function cmdHooksRemove(ctx: CommandContext): Promise<CommandExit> {
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

/** `pkg install` / `pkg remove`. */
export function cmdPkg(action: "install" | "remove"): (ctx: CommandContext) => Promise<CommandExit> {
  return async (ctx) => {
    if (ctx.args.length === 0) throw usageError(`pkg ${action}: name at least one package`);
    // A name, or (install) the absolute path of a package file inside the root.
    const isFile = (a: string) => action === "install" && /^\/[^\s\0]*[^/\s\0]$/.test(a) && !a.split("/").includes("..");
    for (const a of ctx.args) if (!/^[a-z0-9][a-z0-9+.:-]*$/.test(a) && !isFile(a)) throw usageError(`pkg ${action}: "${a}" is not a package name${action === "install" ? " or an absolute path of a package file inside the root" : ""}`);
    const s = ctx.session();
    await confirm(ctx, `${action} ${ctx.args.join(" ")} in ${s.layout.root}`);
    const { outcome, summary } = await runOperation(s, `pkg ${action} ${ctx.args.join(" ")}`, (c) => pkgTransaction(c, action, ctx.args));
    ctx.out.json({ op: s.dryRun ? null : summary.opId, ...(outcome.result as object), counts: outcome.counts });
    const r = outcome.result as { packages: Array<{ name: string; before: string | null; after: string | null }>; restore_first?: string[] } & HooksDroppedResult;
    for (const p of r.packages) ctx.out.line(`${s.dryRun ? "would change " : ""}${p.name}: ${p.before ?? "(none)"} → ${p.after ?? "(removed)"}`);
    for (const prov of r.restore_first ?? []) ctx.out.line(`would first restore the originals of ${prov} (its package is removed)`);
    reportHooksDropped(ctx.out, r, s.dryRun);
    if (!s.dryRun) ctx.out.line(ctx.out.paint("dim", `op ${summary.opId} — verify with: pkgswitch audit verify --op ${summary.opId}`));
    return outcome.exitCode;
  };
}
