/** Run the compiled binary (dist/pkgswitch) as a user would; with
 * PKGSWITCH_CLI=deno, the same CLI from source as `deno run -A main.ts`
 * (scripts/test.sh runs three integration suites both ways). */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BINARY, PROJECT } from "./paths.ts";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `wrap`: a command the CLI runs under (e.g. strace injecting a fault). */
export function pkgswitch(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; wrap?: string[] } = {}): RunResult {
  const cli = cliArgv();
  const p = Bun.spawnSync([...(opts.wrap ?? []), ...cli.argv, ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...cli.env, ...opts.env },
    stdin: "ignore",
    timeout: opts.timeoutMs ?? 300_000,
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

/** How the CLI is started: the compiled binary, or Deno from source. */
function cliArgv(): { argv: string[]; env: Record<string, string> } {
  if (process.env.PKGSWITCH_CLI === "deno") {
    const deno = join(PROJECT, "node_modules/.bin/deno");
    if (!existsSync(deno)) throw new Error(`${deno} is missing: run \`npm ci\``);
    // Deno keeps its transpile cache under DENO_DIR (the test env has no HOME).
    return { argv: [deno, "run", "-A", "--quiet", "--config", join(PROJECT, "deno.json"), join(PROJECT, "main.ts")], env: { DENO_DIR: process.env.DENO_DIR ?? "/var/cache/pkgswitch/deno" } };
  }
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` (scripts/test.sh does)`);
  return { argv: [BINARY], env: {} };
}

/** pkgswitch with --json, parsed. */
export function pkgswitchJson<T = Record<string, unknown>>(args: string[], opts: Parameters<typeof pkgswitch>[1] = {}): { code: number; json: T; stderr: string } {
  const r = pkgswitch([...args, "--json"], opts);
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, json, stderr: r.stderr };
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export interface Snapshot {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  link?: string;
}

/** lstat of every path under `dir` (ctime changes on any write, so equal
 * snapshots mean nothing was changed, created or removed). */
export function snapshotTree(dir: string, skip: (rel: string) => boolean = () => false): Map<string, Snapshot> {
  const out = new Map<string, Snapshot>();
  const walk = (rel: string) => {
    const st = lstatSync(join(dir, rel), { bigint: true });
    const kind = st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
    const snap: Snapshot = { kind, mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, ino: st.ino };
    if (kind === "symlink") snap.link = readlinkSync(join(dir, rel));
    out.set(rel || "/", snap);
    if (kind === "dir") for (const n of readdirSync(join(dir, rel))) if (!skip(join(rel, n))) walk(join(rel, n));
  };
  walk("");
  return out;
}

/** Differences between two snapshots, as readable lines. */
export function diffSnapshots(a: Map<string, Snapshot>, b: Map<string, Snapshot>): string[] {
  const d: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w) d.push(`removed ${k}`);
    else if (JSON.stringify(v, (_, x) => (typeof x === "bigint" ? String(x) : x)) !== JSON.stringify(w, (_, x) => (typeof x === "bigint" ? String(x) : x))) d.push(`changed ${k}`);
  }
  for (const k of b.keys()) if (!a.has(k)) d.push(`added ${k}`);
  return d;
}
