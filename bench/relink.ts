/** No-op `relink` benchmark (issue 12: median ≤ 25 ms; architecture.md:
 * ≤ 150 ms), the cost a package-manager hook adds to every apt transaction
 * when nothing changed.
 *
 * On a temp copy of the cached Debian root with coreutils switched (103
 * targets, dpkg diversions), times `pkgswitch relink` interleaved with the
 * baselines `/bin/true`, a compiled Bun hello-world built in this run (the
 * runtime's own start-up) and `pkgswitch --version`, all spawned the same
 * way, wall and CPU; with --before PATH, an older binary's no-op relink in
 * the same rounds (a before/after that saw the same machine). Checks that
 * no operation was written. Prints figures; never fails on timing.
 * Run (as root): npx bun bench/relink.ts [--runs N] [--binary PATH] [--before PATH] */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { arg, beforeBinary, binary, helloWorld, interleaved, median, startupTable, tempDebianRoot, timed, vsHello } from "./lib.ts";

const BINARY = binary("bench/relink.ts");
const BEFORE = beforeBinary("bench/relink.ts");
const RUNS = Number(arg("--runs", "30"));
const HELLO = "compiled hello-world";
const RELINK = "pkgswitch relink (no-op)";
const OLD_RELINK = "before: pkgswitch relink (no-op)";

const hello = helloWorld();
const { root, cleanup } = tempDebianRoot("relink");
try {
  const enabled = timed([BINARY, "--root", root, "enable", "coreutils", "--yes", "-q"]);
  if (enabled.code !== 0) throw new Error(`enable coreutils exited ${enabled.code}: ${enabled.stderr}`);
  const ledger = () => readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8").split("\n").filter(Boolean).length;
  const before = ledger();
  const cmds: Record<string, string[]> = {
    "/bin/true": ["/bin/true"],
    [HELLO]: [hello.path],
    "pkgswitch --version": [BINARY, "--version"],
    [RELINK]: [BINARY, "--root", root, "relink", "-q"],
    ...(BEFORE ? { [OLD_RELINK]: [BEFORE, "--root", root, "relink", "-q"] } : {}),
  };
  const times = interleaved(cmds, RUNS);
  console.log(`no-op relink, ${RUNS} runs each, interleaved (root with coreutils switched)${BEFORE ? `; before: ${BEFORE}` : ""}`);
  console.log(startupTable(times, HELLO, { [RELINK]: 25 }));
  if (BEFORE) console.log(`no-op relink as a multiple of the same run's hello-world (wall / CPU): before ${vsHello(times, OLD_RELINK, HELLO)}, after ${vsHello(times, RELINK, HELLO)}`);
  const m = median(times[RELINK]!.ms);
  console.log(`target: median ≤ 25 ms → ${m.toFixed(1)} ms (${m <= 25 ? "met" : "NOT met"}); architecture.md's ≤ 150 ms ${m <= 150 ? "met" : "NOT met"}`);
  console.log(`operations written by the no-op relinks: ${ledger() - before} (must be 0)`);
  if (ledger() !== before) process.exitCode = 1;
} finally {
  cleanup();
  hello.cleanup();
}
