/** Data shapes shared by package-manager backends and their consumers
 * (provenance events, SBOM). Pure types, no behaviour. */

/** Which package manager family a backend speaks for (also the purl type). */
export const MANAGER_KINDS = ["dpkg", "pacman", "rpm"] as const;
export type ManagerKind = (typeof MANAGER_KINDS)[number];

/** One installed (or about-to-be-removed) package, as an SBOM needs it. */
export interface PackageInfo {
  name: string;
  /** Installed version string exactly as the package manager reports it. */
  version: string;
  /** Architecture (dpkg: amd64/all; pacman: x86_64/any). */
  arch: string;
  manager: ManagerKind;
  /** Distribution namespace for the purl: "debian", "arch", "fedora". */
  distro: string;
  /** Maintainer / packager string, when known. */
  supplier?: string;
  /** Where this version came from: "debian bookworm/main", "local", "unknown". */
  sourceRepo: string;
  /** Homepage or download URL, when known. */
  homepage?: string;
  /** Role of the package in the operation. */
  role: "replaced" | "replacing" | "installed" | "removed" | "upgraded" | "involved";
  /** Applet (command) names this package provides in the operation, sorted. */
  applets: string[];
}

/** Who owns a path, per the package database. */
export interface Provenance {
  path: string;
  /** Owning package, or null when no package owns the path. */
  owner: string | null;
  version: string | null;
  sourceRepo: string;
  /** True when the owner's version is not from a configured repository. */
  foreign: boolean;
}
