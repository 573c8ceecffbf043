/** CLI start-up benchmark (issue 12 targets: `--version` median ≤ 15 ms,
 * no-op `relink` ≤ 25 ms, `status` ≤ 30 ms).
 *
 * Median wall time of the compiled binary spawned with Bun.spawnSync (the
 * way a hook or a shell would start it), interleaved round by round with two
 * baselines spawned the same way, so machine noise hits all of them:
 * `/bin/true`, and a compiled Bun hello-world built in this run with the
 * same bun and flags (what the runtime itself costs to start). Also the
 * median CPU time (user + system) of each: on a busy machine wall time
 * swings with the load, CPU time much less. `status`, `status --json`,
 * `list` and a no-op `relink` run on a temp copy of the cached Debian root
 * with coreutils enabled. Prints the binary's size.
 *
 * With --before PATH (an older binary), its --version, no-op relink and
 * status run in the same rounds, on the same root: a before/after whose
 * figures saw the same machine.
 *
 * Prints figures; never fails on timing. The temp root is always removed.
 * Run: npx bun bench/cli.ts [--runs N] [--binary PATH] [--before PATH] [--no-root]   (status needs root) */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { arg, beforeBinary, binary, helloWorld, interleaved, median, startupTable, tempDebianRoot, sh, vsHello } from "./lib.ts";

const RUNS = Math.max(1, Number(arg("--runs", "30")));
const BINARY = binary("bench/cli.ts");
const BEFORE = beforeBinary("bench/cli.ts");
const WITH_ROOT = !process.argv.includes("--no-root") && process.getuid?.() === 0;
const TARGETS: Record<string, number> = { "pkgswitch --version": 15, "pkgswitch relink (no-op)": 25, "pkgswitch status (enabled root)": 30 };
const HELLO = "compiled hello-world (baseline)";
const f1 = (x: number) => x.toFixed(1);

const cleanups: Array<() => void> = [];
let failed = false;
try {
  const version = sh([BINARY, "--version"], "pkgswitch --version").trim();
  const hello = helloWorld();
  cleanups.push(hello.cleanup);
  const cmds: Record<string, string[]> = {
    "/bin/true (baseline)": ["/bin/true"],
    "compiled hello-world (baseline)": [hello.path],
    "pkgswitch --version": [BINARY, "--version"],
    ...(BEFORE ? { "before: pkgswitch --version": [BEFORE, "--version"] } : {}),
    "pkgswitch --help": [BINARY, "--help"],
  };
  let targets = 0;
  let ledgerLines = () => 0;
  if (WITH_ROOT) {
    const tmp = tempDebianRoot("cli");
    cleanups.push(tmp.cleanup);
    const root = tmp.root;
    sh([BINARY, "--root", root, "enable", "coreutils", "--yes", "-q"], "pkgswitch enable coreutils");
    const st = JSON.parse(sh([BINARY, "--root", root, "status", "--json"], "pkgswitch status")) as { providers: Array<{ provider: string; targets: number; switched: number }> };
    const cu = st.providers.find((p) => p.provider === "coreutils");
    if (!cu || cu.switched !== cu.targets) throw new Error(`status after enable: ${JSON.stringify(st)}`);
    targets = cu.targets;
    ledgerLines = () => readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8").split("\n").filter(Boolean).length;
    cmds["pkgswitch relink (no-op)"] = [BINARY, "--root", root, "relink", "-q"];
    if (BEFORE) cmds["before: pkgswitch relink (no-op)"] = [BEFORE, "--root", root, "relink", "-q"];
    cmds["pkgswitch status (enabled root)"] = [BINARY, "--root", root, "status"];
    if (BEFORE) cmds["before: pkgswitch status (enabled root)"] = [BEFORE, "--root", root, "status"];
    cmds["pkgswitch status --json"] = [BINARY, "--root", root, "status", "--json"];
    cmds["pkgswitch list (enabled root)"] = [BINARY, "--root", root, "list"];
  }
  const before = ledgerLines();
  const times = interleaved(cmds, RUNS);
  const base = median(times["/bin/true (baseline)"]!.ms);
  const hw = median(times[HELLO]!.ms);
  console.log(`pkgswitch CLI start-up benchmark — ${version}, ${RUNS} runs each (interleaved, after one warm-up), spawned with Bun.spawnSync`);
  console.log(`binary: ${(statSync(BINARY).size / 2 ** 20).toFixed(1)} MiB (${BINARY}); compiled hello-world: ${(statSync(hello.path).size / 2 ** 20).toFixed(1)} MiB`);
  if (BEFORE) console.log(`before: ${BEFORE} (rows "before: …"), in the same rounds`);
  if (WITH_ROOT) console.log(`relink/status/list on a temp copy of the Debian bookworm root with coreutils enabled (${targets} targets)`);
  else console.log("relink/status skipped (needs root; or --no-root given)");
  console.log();
  console.log(startupTable(times, HELLO, TARGETS));
  console.log(`\nstart-up above the runtime's own: --version ${f1(median(times["pkgswitch --version"]!.ms) - hw)} ms wall, ${f1(median(times["pkgswitch --version"]!.cpuMs) - median(times[HELLO]!.cpuMs))} ms CPU (hello-world ${f1(hw)} ms, /bin/true ${f1(base)} ms)`);
  if (BEFORE) {
    console.log("as multiples of the same run's hello-world (wall / CPU), before → after:");
    for (const k of Object.keys(times).filter((k) => times[`before: ${k}`])) console.log(`  ${k}: ${vsHello(times, `before: ${k}`, HELLO)} → ${vsHello(times, k, HELLO)}`);
  }
  if (WITH_ROOT) console.log(`operations written by the no-op relinks: ${ledgerLines() - before} (must be 0)`);
} catch (e) {
  failed = true;
  console.error(`bench/cli.ts: ${(e as Error).message}`);
} finally {
  for (const c of cleanups) c();
}
process.exit(failed ? 1 : 0);
