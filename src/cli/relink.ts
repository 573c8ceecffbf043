/** `relink`: re-apply switches after package transactions; the package
 * manager's hooks run it after every transaction, so its no-op case (every
 * switch in place) is kept to what it reads: state, lock, the links, the
 * diversions. The operation that repairs is loaded only when needed. */
import { Exit, PkgswitchError, type CommandExit } from "../errors.ts";
import { acquireLock } from "../fsops/lock.ts";
import { fullJit, stdinText } from "../sys/index.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import { PRE_TRANSACTION_HOOKS } from "../pkgmgr/hooks.ts";
import { inspect, relink } from "../switch/relink.ts";
import { loadState, stateStamp } from "../switch/state.ts";
import { rollbackIncomplete } from "../switch/outcome.ts";
import type { CommandContext } from "./command.ts";
import { writeStderr } from "./output.ts";
import { withHookPush } from "./fleet.ts";

async function relinkOnce(ctx: CommandContext): Promise<CommandExit> {
  const hook = ctx.parsed.values.hook === true;
  // Called before a transaction (pkgmgr/hooks.ts): a package list on stdin
  // must be read whole, whatever happens next.
  const pre = PRE_TRANSACTION_HOOKS.find((h) => ctx.parsed.values[h.flag] === true);
  const list = pre?.fromStdin ? await stdinText() : "";
  if (hook && process.env.PKGSWITCH_IN_OPERATION) return Exit.OK; // our own package-manager run: the outer operation relinks
  try {
    const s = ctx.session();
    s.hook = hook;
    const read = stateStamp(s.layout.stateDir);
    let state = loadState(s.layout.stateDir);
    if (Object.keys(state.providers).length > 0 && !s.dryRun) {
      // An enable or disable that is running looks like an interrupted one
      // ("pending"/"disabling"): wait for it (bounded, exit 30 naming the
      // lock), then read the state it left — again only if it changed.
      acquireLock(s.layout.lockFile, s.config.lockTimeoutMs).release();
      if (read === null || stateStamp(s.layout.stateDir) !== read) state = loadState(s.layout.stateDir);
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
    const who = pre?.who ?? backend.kind;
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
    // The audited operation (and with it signing and the audit writer) is
    // loaded only now: a no-op relink, the usual case, never needs it; an
    // operation gets the normal JIT, as enable and disable do.
    fullJit();
    const { runOperation } = await import("../switch/session.ts");
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

// Push after the transaction (post-invoke), not before it (pre-install, pre-invoke, pre-remove).
export const cmdRelink = withHookPush(relinkOnce, (ctx) => PRE_TRANSACTION_HOOKS.every((h) => ctx.parsed.values[h.flag] !== true));
