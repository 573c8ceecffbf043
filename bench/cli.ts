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
import { arg, binary, median, table, tempDebianRoot, timed, sh } from "./lib.ts";

const RUNS = Math.max(1, Number(arg("--runs", "30")));
const BINARY = binary("bench/cli.ts");
const WITH_ROOT = !process.argv.includes("--no-root") && process.getuid?.() === 0;
const TARGET_MS = 50;
const f1 = (x: number) => x.toFixed(1);

/** Time each command RUNS times, interleaved; one warm-up each (not counted). */
function interleaved(cmds: Record<string, string[]>): Record<string, number[]> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (const argv of Object.values(cmds)) timed(argv);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, argv] of Object.entries(cmds)) {
      const r = timed(argv);
      if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
      times[k]!.push(r.ms);
    }
  }
  return times;
}

let cleanup = () => {};
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
    const tmp = tempDebianRoot("cli");
    cleanup = tmp.cleanup;
    const root = tmp.root;
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
