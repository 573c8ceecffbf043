/** Throwaway copies of the cached Debian minbase roots — bookworm, trixie,
 * sid (scripts/make-root.sh builds each once; CI reuses them). */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "./paths.ts";

export type Release = "bookworm" | "trixie" | "sid";

export function cachedRoot(release: Release = "bookworm"): string {
  const p = Bun.spawnSync(["bash", join(PROJECT, "scripts/make-root.sh"), release], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`scripts/make-root.sh ${release} failed: cannot make the Debian root`);
  return p.stdout.toString().trim();
}

/** A fresh copy of the cached root (about a second). */
export function debianRoot(release: Release = "bookworm"): string {
  const cache = cachedRoot(release);
  const root = mkdtempSync("/tmp/pkgswitch-e2e-");
  const p = Bun.spawnSync(["cp", "-a", `${cache}/.`, root]);
  if (p.exitCode !== 0) throw new Error(`cp -a ${cache} failed: ${p.stderr}`);
  return root;
}

/** Run a command inside the root (chroot), returning exit code and output. */
export function inRoot(root: string, argv: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(["chroot", root, ...argv], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

export function removeDebianRoot(root: string): void {
  Bun.spawnSync(["umount", join(root, "proc")]);
  rmSync(root, { recursive: true, force: true });
}

/** Start the lstat watcher (tests/helpers/watcher.ts) in its own process on
 * `targets` inside `r`; the returned function stops it and says how often a
 * target was missing. */
export async function startWatcher(r: string, targets: string[]) {
  const dir = join(r, "tmp");
  const tf = join(dir, "watch-targets");
  const stop = join(dir, "watch-stop");
  const res = join(dir, "watch-result");
  writeFileSync(tf, targets.join("\n"));
  rmSync(stop, { force: true });
  const p = Bun.spawn([process.execPath, join(PROJECT, "tests/helpers/watcher.ts"), r, tf, stop, res]);
  while (!existsSync(res + ".ready")) await Bun.sleep(10);
  return async () => {
    writeFileSync(stop, "");
    await p.exited;
    const out = JSON.parse(readFileSync(res, "utf8")) as { rounds: number; checks: number; missing: string[] };
    rmSync(res + ".ready", { force: true });
    return out;
  };
}
