/** Running package-manager commands, inside the managed root. This is the
 * only place pkgswitch starts other programs besides smoke tests; every run
 * is reported to the caller (which records it as a `pkg.query` event). */
import { statSync } from "node:fs";
import { spawn, spawnSync } from "../sys/index.ts";

export interface CommandResult {
  argv: string[];
  rc: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Signal name when the process was killed by one. */
  signal?: string;
}

export type CommandObserver = (r: CommandResult) => void;

/** argv to run `cmd` inside `root`: directly for "/", else through chroot(8). */
export function inRoot(root: string, argv: string[]): string[] {
  return root === "/" ? argv : [chrootBinary(), root, ...argv];
}

/** The host's chroot(8); looked up once, never inside the managed root. */
let chrootPath: string | undefined;
function chrootBinary(): string {
  chrootPath ??= ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"].find((p) => (statSync(p, { throwIfNoEntry: false })?.size ?? 0) > 0) ?? "chroot";
  return chrootPath;
}

const BASE_ENV = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  LC_ALL: "C.UTF-8",
  DEBIAN_FRONTEND: "noninteractive",
  // Our own hooks, run by this package manager, see that a pkgswitch
  // operation is in progress (it holds the lock and relinks itself).
  PKGSWITCH_IN_OPERATION: "1",
};

/** Run a command synchronously with a minimal, predictable environment. */
export function run(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): CommandResult {
  const t0 = performance.now();
  const p = spawnSync(argv, { env: { ...BASE_ENV, ...opts.env }, timeoutMs: opts.timeoutMs });
  const res: CommandResult = {
    argv,
    rc: p.exitCode ?? 128,
    stdout: p.stdout,
    stderr: p.stderr,
    durationMs: Math.round(performance.now() - t0),
  };
  if (p.signal) res.signal = p.signal;
  return res;
}

/** `run` without blocking: the command runs while the caller goes on with
 * other work (a query whose answer is needed only later). */
export async function runAsync(argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CommandResult> {
  const t0 = performance.now();
  const p = spawn(argv, { env: { ...BASE_ENV, ...opts.env }, timeoutMs: opts.timeoutMs });
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const rc = await p.exited;
  const res: CommandResult = { argv, rc: rc ?? 128, stdout, stderr, durationMs: Math.round(performance.now() - t0) };
  const signal = p.signal();
  if (signal) res.signal = signal;
  return res;
}

/** The manager name a command's audit record carries: "apt" for apt-get and
 * apt-cache, "dpkg" for dpkg's tools, else the program's own name (pacman). */
export function managerOfCommand(argv: string[]): string {
  if (argv.includes("apt-get") || argv.includes("apt-cache")) return "apt";
  if (argv.some((a) => a.startsWith("dpkg"))) return "dpkg";
  if (argv.includes("pacman")) return "pacman";
  const prog = argv[0] ?? "";
  return prog.slice(prog.lastIndexOf("/") + 1);
}
