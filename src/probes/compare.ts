/** Comparing what a probe left behind with the original command and with
 * its replacement. Pure: observations in, a verdict and the first difference
 * out. stderr is compared by class only (empty or not): messages differ by
 * design; what scripts test is whether there was one. */
import type { Aspect } from "./corpus.ts";

export interface FileEntry {
  path: string;
  kind: "file" | "dir" | "symlink" | "fifo" | "other";
  /** Permission bits, with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  link?: string;
  mtime: number;
}

export interface Observation {
  /** Exit status, or null when killed by a signal or never started. */
  status: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  files: FileEntry[];
  timedOut: boolean;
  /** Why the command could not be started at all. */
  error?: string;
}

export type Verdict = "same" | "differs" | "unsupported";

export interface Comparison {
  verdict: Verdict;
  /** The first difference, in words ("stdout line 2: …"), when not the same. */
  difference?: string;
}

/** How a replacement says it does not know an option or feature. */
const UNSUPPORTED_RE = /unrecognized|unrecognised|unknown (option|argument|flag)|unexpected argument|invalid option|not (yet )?(supported|implemented)|unimplemented|wasn't expected/i;

const clip = (s: string, n = 80) => (s.length > n ? s.slice(0, n) + "…" : s);

export interface CompareOptions {
  compare: readonly Aspect[];
  lines?: number;
  normalize: readonly string[];
  mtime: boolean;
  /** The two scratch directories' paths, replaced by $W in output. */
  workDirs: readonly string[];
  /** The time of the run (seconds): epoch times within a day of it are shown
   * as <now>, so a report does not change from one run to the next. */
  now: number;
}

const DAY = 86_400;
const nearNow = (t: number, now: number) => Math.abs(t - now) <= DAY;
const timeWord = (t: number, now: number) => (nearNow(t, now) ? "<now>" : String(t));

/** stdout as compared: scratch paths and normalised patterns replaced, cut to `lines`. */
export function normalizedStdout(out: string, o: Pick<CompareOptions, "lines" | "normalize" | "workDirs" | "now">): string {
  let s = out.replace(/\b\d{10}\b/g, (d) => (nearNow(Number(d), o.now) ? "<now>" : d));
  for (const w of o.workDirs) s = s.split(w).join("$W");
  for (const re of o.normalize) s = s.replace(new RegExp(re, "g"), "<X>");
  if (o.lines !== undefined) s = s.split("\n").slice(0, o.lines).join("\n");
  return s;
}

function firstLineDifference(a: string, b: string): string {
  const la = a.split("\n");
  const lb = b.split("\n");
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) {
      const show = (x: string | undefined) => (x === undefined ? "(no line)" : JSON.stringify(clip(x)));
      return `stdout line ${i + 1}: ${show(la[i])} vs ${show(lb[i])}`;
    }
  }
  return "stdout differs";
}

function describeEntry(e: FileEntry): string {
  return e.kind === "symlink" ? `symlink → ${e.link}` : e.kind;
}

function firstFileDifference(a: FileEntry[], b: FileEntry[], mtime: boolean, now: number): string | null {
  const bm = new Map(b.map((e) => [e.path, e]));
  const am = new Map(a.map((e) => [e.path, e]));
  for (const x of a) {
    const y = bm.get(x.path);
    if (!y) return `file ${x.path}: only with the original`;
    if (x.kind !== y.kind || x.link !== y.link) return `file ${x.path}: ${describeEntry(x)} vs ${describeEntry(y)}`;
    if (x.mode !== y.mode) return `file ${x.path}: mode ${x.mode.toString(8).padStart(4, "0")} vs ${y.mode.toString(8).padStart(4, "0")}`;
    if (x.uid !== y.uid || x.gid !== y.gid) return `file ${x.path}: owner ${x.uid}:${x.gid} vs ${y.uid}:${y.gid}`;
    if (x.kind === "file" && (x.size !== y.size || x.sha256 !== y.sha256)) return `file ${x.path}: content differs (${x.size} vs ${y.size} bytes)`;
    if (mtime && x.kind !== "symlink" && timeWord(x.mtime, now) !== timeWord(y.mtime, now)) return `file ${x.path}: mtime ${timeWord(x.mtime, now)} vs ${timeWord(y.mtime, now)}`;
  }
  for (const y of b) if (!am.has(y.path)) return `file ${y.path}: only with the replacement`;
  return null;
}

const outcome = (o: Observation) => (o.timedOut ? "timed out" : o.signal ? `killed by ${o.signal}` : `exit status ${o.status}`);

/** Compare the original's observation (a) with the replacement's (b). */
export function compareObservations(a: Observation, b: Observation, o: CompareOptions): Comparison {
  if (b.error) return { verdict: "unsupported", difference: `replacement did not start: ${clip(b.error)}` };
  if (a.error) return { verdict: "differs", difference: `original did not start: ${clip(a.error)}` };
  const diffs: string[] = [];
  const statusDiffers = a.status !== b.status || a.signal !== b.signal || a.timedOut !== b.timedOut;
  if (o.compare.includes("status") && statusDiffers) diffs.push(`${outcome(a)} vs ${outcome(b)}`);
  if (o.compare.includes("stdout")) {
    const sa = normalizedStdout(a.stdout, o);
    const sb = normalizedStdout(b.stdout, o);
    if (sa !== sb) diffs.push(firstLineDifference(sa, sb));
  }
  if (o.compare.includes("stderr") && (a.stderr === "") !== (b.stderr === "")) {
    diffs.push(`stderr ${a.stderr === "" ? "empty" : "non-empty"} vs ${b.stderr === "" ? "empty" : `non-empty (${JSON.stringify(clip(b.stderr.split("\n")[0]!))})`}`);
  }
  if (o.compare.includes("files")) {
    const f = firstFileDifference(a.files, b.files, o.mtime, o.now);
    if (f) diffs.push(f);
  }
  if (diffs.length === 0) return { verdict: "same" };
  // The replacement rejected what the original accepted, and said why.
  const rejected = ((b.status === 127 || b.status === 126) && a.status !== b.status) || (a.status === 0 && b.status !== 0 && UNSUPPORTED_RE.test(b.stderr));
  return { verdict: rejected ? "unsupported" : "differs", difference: diffs[0] };
}
