/** The per-operation SPDX 2.3 document (formats.md "SBOM"):
 * `audit-<op_id>-sbom.json`, listing every package an operation involved.
 * Pure and deterministic: the same input gives the same bytes, because the
 * SBOM's digest is recorded in `op.end` and covered by the signature.
 * Validated against ../vectors/spdx-2.3/spdx-schema.json by the tests. */
import type { PackageInfo } from "../pkgmgr/types.ts";
import { PURL_STYLE } from "../pkgmgr/purl.ts";

export interface SbomInput {
  opId: string;
  /** RFC 3339 UTC, e.g. "2026-11-27T05:30:00Z"; fractional seconds are
   * dropped (SPDX's date format has none). */
  created: string;
  toolVersion: string;
  hostId: string;
  packages: readonly PackageInfo[];
}

export interface SpdxExternalRef {
  referenceCategory: "PACKAGE-MANAGER";
  referenceType: "purl";
  referenceLocator: string;
}

export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  supplier: string;
  downloadLocation: string;
  homepage?: string;
  filesAnalyzed: false;
  licenseConcluded: "NOASSERTION";
  licenseDeclared: "NOASSERTION";
  copyrightText: "NOASSERTION";
  sourceInfo: string;
  externalRefs: SpdxExternalRef[];
  comment: string;
}

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: "DESCRIBES" | "OTHER";
  relatedSpdxElement: string;
  comment?: string;
}

export interface SpdxDocument {
  spdxVersion: "SPDX-2.3";
  dataLicense: "CC0-1.0";
  SPDXID: "SPDXRef-DOCUMENT";
  name: string;
  documentNamespace: string;
  comment: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
}

const OP_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/;
const RFC3339_UTC = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d+)?Z$/;

const encoder = new TextEncoder();

/** Percent-encode one purl component (purl-spec "Character encoding"):
 * alphanumerics and `.-_~` stay, and so does ':' (the spec forbids encoding
 * it, so `1:9.1-1` stays as is); every other octet of the UTF-8 form
 * becomes %XX, so '+' is `%2B`. Matches purl-spec's own test suite:
 * "1:2.4.47-2+b1" builds as "1:2.4.47-2%2Bb1". */
export function purlEncode(s: string): string {
  let out = "";
  for (const byte of encoder.encode(s)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~:-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The package URL of `pkg`, in its manager's purl style (src/pkgmgr/purl.ts):
 * type, namespace (the distro), name, version, and sorted qualifiers, as the
 * canonical form requires. */
export function purlFor(pkg: PackageInfo): string {
  const { type, lowerName, epochQualifier } = PURL_STYLE[pkg.manager];
  const name = lowerName ? pkg.name.toLowerCase() : pkg.name;
  let version = pkg.version;
  const qualifiers: [string, string][] = [];
  if (pkg.arch) qualifiers.push(["arch", pkg.arch]);
  if (epochQualifier) {
    const m = /^(\d+):(.+)$/.exec(version);
    if (m) {
      qualifiers.push(["epoch", m[1]!]);
      version = m[2]!;
    }
  }
  qualifiers.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let purl = `pkg:${type}/${purlEncode(pkg.distro.toLowerCase())}/${purlEncode(name)}`;
  if (version) purl += `@${purlEncode(version)}`;
  if (qualifiers.length) purl += "?" + qualifiers.map(([k, v]) => `${k}=${purlEncode(v)}`).join("&");
  return purl;
}

/** SPDX agent syntax for a maintainer string: "Name <mail>" becomes
 * "Organization: Name (mail)"; unknown gives NOASSERTION. */
function supplierOf(raw: string | undefined): string {
  const s = (raw ?? "").replace(/\s+/g, " ").trim();
  if (!s) return "NOASSERTION";
  const m = /^(.*?)\s*<([^<>]*)>$/.exec(s);
  return m ? `Organization: ${m[1] || m[2]} (${m[2]})` : `Organization: ${s}`;
}

/** SPDX identifiers allow only letters, digits, '.' and '-'. */
const sanitize = (s: string) => s.replace(/[^A-Za-z0-9.-]/g, "-");

/** Plain code-unit order: locale-independent, so every host sorts alike. */
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function comparePackages(a: PackageInfo, b: PackageInfo): number {
  return (
    cmp(a.role, b.role) ||
    cmp(a.name, b.name) ||
    cmp(a.version, b.version) ||
    cmp(a.arch, b.arch) ||
    cmp(a.manager, b.manager) ||
    cmp(a.distro, b.distro)
  );
}

/** Build the SPDX 2.3 document for one operation. Throws TypeError on an
 * op id or timestamp that does not have the documented form (an SBOM with
 * a wrong date or namespace is worse than none). */
export function buildSbom(input: SbomInput): SpdxDocument {
  if (!OP_ID.test(input.opId)) throw new TypeError(`not an op id: ${JSON.stringify(input.opId)}`);
  const when = RFC3339_UTC.exec(input.created);
  if (!when) throw new TypeError(`created is not an RFC 3339 UTC time: ${JSON.stringify(input.created)}`);
  const created = `${when[1]}Z`;
  if (!input.toolVersion) throw new TypeError("toolVersion is empty");
  if (!input.hostId) throw new TypeError("hostId is empty");
  const tool = `Tool: pkgswitch-${input.toolVersion}`;

  const sorted = [...input.packages].sort(comparePackages);
  const used = new Set<string>();
  const ids: string[] = [];
  const packages: SpdxPackage[] = sorted.map((pkg) => {
    // Same name and role twice (e.g. two architectures): number them, in
    // sorted order, so ids are unique and still deterministic.
    const base = `SPDXRef-Package-${sanitize(pkg.name)}-${pkg.role}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    ids.push(id);
    const applets = [...pkg.applets].sort(cmp);
    const spdx: SpdxPackage = {
      SPDXID: id,
      name: pkg.name,
      ...(pkg.version ? { versionInfo: pkg.version } : {}),
      supplier: supplierOf(pkg.supplier),
      // The package database knows no download URL; a homepage is not one.
      downloadLocation: "NOASSERTION",
      ...(pkg.homepage ? { homepage: pkg.homepage } : {}),
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      sourceInfo: `source repository: ${pkg.sourceRepo || "unknown"} (${pkg.manager}, ${pkg.arch || "no arch"})`,
      externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purlFor(pkg) }],
      comment: `role: ${pkg.role}; applets: ${applets.length ? applets.join(" ") : "(none)"}`,
    };
    return spdx;
  });

  const relationships: SpdxRelationship[] = ids.map((id) => ({
    spdxElementId: "SPDXRef-DOCUMENT",
    relationshipType: "DESCRIBES",
    relatedSpdxElement: id,
  }));
  // SPDX 2.3 has no "replaces" type: OTHER with a comment is the spec's
  // way to state a relationship outside its list.
  sorted.forEach((replacing, i) => {
    if (replacing.role !== "replacing") return;
    sorted.forEach((replaced, j) => {
      if (replaced.role !== "replaced") return;
      const shared = replacing.applets.filter((a) => replaced.applets.includes(a)).sort(cmp);
      relationships.push({
        spdxElementId: ids[i]!,
        relationshipType: "OTHER",
        relatedSpdxElement: ids[j]!,
        comment:
          `replaces: ${replacing.name} replaces ${replaced.name}` +
          (shared.length ? ` as provider of: ${shared.join(" ")}` : ""),
      });
    });
  });

  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: `pkgswitch-op-${input.opId}`,
    // Deterministic (host and op id), unique per operation; .invalid is
    // reserved (RFC 2606), so it can never resolve to someone's server.
    documentNamespace: `https://pkgswitch.invalid/spdx/${encodeURIComponent(input.hostId)}/${input.opId}`,
    comment: `Packages involved in pkgswitch operation ${input.opId}.`,
    creationInfo: { created, creators: [tool] },
    packages,
    relationships,
  };
}

/** The file bytes of an SBOM: 2-space JSON plus a final newline. Key order
 * is fixed by `buildSbom`, so equal documents serialize identically. */
export function serializeSbom(doc: SpdxDocument): string {
  return JSON.stringify(doc, null, 2) + "\n";
}
