/** The one place that chooses a package-manager backend. It looks at what the
 * root holds (a dpkg status file, a pacman local database, an rpm database),
 * never at the host, and returns the backend for it. A new backend is one
 * more entry in DETECTORS and one more constructor in OPENERS. */
import { existsSync } from "node:fs";
import { hostPath } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import type { BackendOptions, ManagerWording, PackageBackend } from "./backend.ts";
import { checkDatabase } from "./common.ts";
import { DPKG_WORDING, DpkgBackend } from "./dpkg.ts";
import { PACMAN_WORDING, PacmanBackend } from "./pacman.ts";
import { RPM_WORDING, RpmBackend } from "./rpm.ts";
import type { ManagerKind } from "./types.ts";

/** What each package manager leaves in a root, in the order they are tried. */
export const DETECTORS: ReadonlyArray<{ kind: ManagerKind; marks: readonly string[] }> = [
  { kind: "dpkg", marks: ["/var/lib/dpkg/status"] },
  { kind: "pacman", marks: ["/var/lib/pacman/local"] },
  { kind: "rpm", marks: ["/usr/lib/sysimage/rpm", "/var/lib/rpm"] },
];

const OPENERS: Partial<Record<ManagerKind, (opts: BackendOptions) => PackageBackend>> = {
  dpkg: (opts) => new DpkgBackend(opts),
  pacman: (opts) => new PacmanBackend(opts),
  rpm: (opts) => new RpmBackend(opts),
};

const WORDING: Record<ManagerKind, ManagerWording> = { dpkg: DPKG_WORDING, pacman: PACMAN_WORDING, rpm: RPM_WORDING };

/** The transaction command of every backend, in DETECTORS order (`pkg`
 * help: "apt-get install, pacman -S, dnf install"). */
export function transactionCommands(action: "install" | "remove"): string[] {
  return DETECTORS.map((d) => WORDING[d.kind].transaction[action]);
}

/** Manual pages of the package managers the built-in backends drive (the
 * man page's SEE ALSO). */
export const MANAGER_MAN_PAGES: readonly string[] = DETECTORS.flatMap((d) => WORDING[d.kind].manPages);

/** The package manager whose database the root holds, or null. Pure but for lstat. */
export function detectManager(root: string): ManagerKind | null {
  for (const d of DETECTORS) {
    if (d.marks.some((m) => existsSync(hostPath(root, m)))) return d.kind;
  }
  return null;
}

/** Open the backend for the root's package manager; exit 10 naming what was
 * looked for when the root has none we support, 70 when its database is
 * reached through a link out of the root. */
export function openBackend(opts: BackendOptions): PackageBackend {
  const kind = detectManager(opts.root);
  const open = kind ? OPENERS[kind] : undefined;
  if (!kind) {
    const looked = DETECTORS.flatMap((d) => d.marks).join(", ");
    throw new PkgswitchError(Exit.PREFLIGHT, `${opts.root} has no package database pkgswitch knows (looked for ${looked})`);
  }
  if (!open) throw new PkgswitchError(Exit.PREFLIGHT, `${opts.root} is a ${kind} system, and this build has no ${kind} backend`);
  const backend = open(opts);
  // Before any of its commands runs: they would find the database where
  // the kernel, not the root, resolves its links (common.ts).
  checkDatabase(opts.root, backend.database);
  // Each backend runs its transactions (install, remove, a native switch)
  // through common.ts's inTransaction, which forgets what was resolved and
  // checked before them.
  return backend;
}
