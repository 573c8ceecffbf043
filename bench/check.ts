/** `check coreutils` benchmark (issue target: ≤ 15 s on a 2-CPU machine).
 *
 * On a temp copy of the cached Debian root with rust-coreutils installed and
 * /proc mounted, times `pkgswitch check coreutils` (every probe, both sides)
 * and, as the same-run baseline, the floor its process count sets: as many
 * `chroot ROOT /bin/sh -c true` as the check starts, run with the same
 * parallelism. Prints figures; never fails on timing.
 * Run (as root): npx bun bench/check.ts [--runs N] */
import { cpus } from "node:os";
import { join } from "node:path";
import { arg, binary, median, sh, table, tempDebianRoot, timed } from "./lib.ts";

const BINARY = binary("bench/check.ts");
const RUNS = Number(arg("--runs", "3"));

const { root, cleanup } = tempDebianRoot("check");
try {
  sh(["mount", "-t", "proc", "proc", join(root, "proc")], "mount /proc");
  sh([BINARY, "--root", root, "pkg", "install", "rust-coreutils", "--yes", "-q"], "pkg install rust-coreutils");
  const checks: number[] = [];
  const cpu: number[] = [];
  let probes = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = timed([BINARY, "--root", root, "check", "coreutils", "--json"]);
    if (r.code !== 0) throw new Error(`check exited ${r.code}: ${r.stderr}`);
    probes = (JSON.parse(r.stdout) as { probes: number }).probes;
    checks.push(r.ms);
    cpu.push(r.cpuMs);
  }
  // The floor: one process per side per probe, through chroot and the root's sh.
  const spawns = probes * 2;
  const par = Math.max(2, cpus().length * 2) * 2;
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const batch = Array.from({ length: spawns }, () => ["chroot", root, "/bin/sh", "-c", "true"]);
    let next = 0;
    await Promise.all(Array.from({ length: par }, async () => {
      while (next < batch.length) {
        const argv = batch[next++]!;
        await Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited;
      }
    }));
    floor.push(performance.now() - t0);
  }
  const m = median(checks);
  const f = median(floor);
  console.log(`check coreutils: ${probes} probes (${spawns} processes), ${RUNS} runs, ${cpus().length} CPUs`);
  console.log(table([
    ["what", "median s", "min s", "ratio to floor", "CPU s (user+sys, with children)"],
    ["pkgswitch check coreutils", (m / 1000).toFixed(2), (Math.min(...checks) / 1000).toFixed(2), (m / f).toFixed(2), (median(cpu) / 1000).toFixed(2)],
    [`floor: ${spawns}× chroot sh -c true`, (f / 1000).toFixed(2), (Math.min(...floor) / 1000).toFixed(2), "1.00", ""],
  ]));
  console.log(`target ≤ 15 s: ${m <= 15_000 ? "met" : "NOT met"} (median ${(m / 1000).toFixed(1)} s)`);
} finally {
  cleanup();
}
