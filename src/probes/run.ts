/** Running probes inside the root, the original and the replacement side by
 * side. Each run starts in a work directory holding exactly the same fixtures
 * (fixed content, modes and time stamps; kept from the run before only if
 * that run changed nothing in it) under one scratch directory of ours inside
 * the root, which is removed at the end: the system itself is only read. */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join, posix } from "node:path";
import { hostPath } from "../config/paths.ts";
import { sha256File, sha256Hex } from "../hashing/hash.ts";
import { inRoot } from "../pkgmgr/exec.ts";
import { prepareChildren } from "../sys/index.ts";
import type { Corpus, Fixture, Probe } from "./corpus.ts";
import { compareObservations, type Comparison, type FileEntry, type Observation } from "./compare.ts";

/** One command to compare: where its original and its replacement are. */
export interface CommandPair {
  applet: string;
  /** The original: a path inside the root, or (once switched) a host file to copy in. */
  original: { inRoot: string } | { hostFile: string };
  /** The replacement's path inside the root. */
  replacement: string;
}

export interface ProbeResult {
  id: string;
  cmd: string;
  verdict: Comparison["verdict"];
  difference?: string;
  /** Where the probe came from: the corpus, or the root's own scripts. */
  origin: "corpus" | "scripts";
}

/** Fixture time stamps: 2020-01-01T00:00:00Z, so `ls -t`, `find -newer` and
 * `stat -c %Y` see the same times on both sides. */
export const FIXTURE_TIME = 1577836800;
const OUTPUT_CAP = 64 * 1024;
const TIMEOUT_MS = 5_000;
/** Up to this size a snapshot hashes a file from one `readFile`. */
const SMALL_FILE = 1 << 20;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The probes that apply to the switched commands, with the `every` probes
 * expanded per command; sorted by id for a stable report. Pure. */
export function applicable(corpus: Corpus, applets: ReadonlySet<string>): Probe[] {
  const out: Probe[] = corpus.probes.filter((p) => p.uses.every((u) => applets.has(u)));
  for (const cmd of [...applets].sort()) {
    for (const e of corpus.every) out.push({ id: `${cmd}:${e.id}`, cmd, args: e.args, uses: [cmd], files: {}, compare: e.compare, normalize: [], mtime: false });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// The per-run file work below (fixtures, snapshot, removal) is asynchronous:
// on the thread pool it overlaps the probes' own processes, where the
// synchronous calls held the one JS thread while finished children waited to
// be reaped and the next ones to be started (2.2k runs, ~20 entries each).
// Each run's steps still happen in the same order as before.

async function writeFixture(dir: string, rel: string, f: Fixture): Promise<void> {
  const p = join(dir, rel);
  await mkdir(posix.dirname(p), { recursive: true });
  if (typeof f === "string") await writeFile(p, f, { mode: 0o644 });
  else if (f.dir) await mkdir(p, { recursive: true });
  else if (f.link !== undefined) await symlink(f.link, p);
  else await writeFile(p, f.content ?? "", { mode: 0o644 });
  if (typeof f !== "string" && f.mode) await chmod(p, parseInt(f.mode, 8));
}

/** Lay out fixtures with fixed times. */
async function layFixtures(dir: string, fixtures: Record<string, Fixture>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [rel, f] of Object.entries(fixtures)) await writeFixture(dir, rel, f);
  await stampTimes(dir);
}

/** Every entry's access and modification time to FIXTURE_TIME (directories
 * last, deepest first, since creating an entry updates its parent's mtime;
 * on a reused work dir this undoes the access times the last run's reads
 * set). */
async function stampTimes(dir: string): Promise<void> {
  const dirs: string[] = [];
  const walk = async (d: string) => {
    for (const name of await readdir(d)) {
      const p = join(d, name);
      const st = await lstat(p);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) { await walk(p); dirs.push(p); }
      else await utimes(p, FIXTURE_TIME, FIXTURE_TIME);
    }
  };
  await walk(dir);
  for (const d of dirs) await utimes(d, FIXTURE_TIME, FIXTURE_TIME);
  await utimes(dir, FIXTURE_TIME, FIXTURE_TIME);
}

/** Whole seconds of a millisecond time, rounded down (as Math.floor). */
function floorSeconds(ms: bigint): number {
  return Number(ms >= 0n ? ms / 1000n : -((-ms + 999n) / 1000n));
}

/** Every entry under `dir`, sorted, with what the comparison looks at; and
 * a fingerprint of everything a probe could tell apart
 * in the tree: each entry as the snapshot has it, plus its inode number and
 * mtime to the nanosecond, each directory's listing in the order readdir
 * gives it, and the top directory's own status. Two equal fingerprints of one
 * work dir mean no run changed it (a file rewritten and its time put back
 * still differs in content or inode; an entry removed and made again changes
 * its directory's mtime and inode). Access times are not in it: stampTimes
 * resets them. */
async function snapshotWithPrint(dir: string): Promise<{ entries: FileEntry[]; print: string }> {
  const out: FileEntry[] = [];
  const print: string[] = [];
  const stat = async (p: string) => {
    const st = await lstat(p, { bigint: true });
    print.push(`${st.ino}:${st.mode}:${st.uid}:${st.gid}:${st.size}:${st.mtimeNs}:${st.nlink}`);
    return st;
  };
  const walk = async (d: string, rel: string) => {
    const names = await readdir(d);
    print.push(names.join("/"));
    for (const name of names.sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await stat(p);
      const kind: FileEntry["kind"] = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFIFO() ? "fifo" : "other";
      const e: FileEntry = { path: r, kind, mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid), size: kind === "file" ? Number(st.size) : 0, mtime: floorSeconds(st.mtimeMs) };
      // Small files (all fixtures) in one read; a large output streamed.
      if (kind === "file") e.sha256 = st.size <= SMALL_FILE ? sha256Hex(await readFile(p)) : await sha256File(p);
      if (kind === "symlink") { e.link = await readlink(p); e.mode = 0; }
      print.push(JSON.stringify(e));
      out.push(e);
      if (e.kind === "dir") await walk(p, r);
    }
  };
  await stat(dir);
  await walk(dir, "");
  return { entries: out, print: print.join("\n") };
}

/** Run a shell script inside the root, bounded in time and output. */
function runInRoot(root: string, script: string, env: Record<string, string>, stdin: string | undefined): Promise<Observation> {
  return new Promise((resolvePromise) => {
    const argv = inRoot(root, ["/bin/sh", "-c", script]);
    prepareChildren();
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outN = 0;
    let errN = 0;
    let timedOut = false;
    let startError: string | undefined;
    const timer = setTimeout(() => { timedOut = true; child.kill("SIGKILL"); }, TIMEOUT_MS);
    child.stdout.on("data", (b: Buffer) => { if (outN < OUTPUT_CAP) { out.push(b); outN += b.length; } else child.kill("SIGKILL"); });
    child.stderr.on("data", (b: Buffer) => { if (errN < OUTPUT_CAP) { err.push(b); errN += b.length; } });
    child.stdin.on("error", () => {}); // a command that never reads stdin
    child.stdin.end(stdin ?? "");
    child.on("error", (e) => { startError = e.message; });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const o: Observation = {
        status: code,
        stdout: Buffer.concat(out).toString("utf8", 0, Math.min(outN, OUTPUT_CAP)),
        stderr: Buffer.concat(err).toString("utf8", 0, Math.min(errN, OUTPUT_CAP)),
        files: [],
        timedOut,
      };
      if (signal && !timedOut) o.signal = signal;
      if (startError) o.error = startError;
      resolvePromise(o);
    });
  });
}

/** Remove scratch dirs a killed run left behind (its pid is gone). */
function sweepStale(parent: string): void {
  for (const name of readdirSync(parent)) {
    const m = /^check-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
}

/** A scratch area inside the root for one `check`: `bin-original/` and
 * `bin-replacement/` hold the commands of each side, `w/` the work dirs. */
export class Scratch {
  readonly host: string;
  readonly inRoot: string;
  /** `parent` is a path inside the root (the state dir by default: a
   * directory of ours, not the system's /tmp). */
  constructor(readonly root: string, parent: string) {
    const host = hostPath(root, parent);
    mkdirSync(host, { recursive: true, mode: 0o700 });
    sweepStale(host);
    this.host = mkdtempSync(join(host, `check-${process.pid}-`));
    this.inRoot = posix.join(parent, posix.basename(this.host));
  }
  /** The commands of each side, under the names scripts call them by. */
  populate(pairs: CommandPair[]): void {
    const orig = join(this.host, "bin-original");
    const repl = join(this.host, "bin-replacement");
    mkdirSync(orig);
    mkdirSync(repl);
    for (const p of pairs) {
      if ("inRoot" in p.original) symlinkSync(p.original.inRoot, join(orig, p.applet));
      else {
        // Never a setuid copy in /tmp: as root the probes need no setuid bit.
        copyFileSync(p.original.hostFile, join(orig, p.applet));
        chmodSync(join(orig, p.applet), 0o755);
      }
      symlinkSync(p.replacement, join(repl, p.applet));
    }
  }
  remove(): void {
    rmSync(this.host, { recursive: true, force: true });
  }
}

/** One side's work dir of one worker, kept from run to run while no run
 * changes it. Most probes only read their fixtures (cat, sort, ls …):
 * laying the fixtures out afresh for each of the ~1,100 runs, and removing
 * them after, made the file system allocate and free ~40,000 inodes, and on
 * ext4 inode allocation slows down as freed inodes pile up (the first
 * enable spent most of its time there: bench/README.md). */
class WorkDir {
  /** Fingerprint of the fixtures as laid out here; null when the dir is
   * missing or holds something else (a probe's own files, a run's changes). */
  private pristine: string | null = null;
  private generation = 0;

  constructor(private readonly scratch: Scratch, readonly name: string) {}

  get host(): string {
    return join(this.scratch.host, "w", this.name);
  }

  /** The same dir as the probe sees it, inside the root. */
  get inRoot(): string {
    return posix.join(this.scratch.inRoot, "w", this.name);
  }

  /** Make the dir hold exactly `fixtures` (with fixed times). `own` files of
   * a probe always mean a fresh layout, never kept afterwards. */
  async prepare(fixtures: Record<string, Fixture>, own: boolean, removals: Promise<void>[]): Promise<void> {
    if (this.pristine !== null && !own) return stampTimes(this.host);
    if (this.generation > 0) {
      // Out of the way at once (a rename), removed in the background.
      const old = join(this.scratch.host, "w", `old-${this.name}-${this.generation}`);
      try {
        await rename(this.host, old);
        removals.push(rm(old, { recursive: true, force: true }).catch(() => {}));
      } catch {
        await rm(this.host, { recursive: true, force: true });
      }
    }
    this.generation++;
    await layFixtures(this.host, fixtures);
    if (own) return;
    this.pristine = (await snapshotWithPrint(this.host)).print;
    await stampTimes(this.host); // the snapshot's reads set access times
  }

  /** The snapshot after a run; the dir is kept only if it is unchanged. */
  async snapshot(): Promise<FileEntry[]> {
    const { entries, print } = await snapshotWithPrint(this.host);
    if (print !== this.pristine) this.pristine = null;
    return entries;
  }
}

/** Run one probe on one side: its fixtures, the command, then a snapshot. */
async function observe(scratch: Scratch, wd: WorkDir, corpus: Corpus, probe: Probe, side: "original" | "replacement", removals: Promise<void>[]): Promise<{ obs: Observation; work: string }> {
  const own = Object.keys(probe.files).length > 0;
  await wd.prepare(own ? { ...corpus.fixtures, ...probe.files } : corpus.fixtures, own, removals);
  const work = wd.inRoot;
  const body = probe.sh ?? `exec ${[probe.cmd, ...probe.args].map(quote).join(" ")}`;
  const env = { PATH: `${posix.join(scratch.inRoot, `bin-${side}`)}:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: "C", TZ: "UTC", HOME: work, TMPDIR: work };
  const obs = await runInRoot(scratch.root, `cd ${quote(work)} || exit 125\n${body}`, env, probe.stdin);
  obs.files = await wd.snapshot();
  return { obs, work };
}

/** Run probes on both sides, `concurrency` at a time; results sorted by id. */
export async function runProbes(
  root: string,
  scratchParent: string,
  corpus: Corpus,
  pairs: CommandPair[],
  probes: Probe[],
  origin: (p: Probe) => ProbeResult["origin"] = () => "corpus",
  concurrency = Math.max(2, cpus().length * 2),
): Promise<ProbeResult[]> {
  const scratch = new Scratch(root, scratchParent);
  try {
    scratch.populate(pairs);
    const results: ProbeResult[] = new Array(probes.length);
    // Finished work dirs are removed in the background, all awaited before
    // the scratch dir goes (a failed removal is retried by that final rm).
    const removals: Promise<void>[] = [];
    let next = 0;
    let workers = 0;
    const worker = async () => {
      const k = workers++;
      const dirs = { original: new WorkDir(scratch, `${k}-original`), replacement: new WorkDir(scratch, `${k}-replacement`) };
      while (next < probes.length) {
        const i = next++;
        const probe = probes[i]!;
        const [a, b] = await Promise.all([observe(scratch, dirs.original, corpus, probe, "original", removals), observe(scratch, dirs.replacement, corpus, probe, "replacement", removals)]);
        const c = compareObservations(a.obs, b.obs, { compare: probe.compare, lines: probe.lines, normalize: probe.normalize, mtime: probe.mtime, workDirs: [a.work, b.work], now: Date.now() / 1000 });
        const r: ProbeResult = { id: probe.id, cmd: probe.cmd, verdict: c.verdict, origin: origin(probe) };
        if (c.difference) r.difference = c.difference;
        results[i] = r;
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, probes.length) }, worker));
    } finally {
      await Promise.all(removals);
    }
    return results;
  } finally {
    scratch.remove();
  }
}
