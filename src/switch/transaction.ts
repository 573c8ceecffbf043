/** `pkg install|remove`: a package-manager transaction as an attested
 * operation — provenance and before/after SHA-256 of every file owned by
 * the packages that changed (dependencies included), an SBOM with versions
 * before and after, and the same relink repairs a hook would make. */
import { lstatSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { toPackageInfo, type InstalledPackage } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import type { HashCache } from "../hashing/cache.ts";
import { inspect, relink } from "./relink.ts";
import { restoreProvider } from "./disable.ts";
import { dropGuardsIfIdle, guardsToDrop } from "./guards.ts";
import { loadState, saveState, type ProviderState, type State } from "./state.ts";
import type { OpContext, OpOutcome } from "./session.ts";

/** Digest of every regular file a package lists (null for others). */
function fileDigests(root: string, p: InstalledPackage | undefined, cache: HashCache): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const f of p?.files ?? []) {
    const st = lstatSync(hostPath(root, f), { throwIfNoEntry: false });
    if (!st || st.isDirectory()) continue;
    out.set(f, st.isFile() ? cache.digest(hostPath(root, f)) : null);
  }
  return out;
}

export async function pkgTransaction(ctx: OpContext, action: "install" | "remove", names: string[]): Promise<OpOutcome> {
  const { op, backend, session, cache } = ctx;
  const root = session.layout.root;
  // Which packages the transaction will change (the backend's simulation), so the
  // files of upgraded dependencies are hashed before, too.
  const sim = backend.simulate(action, names);
  const versionsBefore = backend.versions();
  const before = backend.installed([...new Set([...names, ...sim.changed])].filter((n) => versionsBefore.has(n)));
  const beforeFiles = new Map<string, Map<string, string | null>>();
  for (const [n, p] of before) beforeFiles.set(n, fileDigests(root, p, cache));
  const state = loadState(session.layout.stateDir);
  const losing = Object.values(state.providers).filter((p) => sim.removed.includes(p.package));
  if (session.dryRun) {
    const packages = sim.changed.map((n) => ({ name: n, before: versionsBefore.get(n) ?? null, after: sim.removed.includes(n) ? null : "(new version)" }));
    const hooks = losing.length > 0 ? guardsToDrop(ctx, losing.map((p) => p.provider)) : [];
    return { status: "dry_run", exitCode: Exit.OK, result: { dry_run: true, action, packages, restore_first: losing.map((p) => p.provider), hooks_removed: hooks } };
  }
  // A provider whose replacement this transaction removes gets its originals
  // back first: the package manager itself needs rm, cp, … while it works.
  const reposBefore = backend.sourceRepos([...before.keys()]);
  let restoredFirst = 0;
  for (const p of losing) {
    const r = restoreProvider(ctx, p, `${p.package} is about to be removed by pkg ${action}`);
    restoredFirst += r.restored;
    if (r.remaining.length > 0) state.providers[p.provider] = { ...p, targets: r.remaining };
    else delete state.providers[p.provider];
  }
  if (losing.length > 0) saveState(session.layout.stateDir, state);

  const t0 = performance.now();
  try {
    if (action === "install") backend.install(names);
    else backend.remove(names);
  } catch (e) {
    if (losing.length === 0) throw e;
    throw await reapply(ctx, state, losing, e as Error);
  }
  const versionsAfter = backend.versions();
  op.record(action === "install" ? "pkg.install" : "pkg.remove", { manager: backend.kind, packages: names, rc: 0, duration_ms: Math.round(performance.now() - t0) });

  // Everything whose version changed, not only what was asked for.
  const changed = [...new Set([...versionsBefore.keys(), ...versionsAfter.keys()])].filter((n) => versionsBefore.get(n) !== versionsAfter.get(n)).sort();
  const after = backend.installed(changed.filter((n) => versionsAfter.has(n)));
  const repos = backend.sourceRepos(changed.filter((n) => after.has(n)));
  const packages: PackageInfo[] = [];
  let files = 0;
  for (const n of changed) {
    const b = before.get(n);
    const a = after.get(n);
    const role: PackageInfo["role"] = !versionsBefore.has(n) ? "installed" : !versionsAfter.has(n) ? "removed" : "upgraded";
    const repo = a ? repos.get(n) ?? "unknown" : reposBefore.get(n) ?? "unknown";
    op.record("provenance", { package: n, version_before: versionsBefore.get(n) ?? null, version_after: versionsAfter.get(n) ?? null, source_repo: repo, foreign: a ? repo === "local" || repo === "unknown" : false, role });
    const info = a ?? b;
    if (info) packages.push(toPackageInfo(backend, info, repo, role, []));
    const pre = beforeFiles.get(n) ?? new Map<string, string | null>();
    const post = fileDigests(root, a, cache);
    for (const path of [...new Set([...pre.keys(), ...post.keys()])].sort()) {
      op.record("pkg.file", { package: n, path, owner: a ? n : null, version: a?.version ?? b?.version ?? null, before_sha256: pre.get(path) ?? null, after_sha256: post.get(path) ?? null });
      files++;
    }
  }

  // A transaction on a managed package gets the hook's repairs, in this operation.
  const now = loadState(session.layout.stateDir);
  const findings = inspect(root, session.layout.stateDir, now, backend.diverter?.list() ?? null);
  let relinked: Record<string, number> = {};
  if (findings.length > 0) relinked = (await relink(ctx, now, findings)).counts ?? {};
  // Removing the last provider's replacement is a disable: as there, the
  // hooks have nothing left to guard.
  const hooks = losing.length > 0 ? dropGuardsIfIdle(ctx) : { removed: [], left: [] };
  return { status: "ok", exitCode: Exit.OK, packages, counts: { packages: changed.length, files, restored_first: restoredFirst, ...relinked }, result: { action, packages: changed.map((n) => ({ name: n, before: versionsBefore.get(n) ?? null, after: versionsAfter.get(n) ?? null })), relinked, hooks_removed: hooks.removed, ...(hooks.left.length ? { hooks_left: hooks.left } : {}) } };
}

/** The package manager failed after the providers losing their replacement
 * were restored: switch them again, so the commands are as before the
 * command ran and "nothing switched" (the failure's exit code) is true.
 * Returns the error to throw: the cause, saying so; or, when switching
 * again fails too, exit 50 saying the providers are disabled (their
 * originals put back where the re-switch got part-way). */
async function reapply(ctx: OpContext, state: State, losing: ProviderState[], cause: Error): Promise<Error> {
  const { op, session, backend } = ctx;
  const { root, stateDir } = session.layout;
  const names = losing.map((p) => p.provider);
  const which = names.join(", ");
  const why = cause.message.split("\n")[0];
  const mine = (f: { provider: string }) => names.includes(f.provider);
  const findings = () => inspect(root, stateDir, state, backend.diverter?.list() ?? null).filter(mine);
  try {
    for (const p of losing) state.providers[p.provider] = { ...p, status: "switched" };
    const broken = findings();
    const gone = broken.find((f) => f.problem === "replacement-gone");
    if (gone) throw new Error(gone.detail);
    await relink(ctx, state, broken);
    const left = findings()[0];
    if (left) throw new Error(`${left.path}: ${left.detail}`);
    if (!(cause instanceof PkgswitchError)) return cause;
    return new PkgswitchError(cause.exitCode, `${cause.message}; ${which} switched again: the commands are as before`, cause.opId);
  } catch (e) {
    const reason = (e as Error).message.split("\n")[0];
    op.record("error", { message: `switching ${which} again after the failed ${backend.wording.installer} failed: ${reason}`, exit_code: Exit.ROLLBACK_INCOMPLETE });
    // Leave each provider consistent: its originals in place, forgotten.
    for (const n of names) {
      const p = state.providers[n];
      if (!p) continue;
      try {
        const r = restoreProvider(ctx, p, `switching ${n} again failed`);
        if (r.remaining.length > 0) state.providers[n] = { ...p, targets: r.remaining };
        else delete state.providers[n];
      } catch {}
    }
    try {
      saveState(stateDir, state);
    } catch {}
    const still = names.filter((n) => state.providers[n]);
    return new PkgswitchError(Exit.ROLLBACK_INCOMPLETE, `${why}; switching ${which} again failed (${reason}): ${which} ${names.length === 1 ? "is" : "are"} now DISABLED — the original commands are in place${still.length ? ` except what status lists for ${still.join(", ")}` : ""}; run \`pkgswitch enable ${names.join(" ")} --yes\` to switch again once the package manager works (docs/recovery.md#exit-50-rollback-incomplete)`);
  }
}
