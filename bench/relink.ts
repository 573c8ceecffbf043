/** No-op `relink` benchmark (architecture.md: median ≤ 150 ms), the cost a
 * package-manager hook adds to every apt transaction when nothing changed.
 *
 * On a temp copy of the cached Debian root with coreutils switched (103
 * targets, dpkg diversions), times `pkgswitch relink` interleaved with the
 * baselines `/bin/true` and `pkgswitch --version` spawned the same way, and
 * checks that no operation was written. Prints figures; never fails on timing.
 * Run (as root): npx bun bench/relink.ts [--runs N] */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { arg, binary, median, tempDebianRoot, timed } from "./lib.ts";

const BINARY = binary("bench/relink.ts");
const RUNS = Number(arg("--runs", "30"));

/** Wall time of a command that must succeed, ms. */
function spawnMs(argv: string[]): number {
  const r = timed(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.ms;
}

const { root, cleanup } = tempDebianRoot("relink");
try {
  spawnMs([BINARY, "--root", root, "enable", "coreutils", "--yes", "-q"]);
  const ledger = () => readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8").split("\n").filter(Boolean).length;
  const before = ledger();
  const cmds: Record<string, string[]> = {
    "/bin/true": ["/bin/true"],
    "pkgswitch --version": [BINARY, "--version"],
    "pkgswitch relink (no-op)": [BINARY, "--root", root, "relink", "-q"],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(cmds).map((k) => [k, []]));
  for (const argv of Object.values(cmds)) spawnMs(argv); // warm-up
  for (let r = 0; r < RUNS; r++) for (const [k, argv] of Object.entries(cmds)) times[k]!.push(spawnMs(argv));
  const base = median(times["/bin/true"]!);
  const ver = median(times["pkgswitch --version"]!);
  console.log(`no-op relink, ${RUNS} runs each, interleaved (root with coreutils switched)`);
  console.log("command                     median ms   min ms   ratio to /bin/true   ratio to --version");
  for (const [k, xs] of Object.entries(times)) {
    const m = median(xs);
    console.log(`${k.padEnd(27)} ${m.toFixed(1).padStart(9)} ${Math.min(...xs).toFixed(1).padStart(8)} ${(m / base).toFixed(1).padStart(20)} ${(m / ver).toFixed(2).padStart(20)}`);
  }
  const m = median(times["pkgswitch relink (no-op)"]!);
  console.log(`target: median ≤ 150 ms → ${m.toFixed(1)} ms (${m <= 150 ? "met" : "NOT met"})`);
  console.log(`operations written by ${RUNS + 1} no-op relinks: ${ledger() - before} (must be 0)`);
} finally {
  cleanup();
}
