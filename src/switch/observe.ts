/** Reading the state of targets from the filesystem (lstat, readlink): the
 * executor's eyes. Never follows a target link outside the root. */
import { lstatSync, readlinkSync, type Stats } from "node:fs";
import { hostPath } from "../config/paths.ts";
import type { HashCache } from "../hashing/cache.ts";
import type { Observation } from "./plan.ts";
import type { OriginalFile } from "./state.ts";

export function observe(root: string, target: string): Observation {
  const host = hostPath(root, target);
  const st = lstatSync(host, { throwIfNoEntry: false });
  if (!st) return { kind: "missing" };
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (st.isSymbolicLink()) return { kind: "symlink", linkText: readlinkSync(host), ...base };
  if (st.isFile()) return { kind: "file", ...base };
  return { kind: "other", ...base };
}

/** Whether `target` is the link a switch made: a symbolic link whose text is
 * `wanted`. One readlink(2), where `observe` takes an lstat and a readlink:
 * the passes over every managed target (relink's inspection, status) find
 * nearly all of them so. Anything else (another text, not a link, missing,
 * unreadable) is false, and the caller asks `observe` what is there. */
export function isLinkTo(root: string, target: string, wanted: string): boolean {
  return linkText(hostPath(root, target)) === wanted;
}

/** The identity of a target before we change it (for sidecar and audit). */
export function describeOriginal(root: string, target: string, owner: string | null, cache: HashCache): OriginalFile {
  const host = hostPath(root, target);
  const st = lstatSync(host);
  const link = st.isSymbolicLink();
  return {
    kind: link ? "symlink" : "file",
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    sha256: link ? null : cache.digest(host),
    link_target: link ? readlinkSync(host) : null,
    owner,
  };
}

/** Host path of the file a path in the root finally resolves to (relative
 * links resolve inside the root; absolute ones are re-rooted), or null. */
export function resolveInRoot(root: string, inRoot: string): string | null {
  let path = inRoot;
  for (let i = 0; i < 16; i++) {
    const host = hostPath(root, path);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) return null;
    if (!st.isSymbolicLink()) return host;
    const next = readlinkSync(host);
    path = next.startsWith("/") ? next : normalizeJoin(path, next);
  }
  return null;
}

/** SHA-256 of what a link in the root resolves to (the replacement binary).
 * 103 applet links resolve to one 23 MB multicall binary, often too fresh
 * for the persistent cache: the cache's operation memo hashes it once. */
export function resolvedDigest(root: string, linkTarget: string, cache: HashCache): string | null {
  const host = resolveInRoot(root, linkTarget);
  const st = host ? lstatSync(host, { throwIfNoEntry: false }) : undefined;
  if (!host || !st?.isFile()) return null;
  return cache.digest(host);
}

function normalizeJoin(from: string, rel: string): string {
  const parts = from.split("/").slice(0, -1);
  for (const p of rel.split("/")) {
    if (p === "..") {
      if (parts.length > 1) parts.pop();
    } else if (p !== "." && p !== "") parts.push(p);
  }
  return parts.join("/") || "/";
}

/** The text of the link at `host`, or null (not a link, missing, unreadable). */
function linkText(host: string): string | null {
  try {
    return readlinkSync(host);
  } catch {
    return null;
  }
}

export interface ExecutableInfo {
  exists: boolean;
  executable: boolean;
  setuidRoot: boolean;
}

const NOTHING: ExecutableInfo = { exists: false, executable: false, setuidRoot: false };

function infoOf(st: Stats | undefined): ExecutableInfo {
  if (!st) return NOTHING;
  return { exists: true, executable: st.isFile() && (st.mode & 0o111) !== 0, setuidRoot: (st.mode & 0o4000) !== 0 && st.uid === 0 };
}

/** Is the (root-resolved) file executable, and setuid root? */
export function executableInfo(root: string, linkTarget: string): ExecutableInfo {
  const host = resolveInRoot(root, linkTarget);
  return infoOf(host ? lstatSync(host, { throwIfNoEntry: false }) : undefined);
}

/** `executableInfo` for the many link targets of one read-only pass
 * (`status`, `relink`'s inspection): the applet links of a multicall binary
 * all lead to one file, which is then resolved and stat'ed once per pass,
 * not once per link. Same answers as `executableInfo` on an unchanging
 * tree; a pass must not outlive the reads it was made for. */
export function executableInfoPass(root: string): (linkTarget: string) => ExecutableInfo {
  // Path inside the root → its answer and the hops the walk took from it
  // (resolveInRoot gives up after 16: a hit is used only within that).
  const known = new Map<string, { info: ExecutableInfo; hops: number }>();
  return (linkTarget) => {
    const walked: string[] = [];
    let path = linkTarget;
    let answer: ExecutableInfo = NOTHING;
    let hops = 0; // of the walk's end, from its start
    for (let i = 0; i < 16; i++) {
      const hit = known.get(path);
      if (hit && i + hit.hops <= 16) {
        answer = hit.info;
        hops = i + hit.hops;
        break;
      }
      walked.push(path);
      const host = hostPath(root, path);
      // A link answers readlink(2) alone; only the walk's end (cached) needs its stat.
      let next = linkText(host);
      if (next === null) {
        const st = lstatSync(host, { throwIfNoEntry: false });
        if (!st || !st.isSymbolicLink()) {
          answer = infoOf(st);
          hops = i + 1;
          break;
        }
        next = readlinkSync(host);
      }
      path = next.startsWith("/") ? next : normalizeJoin(path, next);
    }
    if (hops > 0) walked.forEach((p, j) => known.set(p, { info: answer, hops: hops - j }));
    return answer;
  };
}
