/** pacman backend (Arch Linux). Every call runs the root's own pacman inside
 * the root (chroot(8), or directly when the root is "/"), so paths are the
 * root's own and queries read the root's database. `pacman --sysroot` would
 * do the same chroot, but pacman logs every --sysroot command line — queries
 * included — to the root's pacman.log, and a dry run must write nothing.
 *
 * Queries are batched: `-Qil` (info and file lists of every named package),
 * `-Qo` (owners of every path), `-Q` + `-Si` (source repository). pacman has
 * no diversions: the engine's relink refreshes backups from files an
 * upgrade wrote over our links, and the alpm hooks (src/hooks/files.ts) run
 * it after every transaction on the involved packages. */
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { posix } from "node:path";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import type { BackendOptions, InstalledPackage, ManagerWording, PackageBackend } from "./backend.ts";
import { inTransaction, lastLine, type DatabaseLayout } from "./common.ts";
import { readOsId } from "./osrelease.ts";
import { inRoot, run, type CommandResult } from "./exec.ts";

export const PACMAN_DB_LOCK = "/var/lib/pacman/db.lck";

/** Parse `pacman -Qil` output (an info block, then "name /path" file lines,
 * per package); directories (trailing "/") are left out of the file list. Pure. */
export function parseQueryInfoList(out: string): Map<string, InstalledPackage> {
  const result = new Map<string, InstalledPackage>();
  let cur: InstalledPackage | null = null;
  let field: string | null = null;
  for (const line of out.split("\n")) {
    const kv = /^([A-Z][A-Za-z ]*?)\s*: (.*)$/.exec(line);
    if (kv) {
      field = kv[1]!;
      const v = kv[2]!;
      if (field === "Name") {
        cur = { name: v, version: "", arch: "", files: [] };
        result.set(v, cur);
      } else if (cur && field === "Version") cur.version = v;
      else if (cur && field === "Architecture") cur.arch = v;
      else if (cur && field === "URL" && v !== "None") cur.homepage = v;
      else if (cur && field === "Packager" && v !== "Unknown Packager") cur.supplier = v;
      continue;
    }
    if (cur && line.startsWith(cur.name + " /")) {
      const path = line.slice(cur.name.length + 1);
      if (!path.endsWith("/")) cur.files.push(path);
    }
  }
  return result;
}

/** Parse `pacman -Qo` output ("PATH is owned by NAME VERSION") into path →
 * first owner. Pure. */
export function parseOwners(out: string): Map<string, string> {
  const owners = new Map<string, string>();
  for (const m of out.matchAll(/^(\/.*) is owned by (\S+) \S+$/gm)) {
    if (!owners.has(m[1]!)) owners.set(m[1]!, m[2]!);
  }
  return owners;
}

/** Parse `pacman -Si` output into name → {repository, version}. Pure. */
export function parseSyncInfo(out: string): Map<string, { repo: string; version: string }> {
  const result = new Map<string, { repo: string; version: string }>();
  for (const block of out.split(/\n\s*\n/)) {
    const field = (k: string) => new RegExp(`^${k}\\s*: (.*)$`, "m").exec(block)?.[1];
    const name = field("Name");
    const repo = field("Repository");
    const version = field("Version");
    if (name && repo && version) result.set(name, { repo, version });
  }
  return result;
}

/** Parse "NAME VERSION" lines (`pacman -Q`, `--print-format '%n %v'`). Pure. */
export function parseNameVersion(out: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /^(\S+) (\S+)$/.exec(line.trim());
    if (m) result.set(m[1]!, m[2]!);
  }
  return result;
}

/** Source repository of each installed version: the sync database holding
 * that very version, else "local" (built or downloaded by hand, `-U`). Pure. */
export function sourceRepoOf(installed: Map<string, string>, sync: Map<string, { repo: string; version: string }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, version] of installed) {
    const s = sync.get(name);
    out.set(name, s && s.version === version ? s.repo : "local");
  }
  return out;
}

/** The path pacman prints for `path` in `-Qo` answers: the directory part
 * resolved (through links, inside the root), the last component kept as is
 * — pacman's own lrealpath. `/bin/cat` → `/usr/bin/cat` on a usr-merged root. */
export function pacmanSpelling(root: string, path: string): string {
  let dir = "/";
  const parts = posix.normalize(posix.dirname(path)).split("/").filter(Boolean);
  for (let hops = 0; parts.length > 0 && hops < 40; ) {
    const next = posix.join(dir, parts.shift()!);
    const st = lstatSync(hostPath(root, next), { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      hops++;
      const text = readlinkSync(hostPath(root, next));
      parts.unshift(...text.split("/").filter(Boolean));
      if (text.startsWith("/")) dir = "/";
    } else dir = next;
  }
  return posix.join(dir, posix.basename(path));
}

export const PACMAN_WORDING: ManagerWording = {
  installer: "pacman",
  transaction: { install: "pacman -S", remove: "pacman -R" },
  reinstall: (packages) => `pacman -S ${packages.join(" ")}`,
  manPages: ["pacman(8)"],
};

export class PacmanBackend implements PackageBackend {
  readonly kind = "pacman" as const;
  readonly wording = PACMAN_WORDING;
  /** None to check: pacman runs inside the root (chroot), where the
   * kernel resolves the root's links as pkgswitch does (no --root, no
   * --dbpath, no --sysroot). */
  readonly database: DatabaseLayout = { dirs: [], files: [] };
  readonly distro: string;
  readonly usrMerged: boolean;

  constructor(private readonly opts: BackendOptions) {
    if (!existsSync(hostPath(opts.root, "/var/lib/pacman/local"))) {
      throw new PkgswitchError(Exit.PREFLIGHT, `${opts.root} is not a pacman system (no /var/lib/pacman/local)`);
    }
    this.usrMerged = lstatSync(hostPath(opts.root, "/bin"), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    this.distro = readOsId(opts.root, "arch");
  }

  private pacman(args: string[]): CommandResult {
    const r = run(inRoot(this.opts.root, ["pacman", ...args]));
    this.opts.observe(r);
    if (r.rc === 127 || r.rc === 126) throw new PkgswitchError(Exit.PKGMGR, `pacman did not run inside ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr)}`);
    return r;
  }

  /** A query: exit 1 means some name or path was not found (pacman prints
   * what it found); anything else is a failure. */
  private query(args: string[]): string {
    const r = this.pacman(args);
    if (r.rc > 1) throw new PkgswitchError(Exit.PKGMGR, `pacman ${args[0]} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr)}`);
    return r.stdout;
  }

  installed(names: string[]): Map<string, InstalledPackage> {
    if (names.length === 0) return new Map();
    return parseQueryInfoList(this.query(["-Qil", "--", ...names]));
  }

  versions(): Map<string, string> {
    return parseNameVersion(this.query(["-Q"]));
  }

  simulate(action: "install" | "remove", names: string[]): { changed: string[]; removed: string[] } {
    const changed = new Set<string>();
    for (const [op, list] of this.split(action, names)) {
      const args = op === "-S" ? ["-S", "--needed"] : [op];
      const r = this.pacman([...args, "--print", "--print-format", "%n %v", "--", ...list]);
      if (r.rc !== 0) throw new PkgswitchError(Exit.PKGMGR, `pacman ${op} ${list.join(" ")} would fail in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
      for (const n of parseNameVersion(r.stdout).keys()) changed.add(n);
    }
    const sorted = [...changed].sort();
    return { changed: sorted, removed: action === "remove" ? sorted : [] };
  }

  /** pacman's operation per argument: a package file inside the root (an
   * absolute path) is installed with -U, a name with -S; removal is -R. */
  private split(action: "install" | "remove", names: string[]): Array<["-S" | "-U" | "-R", string[]]> {
    if (action === "remove") return [["-R", names]];
    const files = names.filter((n) => n.startsWith("/"));
    const repo = names.filter((n) => !n.startsWith("/"));
    return [...(files.length ? [["-U", files] as ["-U", string[]]] : []), ...(repo.length ? [["-S", repo] as ["-S", string[]]] : [])];
  }

  owners(paths: string[]): Map<string, string | null> {
    const result = new Map<string, string | null>(paths.map((p) => [p, null]));
    if (paths.length === 0) return result;
    const spelled = new Map(paths.map((p) => [p, pacmanSpelling(this.opts.root, p)]));
    const found = parseOwners(this.query(["-Qo", "--", ...new Set(spelled.values())]));
    for (const p of paths) result.set(p, found.get(spelled.get(p)!) ?? null);
    return result;
  }

  sourceRepos(names: string[]): Map<string, string> {
    const repos = new Map<string, string>(names.map((n) => [n, "unknown"]));
    if (names.length === 0) return repos;
    const installed = parseNameVersion(this.query(["-Q", "--", ...names]));
    const sync = parseSyncInfo(this.query(["-Si", "--", ...installed.keys()]));
    for (const [k, v] of sourceRepoOf(installed, sync)) repos.set(k, v);
    return repos;
  }

  install(names: string[]): void {
    for (const [op, list] of this.split("install", names)) {
      this.transaction([op, ...(op === "-S" ? ["--needed"] : []), "--noconfirm", "--noprogressbar", "--", ...list], `${op} ${list.join(" ")}`);
    }
  }

  remove(names: string[]): void {
    this.transaction(["-R", "--noconfirm", "--noprogressbar", "--", ...names], `-R ${names.join(" ")}`);
  }

  private transaction(args: string[], what: string): void {
    if (this.opts.readOnly) throw new Error("internal: package change attempted in read-only mode");
    const holder = this.lockHolder();
    if (holder) throw new PkgswitchError(Exit.LOCKED, `pacman's database is locked (${holder}); try again when the other pacman ends`);
    const r = inTransaction(() => this.pacman(args));
    if (r.rc !== 0) {
      if (/unable to lock database/.test(r.stderr)) throw new PkgswitchError(Exit.LOCKED, `pacman's database is locked: ${lastLine(r.stderr)}`);
      throw new PkgswitchError(Exit.PKGMGR, `pacman ${what} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
    }
  }

  /** pacman's lock is a file created with O_EXCL, not a kernel lock: its
   * existence is the lock (a crashed pacman leaves it behind, and pacman
   * itself then refuses too). */
  lockHolder(): string | null {
    return existsSync(hostPath(this.opts.root, PACMAN_DB_LOCK))
      ? `${PACMAN_DB_LOCK} exists; if no pacman is running, it is stale: remove it`
      : null;
  }
}
