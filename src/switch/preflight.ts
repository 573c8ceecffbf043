/** Filesystem preflight of a switch: what would make it fail half-way or
 * leave the system worse, found before anything changes (switchyard's list):
 *   - an immutable or append-only target, or target directory (rename fails);
 *   - the target directory on a read-only mount (rename fails);
 *   - the replacement on a noexec mount (every switched command would fail);
 *   - a target with hard links outside the switch (those names keep the old
 *     command, and the backup would no longer be the only other copy).
 * Each check is pure over the facts passed in; `fsFacts` gathers them. */
import { lstatSync, readFileSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { hostPath } from "../config/paths.ts";
import { lockedAttribute } from "../fsops/inodeflags.ts";
import type { Refusal } from "./plan.ts";
import { resolveInRoot } from "./observe.ts";

export interface Mount {
  mountPoint: string;
  options: Set<string>;
}

/** Unescape mountinfo's octal escapes (\040 is a space). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** /proc/self/mountinfo lines → mount point and the union of the per-mount
 * and superblock options (ro can be on either); pure. */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (f.length < 7 || dash < 6) continue;
    const opts = new Set([...f[5]!.split(","), ...(f[dash + 3] ?? "").split(",")]);
    out.push({ mountPoint: unescape(f[4]!), options: opts });
  }
  return out;
}

/** The mount a host path lives on: the longest mount point that contains
 * it (later entries win on ties: they are mounted on top). */
export function mountOf(mounts: Mount[], path: string): Mount | null {
  let best: Mount | null = null;
  for (const m of mounts) {
    const inside = m.mountPoint === "/" || path === m.mountPoint || path.startsWith(m.mountPoint + "/");
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

export interface TargetFacts {
  target: string;
  /** Host path of the target's directory, symlinks resolved. */
  dirHost: string;
  /** Host path of the replacement's directory, symlinks resolved (null: missing). */
  replacementDirHost: string | null;
  /** "immutable" / "append-only" on the target or its directory, with which. */
  locked: string | null;
  /** Regular-file target: its inode and link count. */
  inode: { dev: number; ino: number; nlink: number } | null;
}

/** A mount point as the operator of `root` knows it: inside the root, or
 * the host mount that holds the root. */
function shown(root: string, mountPoint: string): string {
  if (root === "/" || mountPoint === root) return root === "/" ? mountPoint : "/";
  if (mountPoint.startsWith(root + "/")) return mountPoint.slice(root.length);
  return `${mountPoint}, which holds the root`;
}

/** Refusals for the targets about to be switched in `root`; pure. */
export function checkTargets(facts: TargetFacts[], mounts: Mount[], root: string): Refusal[] {
  const refusals: Refusal[] = [];
  const sharing = new Map<string, number>();
  for (const f of facts) if (f.inode) sharing.set(`${f.inode.dev}:${f.inode.ino}`, (sharing.get(`${f.inode.dev}:${f.inode.ino}`) ?? 0) + 1);
  for (const f of facts) {
    if (f.locked) {
      refusals.push({ target: f.target, reason: `${f.locked} (chattr); remove the attribute with chattr, or exclude the command` });
      continue;
    }
    const dirMount = mountOf(mounts, f.dirHost);
    if (dirMount?.options.has("ro")) {
      refusals.push({ target: f.target, reason: `its directory is on a read-only mount (${shown(root, dirMount.mountPoint)})` });
      continue;
    }
    const replMount = f.replacementDirHost ? mountOf(mounts, f.replacementDirHost) : null;
    if (replMount?.options.has("noexec")) {
      refusals.push({ target: f.target, reason: `the replacement is on a noexec mount (${shown(root, replMount.mountPoint)}): the switched command could not run` });
      continue;
    }
    if (f.inode && f.inode.nlink > (sharing.get(`${f.inode.dev}:${f.inode.ino}`) ?? 1)) {
      const others = f.inode.nlink - sharing.get(`${f.inode.dev}:${f.inode.ino}`)!;
      refusals.push({ target: f.target, reason: `has ${others} other hard link(s) that this switch does not cover (they would keep the old command); exclude the command or remove the extra links` });
    }
  }
  return refusals;
}

function sameInode(path: string, st: { dev: number; ino: number }): boolean {
  const o = lstatSync(path, { throwIfNoEntry: false });
  return !!o && o.dev === st.dev && o.ino === st.ino;
}

function realDir(host: string): string {
  try {
    return realpathSync(host);
  } catch {
    return host;
  }
}

/** Gather the facts for `targets` (paths inside `root`) switching to
 * `linkTargets`. `ownLinks` are host paths that are pkgswitch's own hard
 * links of a target (its backup, its diverted name, left by an interrupted
 * run): they do not count as other links. */
export function fsFacts(root: string, targets: Array<{ target: string; linkTarget: string; ownLinks?: string[] }>): TargetFacts[] {
  // A hundred targets share two or three directories: resolve each directory
  // and read its flags once per call (one preflight, nothing changes between).
  const dirs = new Map<string, string>();
  const dirOf = (path: string) => {
    const d = dirname(path);
    let r = dirs.get(d);
    if (r === undefined) dirs.set(d, (r = realDir(d)));
    return r;
  };
  const dirFlags = new Map<string, string | null>();
  const lockedDirOf = (dir: string) => {
    let f = dirFlags.get(dir);
    if (f === undefined) dirFlags.set(dir, (f = lockedAttribute(dir)));
    return f;
  };
  return targets.map(({ target, linkTarget, ownLinks = [] }) => {
    const host = hostPath(root, target);
    const dirHost = dirOf(host);
    const st = lstatSync(host, { throwIfNoEntry: false });
    const repl = resolveInRoot(root, linkTarget);
    const lockedFile = st?.isFile() ? lockedAttribute(host) : null;
    const lockedDir = lockedDirOf(dirHost);
    return {
      target,
      dirHost,
      replacementDirHost: repl ? dirOf(repl) : null,
      locked: lockedFile ?? (lockedDir ? `its directory ${dirname(target)} is ${lockedDir}` : null),
      inode: st?.isFile() ? { dev: st.dev, ino: st.ino, nlink: st.nlink - ownLinks.filter((o) => sameInode(o, st)).length } : null,
    };
  });
}

/** The mount table as this process sees it (the root is a directory in it). */
export function currentMounts(): Mount[] {
  try {
    return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return []; // no /proc: the mount checks cannot run; the others still do
  }
}
