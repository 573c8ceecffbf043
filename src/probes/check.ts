/** `check`: the probe corpus and the root's own scripts, run with the
 * original and the replacement of every switched command; the report says,
 * per command, same / differs / unsupported with the first difference. */
import type { Corpus, Probe } from "./corpus.ts";
import { applicable, runProbes, type CommandPair, type ProbeResult } from "./run.ts";
import { countInvocations, type InvocationCount } from "./scripts.ts";
import type { Verdict } from "./compare.ts";

export interface CommandSummary {
  cmd: string;
  verdict: Verdict;
  probes: number;
  same: number;
  differs: number;
  unsupported: number;
  /** The first probe (by id) that did not match, and how. */
  first?: { id: string; difference: string };
}

export interface CheckReport {
  probes: number;
  same: number;
  differs: number;
  unsupported: number;
  commands: CommandSummary[];
  results: ProbeResult[];
  scripts: { files: number; invocations: Array<InvocationCount & { probe: string | null }> };
}

/** Probes for the flag combinations the root's scripts use (one per distinct
 * command + flags), with the corpus's operands for that command. Pure. */
export function scriptProbes(corpus: Corpus, invocations: InvocationCount[]): Map<string, Probe> {
  const out = new Map<string, Probe>();
  for (const inv of invocations) {
    if (inv.flags.length === 0) continue;
    const id = `script:${[inv.cmd, ...inv.flags].join(" ")}`;
    out.set(id, { id, cmd: inv.cmd, args: [...inv.flags, ...(corpus.templates[inv.cmd] ?? [])], uses: [inv.cmd], files: {}, compare: ["stdout", "status", "files", "stderr"], normalize: [], mtime: false });
  }
  return out;
}

/** Per-command summary of probe results; pure. Worst verdict wins. */
export function summarize(results: ProbeResult[]): CheckReport["commands"] {
  const by = new Map<string, CommandSummary>();
  for (const r of results) {
    const s = by.get(r.cmd) ?? { cmd: r.cmd, verdict: "same" as Verdict, probes: 0, same: 0, differs: 0, unsupported: 0 };
    s.probes++;
    s[r.verdict]++;
    if (r.verdict !== "same" && !s.first) s.first = { id: r.id, difference: r.difference ?? "" };
    s.verdict = s.differs > 0 ? "differs" : s.unsupported > 0 ? "unsupported" : "same";
    by.set(r.cmd, s);
  }
  return [...by.values()].sort((a, b) => (a.cmd < b.cmd ? -1 : a.cmd > b.cmd ? 1 : 0));
}

/** Run everything for one provider's command pairs. */
export async function checkCompat(
  root: string,
  scratchParent: string,
  corpus: Corpus,
  pairs: CommandPair[],
  scripts: Array<{ path: string; text: string }>,
): Promise<CheckReport> {
  const applets = new Set(pairs.map((p) => p.applet));
  const probes = applicable(corpus, applets);
  const invocations = countInvocations(scripts, applets);
  const fromScripts = scriptProbes(corpus, invocations);
  const all = [...probes, ...fromScripts.values()];
  const results = await runProbes(root, scratchParent, corpus, pairs, all, (p) => (fromScripts.has(p.id) ? "scripts" : "corpus"));
  results.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const count = (v: Verdict) => results.filter((r) => r.verdict === v).length;
  return {
    probes: results.length,
    same: count("same"),
    differs: count("differs"),
    unsupported: count("unsupported"),
    commands: summarize(results),
    results,
    scripts: {
      files: scripts.length,
      invocations: invocations.map((i) => {
        const id = `script:${[i.cmd, ...i.flags].join(" ")}`;
        return { ...i, probe: fromScripts.has(id) ? id : null };
      }),
    },
  };
}
