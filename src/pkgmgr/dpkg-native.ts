/** Native switches on dpkg systems (docs/native.md): Ubuntu's
 * coreutils-from-gnu / coreutils-from-uutils pair, and update-alternatives
 * groups (/usr/bin/sudo → /usr/bin/sudo.ws or /usr/lib/cargo/bin/sudo).
 *
 * The package pair Provides/Conflicts the same virtual package and is
 * Protected. Asked to install the other side, apt (2.6) removes the active
 * one first and unpacks the new one after: in between every coreutils path
 * is missing, and dpkg itself stops ("'rm' not found in PATH"), leaving the
 * system without ls, cp, rm. So the switch is made by dpkg in one unpack:
 * apt installs the new side's dependencies and fetches its package file,
 * then `dpkg -i --force-conflicts` unpacks it over the active side (its
 * Replaces lets each path be renamed over, never removed) and dpkg removes
 * the old side once it owns no file; `dpkg -r` follows only if it did not. */
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { hostPath, BIN_DIRS } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";
import type { InstalledPackage, NativeFacts, NativeSide, NativeSpec, NativeSwitcher } from "./backend.ts";
import { inTransaction, lastLine, parseSimulation } from "./common.ts";
import type { CommandResult } from "./exec.ts";

export interface DpkgNativeDeps {
  root: string;
  readOnly: boolean;
  /** Run argv (inside the root when chroot), recorded. */
  exec(argv: string[], chroot: boolean): CommandResult;
  installed(names: string[]): Map<string, InstalledPackage>;
  /** False when dpkg's database cannot hold any of `names` (then
   * `installed(names)` is empty, known without starting dpkg-query). */
  mayHold(names: string[]): boolean;
  owners(paths: string[]): Map<string, string | null>;
  lockHolder(): string | null;
}

/** /var/lib/dpkg/alternatives/<name>: mode, link, slave pairs up to a blank
 * line, then per alternative its path, priority and one line per slave; pure. */
export function parseAlternatives(text: string): { link: string; slaves: string[]; alternatives: Array<{ path: string; priority: number }> } | null {
  const lines = text.split("\n");
  if (lines.length < 3 || !lines[1]!.startsWith("/")) return null;
  const link = lines[1]!;
  let i = 2;
  const slaves: string[] = [];
  while (i + 1 < lines.length && lines[i] !== "") {
    slaves.push(lines[i + 1]!);
    i += 2;
  }
  i++;
  const alternatives: Array<{ path: string; priority: number }> = [];
  while (i + 1 < lines.length && lines[i] !== "") {
    alternatives.push({ path: lines[i]!, priority: Number(lines[i + 1]) });
    i += 2 + slaves.length;
  }
  return { link, slaves, alternatives };
}

/** `'file:/srv/repo/./x_1_all.deb' x_1_all.deb 2346 SHA256:…` → the URI and file name; pure. */
export function parsePrintUris(out: string, pkg: string): { uri: string; file: string } | null {
  for (const m of out.matchAll(/^'([^']+)' (\S+) \d+/gm)) {
    if (m[2]!.startsWith(`${pkg}_`)) return { uri: m[1]!, file: m[2]! };
  }
  return null;
}

export class DpkgNative implements NativeSwitcher {
  constructor(private readonly d: DpkgNativeDeps) {}

  facts(spec: NativeSpec): NativeFacts | null {
    return spec.kind === "packages" ? this.packageFacts(spec) : this.alternativeFacts(spec);
  }

  private packageFacts(spec: Extract<NativeSpec, { kind: "packages" }>): NativeFacts | null {
    // Most roots have neither package (only Ubuntu ships the pair), and
    // `status` asks on every run: answer that case from the database file.
    if (!this.d.mayHold([spec.original, spec.replacement])) return null;
    const inst = this.d.installed([spec.original, spec.replacement]);
    const activeName = inst.has(spec.replacement) ? spec.replacement : inst.has(spec.original) ? spec.original : null;
    if (!activeName) return null;
    const paths = inst.get(activeName)!.files.filter((f) => (BIN_DIRS as readonly string[]).some((d) => f.startsWith(d + "/") && !f.slice(d.length + 1).includes("/")));
    return { active: activeName === spec.replacement ? "replacement" : "original", activeName, paths, packages: [...inst.keys()].sort() };
  }

  /** The alternative's record, or null when there is none. update-alternatives
   * writes it as a regular file; a link (which would be followed out of the
   * root), a FIFO (which would hang `status`) or anything else there is none. */
  private alternative(name: string): ReturnType<typeof parseAlternatives> {
    try {
      return parseAlternatives(readBoundedText(hostPath(this.d.root, `/var/lib/dpkg/alternatives/${name}`), { max: READ_LIMIT.record, noFollow: true }));
    } catch (e) {
      if (["ENOENT", "ENOTDIR", "ELOOP", "ENOTREG"].includes((e as NodeJS.ErrnoException).code ?? "")) return null;
      throw e;
    }
  }

  private alternativeFacts(spec: Extract<NativeSpec, { kind: "alternative" }>): NativeFacts | null {
    const alt = this.alternative(spec.name);
    if (!alt || !alt.alternatives.some((a) => a.path === spec.original || a.path === spec.replacement)) return null;
    const current = `/etc/alternatives/${spec.name}`;
    const st = lstatSync(hostPath(this.d.root, current), { throwIfNoEntry: false });
    const activeName = st?.isSymbolicLink() ? readlinkSync(hostPath(this.d.root, current)) : null;
    const active = activeName === spec.replacement ? "replacement" : activeName === spec.original ? "original" : null;
    const registered = alt.alternatives.map((a) => a.path).filter((p) => p === spec.original || p === spec.replacement);
    const owners = this.d.owners(registered);
    const packages = [...new Set([...owners.values()].filter((o): o is string => !!o))].sort();
    return { active, activeName, paths: [alt.link, current], packages };
  }

  plan(spec: NativeSpec, side: NativeSide): { install: string[]; remove: string[] } {
    if (spec.kind === "alternative") {
      const want = spec[side];
      const alt = this.alternative(spec.name);
      if (!alt?.alternatives.some((a) => a.path === want)) {
        throw new PkgswitchError(Exit.PREFLIGHT, `${want} is not registered as an alternative for ${spec.name} in ${this.d.root}; install the package that provides it first`);
      }
      return { install: [], remove: [] };
    }
    const want = spec[side];
    const other = side === "replacement" ? spec.original : spec.replacement;
    const r = this.d.exec(["apt-get", "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=", "-o", "Dir::Log::Planner=", "-s", "-q", "--allow-remove-essential", "install", want, `${other}-`], true);
    if (r.rc !== 0) throw new PkgswitchError(Exit.PKGMGR, `apt-get install ${want} ${other}- would fail in ${this.d.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
    const sim = parseSimulation(r.stdout);
    const extra = sim.removed.filter((n) => n !== other);
    if (extra.length > 0) throw new PkgswitchError(Exit.PREFLIGHT, `switching to ${want} would also remove ${extra.join(", ")} in ${this.d.root}; refusing (install ${want} by hand if that is meant)`);
    return { install: sim.changed.filter((n) => !sim.removed.includes(n)), remove: sim.removed };
  }

  apply(spec: NativeSpec, side: NativeSide): void {
    if (this.d.readOnly) throw new Error("internal: native switch attempted in read-only mode");
    const holder = this.d.lockHolder();
    if (holder) throw new PkgswitchError(Exit.LOCKED, `dpkg lock is held (${holder}); try again when the other package operation ends`);
    if (spec.kind === "alternative") {
      this.change(["update-alternatives", "--set", spec.name, spec[side]], `update-alternatives --set ${spec.name} ${spec[side]}`);
      return;
    }
    const want = spec[side];
    const other = side === "replacement" ? spec.original : spec.replacement;
    const { install } = this.plan(spec, side);
    const deps = install.filter((n) => n !== want);
    if (deps.length > 0) this.change(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...deps], `apt-get install ${deps.join(" ")}`);
    // Fetch the package file (a no-op for a file: repository, used in place).
    this.must(["apt-get", "install", "-y", "-q", "--download-only", "--allow-remove-essential", want, `${other}-`], `apt-get install --download-only ${want}`);
    const uris = this.must(["apt-get", "download", "--print-uris", want], `apt-get download --print-uris ${want}`);
    const found = parsePrintUris(uris.stdout, want);
    if (!found) throw new PkgswitchError(Exit.PKGMGR, `apt-get download --print-uris ${want} named no package file in ${this.d.root}`);
    const debPath = found.uri.startsWith("file:") ? decodeURIComponent(found.uri.slice("file:".length)).replace(/\/\.\//g, "/") : `/var/cache/apt/archives/${found.file}`;
    if (!existsSync(hostPath(this.d.root, debPath))) throw new PkgswitchError(Exit.PKGMGR, `the package file of ${want} is not at ${debPath} in ${this.d.root} after the download`);
    this.change(["dpkg", "-i", "--force-conflicts", debPath], `dpkg -i --force-conflicts ${debPath}`);
    if (this.d.installed([other]).has(other)) this.change(["dpkg", "-r", "--force-remove-protected", other], `dpkg -r ${other}`);
    const after = this.d.installed([want, other]);
    if (!after.has(want) || after.has(other)) throw new PkgswitchError(Exit.PKGMGR, `after the switch ${want} is ${after.has(want) ? "" : "not "}installed and ${other} is ${after.has(other) ? "still" : "not"} installed in ${this.d.root}`);
  }

  /** A command that changes the packages (dpkg runs their maintainer
   * scripts) or their alternatives: a transaction (common.ts). */
  private change(argv: string[], what: string): CommandResult {
    return inTransaction(() => this.must(argv, what));
  }

  private must(argv: string[], what: string): CommandResult {
    const r = this.d.exec(argv, true);
    if (r.rc !== 0) throw new PkgswitchError(Exit.PKGMGR, `${what} failed in ${this.d.root} (exit ${r.rc}): ${lastLine(r.stderr || r.stdout)}`);
    return r;
  }
}
