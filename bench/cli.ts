/** CLI start-up benchmark (architecture.md "Performance targets":
 * `pkgswitch --version` median ≤ 50 ms).
 *
 * Median wall time of the compiled binary spawned with Bun.spawnSync (the
 * way a hook or a shell would start it), interleaved round by round with the
 * baseline `/bin/true` spawned the same way, so machine noise hits both; the
 * ratio is pkgswitch / true. Also `status` (and `status --json`) on a temp
 * copy of the cached Debian root with coreutils enabled.
 *
 * Prints figures; never fails on timing. The temp root is always removed.
 * Run: npx bun bench/cli.ts [--runs N] [--binary PATH] [--no-root]   (status needs root) */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const PROJECT = resolve(import.meta.dir, "..");
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
};
const RUNS = Math.max(1, Number(arg("--runs", "30")));
const BINARY = resolve(arg("--binary", join(PROJECT, "dist/pkgswitch")));
const WITH_ROOT = !process.argv.includes("--no-root") && process.getuid?.() === 0;
const TARGET_MS = 50;
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1", LC_ALL: "C" };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number) => x.toFixed(1);

function spawnMs(argv: string[]): { ms: number; code: number; out: string; err: string } {
  const t0 = performance.now();
  const p = Bun.spawnSync(argv, { env: ENV, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  return { ms, code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}

function sh(argv: string[], what: string): string {
  const r = spawnMs(argv);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.err.trim().split("\n").pop()}`);
  return r.out;
}

/** Time each command RUNS times, interleaved; one warm-up each (not counted). */
function interleaved(cmds: Record<string, string[]>): Record<string, number[]> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (const argv of Object.values(cmds)) spawnMs(argv);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, argv] of Object.entries(cmds)) {
      const r = spawnMs(argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.err.trim()}`);
      times[k]!.push(r.ms);
    }
  }
  return times;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(rows[0]!), w.map((n) => "-".repeat(n)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

if (!existsSync(BINARY)) {
  console.error(`bench/cli.ts: ${BINARY} is missing: run \`npm run -s build\``);
  process.exit(2);
}

let root: string | null = null;
const cleanup = () => {
  if (root && root.startsWith("/tmp/pkgswitch-bench-cli-")) {
    Bun.spawnSync(["umount", join(root, "proc")], { stderr: "ignore" });
    rmSync(root, { recursive: true, force: true });
  }
  root = null;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

let failed = false;
try {
  const version = sh([BINARY, "--version"], "pkgswitch --version").trim();
  const cmds: Record<string, string[]> = {
    "/bin/true (baseline)": ["/bin/true"],
    "pkgswitch --version": [BINARY, "--version"],
    "pkgswitch --help": [BINARY, "--help"],
  };
  let targets = 0;
  if (WITH_ROOT) {
    const cache = sh(["bash", join(PROJECT, "scripts/make-root.sh")], "scripts/make-root.sh").trim();
    root = mkdtempSync("/tmp/pkgswitch-bench-cli-");
    sh(["cp", "-a", `${cache}/.`, root], `cp -a ${cache}`);
    sh([BINARY, "--root", root, "enable", "coreutils", "--yes", "-q"], "pkgswitch enable coreutils");
    const st = JSON.parse(sh([BINARY, "--root", root, "status", "--json"], "pkgswitch status")) as { providers: Array<{ provider: string; targets: number; switched: number }> };
    const cu = st.providers.find((p) => p.provider === "coreutils");
    if (!cu || cu.switched !== cu.targets) throw new Error(`status after enable: ${JSON.stringify(st)}`);
    targets = cu.targets;
    cmds["pkgswitch status (enabled root)"] = [BINARY, "--root", root, "status"];
    cmds["pkgswitch status --json"] = [BINARY, "--root", root, "status", "--json"];
    cmds["pkgswitch list (enabled root)"] = [BINARY, "--root", root, "list"];
  }
  const times = interleaved(cmds);
  const base = median(times["/bin/true (baseline)"]!);
  const rows = [["command", "median", "min", "p90", "vs /bin/true"]];
  for (const [k, t] of Object.entries(times)) {
    const s = [...t].sort((a, b) => a - b);
    rows.push([k, `${f1(median(t))} ms`, `${f1(s[0]!)} ms`, `${f1(s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!)} ms`, `${(median(t) / base).toFixed(1)}x`]);
  }
  console.log(`pkgswitch CLI start-up benchmark — ${version}, ${RUNS} runs each (interleaved, after one warm-up), spawned with Bun.spawnSync`);
  if (WITH_ROOT) console.log(`status/list on a temp copy of the Debian bookworm root with coreutils enabled (${targets} targets)`);
  else console.log("status skipped (needs root; or --no-root given)");
  console.log();
  console.log(table(rows));
  const v = median(times["pkgswitch --version"]!);
  console.log(`\ntarget: pkgswitch --version median ≤ ${TARGET_MS} ms — ${f1(v)} ms ${v <= TARGET_MS ? "meets" : "MISSES"} it (${(v / base).toFixed(1)}x /bin/true; start-up above true: ${f1(v - base)} ms)`);
} catch (e) {
  failed = true;
  console.error(`bench/cli.ts: ${(e as Error).message}`);
} finally {
  cleanup();
}
process.exit(failed ? 1 : 0);
