/** The states a doc scene can start from (`<!-- doctest: fixture=NAME -->`).
 * Each is a fresh copy of the cached Debian bookworm root brought into that
 * state with the real binary and apt; states that take a switch to reach
 * are built once per test process and copied. Add a fixture here when a doc
 * needs a new starting point, and say in the doc what it is. */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cachedRoot } from "../helpers/debroot.ts";
import { cachedArchRoot } from "../helpers/archroot.ts";
import { cachedFedora } from "../helpers/fedroot.ts";
import { BINARY } from "../helpers/paths.ts";

function copyOf(src: string): string {
  const root = mkdtempSync("/tmp/pkgswitch-doc-");
  const p = Bun.spawnSync(["cp", "-a", `${src}/.`, root]);
  if (p.exitCode !== 0) throw new Error(`cp -a ${src} failed: ${p.stderr}`);
  return root;
}

/** Overlays still mounted: root → the directory holding upper/work. */
const overlays = new Map<string, string>();

/** A writable view of `src` that costs nothing to make: an overlay mount
 * (a copy of 300 MB per scene took most of the run on a loaded machine).
 * Falls back to a copy where overlayfs is not available. */
function layerOver(src: string): string {
  const dir = mkdtempSync("/tmp/pkgswitch-doc-");
  for (const d of ["upper", "work", "root"]) mkdirSync(join(dir, d));
  const root = join(dir, "root");
  const p = Bun.spawnSync(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${src},upperdir=${dir}/upper,workdir=${dir}/work`, root]);
  if (p.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return copyOf(src);
  }
  overlays.set(root, dir);
  return root;
}

function run(root: string, args: string[]): void {
  const p = Bun.spawnSync([BINARY, "--root", root, ...args], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1" }, stdin: "ignore" });
  if (p.exitCode !== 0) throw new Error(`fixture: pkgswitch ${args.join(" ")} exited ${p.exitCode}: ${p.stderr}`);
}

/** Unmount what a scene mounted inside the root (/proc), then delete it. */
export function dropRoot(root: string): void {
  for (let i = 0; i < 3; i++) if (Bun.spawnSync(["umount", join(root, "proc")]).exitCode !== 0) break;
  const dir = overlays.get(root);
  if (dir) {
    // A process the scene left running (an orphaned apt) may still use it:
    // detach it now, the kernel frees it when that process ends.
    if (Bun.spawnSync(["umount", root]).exitCode !== 0) Bun.spawnSync(["umount", "-l", root]);
    overlays.delete(root);
    rmSync(dir, { recursive: true, force: true });
  } else rmSync(root, { recursive: true, force: true });
}

const templates = new Map<string, string>();
process.on("exit", () => {
  for (const r of [...overlays.keys()]) dropRoot(r);
  templates.forEach((t) => rmSync(t, { recursive: true, force: true }));
});

/** A root made once per process by `build` from the cached root, copied per use. */
function templated(name: string, build: (root: string) => void): () => string {
  return () => {
    let t = templates.get(name);
    // Rebuilt if it vanished (something else swept /tmp while the suite ran).
    if (!t || !existsSync(join(t, "etc"))) {
      t = copyOf(cachedRoot());
      build(t);
      templates.set(name, t);
    }
    return layerOver(t);
  };
}

/** apt inside the root with its hooks live: the binary inside, /proc mounted. */
function aptInRoot(root: string, args: string[]): void {
  copyFileSync(BINARY, join(root, "usr/bin/pkgswitch"));
  if (Bun.spawnSync(["mount", "-t", "proc", "proc", join(root, "proc")]).exitCode !== 0) throw new Error("fixture: cannot mount /proc");
  try {
    const p = Bun.spawnSync(["chroot", root, "apt-get", ...args], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive" }, stdin: "ignore" });
    if (p.exitCode !== 0) throw new Error(`fixture: apt-get ${args.join(" ")} exited ${p.exitCode}: ${p.stderr}`);
  } finally {
    Bun.spawnSync(["umount", join(root, "proc")]);
    rmSync(join(root, "usr/bin/pkgswitch"));
  }
}

const enabled = templated("coreutils-enabled", (r) => run(r, ["enable", "coreutils", "--yes"]));
const installed = templated("uutils-installed", (r) => run(r, ["pkg", "install", "rust-coreutils", "--yes"]));

const auditRecord = templated("audit-record", (r) => {
  run(r, ["keys", "generate"]);
  run(r, ["enable", "coreutils", "--yes"]);
  aptInRoot(r, ["install", "--reinstall", "-y", "-q", "coreutils"]);
  run(r, ["hooks", "remove"]);
});

const switchedNoHooks = templated("switched-no-hooks", (r) => {
  run(r, ["keys", "generate"]);
  run(r, ["enable", "coreutils", "--yes", "--no-hooks"]);
});

export const FIXTURES: Record<string, () => string> = {
  /** Debian 12 minbase, nothing switched. */
  bookworm: () => layerOver(cachedRoot()),
  /** rust-coreutils installed (by `pkgswitch pkg install`), nothing switched. */
  "uutils-installed": installed,
  /** `enable coreutils --yes` done: 103 commands switched. */
  "coreutils-enabled": enabled,
  /** A signed record of three operations: `keys generate`, then `enable
   * coreutils --yes` (hooks included), `apt-get install --reinstall
   * coreutils` with the hooks live (recorded as `relink --hook`), `hooks
   * remove`. */
  "audit-record": auditRecord,
  /** A signing key (`keys generate`), then `enable coreutils --yes --no-hooks`. */
  "switched-no-hooks": switchedNoHooks,
  /** The Arch-like root of scripts/make-arch-root.sh (a pacman database,
   * coreutils 9.1-2 in /srv/pkgs): nothing switched, /proc not mounted. */
  arch: () => layerOver(cachedArchRoot()),
  /** The Fedora-like root of scripts/make-fedora-root.sh (an rpm database in
   * /usr/lib/sysimage/rpm, a dnf repository outside the root): nothing
   * switched, /proc not mounted. */
  fedora: () => layerOver(join(cachedFedora(), "root")),
  /** coreutils enabled, then uutils' multicall binary deleted: every switched command dangles. */
  "coreutils-broken": () => {
    const r = enabled();
    rmSync(join(r, "usr/bin/coreutils"));
    return r;
  },
};
