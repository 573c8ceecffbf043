/** Throwaway copies of the cached Debian bookworm minbase root
 * (scripts/make-root.sh builds it once; CI reuses it). */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "./paths.ts";

export function cachedRoot(): string {
  const p = Bun.spawnSync(["bash", join(PROJECT, "scripts/make-root.sh")], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error("scripts/make-root.sh failed: cannot make the Debian root");
  return p.stdout.toString().trim();
}

/** A fresh copy of the cached root (about a second). */
export function debianRoot(): string {
  const cache = cachedRoot();
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
