/** pacman calls per `enable coreutils` on the Arch fixture root
 * (scripts/make-arch-root.sh), whatever the number of targets: the issue asks
 * for at most 3 ownership (`pacman -Qo`) calls per enable.
 *
 * On a fresh copy of the root with uutils-coreutils already installed (so the
 * install is not in the figure), run `enable coreutils --yes` then `disable
 * coreutils --yes` with 103, 50, 10 and 1 targets (the rest excluded through
 * a --config file on the host), N times each; from each operation's audit
 * JSONL count the pacman calls (`pkg.query` events with manager "pacman") and
 * among them the `-Qo` calls. Baseline in the same run: one `pacman -Qo` with
 * every target, run the way pkgswitch runs it (chroot into the root).
 *
 * Prints figures; never fails on timing (exit 1 only when an operation fails).
 * Run: npx bun bench/pacman.ts [--runs N] [--binary PATH]   (as root) */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { arg, binary, median, PROJECT, sh, table, timed } from "./lib.ts";

const RUNS = Math.max(1, Number(arg("--runs", "3")));
const ms = (x: number) => `${x.toFixed(0)} ms`;

if (process.getuid?.() !== 0) {
  console.error("bench/pacman.ts: needs root (chroot, pacman inside the temp root)");
  process.exit(2);
}
const BINARY = binary("bench/pacman.ts");
const cache = sh(["bash", join(PROJECT, "scripts/make-arch-root.sh")], "scripts/make-arch-root.sh").trim();
const root = mkdtempSync("/tmp/pkgswitch-bench-pacman-");
const config = `${root}.jsonc`;
const cleanup = () => {
  rmSync(root, { recursive: true, force: true });
  rmSync(config, { force: true });
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => (cleanup(), process.exit(130)));

interface Run { ms: number; targets: number; pacman: number; owners: number }

function op(args: string[]): Run {
  const r = timed([BINARY, "--root", root, "--config", config, ...args, "--yes", "--json"]);
  const doc = JSON.parse(r.stdout || "{}") as { op?: string; counts?: Record<string, number> };
  if (r.code !== 0 || !doc.op) throw new Error(`pkgswitch ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  const ev = readFileSync(join(root, "var/lib/pkgswitch/audit", `audit-${doc.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { event: string; manager?: string; args?: string[] });
  const pacman = ev.filter((e) => e.event === "pkg.query" && e.manager === "pacman");
  return { ms: r.ms, targets: doc.counts?.switched ?? doc.counts?.restored ?? -1, pacman: pacman.length, owners: pacman.filter((e) => e.args?.includes("-Qo")).length };
}

let failed = false;
try {
  sh(["cp", "-a", `${cache}/.`, root], `cp -a ${cache}`);
  sh(["chroot", root, "pacman", "-S", "--noconfirm", "--noprogressbar", "uutils-coreutils"], "pacman -S uutils-coreutils");
  const version = sh([BINARY, "--version"], "pkgswitch --version").trim();
  const uu = new Set(sh(["chroot", root, "pacman", "-Qlq", "uutils-coreutils"], "pacman -Qlq").split("\n").filter((f) => f.startsWith("/usr/bin/uu-")).map((f) => f.slice(12)));
  const commands = sh(["chroot", root, "pacman", "-Qlq", "coreutils"], "pacman -Qlq").split("\n").filter((f) => /^\/usr\/bin\/[^/]+$/.test(f)).map((f) => f.slice(9)).filter((c) => uu.has(c)).sort();
  const rows: string[][] = [["targets", "enable median", "pacman calls", "of them -Qo", "disable median", "pacman calls", "of them -Qo"]];
  const maxOwners: number[] = [];
  for (const n of [commands.length, 50, 10, 1]) {
    writeFileSync(config, JSON.stringify({ exclude: { coreutils: commands.slice(n) } }) + "\n");
    const en: Run[] = [];
    const dis: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      en.push(op(["enable", "coreutils"]));
      dis.push(op(["disable", "coreutils"]));
    }
    if (en[0]!.targets !== n) throw new Error(`expected ${n} targets, enable switched ${en[0]!.targets}`);
    maxOwners.push(...en.map((r) => r.owners));
    rows.push([String(n), ms(median(en.map((r) => r.ms))), String(en[0]!.pacman), String(en[0]!.owners), ms(median(dis.map((r) => r.ms))), String(dis[0]!.pacman), String(dis[0]!.owners)]);
  }
  const qo: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 5); i++) {
    const q = timed(["chroot", root, "pacman", "-Qo", "--", ...commands.map((c) => `/usr/bin/${c}`)]);
    if (q.code !== 0) throw new Error(`baseline pacman -Qo failed (exit ${q.code}): ${q.stderr}`);
    qo.push(q.ms);
  }
  rows.push([`baseline: 1 pacman -Qo, ${commands.length} paths`, ms(median(qo)), "1", "1", "", "", ""]);
  console.log(`pkgswitch on Arch (pacman) — ${version}, ${RUNS} runs each, fixture root (temp copy), uutils-coreutils pre-installed\n`);
  console.log(table(rows));
  console.log(`\nownership calls per enable: at most ${Math.max(...maxOwners)} whatever the number of targets (the issue's bound: 3)`);
} catch (e) {
  failed = true;
  console.error(`bench/pacman.ts: ${(e as Error).message}`);
} finally {
  cleanup();
}
process.exit(failed ? 1 : 0);
