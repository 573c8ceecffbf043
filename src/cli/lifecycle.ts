/** Staying switched across package transactions: relink, hooks, pkg. */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError, usageError } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { acquireLock } from "../fsops/lock.ts";
import { sha256Hex, stdinText } from "../sys/index.ts";
import { loadCatalog } from "../providers/catalog.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import type { HookPackage } from "../pkgmgr/backend.ts";
import { APT_HOOK_PATH, APT_PRE_INSTALL_PATH, MARKER, PACMAN_HOOK_PATH, aptHook, aptPreInstallScript, pacmanHook, removalsFromAptV2 } from "../hooks/files.ts";
import { runOperation } from "../switch/session.ts";
import { inspect, relink } from "../switch/relink.ts";
import { loadState } from "../switch/state.ts";
import { rollbackIncomplete } from "../switch/outcome.ts";
import { pkgTransaction } from "../switch/transaction.ts";
import type { Command, CommandContext } from "./commands.ts";
import { writeStderr } from "./output.ts";
import { withHookPush } from "./fleet.ts";

async function cmdRelink(ctx: CommandContext): Promise<number> {
  const hook = ctx.parsed.values.hook === true;
  if (ctx.args.length > 0) throw usageError("relink takes no arguments");
  // apt's package list must be read whole, whatever happens next.
  const aptList = ctx.parsed.values["apt-pre-install"] === true ? await stdinText() : "";
  if (hook && process.env.PKGSWITCH_IN_OPERATION) return Exit.OK; // our own apt run: the outer operation relinks
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
    const removing = ctx.parsed.values["apt-pre-install"] === true ? removalsFromAptV2(aptList) : [];
    const findings = ctx.parsed.values["apt-pre-install"] === true
      ? Object.values(state.providers).filter((p) => removing.includes(p.package)).map((p) => ({ provider: p.provider, path: p.package, problem: "replacement-gone" as const, detail: `apt is about to remove ${p.package}` }))
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
    const preInstall = ctx.parsed.values["apt-pre-install"] === true;
    const { outcome, summary } = await runOperation(s, preInstall ? "relink --hook --apt-pre-install" : hook ? "relink --hook" : "relink", async (c) => {
      // Look again under the lock: another run may have repaired it meanwhile.
      const fresh = loadState(s.layout.stateDir);
      return relink(c, fresh, preInstall ? findings : inspect(s.layout.root, s.layout.stateDir, fresh, c.backend.diverter?.list() ?? null));
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

type HookFile = { path: string; content: string | Uint8Array; mode?: number };

/** The hook files for this root, and the package to install after writing
 * them when the manager keeps hooks in its database (rpm file triggers). */
function hookFiles(ctx: CommandContext): { files: HookFile[]; pkg: HookPackage | null } {
  const v = ctx.parsed.values;
  const binary = (v.binary as string | undefined) ?? "/usr/bin/pkgswitch";
  if (!binary.startsWith("/")) throw usageError("--binary must be an absolute path inside the root");
  const s = ctx.session();
  const explicit = v.apt === true || v.pacman === true || v.rpm === true;
  const wantApt = v.apt === true || (!explicit && existsSync(hostPath(s.layout.root, "/etc/apt")));
  const wantPacman = v.pacman === true;
  const pkg = v.rpm === true || (!explicit && !wantApt) ? hookPackageOf(s.layout.root) : null;
  if (v.rpm === true && !pkg) throw usageError("hooks install --rpm: this root has no rpm database");
  if (!wantApt && !wantPacman && !pkg) throw usageError("hooks install: give --apt, --pacman or --rpm (no /etc/apt in this root)");
  const files: HookFile[] = [];
  if (wantApt) files.push({ path: APT_HOOK_PATH, content: aptHook(binary) }, { path: APT_PRE_INSTALL_PATH, content: aptPreInstallScript(binary), mode: 0o755 });
  if (wantPacman) {
    const pkgs = [...loadCatalog(s.layout.providersDir).values()].flatMap((p) => (p.recipes.pacman ? [...p.recipes.pacman.replaces, p.recipes.pacman.package] : []));
    files.push({ path: PACMAN_HOOK_PATH, content: pacmanHook(binary, pkgs) });
  }
  if (pkg) files.push(...pkg.files(binary));
  return { files, pkg };
}

/** The root's hook package, when its package manager keeps hooks in one. */
function hookPackageOf(root: string): HookPackage | null {
  try {
    return openBackend({ root, observe: () => {}, readOnly: true }).hookPackage ?? null;
  } catch {
    return null;
  }
}

async function cmdHooksInstall(ctx: CommandContext): Promise<number> {
  const { files, pkg } = hookFiles(ctx);
  const s = ctx.session();
  for (const f of files) {
    const host = hostPath(s.layout.root, f.path);
    if (existsSync(host) && !readFileSync(host, "utf8").includes(MARKER)) {
      throw new PkgswitchError(Exit.PREFLIGHT, `${f.path} exists and was not written by pkgswitch; move it aside first (nothing was changed)`);
    }
  }
  const binary = (ctx.parsed.values.binary as string | undefined) ?? "/usr/bin/pkgswitch";
  if (!existsSync(hostPath(s.layout.root, binary))) ctx.out.warn(`${binary} does not exist in ${s.layout.root}; the hook skips itself until it does`);
  const { summary } = await runOperation(s, "hooks install", async ({ op, backend }) => {
    for (const f of files) {
      if (!s.dryRun) {
        mkdirSync(dirname(hostPath(s.layout.root, f.path)), { recursive: true, mode: 0o755 });
        writeFileAtomic(hostPath(s.layout.root, f.path), f.content, f.mode ?? 0o644);
      }
      op.record("hook.install", { path: f.path, sha256: sha256Hex(f.content) });
    }
    if (pkg && !s.dryRun) {
      // Re-installing replaces an older hook package; the triggers it fires
      // now see PKGSWITCH_IN_OPERATION and leave the work to us.
      const t0 = performance.now();
      if (backend.installed([pkg.name]).size > 0) backend.remove([pkg.name]);
      backend.install([hostPath(s.layout.root, pkg.packageFile)]);
      op.record("pkg.install", { manager: backend.kind, packages: [pkg.name], version: backend.installed([pkg.name]).get(pkg.name)?.version ?? null, rc: 0, duration_ms: Math.round(performance.now() - t0) });
    }
    return { status: "ok", exitCode: Exit.OK, counts: { hooks: files.length } };
  });
  ctx.out.json({ op: s.dryRun ? null : summary.opId, installed: files.map((f) => f.path), package: pkg?.name ?? null, dry_run: s.dryRun });
  for (const f of files) ctx.out.line(`${s.dryRun ? "would write" : "wrote"} ${f.path}`);
  if (pkg) ctx.out.line(`${s.dryRun ? "would install" : "installed"} package ${pkg.name}`);
  return Exit.OK;
}

async function cmdHooksRemove(ctx: CommandContext): Promise<number> {
  const s = ctx.session();
  const pkg = hookPackageOf(s.layout.root);
  const pkgInstalled = pkg ? openBackend({ root: s.layout.root, observe: () => {}, readOnly: true }).installed([pkg.name]).size > 0 : false;
  const known = [APT_HOOK_PATH, APT_PRE_INSTALL_PATH, PACMAN_HOOK_PATH, ...(pkg ? pkg.files("/usr/bin/pkgswitch").map((f) => f.path) : [])];
  const present = known.filter((p) => existsSync(hostPath(s.layout.root, p)));
  const ours = present.filter((p) => readFileSync(hostPath(s.layout.root, p), "utf8").includes(MARKER));
  for (const p of present.filter((p) => !ours.includes(p))) ctx.out.warn(`${p} was not written by pkgswitch; left alone`);
  if (ours.length === 0 && !pkgInstalled) {
    ctx.out.json({ removed: [] });
    ctx.out.line("no pkgswitch hooks installed");
    return Exit.OK;
  }
  const { summary } = await runOperation(s, "hooks remove", async ({ op, backend }) => {
    if (pkg && pkgInstalled && !s.dryRun) {
      const t0 = performance.now();
      backend.remove([pkg.name]);
      op.record("pkg.remove", { manager: backend.kind, packages: [pkg.name], rc: 0, duration_ms: Math.round(performance.now() - t0) });
    }
    for (const p of ours) {
      if (!s.dryRun) rmSync(hostPath(s.layout.root, p));
      op.record("hook.remove", { path: p });
    }
    return { status: "ok", exitCode: Exit.OK, counts: { hooks: ours.length } };
  });
  ctx.out.json({ op: s.dryRun ? null : summary.opId, removed: ours, package: pkgInstalled ? pkg!.name : null, dry_run: s.dryRun });
  if (pkgInstalled) ctx.out.line(`${s.dryRun ? "would remove" : "removed"} package ${pkg!.name}`);
  for (const p of ours) ctx.out.line(`${s.dryRun ? "would remove" : "removed"} ${p}`);
  return Exit.OK;
}

function pkgCommand(action: "install" | "remove"): Command {
  return {
    path: ["pkg", action],
    args: "<package…>",
    summary: `${action} packages as an attested operation`,
    help: `Runs apt-get ${action} inside the root and records provenance and before/after SHA-256 of every file of every package whose version changed (dependencies included), an SBOM with versions before and after, and any relink repairs the transaction made necessary.`,
    options: {},
    async run(ctx) {
      if (ctx.args.length === 0) throw usageError(`pkg ${action}: name at least one package`);
      for (const a of ctx.args) if (!/^[a-z0-9][a-z0-9+.:-]*$/.test(a)) throw usageError(`pkg ${action}: "${a}" is not a package name`);
      const s = ctx.session();
      const { confirm } = await import("./commands.ts");
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
    help: "Checks every managed target without starting any process: re-applies links an upgrade overwrote, refreshes backups of originals dpkg updated at their diverted names, re-registers missing diversions, and restores the originals of a provider whose package was removed. Writes an operation only when it changed something. --apt-pre-install (apt's DPkg::Pre-Install-Pkgs hook) reads apt's package list on stdin and restores the originals of a provider whose package apt is about to remove. --hook (used by the package-manager hooks) never fails: errors are printed and the exit code is 0.",
    options: { hook: { type: "boolean" }, "apt-pre-install": { type: "boolean" } },
    // Push after the transaction (post-invoke), not before it (pre-install).
    run: withHookPush(cmdRelink, (ctx) => ctx.parsed.values["apt-pre-install"] !== true),
  },
  {
    path: ["hooks", "install"],
    args: "[--apt|--pacman|--rpm] [--binary PATH]",
    summary: "install package-manager hooks that run `relink --hook`",
    help: `apt: ${APT_HOOK_PATH} (DPkg::Pre-Install-Pkgs via ${APT_PRE_INSTALL_PATH}, and DPkg::Post-Invoke). pacman: ${PACMAN_HOOK_PATH} (PostTransaction on the providers' packages). rpm: the pkgswitch-hooks package (file triggers after every transaction touching /usr/bin or /usr/sbin, dnf or bare rpm) and the script it runs, /usr/lib/pkgswitch/rpm-hook. Without a flag: apt when the root has /etc/apt, else the rpm package on an rpm root. --binary is the path of pkgswitch inside the root (default /usr/bin/pkgswitch).`,
    options: { apt: { type: "boolean" }, pacman: { type: "boolean" }, rpm: { type: "boolean" }, binary: { type: "string" } },
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
