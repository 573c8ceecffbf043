/** The package-manager interface that the switch engine talks to. dpkg/apt
 * implements it now; pacman and rpm backends implement the same shape. Every
 * query is batched: the cost of a switch must not grow with one process per
 * file. */
import type { DatabaseLayout } from "./common.ts";
import type { CommandObserver } from "./exec.ts";
import type { ManagerKind, PackageInfo } from "./types.ts";

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
  supplier?: string;
  homepage?: string;
  /** Paths the package database lists for it, as recorded (may be /bin/… aliases). */
  files: string[];
}

/** A diversion: the package manager writes `from` to `to` instead. */
export interface Diversion {
  from: string;
  to: string;
  /** Owning package, or ":" for a local diversion (dpkg's notation). */
  by: string;
}

/** Package managers that can redirect a package's file (dpkg-divert), so an
 * upgrade of the replaced package leaves our link alone. */
export interface Diverter {
  /** What one is called in messages ("dpkg diversion"). */
  readonly noun: string;
  /** Current diversions, keyed by the diverted path (`from`). Reads the database only. */
  list(): Map<string, Diversion>;
  /** Register local diversions, without moving files (we place them first). */
  add(entries: Array<{ from: string; to: string }>): void;
  /** Remove diversions, without moving files. */
  remove(paths: string[]): void;
}

/** Hooks that must live in the package database itself (rpm: file triggers
 * ship inside a package). `hooks install` writes `files(binary)` into the
 * root, then installs the package file among them (`packageFile`); `hooks
 * remove` removes package `name` and the files. */
export interface HookPackage {
  readonly name: string;
  /** Path inside the root of the package file that files() writes. */
  readonly packageFile: string;
  files(binary: string): Array<{ path: string; content: string | Uint8Array; mode?: number }>;
}

/** How messages and help name a package manager's commands, so the engine
 * never does. */
export interface ManagerWording {
  /** The command that installs packages ("apt-get"). */
  readonly installer: string;
  /** The command line of a transaction, as `pkg install|remove` help names it. */
  readonly transaction: Record<"install" | "remove", string>;
  /** The command line that reinstalls packages (a repair hint). */
  reinstall(packages: string[]): string;
  /** Manual pages of its tools (the man page's SEE ALSO). */
  readonly manPages: readonly string[];
}

/** A switch the distribution itself provides (docs/native.md): two
 * packages that own the command paths in turn (Ubuntu's coreutils-from-gnu
 * / coreutils-from-uutils), or an alternatives group (/usr/bin/sudo). Given
 * by the provider catalog's `native` entry. */
export type NativeSpec =
  | { kind: "packages"; original: string; replacement: string }
  | { kind: "alternative"; name: string; original: string; replacement: string };

export type NativeSide = "original" | "replacement";

/** What a native mechanism looks like in the root now. */
export interface NativeFacts {
  /** Which side is active, or null when neither (another package, another alternative). */
  active: NativeSide | null;
  /** The active package, or the alternative's current path. */
  activeName: string | null;
  /** Paths the mechanism switches, as the package database spells them. */
  paths: string[];
  /** Installed packages that take part (for the SBOM and provenance). */
  packages: string[];
}

/** Native switches, driven by the package manager's own tools. */
export interface NativeSwitcher {
  /** null when the root has no such mechanism (reads only). */
  facts(spec: NativeSpec): NativeFacts | null;
  /** What switching to `side` would do, asked of the package manager
   * without changing anything; throws PkgswitchError(Exit.PREFLIGHT) when it would
   * remove more than the other side or cannot be done. */
  plan(spec: NativeSpec, side: NativeSide): { install: string[]; remove: string[] };
  /** Switch to `side`, never leaving a switched path missing; throws
   * PkgswitchError(Exit.PKGMGR) on failure. */
  apply(spec: NativeSpec, side: NativeSide): void;
}

export interface PackageBackend {
  readonly kind: ManagerKind;
  readonly distro: string;
  /** How messages name this manager's commands (installer, reinstall hint). */
  readonly wording: ManagerWording;
  /** Installed packages among `names`, with their file lists (one query). */
  installed(names: string[]): Map<string, InstalledPackage>;
  /** Version of every installed package (one query, no file lists). */
  versions(): Map<string, string>;
  /** Packages a transaction would install, upgrade or remove (simulation; changes nothing). */
  simulate(action: "install" | "remove", names: string[]): { changed: string[]; removed: string[] };
  /** Owner package of each path (one query; usrmerge aliases handled). */
  owners(paths: string[]): Map<string, string | null>;
  /** Source repository of each installed package's version (one query). */
  sourceRepos(names: string[]): Map<string, string>;
  /** The same, the query running while the caller does other work (where
   * the backend can; else callers use `sourceRepos`). */
  sourceReposAsync?(names: string[]): Promise<Map<string, string>>;
  /** Install packages inside the root — names, or absolute paths of package
   * files inside the root; throws PkgswitchError(Exit.PKGMGR) on failure. */
  install(names: string[]): void;
  /** Remove packages inside the root; throws PkgswitchError(Exit.PKGMGR) on failure. */
  remove(names: string[]): void;
  /** A description of who holds the package manager's lock, or null if free. */
  lockHolder(): string | null;
  /** Whether `/bin` is an alias of `/usr/bin` in this root. */
  readonly usrMerged: boolean;
  /** The database its tools open from the host through the root's links
   * (common.ts): the factory refuses a root where those lead elsewhere. */
  readonly database: DatabaseLayout;
  /** In a pre-invoke hook (`relink --hook --pre-invoke`): which of
   * `candidates` the package-manager run that called the hook is about to
   * remove. Absent when the manager has no such hook point. */
  pendingRemovals?(candidates: string[]): string[];
  /** Paths (inside the root) of the installed packages' maintainer scripts,
   * which `check` reads to see how this system calls switched commands. */
  maintainerScripts?(): string[];
  /** Present when the package manager supports diversions (dpkg). */
  readonly diverter?: Diverter;
  /** Present when the hooks are a package of their own (rpm). */
  readonly hookPackage?: HookPackage;
  /** Present when the manager can drive native switches (dpkg). */
  readonly native?: NativeSwitcher;
}

export interface BackendOptions {
  root: string;
  /** Called with every command run, for the audit record. */
  observe: CommandObserver;
  /** No package-manager state may be written (dry run). */
  readOnly: boolean;
}

/** Build the SBOM/provenance shape of an installed package. */
export function toPackageInfo(
  b: Pick<PackageBackend, "kind" | "distro">,
  p: InstalledPackage,
  sourceRepo: string,
  role: PackageInfo["role"],
  applets: string[],
): PackageInfo {
  const info: PackageInfo = {
    name: p.name,
    version: p.version,
    arch: p.arch,
    manager: b.kind,
    distro: b.distro,
    sourceRepo,
    role,
    applets: [...applets].sort(),
  };
  if (p.supplier) info.supplier = p.supplier;
  if (p.homepage) info.homepage = p.homepage;
  return info;
}
