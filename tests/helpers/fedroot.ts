/** Throwaway copies of the cached Fedora-like root with a real rpm database
 * (scripts/make-fedora-root.sh builds it and its local dnf repository once). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "./paths.ts";
import { withoutProc } from "./noproc.ts";

export function cachedFedora(): string {
  const p = Bun.spawnSync(["bash", join(PROJECT, "scripts/make-fedora-root.sh")], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error("scripts/make-fedora-root.sh failed: cannot make the Fedora root");
  return p.stdout.toString().trim();
}

/** A fresh copy of the cached root (about a second). */
export function fedoraRoot(): string {
  const cache = cachedFedora();
  const root = mkdtempSync("/tmp/pkgswitch-fedora-");
  const p = Bun.spawnSync(["cp", "-a", `${cache}/root/.`, root]);
  if (p.exitCode !== 0) throw new Error(`cp -a ${cache}/root failed: ${p.stderr}`);
  return root;
}

/** rpm on the root's own database (the host's Debian rpm defaults to ~/.rpmdb). */
export function rpmIn(root: string, args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync(["rpm", "--root", root, "--dbpath", "/usr/lib/sysimage/rpm", ...args], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" } });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

/** The host's dnf on the root, with its rpm database where the root keeps
 * it; `noProc`: with an empty /proc in the root (helpers/noproc.ts). */
export function dnfIn(root: string, args: string[], opts: { noProc?: boolean } = {}): { code: number; out: string } {
  const home = mkdtempSync("/tmp/pkgswitch-dnf-test-");
  writeFileSync(join(home, ".rpmmacros"), "%_dbpath /usr/lib/sysimage/rpm\n");
  const argv = ["dnf", "--noplugins", "--installroot", root, ...args];
  const p = Bun.spawnSync(opts.noProc ? withoutProc(root, argv) : argv, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C", HOME: home } });
  rmSync(home, { recursive: true, force: true });
  return { code: p.exitCode ?? -1, out: p.stdout.toString() + p.stderr.toString() };
}

export function removeFedoraRoot(root: string): void {
  Bun.spawnSync(["umount", join(root, "proc")]);
  rmSync(root, { recursive: true, force: true });
}
