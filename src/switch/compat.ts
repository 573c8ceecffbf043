/** Compatibility probes from the switch engine's side: which original and
 * which replacement each command has (from the discovery before a switch, or
 * from the state once switched), the root's maintainer scripts, and the
 * result cache that keeps a repeated `enable` from re-running identical
 * probes (keyed by the corpus and the SHA-256 of every binary compared). */
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { hostPath } from "../config/paths.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import type { HashCache } from "../hashing/cache.ts";
import { sha256Hex } from "../sys/index.ts";
import type { PackageBackend } from "../pkgmgr/backend.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { inRoot, run } from "../pkgmgr/exec.ts";
import type { Provider } from "../providers/catalog.ts";
import { discoverApplets, parseAppletList, replacementCommands } from "../providers/discover.ts";
import { checkCompat, type CheckReport } from "../probes/check.ts";
import type { Corpus, CorpusTexts } from "../probes/corpus.ts";
import type { CommandPair } from "../probes/run.ts";
import { resolvedDigest } from "./observe.ts";
import type { ProviderState } from "./state.ts";

/** Operator drop-ins for the probe corpus, beside providers.d. */
export function probesDirOf(providersDir: string): string {
  return join(dirname(providersDir), "probes.d");
}

/** Largest maintainer script read (bigger ones are not shell scripts we need). */
const SCRIPT_MAX = 1 << 20;

/** Where the scratch directory goes, as a path inside the root: the state
 * dir when it is inside the root (a directory of ours), else /tmp. */
export function scratchParent(root: string, stateDir: string): string {
  if (root === "/") return stateDir;
  return stateDir.startsWith(root + sep) ? stateDir.slice(root.length) : "/tmp";
}

/** Pairs for a switched provider: originals from the diverted copy (which the
 * package manager keeps current) or the backup, replacements from the state. */
export function pairsFromState(root: string, stateDir: string, p: ProviderState): CommandPair[] {
  return p.targets.map((t) => {
    const diverted = t.diverted_to ? lstatSync(hostPath(root, t.diverted_to), { throwIfNoEntry: false }) : undefined;
    const original = diverted?.isFile() ? { inRoot: t.diverted_to! } : { hostFile: join(stateDir, t.backup) };
    return { applet: t.applet, original, replacement: t.link_target };
  });
}

/** The root's maintainer scripts' texts (bounded; unreadable ones skipped). */
export function readScripts(root: string, backend: PackageBackend): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const p of backend.maintainerScripts?.() ?? []) {
    const host = hostPath(root, p);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isFile() || st.size > SCRIPT_MAX) continue;
    out.push({ path: p, text: readFileSync(host, "utf8") });
  }
  return out;
}

function originalDigest(root: string, pair: CommandPair, cache: HashCache): string | null {
  if ("inRoot" in pair.original) return resolvedDigest(root, pair.original.inRoot, cache);
  return existsSync(pair.original.hostFile) ? cache.digest(pair.original.hostFile) : null;
}

/** The cache key: the corpus (its texts), the scripts, and every binary compared. */
export function compatKey(root: string, corpus: Pick<Corpus, "sources">, pairs: CommandPair[], scripts: Array<{ path: string; text: string }>, cache: HashCache): string {
  const bins = pairs.map((p) => [p.applet, originalDigest(root, p, cache), resolvedDigest(root, p.replacement, cache)]).sort();
  return sha256Hex(JSON.stringify({ v: 1, corpus: corpus.sources.map((s) => sha256Hex(s)), bins, scripts: scripts.map((s) => [s.path, sha256Hex(s.text)]) }));
}

interface CacheFile { v: 1; entries: Array<{ key: string; report: CheckReport }> }
const CACHE_NAME = "compat-cache.json";
const CACHE_ENTRIES = 8;

function readCache(stateDir: string): CacheFile {
  try {
    const c = JSON.parse(readFileSync(join(stateDir, CACHE_NAME), "utf8")) as CacheFile;
    if (c.v === 1 && Array.isArray(c.entries)) return c;
  } catch {
    // Missing or corrupt: a cache is never trusted over a fresh run.
  }
  return { v: 1, entries: [] };
}

/** Run the probes for `pairs`, or reuse the result of an identical run
 * (the corpus is built from its texts only when the probes run). */
export async function probeWithCache(
  root: string,
  stateDir: string,
  corpus: CorpusTexts,
  pairs: CommandPair[],
  scripts: Array<{ path: string; text: string }>,
  cache: HashCache,
): Promise<{ report: CheckReport; key: string; cached: boolean }> {
  const key = compatKey(root, corpus, pairs, scripts, cache);
  const file = readCache(stateDir);
  const hit = file.entries.find((e) => e.key === key);
  if (hit) return { report: hit.report, key, cached: true };
  const report = await checkCompat(root, scratchParent(root, stateDir), corpus.build(), pairs, scripts);
  const entries = [{ key, report }, ...file.entries.filter((e) => e.key !== key)].slice(0, CACHE_ENTRIES);
  writeFileAtomic(join(stateDir, CACHE_NAME), JSON.stringify({ v: 1, entries }));
  return { report, key, cached: false };
}

/** One line for a report: "103 probes: 180 same, 12 differ (ls, …), 3 unsupported". */
export function summaryLine(r: CheckReport): string {
  const names = (v: "differs" | "unsupported") => {
    const cmds = r.commands.filter((c) => c.verdict === v).map((c) => c.cmd);
    return cmds.length ? ` (${cmds.slice(0, 6).join(", ")}${cmds.length > 6 ? ", …" : ""})` : "";
  };
  return `${r.probes} compatibility probes: ${r.same} same, ${r.differs} differ${names("differs")}, ${r.unsupported} unsupported${names("unsupported")}`;
}


/** Pairs for a provider that is not switched (yet): the replacement's
 * commands as its package lists them, against the originals in place. */
export function pairsFromDiscovery(root: string, backend: PackageBackend, provider: Provider, exclude: Set<string>): CommandPair[] {
  const recipe = provider.recipes[backend.kind];
  if (!recipe) throw new PkgswitchError(Exit.PREFLIGHT, `provider "${provider.name}" has no recipe for ${backend.kind} systems`);
  const installed = backend.installed([...recipe.replaces, recipe.package]);
  const repl = installed.get(recipe.package);
  if (!repl) {
    throw new PkgswitchError(Exit.PREFLIGHT, `${recipe.package} is not installed in ${root}: check compares installed commands (install it with \`pkgswitch pkg install ${recipe.package}\`, or run enable, which probes before it switches)`);
  }
  const listed = "list" in recipe.applets ? parseAppletList(run(inRoot(root, [recipe.applets.list, "--list"])).stdout) : [];
  const replacedFiles = new Map<string, string[]>();
  for (const r of recipe.replaces) if (installed.has(r)) replacedFiles.set(r, installed.get(r)!.files);
  const applets = discoverApplets(replacementCommands(recipe, repl.files, listed), replacedFiles, backend.usrMerged, exclude);
  return applets.map((a) => ({ applet: a.applet, original: { inRoot: a.target }, replacement: a.linkTarget }));
}
