/** dpkg's diversions database (/var/lib/dpkg/diversions) as dpkg-divert
 * itself reads and writes it, for registering many local diversions in one
 * write instead of one dpkg-divert process each (issue 12: 103 calls were
 * ~470 ms of an enable of coreutils). Pure: the I/O is in ./dpkg.ts.
 *
 * What dpkg-divert 1.21 does (src/divert/main.c, lib/dpkg/db-fsys-divert.c,
 * lib/dpkg/atomic-file.c), and what this module reproduces:
 *  - the file is records of three lines — from, to, package (":" = local) —
 *    in no particular order (it writes them in hash-table order);
 *  - `--add` refuses a path that is not absolute or holds a newline, a
 *    diversion to itself, a directory; if `from` or `to` already takes part
 *    in a diversion it succeeds without a change when that diversion is the
 *    same one ("Leaving …"), and fails ("… clashes with …") otherwise;
 *  - `--remove P` (no --package/--divert) drops the record whose `from` is P;
 *    without one it succeeds without a change ("No diversion …");
 *  - it takes no dpkg lock (modstatdb_open(msdbrw_readonly)), writes the
 *    whole file to diversions-new (mode 0644), fsyncs it, hard-links the old
 *    file to diversions-old and renames diversions-new over diversions.
 *
 * The planners here accept only the plain case — a database dpkg wrote
 * (normalized absolute names, complete records, no conflicting records) and
 * entries that are plain additions or removals. Anything else returns null,
 * and the caller runs dpkg-divert itself, one call per entry, as before — so
 * every unusual case gets exactly dpkg-divert's own behaviour and message. */
import type { Diversion } from "./backend.ts";

/** A name as dpkg stores it: one leading "/", no "//", no "." or ".."
 * component, no trailing "/", no newline (dpkg would normalize or refuse
 * anything else: leave those to dpkg-divert). */
export function plainDpkgName(p: string): boolean {
  if (!p.startsWith("/") || p.length < 2 || p.endsWith("/") || p.includes("\n") || p.includes("\0")) return false;
  return p
    .slice(1)
    .split("/")
    .every((c) => c !== "" && c !== "." && c !== "..");
}

/** Parse the database strictly: null unless it is complete three-line
 * records of plain names and no name takes part in two diversions (dpkg
 * itself refuses such a file: "conflicting diversions"). */
export function parseDivertDb(text: string): Diversion[] | null {
  if (text === "") return [];
  if (!text.endsWith("\n")) return null;
  const lines = text.slice(0, -1).split("\n");
  if (lines.length % 3 !== 0) return null;
  const out: Diversion[] = [];
  const names = new Set<string>();
  for (let i = 0; i < lines.length; i += 3) {
    const [from, to, by] = [lines[i]!, lines[i + 1]!, lines[i + 2]!];
    if (!plainDpkgName(from) || !plainDpkgName(to) || by === "" || from === to) return null;
    if (names.has(from) || names.has(to)) return null;
    names.add(from).add(to);
    out.push({ from, to, by });
  }
  return out;
}

/** The database text of `records`, as dpkg-divert writes it. */
export function formatDivertDb(records: readonly Diversion[]): string {
  return records.map((r) => `${r.from}\n${r.to}\n${r.by}\n`).join("");
}

/** The records after adding local diversions `entries` (each from → to),
 * or null when any entry is not a plain addition (see the module comment);
 * `changed` is false when every entry was already registered as asked. */
export function planAdd(records: readonly Diversion[], entries: ReadonlyArray<{ from: string; to: string }>): { records: Diversion[]; changed: boolean } | null {
  const byName = new Map<string, Diversion>();
  for (const r of records) byName.set(r.from, r).set(r.to, r);
  const out = [...records];
  let changed = false;
  for (const e of entries) {
    if (!plainDpkgName(e.from) || !plainDpkgName(e.to) || e.from === e.to) return null;
    const a = byName.get(e.from);
    const b = byName.get(e.to);
    if (a || b) {
      // The same local diversion: dpkg-divert leaves it. Anything else clashes.
      if (a && a === b && a.from === e.from && a.to === e.to && a.by === ":") continue;
      return null;
    }
    const r: Diversion = { from: e.from, to: e.to, by: ":" };
    byName.set(r.from, r).set(r.to, r);
    out.push(r);
    changed = true;
  }
  return { records: out, changed };
}

/** The records after `dpkg-divert --remove P` for each path (a path that is
 * not a diverted `from` is left alone, as dpkg-divert does); null for a name
 * that is not plain or a diversion that is not local. */
export function planRemove(records: readonly Diversion[], paths: readonly string[]): { records: Diversion[]; changed: boolean } | null {
  if (!paths.every(plainDpkgName)) return null;
  const drop = new Set(paths);
  // A package's diversion is dpkg-divert's to judge (shared diversions).
  if (records.some((r) => drop.has(r.from) && r.by !== ":")) return null;
  const out = records.filter((r) => !drop.has(r.from));
  return { records: out, changed: out.length !== records.length };
}

/** What `dpkg-divert --list` (dpkg reading the database back) shows wrong
 * after a direct write: an added local diversion it does not list, or a
 * removed one it still lists; null when it shows exactly what was written.
 * Its lines are "local diversion of A to B" and "diversion of A to B by P". */
export function listProblem(out: string, added: ReadonlyArray<{ from: string; to: string }>, removed: readonly string[]): string | null {
  const lines = out.split("\n");
  const listed = new Set(lines);
  for (const e of added) {
    if (!listed.has(`local diversion of ${e.from} to ${e.to}`)) return `dpkg-divert --list does not show the local diversion of ${e.from} to ${e.to}`;
  }
  for (const p of removed) {
    if (lines.some((l) => l.startsWith(`local diversion of ${p} to `))) return `dpkg-divert --list still shows a local diversion of ${p}`;
  }
  return null;
}
