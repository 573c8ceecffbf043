import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { buildSbom, purlEncode, purlFor, serializeSbom, type SbomInput } from "../../src/attest/sbom.ts";
import type { PackageInfo } from "../../src/pkgmgr/types.ts";
import { VECTORS } from "../helpers/paths.ts";

// The schema declares draft-07, which plain Ajv implements (the 2019/2020
// entry points are for later drafts).
const schema = JSON.parse(readFileSync(join(VECTORS, "spdx-2.3", "spdx-schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true });
addFormats(ajv);
const validate = ajv.compile(schema);

function expectValid(doc: unknown) {
  const ok = validate(doc);
  if (!ok) throw new Error(`SPDX schema: ${ajv.errorsText(validate.errors)}`);
  expect(ok).toBe(true);
}

const coreutils: PackageInfo = {
  name: "coreutils",
  version: "9.1-1",
  arch: "amd64",
  manager: "dpkg",
  distro: "debian",
  supplier: "Michael Stone <mstone@debian.org>",
  sourceRepo: "debian bookworm/main",
  homepage: "https://www.gnu.org/software/coreutils/",
  role: "replaced",
  applets: ["cat", "ls", "cp"],
};
const uutils: PackageInfo = {
  name: "rust-coreutils",
  version: "0.0.17-2",
  arch: "amd64",
  manager: "dpkg",
  distro: "debian",
  sourceRepo: "debian bookworm/main",
  role: "replacing",
  applets: ["ls", "cat", "cp", "b2sum"],
};
const vim: PackageInfo = {
  name: "vim",
  version: "2:9.0.1378-2",
  arch: "amd64",
  manager: "dpkg",
  distro: "debian",
  supplier: "",
  sourceRepo: "debian bookworm/main",
  role: "involved",
  applets: [],
};

const input = (packages: PackageInfo[], extra: Partial<SbomInput> = {}): SbomInput => ({
  opId: "20261127T053000Z-3fa9c2d1",
  created: "2026-11-27T05:30:00Z",
  toolVersion: "0.1.0",
  hostId: "3b7c1e0d9a8f4e21",
  packages,
  ...extra,
});

describe("SPDX document", () => {
  const doc = buildSbom(input([uutils, coreutils, vim]));

  test("validates against the SPDX 2.3 JSON schema", () => expectValid(doc));

  test("the validator is not a rubber stamp", () => {
    expect(validate({ ...doc, relationships: [{ ...doc.relationships[0], relationshipType: "REPLACES" }] })).toBe(false);
    expect(validate({ ...doc, creationInfo: { created: doc.creationInfo.created, creators: [] } })).toBe(false);
    const { SPDXID: _, ...noId } = doc;
    expect(validate(noId)).toBe(false);
  });

  test("document header fields", () => {
    expect(doc.spdxVersion).toBe("SPDX-2.3");
    expect(doc.dataLicense).toBe("CC0-1.0");
    expect(doc.SPDXID).toBe("SPDXRef-DOCUMENT");
    expect(doc.name).toBe("pkgswitch-op-20261127T053000Z-3fa9c2d1");
    expect(doc.documentNamespace).toBe("https://pkgswitch.invalid/spdx/3b7c1e0d9a8f4e21/20261127T053000Z-3fa9c2d1");
    expect(doc.creationInfo).toEqual({ created: "2026-11-27T05:30:00Z", creators: ["Tool: pkgswitch-0.1.0"] });
  });

  test("one DESCRIBES from the document per package", () => {
    const describes = doc.relationships.filter((r) => r.relationshipType === "DESCRIBES");
    expect(describes).toHaveLength(3);
    for (const r of describes) expect(r.spdxElementId).toBe("SPDXRef-DOCUMENT");
    expect(describes.map((r) => r.relatedSpdxElement).sort()).toEqual(doc.packages.map((p) => p.SPDXID).sort());
  });

  test("every relationship points at elements that exist", () => {
    const ids = new Set(["SPDXRef-DOCUMENT", ...doc.packages.map((p) => p.SPDXID)]);
    for (const r of doc.relationships) {
      expect(ids.has(r.spdxElementId)).toBe(true);
      expect(ids.has(r.relatedSpdxElement)).toBe(true);
    }
  });

  test("replacing package is related to the replaced one", () => {
    const other = doc.relationships.filter((r) => r.relationshipType === "OTHER");
    expect(other).toEqual([
      {
        spdxElementId: "SPDXRef-Package-rust-coreutils-replacing",
        relationshipType: "OTHER",
        relatedSpdxElement: "SPDXRef-Package-coreutils-replaced",
        comment: "replaces: rust-coreutils replaces coreutils as provider of: cat cp ls",
      },
    ]);
  });

  test("packages sorted by role then name, with the required fields", () => {
    expect(doc.packages.map((p) => p.SPDXID)).toEqual([
      "SPDXRef-Package-vim-involved",
      "SPDXRef-Package-coreutils-replaced",
      "SPDXRef-Package-rust-coreutils-replacing",
    ]);
    const p = doc.packages[1]!;
    expect(p).toEqual({
      SPDXID: "SPDXRef-Package-coreutils-replaced",
      name: "coreutils",
      versionInfo: "9.1-1",
      supplier: "Organization: Michael Stone (mstone@debian.org)",
      downloadLocation: "NOASSERTION",
      homepage: "https://www.gnu.org/software/coreutils/",
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: "NOASSERTION",
      copyrightText: "NOASSERTION",
      sourceInfo: "source repository: debian bookworm/main (dpkg, amd64)",
      externalRefs: [
        { referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: "pkg:deb/debian/coreutils@9.1-1?arch=amd64" },
      ],
      comment: "role: replaced; applets: cat cp ls",
    });
    expect(doc.packages[0]!.supplier).toBe("NOASSERTION"); // empty maintainer
    expect(doc.packages[2]!.supplier).toBe("NOASSERTION"); // none given
    expect(doc.packages[2]!.comment).toBe("role: replacing; applets: b2sum cat cp ls");
  });

  test("milliseconds are dropped from created; bad dates and op ids are refused", () => {
    const d = buildSbom(input([coreutils], { created: "2026-11-27T05:30:00.123Z" }));
    expect(d.creationInfo.created).toBe("2026-11-27T05:30:00Z");
    expectValid(d);
    expect(() => buildSbom(input([coreutils], { created: "2026-11-27 05:30:00" }))).toThrow(TypeError);
    expect(() => buildSbom(input([coreutils], { created: "2026-11-27T05:30:00+01:00" }))).toThrow(TypeError);
    expect(() => buildSbom(input([coreutils], { opId: "../../etc/passwd" }))).toThrow(TypeError);
  });

  test("empty package list is still a valid document", () => {
    const d = buildSbom(input([]));
    expectValid(d);
    expect(d.packages).toEqual([]);
    expect(d.relationships).toEqual([]);
  });

  test("host id is URI-encoded in the namespace", () => {
    const d = buildSbom(input([coreutils], { hostId: "my host/1" }));
    expect(d.documentNamespace).toBe("https://pkgswitch.invalid/spdx/my%20host%2F1/20261127T053000Z-3fa9c2d1");
  });
});

describe("SPDX ids", () => {
  test("unique even for same name and role (multi-arch) and after sanitizing", () => {
    const pkgs: PackageInfo[] = [
      { ...coreutils, name: "libc6", arch: "amd64", role: "involved" },
      { ...coreutils, name: "libc6", arch: "i386", role: "involved" },
      { ...coreutils, name: "libstdc++6", role: "involved" },
      { ...coreutils, name: "libstdc--6", role: "involved" },
    ];
    const d = buildSbom(input(pkgs));
    expectValid(d);
    const ids = d.packages.map((p) => p.SPDXID);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^SPDXRef-[A-Za-z0-9.-]+$/);
    expect(ids).toContain("SPDXRef-Package-libc6-involved");
    expect(ids).toContain("SPDXRef-Package-libc6-involved-2");
  });
});

describe("purl", () => {
  test("deb with epoch and '+' (purl-spec test suite vector)", () => {
    expect(purlFor({ ...coreutils, name: "attr", version: "1:2.4.47-2+b1" })).toBe(
      "pkg:deb/debian/attr@1:2.4.47-2%2Bb1?arch=amd64",
    );
    expect(purlFor({ ...coreutils, version: "1:9.1-1+b1" })).toBe("pkg:deb/debian/coreutils@1:9.1-1%2Bb1?arch=amd64");
  });

  test("tilde stays, other specials are encoded, names too", () => {
    expect(purlFor({ ...coreutils, name: "libstdc++6", version: "12.2.0-14~deb12u1" })).toBe(
      "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14~deb12u1?arch=amd64",
    );
    expect(purlEncode("a b/c@d?e#f%g&h=i+é")).toBe("a%20b%2Fc%40d%3Fe%23f%25g%26h%3Di%2B%C3%A9");
  });

  test("decoding the encoded version gives the original back", () => {
    for (const v of ["1:9.1-1+b1", "2:9.0.1378-2", "0.0.17-2~bpo12+1", "6.0.2-1"]) {
      const purl = purlFor({ ...coreutils, version: v });
      const enc = purl.slice(purl.indexOf("@") + 1, purl.indexOf("?"));
      expect(decodeURIComponent(enc)).toBe(v);
    }
  });

  test("alpm and rpm", () => {
    expect(
      purlFor({ ...coreutils, manager: "pacman", distro: "arch", name: "containers-common", version: "1:0.47.4-4", arch: "x86_64" }),
    ).toBe("pkg:alpm/arch/containers-common@1:0.47.4-4?arch=x86_64");
    expect(purlFor({ ...coreutils, manager: "pacman", distro: "Arch", name: "uutils-coreutils", version: "0.0.27-1", arch: "x86_64" })).toBe(
      "pkg:alpm/arch/uutils-coreutils@0.0.27-1?arch=x86_64",
    );
    expect(purlFor({ ...coreutils, manager: "rpm", distro: "fedora", name: "curl", version: "7.50.3-1.fc25", arch: "i386" })).toBe(
      "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386",
    );
    // rpm's epoch is a qualifier in the rpm purl type (qualifiers sorted).
    expect(purlFor({ ...coreutils, manager: "rpm", distro: "fedora", name: "NetworkManager", version: "1:1.44.2-1.fc39", arch: "x86_64" })).toBe(
      "pkg:rpm/fedora/NetworkManager@1.44.2-1.fc39?arch=x86_64&epoch=1",
    );
  });
});

describe("determinism", () => {
  test("same input, in any order, gives identical bytes", () => {
    const a = serializeSbom(buildSbom(input([uutils, coreutils, vim])));
    const b = serializeSbom(buildSbom(input([vim, coreutils, { ...uutils, applets: [...uutils.applets].reverse() }])));
    expect(b).toBe(a);
    expect(a.endsWith("}\n")).toBe(true);
    expect(a).toContain('\n  "spdxVersion": "SPDX-2.3",\n'); // 2-space indent
    expect(JSON.parse(a)).toEqual(buildSbom(input([uutils, coreutils, vim])));
  });

  test("input is not mutated", () => {
    const pkgs = [uutils, coreutils];
    const before = JSON.stringify(pkgs);
    buildSbom(input(pkgs));
    expect(JSON.stringify(pkgs)).toBe(before);
  });

  test("different operations get different namespaces", () => {
    const a = buildSbom(input([coreutils]));
    const b = buildSbom(input([coreutils], { opId: "20261127T053001Z-00000000" }));
    expect(a.documentNamespace).not.toBe(b.documentNamespace);
  });
});
