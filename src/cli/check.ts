/** `check PROVIDER`: what would break — every probe run with the original and
 * the replacement side by side, inside the root, in a scratch directory that
 * is removed afterwards. Changes nothing else and records no operation. */
import { existsSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, usageError, type CommandExit } from "../errors.ts";
import { openBackend } from "../pkgmgr/factory.ts";
import { loadCatalog, resolveProviders } from "../providers/catalog.ts";
import { checkCompat } from "../probes/check.ts";
import { loadCorpus } from "../probes/corpus.ts";
import { pairsFromDiscovery, pairsFromState, probesDirOf, readScripts, scratchParent, summaryLine } from "../switch/compat.ts";
import { loadState } from "../switch/state.ts";
import type { CommandContext } from "./command.ts";

export async function cmdCheck(ctx: CommandContext): Promise<CommandExit> {
  if (ctx.args.length === 0) throw usageError("check: name one provider (see `pkgswitch list`)");
  const s = ctx.session();
  const { root, stateDir, providersDir } = s.layout;
  const [provider] = resolveProviders(loadCatalog(providersDir), ctx.args);
  const backend = openBackend({ root, observe: () => {}, readOnly: true });
  const switched = loadState(stateDir).providers[provider!.name];
  const exclude = new Set([...provider!.exclude, ...(s.config.exclude[provider!.name] ?? [])]);
  const pairs = switched ? pairsFromState(root, stateDir, switched) : pairsFromDiscovery(root, backend, provider!, exclude);
  if (pairs.length === 0) throw usageError(`check: ${provider!.name} switches no command in ${root}; nothing to compare`);
  // Without /proc, commands that read it (stat -L, df, …) fail on one side or
  // both, and the report would speak of the chroot rather than the system.
  if (root !== "/" && !existsSync(hostPath(root, "/proc/self"))) ctx.out.warn(`${root}/proc is not mounted: commands that read /proc may fail in the probes; mount it first (mount -t proc proc ${root}/proc) for a faithful report`);
  const corpus = loadCorpus(probesDirOf(providersDir));
  const scripts = readScripts(root, backend);
  const t0 = performance.now();
  const report = await checkCompat(root, scratchParent(root, stateDir), corpus, pairs, scripts);
  const seconds = (performance.now() - t0) / 1000;
  const recipe = provider!.recipes[backend.kind]!;
  const versions = backend.installed([...recipe.replaces, recipe.package]);
  const packages = [...recipe.replaces, recipe.package].filter((n) => versions.has(n)).map((n) => ({ name: n, version: versions.get(n)!.version, role: n === recipe.package ? "replacing" : "replaced" }));
  ctx.out.json({ provider: provider!.name, root, switched: switched !== undefined, packages, ...report });
  const w = Math.max(...report.commands.map((c) => c.cmd.length));
  const paintVerdict = (v: string) => ctx.out.paint(v === "same" ? "green" : v === "differs" ? "red" : "yellow", v.padEnd(11));
  for (const c of report.commands) {
    const counts = c.verdict === "same" ? `${c.probes} probe${c.probes === 1 ? "" : "s"}` : `${c.differs + c.unsupported} of ${c.probes}; first ${c.first!.id}: ${c.first!.difference}`;
    ctx.out.line(`${c.cmd.padEnd(w)}  ${paintVerdict(c.verdict)} ${counts}`);
  }
  const inv = report.scripts.invocations;
  const calls = inv.reduce((n, i) => n + i.count, 0);
  ctx.out.line(`${report.scripts.files} maintainer scripts call these commands ${calls} times with ${new Set(inv.map((i) => [i.cmd, ...i.flags].join(" "))).size} distinct flag sets; ${inv.filter((i) => i.probe).length} with flags were probed`);
  ctx.out.line(`${provider!.name}: ${summaryLine(report)} (${seconds.toFixed(1)} s)`);
  return Exit.OK;
}
