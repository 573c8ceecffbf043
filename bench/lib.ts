/** What the benchmarks share: argument parsing, timing a spawned command,
 * medians, tables, and a temp copy of the cached Debian root that is always
 * removed (on exit, error or Ctrl-C). Benchmarks print; they never fail on
 * timing. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const PROJECT = resolve(import.meta.dir, "..");
export const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1", LC_ALL: "C" };

/** `--name VALUE` from argv, else `dflt`. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall time of one spawned command (ms), with its exit code and output,
 * its CPU time (user + system, ms: on a busy machine the steadier figure)
 * and its peak RSS (bytes). */
export function timed(argv: string[]): { ms: number; cpuMs: number; maxRss: number; code: number; stdout: string; stderr: string } {
  const t0 = performance.now();
  const p = Bun.spawnSync(argv, { env: ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  const ru = p.resourceUsage;
  return { ms, cpuMs: ru ? Number(ru.cpuTime.total) / 1000 : NaN, maxRss: ru?.maxRSS ?? NaN, code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** A compiled Bun hello-world, built now with the same bun and flags as
 * dist/pkgswitch: what the runtime alone costs to start (its own temp dir,
 * removed by the returned cleanup). */
export function helloWorld(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync("/tmp/pkgswitch-bench-hello-");
  // console.log, not process.stdout.write: touching process.stdout builds
  // Node's stream objects, ~25 ms of CPU that is not the runtime's floor.
  writeFileSync(join(dir, "hello.ts"), 'console.log("hello");\n');
  sh([join(PROJECT, "node_modules/.bin/bun"), "build", "--compile", "--minify", "--bytecode", "--format=esm", join(dir, "hello.ts"), "--outfile", join(dir, "hello")], "bun build hello.ts");
  return { path: join(dir, "hello"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Run a command that must succeed; its stdout. */
export function sh(argv: string[], what: string): string {
  const r = timed(argv);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim().split("\n").pop()}`);
  return r.stdout;
}

/** A text table: first column left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(rows[0]!), w.map((n) => "-".repeat(n)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** The compiled binary (--binary PATH, default dist/pkgswitch); exits 2 when missing. */
export function binary(bench: string): string {
  const b = resolve(arg("--binary", join(PROJECT, "dist/pkgswitch")));
  if (!existsSync(b)) {
    console.error(`${bench}: ${b} is missing: run \`npm run -s build\``);
    process.exit(2);
  }
  return b;
}

/** An older binary to run beside it (--before PATH: a before/after in one
 * run, interleaved, so the machine's phase hits both), or null; exits 2
 * when the path is missing. */
export function beforeBinary(bench: string): string | null {
  const given = arg("--before", "");
  if (!given) return null;
  const b = resolve(given);
  if (!existsSync(b)) {
    console.error(`${bench}: --before ${b} is missing`);
    process.exit(2);
  }
  return b;
}

export interface Timings {
  ms: number[];
  cpuMs: number[];
}

/** Run each command `runs` times, round by round (one warm-up each, not
 * counted), so machine noise hits all of them alike; a failed run throws. */
export function interleaved(cmds: Record<string, string[]>, runs: number): Record<string, Timings> {
  const times: Record<string, Timings> = Object.fromEntries(Object.keys(cmds).map((k) => [k, { ms: [], cpuMs: [] }]));
  for (const argv of Object.values(cmds)) timed(argv);
  for (let i = 0; i < runs; i++) {
    for (const [k, argv] of Object.entries(cmds)) {
      const r = timed(argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
      times[k]!.ms.push(r.ms);
      times[k]!.cpuMs.push(r.cpuMs);
    }
  }
  return times;
}

/** Start-up rows: median, min and p90 wall, CPU median, and both as
 * multiples of the same run's compiled hello-world (`hello`, a key of
 * `times`); `targets` (median wall, ms) by command. */
export function startupTable(times: Record<string, Timings>, hello: string, targets: Record<string, number> = {}): string {
  const f1 = (x: number) => x.toFixed(1);
  const rows = [["command", "median", "min", "p90", "CPU median", "vs hello-world (wall / CPU)", "target"]];
  for (const [k, t] of Object.entries(times)) {
    const s = [...t.ms].sort((a, b) => a - b);
    const m = median(t.ms);
    const target = targets[k];
    rows.push([k, `${f1(m)} ms`, `${f1(s[0]!)} ms`, `${f1(s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!)} ms`, `${f1(median(t.cpuMs))} ms`, vsHello(times, k, hello), target ? `≤ ${target} ms ${m <= target ? "met" : "NOT met"}` : ""]);
  }
  return table(rows);
}

/** A command's median wall and CPU as multiples of hello-world's ("2.71x / 2.90x"). */
export function vsHello(times: Record<string, Timings>, k: string, hello: string): string {
  const x = (f: (t: Timings) => number[]) => (median(f(times[k]!)) / median(f(times[hello]!))).toFixed(2);
  return `${x((t) => t.ms)}x / ${x((t) => t.cpuMs)}x`;
}

/** A fresh copy of the cached Debian root under /tmp/pkgswitch-bench-NAME-*,
 * removed by `cleanup()` and on SIGINT/SIGTERM/SIGHUP (unmounting /proc
 * first, in case someone mounted it). */
export function tempDebianRoot(name: string): { root: string; cleanup: () => void } {
  const cache = sh(["bash", join(PROJECT, "scripts/make-root.sh")], "scripts/make-root.sh").trim();
  const prefix = `/tmp/pkgswitch-bench-${name}-`;
  const root = mkdtempSync(prefix);
  let cleaned = false;
  const cleanup = () => {
    if (cleaned || !root.startsWith(prefix)) return;
    cleaned = true;
    Bun.spawnSync(["umount", join(root, "proc")], { stderr: "ignore" });
    rmSync(root, { recursive: true, force: true });
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }
  sh(["cp", "-a", `${cache}/.`, root], `cp -a ${cache}`);
  return { root, cleanup };
}
