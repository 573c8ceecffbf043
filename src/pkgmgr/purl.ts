/** Package URL (purl-spec) conventions per package manager, for the SBOM:
 * the purl type, whether names are lowercased, and whether an epoch moves
 * from the version to the `epoch` qualifier. */
import type { ManagerKind } from "./types.ts";

export interface PurlStyle {
  type: string;
  lowerName: boolean;
  /** The purl type defines an `epoch` qualifier (rpm); the others keep the
   * epoch in the version. */
  epochQualifier: boolean;
}

export const PURL_STYLE: Record<ManagerKind, PurlStyle> = {
  dpkg: { type: "deb", lowerName: true, epochQualifier: false }, // deb names are lowercase by policy and by purl-spec
  pacman: { type: "alpm", lowerName: true, epochQualifier: false },
  rpm: { type: "rpm", lowerName: false, epochQualifier: true }, // rpm names are case-sensitive
};
