/** Root-aware paths. Every path pkgswitch touches is an absolute path *inside*
 * the managed root, mapped to the host with `hostPath`; nothing may reach the
 * host's own `/` when a root is given. A root is a tree its own root user
 * controls (a container, a mounted image): its symlinks are resolved as
 * chroot(2) would — an absolute link starts again at the root, `..` stops at
 * it — so a planted link never leads a read or a write outside. */
import { lstatSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import { join, posix, resolve } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";
import { readlinkBytes } from "../sys/linkbytes.ts";

/** Links followed in one resolution before giving up (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;

/** Resolved directories of a root, `root\0dir` → host path. Only
 * resolutions whose every component existed are kept (a missing one may be
 * created later, and then the answer is the same anyway). */
const dirMemo = new Map<string, string>();

/**
 * Host path of `inRoot` with every symlink inside the root resolved as
 * chroot(2) would: absolute link text restarts at `root`, `..` never climbs
 * above it. With `followLast: false` the last component is left as it is
 * (a target that is itself a link, or a file opened with O_NOFOLLOW).
 * Components that do not exist are kept literally.
 */
export function resolveInRoot(root: string, inRoot: string, followLast = true): string {
  return walkInRoot(root, inRoot, followLast, TEXT_PATHS);
}

/** `resolveInRoot` over byte strings (latin1: one character per byte), for
 * paths recorded as bytes that need not be UTF-8 (`audit verify --deep`). */
export function resolveBytesInRoot(root: string, inRoot: string, followLast = true): string {
  return walkInRoot(root, inRoot, followLast, BYTE_PATHS);
}

/** How a walk looks at the file system: paths as text, or as bytes. */
interface PathFs {
  lstat(host: string): Stats | undefined;
  readlink(host: string): string;
}
const TEXT_PATHS: PathFs = { lstat: (h) => lstatSync(h, { throwIfNoEntry: false }), readlink: (h) => readlinkSync(h) };
const BYTE_PATHS: PathFs = {
  lstat: (h) => lstatSync(Buffer.from(h, "latin1"), { throwIfNoEntry: false }),
  readlink: (h) => readlinkBytes(Buffer.from(h, "latin1")).toString("latin1"),
};

function walkInRoot(root: string, inRoot: string, followLast: boolean, fs: PathFs): string {
  if (!inRoot.startsWith("/")) throw new Error(`not an absolute path inside the root: ${inRoot}`);
  if (root === "/") return posix.normalize(inRoot);
  const todo = inRoot.split("/").filter((c) => c !== "" && c !== ".");
  const cur: string[] = [];
  let links = 0;
  // cur[missingAt] is the first component that does not exist (-1: none).
  // Components after it are kept as they are (they cannot be links yet);
  // a ".." that climbs back to existing directories resumes resolving, or
  // the components after it (a link among them) would reach the kernel
  // unresolved: "x/../evil" with x missing must still resolve "evil".
  let missingAt = -1;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === ".") continue;
    if (c === "..") {
      cur.pop();
      if (cur.length <= missingAt) missingAt = -1;
      continue;
    }
    cur.push(c);
    if (missingAt >= 0 || (todo.length === 0 && !followLast)) continue;
    const host = join(root, ...cur);
    let st;
    try {
      st = fs.lstat(host);
    } catch {
      st = undefined; // EACCES, ENOTDIR: whoever opens it gets the error
    }
    if (!st) {
      missingAt = cur.length - 1;
      continue;
    }
    if (!st.isSymbolicLink()) continue;
    if (++links > MAX_LINKS) throw new PkgswitchError(Exit.PREFLIGHT, `${inRoot} in ${root}: too many levels of symbolic links`);
    const text = fs.readlink(host);
    cur.pop();
    if (text.startsWith("/")) cur.length = 0;
    todo.unshift(...text.split("/").filter((x) => x !== "" && x !== "."));
  }
  return join(root, ...cur);
}

/** Host path of a directory inside `root`, fully resolved (memoized). */
function resolveDir(root: string, dir: string): string {
  const key = `${root}\0${dir}`;
  const hit = dirMemo.get(key);
  if (hit !== undefined) return hit;
  const host = resolveInRoot(root, dir, true);
  let isDir = false;
  try {
    isDir = lstatSync(host, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    // EACCES (a root the user cannot enter): whoever reads it reports the
    // path and its own exit code (verify 6, the rest 70), not a crash.
  }
  if (isDir) dirMemo.set(key, host);
  return host;
}

/** Forget memoized resolutions: after a package transaction, whose
 * maintainer scripts may have rearranged the root's directories
 * (pkgmgr/factory.ts). */
export function forgetResolvedDirs(): void {
  dirMemo.clear();
}

export interface Layout {
  /** Managed root on the host ("/" in production). */
  root: string;
  /** Host path of the audit directory. */
  auditDir: string;
  /** Host path of the state directory (state.json, hash cache, backups). */
  stateDir: string;
  /** Host path of the config file. */
  configFile: string;
  /** Host path of the pkgswitch operation lock. */
  lockFile: string;
  /** Host path of the drop-in provider catalog directory. */
  providersDir: string;
  /** Host path of the default key directory. */
  keyDir: string;
}

/** An absolute path in normal form with at least one name: no empty, `.`
 * or `..` component and no trailing slash, so posix.normalize returns it
 * unchanged (and its directory and name are the text around its last slash). */
const NORMAL_ABSOLUTE = /^(?:\/(?!\.\.?(?:\/|$))[^/]+)+$/;

export function isNormalAbsolute(path: string): boolean {
  return NORMAL_ABSOLUTE.test(path);
}

/** Host path of an absolute path inside `root`: the directories on the way
 * are resolved inside the root (`resolveInRoot`); the last component is not
 * followed, so a target that is a link is seen as the link. */
export function hostPath(root: string, inRoot: string): string {
  if (!inRoot.startsWith("/")) throw new Error(`not an absolute path inside the root: ${inRoot}`);
  // The paths read by the hundred (relink's inspection and status look at
  // every target, its link and its diverted name) are already normal: the
  // same answer by slicing, without normalize, dirname, basename and join.
  if (NORMAL_ABSOLUTE.test(inRoot)) {
    if (root === "/") return inRoot;
    const slash = inRoot.lastIndexOf("/");
    const dir = resolveDir(root, slash === 0 ? "/" : inRoot.slice(0, slash));
    if (dir.startsWith("/") && !dir.endsWith("/")) return dir + inRoot.slice(slash);
  }
  const p = posix.normalize(inRoot);
  if (root === "/") return p;
  if (p === "/") return join(root, "/");
  return join(resolveDir(root, posix.dirname(p)), posix.basename(p));
}

/** Default layout for a root; `overrides` are host paths from flags (the
 * caller's own paths: trusted, not confined to the root). */
export function layoutFor(root: string, overrides: Partial<Layout> = {}): Layout {
  let r = resolve(root);
  try {
    r = realpathSync(r); // the caller's path to the root may itself go through links
  } catch {}
  const at = (p: string) => hostPath(r, p);
  return {
    root: r,
    auditDir: overrides.auditDir ? resolve(overrides.auditDir) : at("/var/lib/pkgswitch/audit"),
    stateDir: overrides.stateDir ? resolve(overrides.stateDir) : at("/var/lib/pkgswitch"),
    configFile: overrides.configFile ? resolve(overrides.configFile) : at("/etc/pkgswitch/config.jsonc"),
    // /run/lock is the system's, not ours: followed (inside the root).
    lockFile: join(resolveInRoot(r, "/run/lock"), "pkgswitch.lock"),
    providersDir: at("/etc/pkgswitch/providers.d"),
    keyDir: at("/etc/pkgswitch/keys"),
  };
}

/** Refuse a directory of ours that is a symbolic link (or not a directory):
 * following it would put state, backups, keys or evidence wherever the
 * root's owner pointed it. A missing one is fine (it is created later). */
export function checkOwnDir(path: string, what: string): void {
  let st;
  try {
    st = lstatSync(path, { throwIfNoEntry: false });
  } catch {
    // EACCES (not root), ENOTDIR (a file on the way): whatever reads or
    // writes there reports it, naming what it needed.
    return;
  }
  if (!st) return;
  if (st.isSymbolicLink()) throw new PkgswitchError(Exit.PERMISSION, `${what} ${path} is a symbolic link; pkgswitch does not follow links for its own directories — move it aside (nothing was changed)`);
  if (!st.isDirectory()) throw new PkgswitchError(Exit.PERMISSION, `${what} ${path} is not a directory — move it aside (nothing was changed)`);
}

/** Check every directory of ours in the layout (those the caller did not
 * give by flag), before anything reads or writes in them. */
export function checkLayout(layout: Layout, flagged: { auditDir?: boolean; stateDir?: boolean } = {}): void {
  if (layout.root === "/") return; // the host's own tree is the operator's, links and all
  // Checked from the root down, each level unresolved: keyDir and
  // providersDir were resolved through whatever /etc/pkgswitch is.
  const etc = hostPath(layout.root, "/etc/pkgswitch");
  checkOwnDir(etc, "config directory");
  checkOwnDir(join(etc, "keys"), "key directory");
  checkOwnDir(join(etc, "keys", "trusted"), "trusted-key directory");
  // providers.d is only read; what is wrong with it is a config error (2).
  if (!flagged.stateDir) checkOwnDir(layout.stateDir, "state directory");
  checkOwnDir(join(layout.stateDir, "backups"), "backup directory");
  if (!flagged.auditDir) checkOwnDir(layout.auditDir, "audit directory");
  // Ours even in a flagged audit dir (as backups/ in a flagged state dir):
  // `audit archive` writes segments there and sweeps its temp files.
  // ("archive" is ARCHIVE_DIR of src/audit/names.ts, which config may not import.)
  checkOwnDir(join(layout.auditDir, "archive"), "archive directory");
}

/** Directories whose commands providers may take over, and the canonical
 * (usrmerge) form of each: on Debian 12 `/bin` is a link to `usr/bin`. */
export const BIN_DIRS = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"] as const;

/** `/bin/ls` → `/usr/bin/ls` when the root is usrmerged (its /bin is a link). */
export function canonicalBinPath(path: string, usrMerged: boolean): string {
  if (!usrMerged) return path;
  if (path.startsWith("/bin/")) return "/usr" + path;
  if (path.startsWith("/sbin/")) return "/usr" + path;
  return path;
}
