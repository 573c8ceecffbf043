/** dpkg/apt backend. Queries go to `dpkg-query --root` (no chroot needed,
 * batched: one process for all paths); installs run `apt-get` inside the root.
 * Debian 12 is usrmerged but dpkg's database still records 29 coreutils files
 * under `/bin/…`: ownership queries ask for both spellings. */
import { closeSync, constants, existsSync, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fsyncDir } from "../fsops/atomic.ts";
import { formatDivertDb, listProblem, parseDivertDb, planAdd, planRemove } from "./divertdb.ts";
import { hostPath, resolveInRoot } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import type { BackendOptions, Diversion, Diverter, InstalledPackage, ManagerWording, PackageBackend } from "./backend.ts";
import { checkDatabase, checkEntries, inTransaction, lastLine, parseSimulation, type DatabaseLayout } from "./common.ts";
import { DpkgNative } from "./dpkg-native.ts";
import { inRoot, run, runAsync, type CommandResult } from "./exec.ts";
import { lockHoldersOf } from "./locks.ts";
import { READ_LIMIT, readBounded, readBoundedText } from "../config/bounded.ts";
import { dpkgPendingRemovals } from "./invoker.ts";
import { readOsId } from "./osrelease.ts";

/** dpkg-query --root and dpkg-divert --root open <root>/var/lib/dpkg on
 * the host (factory.ts checks where that leads) and read, by name and
 * following a link (dpkg 1.21, traced): status, diversions, arch,
 * triggers/File and triggers/Unincorp, info/format, every journal in
 * updates/ (all-digit names), and the info/<pkg>.list file lists (-S reads
 * every one, -W with db-fsys:Files those of the packages named). A link
 * there would put a host file's lines into the answers — file lists, owners,
 * versions — and so into the audit record. All are regular files that dpkg
 * itself replaces by rename. (md5sums, conffiles and available are not read
 * by the queries pkgswitch makes.) No `written`: what a transaction writes
 * by name (apt's /var/cache/apt, /var/lib/apt/lists, /var/log/apt; dpkg's
 * status-old, dpkg.log) is written by apt-get and dpkg run inside the root
 * (chroot), where a link resolves inside it too; on the host only
 * dpkg-divert writes (diversions-new, diversions-old: beforeDivert). */
export const DPKG_DATABASE: DatabaseLayout = {
  dirs: ["/var/lib/dpkg", "/var/lib/dpkg/triggers"],
  files: ["status", "diversions", "arch", "triggers/File", "triggers/Unincorp", "info/format"].map((f) => `/var/lib/dpkg/${f}`),
  entries: [
    { dir: "/var/lib/dpkg/info", names: /\.list$/ },
    { dir: "/var/lib/dpkg/updates", names: /^[0-9]+$/ },
  ],
};

/** Below this many entries a batch goes to dpkg-divert, one call each. */
const DIRECT_DIVERT_MIN = 4;

const FIELDS = "${binary:Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Maintainer}\\t${Homepage}\\n${db-fsys:Files}";

/** dpkg-query -S takes fnmatch patterns: escape the metacharacters. */
export function escapeGlob(path: string): string {
  return path.replace(/[\\[\]*?]/g, (c) => "\\" + c);
}

/** The other spelling of a path under usrmerge (/usr/bin/x ↔ /bin/x). */
export function usrMergeAlias(path: string): string | null {
  for (const d of ["/bin/", "/sbin/", "/lib/", "/lib64/"]) {
    if (path.startsWith("/usr" + d)) return path.slice(4);
    if (path.startsWith(d)) return "/usr" + path;
  }
  return null;
}

/** Parse `dpkg-query -W -f=FIELDS` output; pure. */
export function parseInstalled(out: string): Map<string, InstalledPackage> {
  const result = new Map<string, InstalledPackage>();
  let cur: InstalledPackage | null = null;
  for (const line of out.split("\n")) {
    if (line.startsWith(" ")) {
      const f = line.slice(1);
      if (cur && f !== "/.") cur.files.push(f);
      continue;
    }
    if (line === "") continue;
    const [pkg, version, arch, status, maint, home] = line.split("\t");
    cur = null;
    // Second letter "i" = installed (ii, hi on hold, ri, pi); "c"onfig-files,
    // "h"alf-installed and the rest are not.
    if (!pkg || status?.[1] !== "i") continue;
    const name = pkg.replace(/:[a-z0-9]+$/, "");
    cur = { name, version: version!, arch: arch!, files: [] };
    if (maint) cur.supplier = maint;
    if (home) cur.homepage = home;
    result.set(name, cur);
  }
  return result;
}

/** Parse `dpkg-query -S` output ("pkg1, pkg2: /path" lines); pure. */
export function parseSearch(out: string): Map<string, string> {
  const owners = new Map<string, string>();
  for (const line of out.split("\n")) {
    // "diversion by P from: …", "local diversion from: …/to: …" name no owner.
    if (!line || /^(local )?diversion (by|from|to)\b/.test(line)) continue;
    const i = line.indexOf(": /");
    if (i < 0) continue;
    owners.set(line.slice(i + 2), line.slice(0, i).split(", ")[0]!.replace(/:[a-z0-9]+$/, ""));
  }
  return owners;
}

/** Parse `apt-cache policy` into package → source of the installed version; pure.
 * "debian bookworm/main" style for a repository, "local" when only dpkg's
 * status file knows the version (installed from a .deb), "unknown" otherwise. */
export function parsePolicy(out: string): Map<string, string> {
  const repos = new Map<string, string>();
  let pkg: string | null = null;
  let inInstalled = false;
  for (const line of out.split("\n")) {
    const header = /^(\S+):$/.exec(line);
    if (header) {
      pkg = header[1]!.replace(/:[a-z0-9]+$/, "");
      inInstalled = false;
      continue;
    }
    if (!pkg) continue;
    if (/^ \*\*\* /.test(line)) {
      inInstalled = true;
      repos.set(pkg, "local");
      continue;
    }
    if (/^ {5}\S/.test(line)) inInstalled = false; // next version in the table
    // Source lines: priority printed as %4i after spaces (1001, 500, 1, -10).
    const src = /^ {6,}-?\d+ (\S+) (\S+) (\S+) Packages$/.exec(line);
    if (inInstalled && src && repos.get(pkg) === "local") {
      const host = src[1]!.replace(/^[a-z+]+:\/\//, "").replace(/\/$/, "");
      repos.set(pkg, `${host} ${src[2]}`);
    }
  }
  return repos;
}

/** Parse /var/lib/dpkg/diversions (records of three lines: from, to,
 * package — ":" for a local diversion); pure. */
export function parseDiversions(text: string): Map<string, Diversion> {
  const lines = text.split("\n");
  const out = new Map<string, Diversion>();
  for (let i = 0; i + 2 < lines.length; i += 3) {
    out.set(lines[i]!, { from: lines[i]!, to: lines[i + 1]!, by: lines[i + 2]! });
  }
  return out;
}

export { parseSimulation } from "./common.ts";

export const DPKG_WORDING: ManagerWording = {
  installer: "apt-get",
  transaction: { install: "apt-get install", remove: "apt-get remove" },
  reinstall: (packages) => `apt-get install --reinstall ${packages.join(" ")}`,
  manPages: ["dpkg(1)", "apt-get(8)"],
};

export class DpkgBackend implements PackageBackend {
  readonly kind = "dpkg" as const;
  readonly distro: string;
  readonly usrMerged: boolean;
  readonly wording = DPKG_WORDING;
  readonly database = DPKG_DATABASE;
  readonly diverter: Diverter = {
    noun: "dpkg diversion",
    list: () => {
      try {
        // Never through a link (or a FIFO) out of the root: such a file is
        // no database (opening the backend refuses it; a link planted since
        // reads as none, and any change of diversions refuses it again).
        return parseDiversions(readBoundedText(hostPath(this.opts.root, "/var/lib/dpkg/diversions"), { max: READ_LIMIT.record, noFollow: true }));
      } catch {
        return new Map();
      }
    },
    // dpkg-divert has no batch mode; it is a small C program (~5 ms a call)
    // and takes no dpkg lock, so it also works from apt's hooks. A batch is
    // one write of the database instead (see writeDiversions); a few
    // entries, or anything out of the ordinary, go to dpkg-divert.
    add: (entries) => {
      if (this.writeDiversions(entries.length, (r) => planAdd(r, entries), (out) => listProblem(out, entries, []))) return;
      for (const e of entries) this.divertCall(["--local", "--divert", e.to, "--add", e.from]);
    },
    remove: (paths) => {
      if (this.writeDiversions(paths.length, (r) => planRemove(r, paths), (out) => listProblem(out, [], paths))) return;
      for (const p of paths) this.divertCall(["--remove", p]);
    },
  };

  readonly native: DpkgNative;

  maintainerScripts(): string[] {
    const dir = "/var/lib/dpkg/info";
    const host = hostPath(this.opts.root, dir);
    if (!existsSync(host)) return [];
    return readdirSync(host).filter((f) => /\.(preinst|postinst|prerm|postrm)$/.test(f)).sort().map((f) => `${dir}/${f}`);
  }

  constructor(private readonly opts: BackendOptions) {
    const root = opts.root;
    if (!existsSync(hostPath(root, "/var/lib/dpkg/status"))) {
      throw new PkgswitchError(Exit.PREFLIGHT, `${root} is not a dpkg system (no /var/lib/dpkg/status); only dpkg/apt roots are supported so far`);
    }
    this.usrMerged = lstatSync(hostPath(root, "/bin"), { throwIfNoEntry: false })?.isSymbolicLink() ?? false;
    this.distro = readOsId(root, "debian");
    this.native = new DpkgNative({
      root,
      readOnly: opts.readOnly,
      exec: (argv, chroot) => this.exec(argv, chroot),
      installed: (names) => this.installed(names),
      mayHold: (names) => this.mayHold(names),
      owners: (paths) => this.owners(paths),
      lockHolder: () => this.lockHolder(),
    });
  }

  /** In a dry run apt must write nothing inside the root: no rebuilt cache
   * files, no planner log (/var/log/apt/eipp.log.xz). */
  private noCache(): string[] {
    return this.opts.readOnly ? ["-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=", "-o", "Dir::Log::Planner="] : [];
  }

  private divertCall(args: string[]): void {
    if (this.opts.readOnly) throw new Error("internal: diversion change attempted in read-only mode");
    this.beforeDivert();
    const r = this.exec(["dpkg-divert", `--root=${this.opts.root}`, "--no-rename", ...args], false);
    if (r.rc !== 0) throw new PkgswitchError(Exit.PKGMGR, `dpkg-divert ${args.join(" ")} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
  }

  /** What dpkg-divert (1.21, lib/dpkg/atomic-file.c) opens by name, made
   * safe before each call: it writes diversions-new with fopen("w"), which
   * follows a link planted there to any file on the host and truncates it,
   * then renames it over diversions (which then IS that link); it reads
   * diversions with fopen("r") (a link: a host file's text, a FIFO: a
   * hang); it unlinks diversions-old (a directory there fails the call
   * after the write). So: the admin directory leads where it does inside
   * the root; diversions-new, which dpkg recreates, is removed; a
   * diversions-old that is not a regular file is removed; a diversions
   * that is not one is refused, as is a directory at either name (opening
   * the backend already refused such a diversions with exit 70; one met
   * here, mid-operation, makes the engine roll back: exit 40).
   * Each call is prepared afresh: a call's own rename or a maintainer
   * script may have changed them. */
  private beforeDivert(): void {
    const root = this.opts.root;
    checkDatabase(root, DPKG_DATABASE);
    const admin = resolveInRoot(root, "/var/lib/dpkg");
    for (const name of ["diversions-new", "diversions-old"]) {
      const p = join(admin, name);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st || (name === "diversions-old" && st.isFile())) continue;
      if (st.isDirectory()) throw new PkgswitchError(Exit.PERMISSION, `${p} is a directory where dpkg-divert writes a file; move it aside`);
      unlinkSync(p);
    }
  }

  /**
   * Apply a batch of diversion changes as one write of dpkg's diversions
   * database, the way dpkg-divert writes it (./divertdb.ts): whole file to
   * diversions-new (0644), fsync, old file hard-linked to diversions-old,
   * rename, and (beyond dpkg-divert) an fsync of the directory. Then one
   * `dpkg-divert --list` — dpkg reading the file back — must show exactly
   * the change, else exit 20. dpkg-divert takes no lock and neither does
   * this; it writes only while no process holds dpkg's locks (checked before
   * reading and again before the rename), so inside a package transaction
   * (apt's hooks) the calls go to dpkg-divert as maintainer scripts' do.
   * Returns false, having changed nothing, when the batch is left to
   * dpkg-divert: fewer than DIRECT_DIVERT_MIN entries (the --list check
   * costs about what a few calls do), a lock held, a symlink on the way to
   * the database (dpkg-divert would resolve it on the host), or anything
   * the planner does not accept as plain.
   */
  private writeDiversions(count: number, plan: (records: Diversion[]) => { records: Diversion[]; changed: boolean } | null, problem: (listOut: string) => string | null): boolean {
    if (this.opts.readOnly) throw new Error("internal: diversion change attempted in read-only mode");
    if (count < DIRECT_DIVERT_MIN) return false;
    const root = this.opts.root;
    const admin = join(root, "var/lib/dpkg");
    if (hostPath(root, "/var/lib/dpkg") !== admin || !lstatSync(admin, { throwIfNoEntry: false })?.isDirectory()) return false;
    if (this.lockHolder()) return false;
    const db = join(admin, "diversions");
    let text = "";
    try {
      text = readBoundedText(db, { max: READ_LIMIT.record, noFollow: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") return false;
    }
    const records = parseDivertDb(text);
    const next = records && plan(records);
    if (!next) return false;
    // dpkg-divert refuses to divert a directory (lstat of root + name).
    const old = new Set(records);
    for (const r of next.records) {
      if (old.has(r)) continue;
      try {
        if (lstatSync(root + r.from, { throwIfNoEntry: false })?.isDirectory()) return false;
      } catch {
        return false; // dpkg-divert reports what is wrong with it
      }
    }
    if (next.changed) {
      // dpkg's own temp name, so dpkg cleans up after a crash here. A file
      // (or a planted link) left at that name is removed first, and the
      // new one created exclusively and never through a link: opening it
      // with "w" would follow a link to anywhere on the host and truncate it.
      const fresh = `${db}-new`;
      rmSync(fresh, { force: true });
      const fd = openSync(fresh, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      try {
        fchmodSync(fd, 0o644);
        const buf = Buffer.from(formatDivertDb(next.records));
        for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
        fsyncSync(fd);
      } catch (e) {
        closeSync(fd);
        rmSync(fresh, { force: true });
        throw e;
      }
      closeSync(fd);
      if (this.lockHolder()) {
        rmSync(fresh, { force: true });
        return false;
      }
      rmSync(`${db}-old`, { force: true });
      try {
        linkSync(db, `${db}-old`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      renameSync(fresh, db);
      fsyncDir(admin);
    }
    const r = this.exec(["dpkg-divert", `--root=${root}`, "--list"], false);
    const wrong = r.rc !== 0 ? `exit ${r.rc}: ${lastLine(r.stderr || r.stdout)}` : problem(r.stdout);
    if (wrong) throw new PkgswitchError(Exit.PKGMGR, `dpkg does not read back the diversions written to ${db}: ${wrong}`);
    return true;
  }

  private exec(argv: string[], chroot: boolean): CommandResult {
    // On the host, dpkg's tools follow the root's links (DPKG_DATABASE).
    if (!chroot) checkEntries(this.opts.root, DPKG_DATABASE);
    const full = chroot ? inRoot(this.opts.root, argv) : argv;
    const r = run(full);
    this.opts.observe(r);
    return r;
  }

  private query(args: string[]): CommandResult {
    return this.exec(["dpkg-query", `--root=${this.opts.root}`, ...args], false);
  }

  /** Whether dpkg's database may hold any of `names`: a "Package:" stanza
   * in the status file, or journal entries (updates/) not yet folded into
   * it. False means dpkg-query -W would report none of them. Unsure (an
   * unreadable file): true, and the caller asks dpkg-query. */
  mayHold(names: string[]): boolean {
    try {
      const admin = hostPath(this.opts.root, "/var/lib/dpkg");
      if (readdirSync(join(admin, "updates")).some((n) => /^[0-9]+$/.test(n))) return true;
      // Not through a link, never blocking on a FIFO: unsure, and the
      // caller asks dpkg-query (opening the backend refused those anyway).
      const status = readBounded(join(admin, "status"), { max: READ_LIMIT.record, noFollow: true }).toString("latin1");
      return names.some((n) => status.startsWith(`Package: ${n}\n`) || status.includes(`\nPackage: ${n}\n`));
    } catch {
      return true;
    }
  }

  installed(names: string[]): Map<string, InstalledPackage> {
    if (names.length === 0) return new Map();
    // rc 1 just means some name is not installed; read what was printed.
    const r = this.query(["-W", `-f=${FIELDS}`, ...names]);
    if (r.rc > 1) throw this.failure("dpkg-query -W", r);
    return parseInstalled(r.stdout);
  }

  versions(): Map<string, string> {
    const r = this.query(["-W", "-f=${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n"]);
    if (r.rc > 1) throw this.failure("dpkg-query -W", r);
    const out = new Map<string, string>();
    for (const line of r.stdout.split("\n")) {
      const [pkg, version, status] = line.split("\t");
      if (pkg && status?.[1] === "i") out.set(pkg.replace(/:[a-z0-9]+$/, ""), version!);
    }
    return out;
  }

  simulate(action: "install" | "remove", names: string[]): { changed: string[]; removed: string[] } {
    const r = this.exec(["apt-get", ...this.noCache(), "-s", "-q", action, ...names], true);
    if (r.rc !== 0) throw new PkgswitchError(Exit.PKGMGR, `apt-get ${action} ${names.join(" ")} would fail in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
    return parseSimulation(r.stdout);
  }

  owners(paths: string[]): Map<string, string | null> {
    const result = new Map<string, string | null>(paths.map((p) => [p, null]));
    if (paths.length === 0) return result;
    const asked = new Set<string>();
    for (const p of paths) {
      asked.add(p);
      const alias = usrMergeAlias(p);
      if (alias && this.usrMerged) asked.add(alias);
    }
    const r = this.query(["-S", ...[...asked].map(escapeGlob)]);
    if (r.rc > 1) throw this.failure("dpkg-query -S", r);
    const found = parseSearch(r.stdout);
    for (const p of paths) {
      const alias = usrMergeAlias(p);
      result.set(p, found.get(p) ?? (alias ? found.get(alias) ?? null : null));
    }
    return result;
  }

  sourceRepos(names: string[]): Map<string, string> {
    const argv = this.policyArgv(names);
    return this.reposFrom(names, argv && this.exec(argv, true));
  }

  /** apt-cache takes 20-50 ms; enable asks it while dpkg-query and the
   * preflight run. */
  async sourceReposAsync(names: string[]): Promise<Map<string, string>> {
    const argv = this.policyArgv(names);
    if (!argv) return this.reposFrom(names, null);
    const r = await runAsync(inRoot(this.opts.root, argv));
    this.opts.observe(r);
    return this.reposFrom(names, r);
  }

  /** The apt-cache policy command for `names`, or null when there is nothing to ask. */
  private policyArgv(names: string[]): string[] | null {
    if (names.length === 0 || !existsSync(hostPath(this.opts.root, "/usr/bin/apt-cache"))) return null;
    return ["apt-cache", ...this.noCache(), "policy", ...names];
  }

  private reposFrom(names: string[], r: CommandResult | null): Map<string, string> {
    const repos = new Map<string, string>(names.map((n) => [n, "unknown"]));
    if (!r || r.rc !== 0) return repos;
    for (const [k, v] of parsePolicy(r.stdout)) repos.set(k, v);
    return repos;
  }

  install(names: string[]): void {
    this.apt(["install", "-y", "-q", "--no-install-recommends", ...names], "install");
  }

  remove(names: string[]): void {
    this.apt(["remove", "-y", "-q", ...names], "remove");
  }

  private apt(args: string[], what: string): void {
    if (this.opts.readOnly) throw new Error("internal: package change attempted in read-only mode");
    const holder = this.lockHolder();
    if (holder) throw new PkgswitchError(Exit.LOCKED, `dpkg lock is held (${holder}); try again when the other package operation ends`);
    const r = inTransaction(() => this.exec(["apt-get", ...args], true));
    if (r.rc !== 0) {
      if (/Could not get lock|Unable to acquire the dpkg/.test(r.stderr)) {
        throw new PkgswitchError(Exit.LOCKED, `dpkg lock is held: ${lastLine(r.stderr)}`);
      }
      throw new PkgswitchError(Exit.PKGMGR, `apt-get ${what} ${args.filter((a) => !a.startsWith("-")).slice(1).join(" ")} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
    }
  }

  pendingRemovals(candidates: string[]): string[] {
    return dpkgPendingRemovals(process.env, candidates);
  }

  lockHolder(): string | null {
    const files = ["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"].map((p) => hostPath(this.opts.root, p));
    return lockHoldersOf(files);
  }

  private failure(what: string, r: CommandResult): PkgswitchError {
    return new PkgswitchError(Exit.PKGMGR, `${what} failed in ${this.opts.root} (exit ${r.rc}): ${lastLine(r.stderr)}`);
  }
}
