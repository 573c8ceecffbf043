/** Running probes inside the root, the original and the replacement side by
 * side. Each run gets a fresh work directory with the same fixtures (fixed
 * content, modes and time stamps) under one scratch directory of ours inside
 * the root, which is removed at the end: the system itself is only read. */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, readlink, rm, symlink, utimes, writeFile } from "node:fs/promises";
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

/** Lay out fixtures with fixed times (directories last, deepest first, since
 * creating an entry updates its parent's mtime). */
async function layFixtures(dir: string, fixtures: Record<string, Fixture>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [rel, f] of Object.entries(fixtures)) await writeFixture(dir, rel, f);
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

/** Every entry under `dir`, sorted, with what the comparison looks at. */
export async function snapshotTree(dir: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const walk = async (d: string, rel: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(p);
      const kind: FileEntry["kind"] = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFIFO() ? "fifo" : "other";
      const e: FileEntry = { path: r, kind, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: kind === "file" ? st.size : 0, mtime: Math.floor(st.mtimeMs / 1000) };
      // Small files (all fixtures) in one read; a large output streamed.
      if (kind === "file") e.sha256 = st.size <= SMALL_FILE ? sha256Hex(await readFile(p)) : await sha256File(p);
      if (kind === "symlink") { e.link = await readlink(p); e.mode = 0; }
      out.push(e);
      if (e.kind === "dir") await walk(p, r);
    }
  };
  await walk(dir, "");
  return out;
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

/** Run one probe on one side: fresh fixtures, the command, then a snapshot. */
async function observe(scratch: Scratch, corpus: Corpus, probe: Probe, side: "original" | "replacement", n: number): Promise<{ obs: Observation; work: string }> {
  const rel = `w/${n}-${side}`;
  const hostWork = join(scratch.host, rel);
  const work = posix.join(scratch.inRoot, rel);
  await layFixtures(hostWork, { ...corpus.fixtures, ...probe.files });
  const body = probe.sh ?? `exec ${[probe.cmd, ...probe.args].map(quote).join(" ")}`;
  const env = { PATH: `${posix.join(scratch.inRoot, `bin-${side}`)}:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: "C", TZ: "UTC", HOME: work, TMPDIR: work };
  const obs = await runInRoot(scratch.root, `cd ${quote(work)} || exit 125\n${body}`, env, probe.stdin);
  obs.files = await snapshotTree(hostWork);
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
    const worker = async () => {
      while (next < probes.length) {
        const i = next++;
        const probe = probes[i]!;
        const [a, b] = await Promise.all([observe(scratch, corpus, probe, "original", i), observe(scratch, corpus, probe, "replacement", i)]);
        const c = compareObservations(a.obs, b.obs, { compare: probe.compare, lines: probe.lines, normalize: probe.normalize, mtime: probe.mtime, workDirs: [a.work, b.work], now: Date.now() / 1000 });
        const r: ProbeResult = { id: probe.id, cmd: probe.cmd, verdict: c.verdict, origin: origin(probe) };
        if (c.difference) r.difference = c.difference;
        results[i] = r;
        for (const side of ["original", "replacement"]) removals.push(rm(join(scratch.host, `w/${i}-${side}`), { recursive: true, force: true }).catch(() => {}));
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
