/** rpm/dnf backend (Fedora, RHEL, Rocky, Alma). Queries go to `rpm --root R
 * --dbpath D` (batched: one process for all names or paths); transactions run
 * the host's `dnf --installroot R` (for "/" that is plain dnf), which also
 * takes local .rpm files. The database is found where the root keeps it
 * (/usr/lib/sysimage/rpm, or /var/lib/rpm on older systems) and named on
 * every call: Debian's rpm, for one, defaults to ~/.rpmdb. dnf has no
 * --dbpath, so it gets a private HOME whose .rpmmacros sets %_dbpath (rpm
 * reads ~/.rpmmacros last; the path is relative to the installroot). rpm has
 * no diversions: an upgrade writes the package's file over a link, and the
 * engine's relink (run by the rpm file-trigger hook) puts the link back. */
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostPath } from "../config/paths.ts";
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import type { BackendOptions, HookPackage, InstalledPackage, ManagerWording, PackageBackend } from "./backend.ts";
import { decodeBase64Canonical } from "../encoding/base64.ts";
import { RPM_HOOK_FILE, RPM_HOOK_PACKAGE, RPM_HOOK_RPM_BASE64, RPM_HOOK_SCRIPT } from "./rpm-hook-package.ts";
import { run, type CommandResult } from "./exec.ts";
import { lockHoldersOf } from "./locks.ts";
import { usrMergeAlias } from "./dpkg.ts";
import { checkEntries, checkWritten, inTransaction, lastLine, type DatabaseLayout } from "./common.ts";
import { rpmHookScript } from "./hooks.ts";
import { seedDnfCache, sweepStaleDnfTemp } from "./dnfcache.ts";
import { readOsId } from "./osrelease.ts";
import { nodeOs } from "../sys/index.ts";

/** Where rpm databases live, newest convention first. */
export const RPM_DB_PATHS = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"] as const;

// Epoch only when set, as rpm itself prints E:V-R.
const EVR = "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}";
/** One header line per package ("@@" cannot start a path), then its files. */
export const INSTALLED_QF = `@@%{NAME}\\t${EVR}\\t%{ARCH}\\t%{VENDOR}\\t%{URL}\\n[%{FILENAMES}\\n]`;
export const VERSIONS_QF = `%{NAME}\\t${EVR}\\n`;
/** Each owning package's file list, every line tagged with its name (%{=…}
 * repeats a scalar inside an array iterator). */
export const OWNERS_QF = "[%{FILENAMES}\\t%{=NAME}\\n]";

function field(v: string | undefined): string | undefined {
  return v && v !== "(none)" ? v : undefined;
}

/** Parse `rpm -q --qf INSTALLED_QF` output; pure. "package X is not
 * installed" lines are skipped; a name asked twice is listed once. */
export function parseRpmInstalled(out: string): Map<string, InstalledPackage> {
  const result = new Map<string, InstalledPackage>();
  let cur: InstalledPackage | null = null;
  for (const line of out.split("\n")) {
    if (line.startsWith("@@")) {
      const [name, version, arch, vendor, url] = line.slice(2).split("\t");
      if (!name || !version) { cur = null; continue; }
      if (result.has(name)) { cur = null; continue; }
      cur = { name, version, arch: arch ?? "", files: [] };
      const supplier = field(vendor);
      const home = field(url);
      if (supplier) cur.supplier = supplier;
      if (home) cur.homepage = home;
      result.set(name, cur);
    }
    else if (line.startsWith("/") && cur) cur.files.push(line);
  }
  return result;
}

/** Parse `rpm -qa --qf VERSIONS_QF`; pure. gpg-pubkey entries are keys, not packages. */
export function parseRpmVersions(out: string): Map<string, string> {
  const out2 = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [name, version] = line.split("\t");
    if (name && version && name !== "gpg-pubkey") out2.set(name, version);
  }
  return out2;
}

/** Parse `rpm -qf --qf '[%{FILENAMES}\t%{NAME}\n]' PATHS` (each owning
 * package's whole file list, tagged with its name) into path → owner; pure. */
export function parseRpmOwnerLists(out: string): Map<string, string> {
  const owners = new Map<string, string>();
  for (const line of out.split("\n")) {
    const tab = line.lastIndexOf("\t");
    if (!line.startsWith("/") || tab < 0) continue;
    const path = line.slice(0, tab);
    if (!owners.has(path)) owners.set(path, line.slice(tab + 1));
  }
  return owners;
}

/** Packages a `dnf --assumeno install|remove|upgrade` transaction table
 * would change, and those it would remove; pure. Section headers end in ':'
 * ("Installing:", "Upgrading:", "Removing unused dependencies:"); package
 * rows are " name  arch  version  repo  size" (a long name wraps alone onto
 * its own line); "replacing" rows under upgrades name obsoleted packages. */
export function parseDnfTransaction(out: string): { changed: string[]; removed: string[] } {
  const changed = new Set<string>();
  const removed = new Set<string>();
  let section: string | null = null;
  for (const line of out.split("\n")) {
    if (/^[A-Z][A-Za-z ]*:$/.test(line)) {
      section = line.slice(0, -1);
      continue;
    }
    if (/^Transaction Summary|^=+$/.test(line)) {
      if (line.startsWith("Transaction")) section = null;
      continue;
    }
    if (!section) continue;
    const replacing = /^ {3,}replacing +(\S+)\.[^.\s]+ /.exec(line);
    if (replacing) {
      changed.add(replacing[1]!);
      removed.add(replacing[1]!);
      continue;
    }
    const row = /^ (\S+)(\s|$)/.exec(line);
    if (!row) continue;
    changed.add(row[1]!);
    if (/^(Removing|Obsoleting)/.test(section)) removed.add(row[1]!);
  }
  return { changed: [...changed].sort(), removed: [...removed].sort() };
}

/** Parse `dnf repoquery --installed --qf '%{name}\t%{from_repo}'`; pure.
 * dnf prints "@System" or nothing when it did not record the repository
 * (the package came from a local file or from bare rpm): that is "local". */
export function parseFromRepo(out: string): Map<string, string> {
  const repos = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [name, repo] = line.split("\t");
    if (!name || repo === undefined || name.includes(" ")) continue;
    const r = repo.trim();
    repos.set(name, !r || r === "@System" || r === "(none)" || r === "@commandline" ? "local" : r);
  }
  return repos;
}

/** dnf's last error line ("Error: …", "No match for argument: …"); pure. */
export function dnfError(out: string): string {
  const lines = out.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => l.startsWith("Error:")) ?? lines.find((l) => /^No match|^Problem/.test(l)) ?? lines[lines.length - 1] ?? "";
}

/** rpm has no hook directory: file triggers (%transfiletriggerin and
 * %transfiletriggerpostun on /usr/bin and /usr/sbin) live in the database,
 * in a package of their own, so they fire for dnf, PackageKit and bare
 * `rpm -U` alike (see docs/upgrades.md). */
export const RPM_HOOKS: HookPackage = {
  name: RPM_HOOK_PACKAGE,
  packageFile: `/usr/lib/pkgswitch/${RPM_HOOK_FILE}`,
  files: (binary) => [
    { path: RPM_HOOK_SCRIPT, content: rpmHookScript(binary), mode: 0o755 },
    { path: `/usr/lib/pkgswitch/${RPM_HOOK_FILE}`, content: decodeBase64Canonical(RPM_HOOK_RPM_BASE64)!, mode: 0o644 },
  ],
};

export const RPM_WORDING: ManagerWording = {
  installer: "dnf",
  transaction: { install: "dnf install", remove: "dnf remove" },
  reinstall: (packages) => `dnf reinstall ${packages.join(" ")}`,
  manPages: ["rpm(8)", "dnf(8)"],
};

/** A new private dir in the host's temp dir for dnf. A full or read-only
 * temp dir is the operator's to fix, said in one line (exit 70, as other
 * lack of space), not a raw ENOSPC later read as a half-done switch. */
function dnfTempDir(prefix: string): string {
  const dir = nodeOs().tmpdir();
  return inTempDir(dir, () => mkdtempSync(join(dir, prefix)));
}

function inTempDir<T>(dir: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new PkgswitchError(Exit.PERMISSION, `cannot write dnf's temp files in ${dir} (${why}); it must be a writable directory with free space (or point TMPDIR elsewhere); then run the command again`);
  }
}

export class RpmBackend implements PackageBackend {
  readonly kind = "rpm" as const;
  readonly wording = RPM_WORDING;
  readonly distro: string;
  readonly usrMerged: boolean;
  /** The root's database directory, as a path inside the root. */
  readonly dbPath: string;
  /** rpm --root/--dbpath and dnf --installroot run on the host: the rpm
   * database, and what dnf reads and writes under the installroot (its
   * history and lock pid, configuration and repositories, cache, logs),
   * are reached through the root's links by the kernel (factory.ts checks
   * where they lead). Fedora's /var/lib/rpm → ../../usr/lib/sysimage/rpm
   * stays inside the root and passes. Their files are opened by name too:
   * SQLite resolves a link at rpmdb.sqlite or history.sqlite with
   * readlink(2) and opens, and writes the -shm beside, whatever it names;
   * dnf reads dnf.conf, *.repo, vars and module files, and appends to its
   * logs; rpm creates .rpm.lock. So no entry of those may be a link. */
  readonly database: DatabaseLayout;
  readonly hookPackage = RPM_HOOKS;
  /** File lists of the last installed() answer: ownership of their paths
   * needs no second query (enable asks about paths taken from them). */
  private known = new Map<string, string>();

  constructor(private readonly opts: BackendOptions) {
    const db = RPM_DB_PATHS.find((p) => existsSync(hostPath(opts.root, p)));
    if (!db) throw new PkgswitchError(Exit.PREFLIGHT, `${opts.root} is not an rpm system (no ${RPM_DB_PATHS.join(" or ")})`);
    this.dbPath = db;
    this.database = {
      dirs: ["/etc/dnf", "/var/cache/dnf", "/var/log"],
      files: ["/etc/dnf/dnf.conf"],
      entries: [
        { dir: db },
        { dir: "/var/lib/dnf", depth: 1 },
        { dir: "/etc/yum.repos.d", names: /\.repo$/ },
        { dir: "/etc/dnf/vars" },
        { dir: "/etc/dnf/modules.d" },
        { dir: "/etc/dnf/protected.d" },
        { dir: "/var/log", names: /^(dnf|hawkey)\b.*\.log/ },
      ],
      // dnf (4, traced) writes in its cache by name, following a link:
      // expired_repos.json and tempfiles.json (truncated, after the
      // scriptlets ran), metadata_lock.pid, and per repository
      // <id>-<hash>/repodata/*, packages/*.rpm and tmpdir.*/repodata/*:
      // three levels. A transaction now writes a private copy (dnfcache.ts);
      // the root's is still checked, before and after, as what seeds it.
      written: [{ dir: "/var/cache/dnf", depth: 3 }],
    };
    this.usrMerged = lstatSync(hostPath(opts.root, "/bin"), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    this.distro = readOsId(opts.root, "fedora");
  }

  private exec(argv: string[], env?: Record<string, string>): CommandResult {
    const r = run(argv, env ? { env } : {});
    this.opts.observe(r);
    return r;
  }

  private rpm(args: string[]): CommandResult {
    // rpm --root and dnf --installroot run on the host and follow the
    // root's links (this.database).
    checkEntries(this.opts.root, this.database);
    const r = this.exec(["rpm", "--root", this.opts.root, "--dbpath", this.dbPath, ...args]);
    // rc counts names/paths that did not match; only a database failure is fatal.
    if (r.rc !== 0 && /error: (cannot open|db\d?|sqlite|rpmdb)/i.test(r.stderr)) {
      throw new PkgswitchError(Exit.PKGMGR, `rpm ${args[0]} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr)}`);
    }
    return r;
  }

  /** Run dnf against the root with a private HOME (for %_dbpath). Read-only
   * runs keep dnf's metadata cache and logs in that temp dir too, and so do
   * transactions on a root other than "/", in `work` (dnfcache.ts: dnf
   * writes them by name after the scriptlets ran). HOME is removed
   * afterwards; `work` is the caller's. */
  private dnf(args: string[], readOnly: boolean, work?: string): CommandResult {
    checkEntries(this.opts.root, this.database);
    const home = dnfTempDir("pkgswitch-dnf-");
    try {
      inTempDir(home, () => writeFileSync(join(home, ".rpmmacros"), `%_dbpath ${this.dbPath}\n`));
      const opts = ["--installroot", this.opts.root, "--setopt=exit_on_lock=True", "--setopt=install_weak_deps=False"];
      // The host's dnf plugins are the host's: for another root they would
      // act on the host (the "local" plugin copies packages to its /var/lib/dnf).
      if (this.opts.root !== "/") opts.push("--noplugins");
      const dirs = readOnly ? home : work;
      if (dirs) {
        // "/../../…/tmp/x" is /tmp/x once dnf prefixes the installroot. dnf
        // still opens its history database (/var/lib/dnf/history.sqlite) in
        // place, as any dnf query does, and rpm its index: those two are the
        // only files under the root a dry run's queries touch.
        const out = (p: string) => "/" + "../".repeat(64) + join(dirs, p).slice(1);
        opts.push(`--setopt=cachedir=${out("cache")}`, `--setopt=logdir=${out("log")}`);
      }
      try {
        return this.exec(["dnf", ...opts, ...args], { HOME: home });
      } catch (e) {
        // No dnf (a minimal image has rpm only): the caller decides what that means.
        const argv = ["dnf", ...opts, ...args];
        return { argv, rc: 127, stdout: "", stderr: `dnf: ${(e as Error).message}`, durationMs: 0 };
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }

  installed(names: string[]): Map<string, InstalledPackage> {
    if (names.length === 0) return new Map();
    const found = parseRpmInstalled(this.rpm(["-q", "--qf", INSTALLED_QF, ...names]).stdout);
    this.known = new Map();
    for (const p of found.values()) for (const f of p.files) this.known.set(f, p.name);
    return found;
  }

  versions(): Map<string, string> {
    return parseRpmVersions(this.rpm(["-qa", "--qf", VERSIONS_QF]).stdout);
  }

  simulate(action: "install" | "remove", names: string[]): { changed: string[]; removed: string[] } {
    const r = this.dnf(["--assumeno", action, ...names], true);
    const text = r.stdout + "\n" + r.stderr;
    // --assumeno always exits 1; the table (or "Nothing to do.") says it would work.
    if (/^Error:|^No match for argument/m.test(text) || !/Operation aborted\.|Nothing to do\./.test(text)) {
      throw new PkgswitchError(Exit.PKGMGR, `dnf ${action} ${names.join(" ")} would fail in ${this.opts.root} (exit ${r.rc}): ${dnfError(text)}`);
    }
    return parseDnfTransaction(r.stdout);
  }

  owners(paths: string[]): Map<string, string | null> {
    const result = new Map<string, string | null>(paths.map((p) => [p, null]));
    const lookup = (p: string, table: Map<string, string>) => {
      const alias = usrMergeAlias(p);
      return table.get(p) ?? (alias && this.usrMerged ? table.get(alias) : undefined);
    };
    const unknown: string[] = [];
    for (const p of paths) {
      const o = lookup(p, this.known);
      if (o) result.set(p, o);
      else unknown.push(p);
    }
    if (unknown.length === 0) return result;
    // rpm -qf prints one answer per path, but a path with two owners prints
    // two: print each owner's file list instead and look the paths up in it.
    const found = parseRpmOwnerLists(this.rpm(["-qf", "--qf", OWNERS_QF, ...unknown]).stdout);
    for (const p of unknown) result.set(p, lookup(p, found) ?? null);
    return result;
  }

  sourceRepos(names: string[]): Map<string, string> {
    const repos = new Map<string, string>(names.map((n) => [n, "unknown"]));
    if (names.length === 0) return repos;
    const r = this.dnf(["-q", "--cacheonly", "repoquery", "--installed", "--qf", "%{name}\\t%{from_repo}", ...names], true);
    if (r.rc !== 0) return repos;
    for (const [k, v] of parseFromRepo(r.stdout)) if (repos.has(k)) repos.set(k, v);
    return repos;
  }

  install(names: string[]): void {
    this.transact(["install", ...names], "install");
  }

  remove(names: string[]): void {
    this.transact(["remove", ...names], "remove");
  }

  private transact(args: string[], what: string): void {
    if (this.opts.readOnly) throw new Error("internal: package change attempted in read-only mode");
    const holder = this.lockHolder();
    if (holder) throw new PkgswitchError(Exit.LOCKED, `rpm database is locked (${holder}); try again when the other package operation ends`);
    const root = this.opts.root;
    // What a killed run left in the host's temp dir (its finally never ran).
    sweepStaleDnfTemp();
    // For a root other than "/": dnf's cache and logs in a private dir
    // (dnfcache.ts), seeded from the root's cache; nothing is written back.
    // The root's cache, which seeds the private one: checked before every
    // transaction (a no-op for "/"), here only, never remembered.
    checkEntries(root, this.database);
    checkWritten(root, this.database);
    const work = root === "/" ? undefined : dnfTempDir("pkgswitch-dnfwork-");
    let r: CommandResult;
    try {
      if (work) seedDnfCache(root, join(work, "cache"));
      r = inTransaction(() => this.dnf(["-y", "-q", ...args], false, work));
      // What dnf and rpm still open by name under the root once the
      // scriptlets ran (rpm's -wal, dnf's rpmdb_lock.pid, through their
      // directories) is checked at once, not only before the next tool: a
      // link planted there stops the operation here (exit 70, saying the
      // transaction ran).
      checkEntries(root, this.database);
      checkWritten(root, this.database);
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
    if (r.rc !== 0) {
      const text = r.stderr + "\n" + r.stdout;
      if (/Waiting for process|transaction lock|another copy is running|can't create transaction lock/i.test(text)) {
        throw new PkgswitchError(Exit.LOCKED, `rpm database is locked: ${dnfError(text)}`);
      }
      throw new PkgswitchError(Exit.PKGMGR, `dnf ${what} ${args.slice(1).join(" ")} failed in ${this.opts.root} (exit ${r.rc}): ${dnfError(text)}`);
    }
  }

  /** rpm holds an fcntl lock on <db>/.rpm.lock during a transaction; dnf
   * writes its pid to /var/lib/dnf/rpmdb_lock.pid while it runs one. */
  lockHolder(): string | null {
    const held = lockHoldersOf([hostPath(this.opts.root, `${this.dbPath}/.rpm.lock`)]);
    if (held) return held;
    const pidFile = hostPath(this.opts.root, "/var/lib/dnf/rpmdb_lock.pid");
    try {
      // Asked before any rpm or dnf runs (and before checkEntries): never
      // through a link to a host file, never waiting on a FIFO.
      const pid = Number(readBoundedText(pidFile, { max: READ_LIMIT.small, noFollow: true }).trim());
      if (Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`)) return `${pidFile} by pid ${pid}`;
    } catch {}
    return null;
  }
}
