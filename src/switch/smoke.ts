/** Smoke test: run each switched command with --version inside the root.
 * Pass = it executed and exited normally (exit code aside: uutils 0.0.17's
 * `true --version` exits 1), or it kept printing until we stopped reading
 * (busybox `yes --version` prints "--version" forever). Fail = exec error
 * (126/127), a crash signal, or a hang. Only the first bytes are kept.
 *
 * Two stages. A screen runs the commands from a few shells inside the root
 * (the root's own /bin/sh, one chroot per shell instead of one per command:
 * the chroot(8) process and the spawn cost as much as the command); a
 * command passes there only when the shell saw it exit normally with a
 * status below 126 — executed, not killed. Everything else (126 and up,
 * which a shell cannot tell apart from a signal, endless output, a hang, a
 * shell that did not answer) is tested again on its own, one process per
 * command with the rules above, and that run is the verdict: the screen can
 * only pass what the exact test would pass, never fail or hide anything. */
import { readFileSync, readdirSync } from "node:fs";
import { inRoot } from "../pkgmgr/exec.ts";
import { sleepSync, spawn, type Child } from "../sys/index.ts";
import { resolveInRoot } from "./observe.ts";

export interface SmokeResult {
  target: string;
  ok: boolean;
  rc: number | null;
  signal?: string;
  output: string;
  durationMs: number;
}

export async function smokeTest(root: string, targets: string[], concurrency = 8, timeoutMs = 10_000): Promise<SmokeResult[]> {
  const results: SmokeResult[] = new Array(targets.length);
  const all = targets.map((_, i) => i);
  const rest = screenable(root, targets) ? await screen(root, targets, all, results, timeoutMs) : all;
  let next = 0;
  async function worker() {
    while (next < rest.length) {
      const i = rest[next++]!;
      results[i] = await exact(root, targets[i]!, timeoutMs);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, rest.length) }, worker));
  return results;
}

/** One command, one process: the verdict. */
async function exact(root: string, target: string, timeoutMs: number): Promise<SmokeResult> {
  const t0 = performance.now();
  try {
    const p = spawn(inRoot(root, [target, "--version"]), { env: ENV, timeoutMs });
    let capped = false;
    const head = (stream: ReadableStream<Uint8Array>) => readHead(stream, OUTPUT_CAP, () => {
      capped = true;
      p.kill("SIGKILL");
    });
    const [out, err] = await Promise.all([head(p.stdout), head(p.stderr)]);
    const rc = await p.exited;
    const signal = capped ? undefined : p.signal() ?? undefined;
    const ok = capped || (!signal && rc !== 126 && rc !== 127);
    const r: SmokeResult = { target, ok, rc: capped ? null : rc, output: (out || err).split("\n")[0]!.slice(0, 200), durationMs: Math.round(performance.now() - t0) };
    if (signal) r.signal = String(signal);
    return r;
  } catch (e) {
    return { target, ok: false, rc: null, output: (e as Error).message, durationMs: Math.round(performance.now() - t0) };
  }
}

const ENV = { PATH: "/usr/bin:/bin", LC_ALL: "C" };
const OUTPUT_CAP = 4096;
/** Shells in the screen: enough to keep two CPUs busy, the parent mostly idle. */
const SCREEN_SHELLS = 3;
/** Output of one command in the screen past which it counts as endless. */
const SCREEN_OUTPUT_CAP = 64 * 1024;
/** The shell says its pid (to stop a command it runs, if need be), then one
 * exit status per command, in order. Command output goes to stderr, which
 * the parent drains; stdin is the parent's /dev/null. No program besides the
 * shell and the commands themselves. */
const SCREEN_SCRIPT = 'echo "$$"; for t do "$t" --version >&2; echo "$?"; done';

/** The root's /bin/sh can run the screen: it exists, and is not one of the
 * commands under test (a switched shell is tested, never trusted). */
function screenable(root: string, targets: string[]): boolean {
  if (targets.length < 2) return false;
  const sh = resolveInRoot(root, "/bin/sh");
  if (!sh) return false;
  return !targets.some((t) => t === "/bin/sh" || t === "/usr/bin/sh" || resolveInRoot(root, t) === sh);
}

/** Run the screen over `indices` from SCREEN_SHELLS shells; fill `results`
 * for the commands that passed, return the indices still to test. */
async function screen(root: string, targets: string[], indices: number[], results: SmokeResult[], timeoutMs: number): Promise<number[]> {
  const shells = Math.min(SCREEN_SHELLS, indices.length);
  const slices = Array.from({ length: shells }, (_, s) => indices.filter((_, k) => k % shells === s));
  const rest = await Promise.all(slices.map((slice) => screenSlice(root, targets, slice, results, timeoutMs)));
  return rest.flat().sort((a, b) => a - b);
}

async function screenSlice(root: string, targets: string[], slice: number[], results: SmokeResult[], timeoutMs: number): Promise<number[]> {
  const rest: number[] = [];
  let from = 0;
  while (from < slice.length) {
    const part = slice.slice(from);
    const done = await runShell(root, part.map((i) => targets[i]!), timeoutMs);
    for (let k = 0; k < done.statuses.length; k++) {
      const i = part[k]!;
      const rc = done.statuses[k]!;
      if (rc >= 0 && rc < 126) results[i] = { target: targets[i]!, ok: true, rc, output: "", durationMs: done.durations[k]! };
      else rest.push(i);
    }
    from += done.statuses.length;
    if (from < slice.length) {
      // The shell stopped (or was stopped) at this command: it is tested on
      // its own; a new shell takes the ones after it.
      rest.push(slice[from]!);
      from++;
    }
  }
  return rest;
}

/** One screening shell over `list`: the statuses it reported, in order (it
 * may stop early: a hang, endless output, a shell that failed). */
async function runShell(root: string, list: string[], timeoutMs: number): Promise<{ statuses: number[]; durations: number[] }> {
  const statuses: number[] = [];
  const durations: number[] = [];
  let p: Child;
  try {
    p = spawn(inRoot(root, ["/bin/sh", "-c", SCREEN_SCRIPT, "sh", ...list]), { env: ENV });
  } catch {
    return { statuses, durations };
  }
  let shellPid = 0;
  let stopped = false;
  let last = performance.now();
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // The command the shell is running first (chroot(8) and the shell are
    // one process; the command is its child), then the shell. The shell is
    // frozen before its children are read: otherwise a command it forks
    // between that read and its own death (a slow fork on a loaded machine,
    // right as the timer fires) would outlive it, orphaned and running.
    if (shellPid > 0) {
      killQuietly(shellPid, "SIGSTOP");
      waitUntilStopped(shellPid);
      for (const pid of childrenOf(shellPid)) killQuietly(pid);
    }
    p.kill("SIGKILL");
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(stop, timeoutMs);
  };
  arm();
  let sinceStatus = 0;
  const errReader = p.stderr.getReader();
  const drain = (async () => {
    for (;;) {
      const { done, value } = await errReader.read();
      if (done) break;
      sinceStatus += value.length;
      if (sinceStatus > SCREEN_OUTPUT_CAP) {
        stop();
        break;
      }
    }
  })();
  const reader = p.stdout.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let sawPid = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (stopped) continue;
        if (!/^[0-9]{1,10}$/.test(line)) {
          stop(); // not our protocol: trust nothing more from this shell
          continue;
        }
        if (!sawPid) {
          sawPid = true;
          shellPid = Number(line);
        } else if (statuses.length < list.length) {
          const now = performance.now();
          statuses.push(Number(line));
          durations.push(Math.round(now - last));
          last = now;
          sinceStatus = 0;
          arm();
        }
      }
    }
  } finally {
    clearTimeout(timer);
    // The shell is gone: what is left on stderr is not needed (and a command
    // that left a process behind could hold it open).
    await errReader.cancel().catch(() => {});
    await drain.catch(() => {});
    await p.exited.catch(() => null);
  }
  return { statuses, durations };
}

/** Direct children of `pid` (Linux /proc), empty when unreadable. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: the parent pid field of each process.
    const out: number[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^[0-9]+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === pid) out.push(Number(name));
      } catch {}
    }
    return out;
  }
}

function killQuietly(pid: number, signal: "SIGKILL" | "SIGSTOP" = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {}
}

/** Wait (briefly, at most ~200 ms) until `pid` is stopped or gone: a signal
 * is delivered after kill(2) returns, and a fork the process is in the middle
 * of completes first, so its child is listed by then. */
function waitUntilStopped(pid: number): void {
  for (let i = 0; i < 200; i++) {
    let state: string;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      state = stat.charAt(stat.lastIndexOf(")") + 2);
    } catch {
      return; // gone
    }
    if (state === "T" || state === "t" || state === "Z" || state === "X") return;
    sleepSync(1);
  }
}

/** Read up to `cap` bytes of a stream, then call `onCap` and stop reading. */
async function readHead(stream: ReadableStream<Uint8Array>, cap: number, onCap: () => void): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    if (n >= cap) {
      onCap();
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8", 0, Math.min(n, cap));
}
