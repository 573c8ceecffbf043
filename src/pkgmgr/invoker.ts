/** Which packages the package-manager process that ran our hook is about to
 * remove, read from that process itself: dpkg's pre-invoke hook gets no
 * package list, only DPKG_HOOK_ACTION, so the names come from the argv of
 * the dpkg process above us (/proc/<pid>/cmdline). Pure parsing apart from
 * the /proc reads. */
import { readFileSync } from "node:fs";

/** The parent pid from /proc/<pid>/stat (the field after the command name,
 * which may itself hold spaces and parentheses). */
export function parentPidFromStat(stat: string): number | null {
  const close = stat.lastIndexOf(")");
  const f = stat.slice(close + 2).split(" ");
  const ppid = Number(f[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
}

/** argv of the nearest ancestor process whose command name is `comm`, or
 * null (no /proc in the root, or not run by it). */
export function ancestorArgv(comm: string, start = process.ppid, depth = 6): string[] | null {
  let pid: number | null = start;
  for (let i = 0; i < depth && pid && pid > 1; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm) {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
      }
      pid = parentPidFromStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return null;
    }
  }
  return null;
}

/** Among `candidates` (package names), those named in a dpkg command line
 * (`dpkg -r NAME`, `dpkg --purge NAME:amd64`, apt's `dpkg … --remove NAME`).
 * Option values such as `--status-fd 23` never match a package name we ask
 * about, so no option table is needed. */
export function removalsInDpkgArgv(argv: string[], candidates: string[]): string[] {
  const named = new Set(argv.slice(1).filter((a) => !a.startsWith("-")).map((a) => a.replace(/:[a-z0-9-]+$/, "")));
  return candidates.filter((c) => named.has(c)).sort();
}

/** For dpkg's pre-invoke hook: the candidates this dpkg run removes; []
 * when it removes nothing (DPKG_HOOK_ACTION is not remove/purge) or when it
 * cannot be told (then the post-invoke relink restores what it removed). */
export function dpkgPendingRemovals(env: Record<string, string | undefined>, candidates: string[], argv: string[] | null = ancestorArgv("dpkg")): string[] {
  const action = env.DPKG_HOOK_ACTION ?? "";
  if (action !== "remove" && action !== "purge") return [];
  return argv ? removalsInDpkgArgv(argv, candidates) : [];
}
