/** Small helpers every backend shares. */

/** The last line of a command's output: what a one-line error message quotes. */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** Packages from `apt-get -s` output ("Inst pkg …", "Remv pkg …"): all
 * that change, and those removed; pure. */
export function parseSimulation(out: string): { changed: string[]; removed: string[] } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  for (const m of out.matchAll(/^(Inst|Remv|Purg) (\S+)/gm)) {
    const name = m[2]!.replace(/:[a-z0-9]+$/, "");
    changed.add(name);
    if (m[1] !== "Inst") removed.add(name);
  }
  return { changed: [...changed].sort(), removed: [...removed].sort() };
}

