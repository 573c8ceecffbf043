/** Throwaway copies of the cached Arch-like root (scripts/make-arch-root.sh
 * builds it once from makepkg-built pacman packages; CI reuses it). */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "./paths.ts";
import { withoutProc } from "./noproc.ts";

export function cachedArchRoot(): string {
  const p = Bun.spawnSync(["bash", join(PROJECT, "scripts/make-arch-root.sh")], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error("scripts/make-arch-root.sh failed: cannot make the Arch root");
  return p.stdout.toString().trim();
}

/** A fresh copy of the cached Arch root. */
export function archRoot(): string {
  const cache = cachedArchRoot();
  const root = mkdtempSync("/tmp/pkgswitch-arch-");
  const p = Bun.spawnSync(["cp", "-a", `${cache}/.`, root]);
  if (p.exitCode !== 0) throw new Error(`cp -a ${cache} failed: ${p.stderr}`);
  return root;
}

/** The host's pacman on the root's database (`--sysroot`: chroot first);
 * `noProc`: with an empty /proc in the root (helpers/noproc.ts). */
export function pacman(root: string, args: string[], opts: { noProc?: boolean } = {}): { code: number; out: string } {
  const argv = ["pacman", "--sysroot", root, ...args];
  const p = Bun.spawnSync(opts.noProc ? withoutProc(root, argv) : argv, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

export function removeArchRoot(root: string): void {
  Bun.spawnSync(["umount", join(root, "proc")]);
  rmSync(root, { recursive: true, force: true });
}
