/** The provider catalog (src/providers/catalog.ts): the built-in JSONC, drop-in
 * overrides, strict entry validation, provider lookup. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Exit, PkgswitchError } from "../../src/errors.ts";
import { loadCatalog, parseCatalog, resolveProviders, type Catalog } from "../../src/providers/catalog.ts";
import { PROJECT } from "../helpers/paths.ts";

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-catalog-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function thrown(f: () => unknown): PkgswitchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PkgswitchError);
    return e as PkgswitchError;
  }
  throw new Error("did not throw");
}

const recipe = (over: Record<string, unknown> = {}) => ({ replaces: ["coreutils"], package: "my-utils", applets: { dir: "/opt/my/bin" }, ...over });

describe("the built-in catalog", () => {
  const builtin = loadCatalog(join(tmp, "no-such-providers.d"));

  test("loads (nonexistent drop-in dir) with every provider", () => {
    expect([...builtin.keys()].sort()).toEqual(["busybox", "coreutils", "diffutils", "findutils", "sudo-rs"]);
  });

  test("equals parseCatalog of src/providers/catalog.jsonc", () => {
    const text = readFileSync(join(PROJECT, "src/providers/catalog.jsonc"), "utf8");
    expect(parseCatalog(text, "x")).toEqual(builtin);
  });

  test("coreutils: dpkg → rust-coreutils under /usr/lib/cargo/bin/coreutils, pacman → uu- prefix, rpm → uu_ prefix", () => {
    const c = builtin.get("coreutils")!;
    expect(c.name).toBe("coreutils");
    expect(c.recipes.dpkg).toEqual({
      replaces: ["coreutils"],
      package: "rust-coreutils",
      applets: { dir: "/usr/lib/cargo/bin/coreutils" },
      multicall: "/usr/bin/coreutils",
      native: { kind: "packages", original: "coreutils-from-gnu", replacement: "coreutils-from-uutils" },
    });
    expect(c.recipes.pacman!.applets).toEqual({ dir: "/usr/bin", prefix: "uu-" });
    // Fedora: /usr/bin/uutils-coreutils plus /usr/bin/uu_<cmd> links.
    expect(c.recipes.rpm).toEqual({ replaces: ["coreutils"], package: "uutils-coreutils", applets: { dir: "/usr/bin", prefix: "uu_" }, multicall: "/usr/bin/uutils-coreutils" });
    expect(c.setuid).toEqual([]);
    expect(c.exclude).toEqual([]);
  });

  test("sudo-rs needs setuid sudo and su; busybox lists its applets and replaces several packages", () => {
    const s = builtin.get("sudo-rs")!;
    expect(s.setuid).toEqual(["sudo", "su"]);
    expect(s.recipes.dpkg!.applets).toEqual({ dir: "/usr/lib/cargo/bin", names: ["sudo", "su", "visudo"] });
    expect(s.recipes.pacman!.applets).toEqual({ dir: "/usr/bin", suffix: "-rs", names: ["sudo-rs", "su-rs", "visudo-rs", "sudoedit-rs"] });
    const b = builtin.get("busybox")!;
    expect(b.recipes.dpkg!.applets).toEqual({ list: "/usr/bin/busybox" });
    expect(b.recipes.dpkg!.replaces).toContain("grep");
    expect(b.recipes.dpkg!.replaces).toContain("coreutils");
  });
});

describe("drop-ins (providers.d)", () => {
  test("a drop-in replaces a built-in entry whole and adds new ones; later file names win; other extensions ignored", () => {
    const dir = join(tmp, "providers.d");
    mkdirSync(dir);
    writeFileSync(
      join(dir, "10-coreutils.jsonc"),
      `// site override
{ "coreutils": { "description": "site coreutils", "dpkg": ${JSON.stringify(recipe())}, "exclude": ["stty"], }, }`,
    );
    writeFileSync(join(dir, "20-extra.json"), JSON.stringify({ extra: { dpkg: recipe({ package: "extra-utils" }) } }));
    writeFileSync(join(dir, "30-extra.jsonc"), JSON.stringify({ extra: { dpkg: recipe({ package: "later-utils" }) } }));
    writeFileSync(join(dir, "99-broken.txt"), "{ not json");
    writeFileSync(join(dir, "README"), "not a catalog");
    const c = loadCatalog(dir);
    const core = c.get("coreutils")!;
    expect(core.description).toBe("site coreutils");
    expect(core.recipes.dpkg!.package).toBe("my-utils");
    expect(core.recipes.pacman).toBeUndefined(); // replaced whole, not merged
    expect(core.exclude).toEqual(["stty"]);
    expect(c.get("extra")!.recipes.dpkg!.package).toBe("later-utils");
    expect(c.has("findutils")).toBe(true);
    // the built-in is not mutated by a previous load
    expect(loadCatalog(join(tmp, "none")).get("coreutils")!.recipes.dpkg!.package).toBe("rust-coreutils");
  });

  test("a bad drop-in names its file", () => {
    const dir = join(tmp, "bad.d");
    mkdirSync(dir);
    const file = join(dir, "50-bad.jsonc");
    writeFileSync(file, JSON.stringify({ x: { dpkg: recipe({ replaces: [] }) } }));
    const e = thrown(() => loadCatalog(dir));
    expect(e.exitCode).toBe(Exit.USAGE);
    expect(e.message).toBe(`provider catalog ${file}: x.dpkg.replaces: must name at least one package`);
    writeFileSync(file, "{\n  \"x\": {\n  }\n,,}");
    expect(thrown(() => loadCatalog(dir)).message).toBe(`provider catalog ${file}: line 4: PropertyNameExpected`);
  });
});

describe("parseCatalog: bad entries", () => {
  const W = "/etc/pkgswitch/providers.d/10-site.jsonc";
  const cases: [string, unknown, string][] = [
    ["top level list", [], "must be an object of providers"],
    ["bad provider name", { "Core Utils": {} }, 'bad provider name "Core Utils"'],
    ["name starting with a dash", { "-x": {} }, 'bad provider name "-x"'],
    ["entry not an object", { x: 5 }, "x: must be an object"],
    ["entry null", { x: null }, "x: must be an object"],
    ["recipe not an object", { x: { dpkg: "rust-coreutils" } }, "x.dpkg: must be an object"],
    ["no replaces", { x: { pacman: { package: "p", applets: { dir: "/a" } } } }, "x.pacman.replaces: must name at least one package"],
    ["replaces not strings", { x: { rpm: recipe({ replaces: [1] }) } }, "x.rpm.replaces: must be a list of strings"],
    ["package missing", { x: { dpkg: recipe({ package: undefined }) } }, "x.dpkg.package: must be a package name"],
    ["package with a space", { x: { dpkg: recipe({ package: "a b" }) } }, "x.dpkg.package: must be a package name"],
    ["applets missing", { x: { dpkg: recipe({ applets: undefined }) } }, 'x.dpkg.applets: needs {"dir": "/abs/path"} or {"list": "/abs/binary"}'],
    ["applets dir relative", { x: { dpkg: recipe({ applets: { dir: "usr/bin" } }) } }, "x.dpkg.applets: needs"],
    ["applets list relative", { x: { dpkg: recipe({ applets: { list: "busybox" } }) } }, "x.dpkg.applets: needs"],
    ["names not strings", { x: { dpkg: recipe({ applets: { dir: "/a", names: "ls" } }) } }, "x.dpkg.applets.names: must be a list of strings"],
    ["setuid a string", { x: { setuid: "sudo" } }, "x.setuid: must be a list of strings"],
    ["exclude with a number", { x: { exclude: ["a", 2] } }, "x.exclude: must be a list of strings"],
  ];
  for (const [what, value, msg] of cases) {
    test(what, () => {
      const e = thrown(() => parseCatalog(JSON.stringify(value), W));
      expect(e.exitCode).toBe(Exit.USAGE);
      expect(e.message).toStartWith(`provider catalog ${W}`);
      expect(e.message).toContain(msg);
    });
  }

  test("optional fields: description defaults to the name, lists to empty, prefix/suffix/multicall kept", () => {
    const c = parseCatalog(JSON.stringify({ x: { dpkg: recipe({ applets: { dir: "/a", prefix: "p-", suffix: "-s" }, multicall: "/usr/bin/m" }) } }), W);
    expect(c.get("x")).toEqual({
      name: "x",
      description: "x",
      recipes: { dpkg: { replaces: ["coreutils"], package: "my-utils", applets: { dir: "/a", prefix: "p-", suffix: "-s" }, multicall: "/usr/bin/m" } },
      setuid: [],
      exclude: [],
    });
  });

  // Finding (not in src/ yet): unknown keys in an entry are ignored, so a
  // drop-in's typo "setiud": ["sudo"] silently drops the setuid requirement
  // that planEnable enforces; config.jsonc refuses unknown keys, the catalog
  // does not.
  test("unknown keys in an entry are refused (a typo must not drop a setuid requirement)", () => {
    const e = thrown(() => parseCatalog(JSON.stringify({ x: { dpkg: recipe(), setiud: ["sudo"] } }), W));
    expect(e.message).toContain("setiud");
  });
});

describe("resolveProviders", () => {
  const catalog: Catalog = loadCatalog(join(tmp, "none"));

  test("known names, in the order asked, duplicates once", () => {
    expect(resolveProviders(catalog, ["sudo-rs", "coreutils", "sudo-rs"]).map((p) => p.name)).toEqual(["sudo-rs", "coreutils"]);
    expect(resolveProviders(catalog, [])).toEqual([]);
  });

  test("unknown → usage error quoting the unknown names and listing the known ones, sorted", () => {
    const one = thrown(() => resolveProviders(catalog, ["coreutils", "uutils"]));
    expect(one.exitCode).toBe(Exit.USAGE);
    expect(one.message).toBe('unknown provider "uutils"; known: busybox, coreutils, diffutils, findutils, sudo-rs');
    const two = thrown(() => resolveProviders(catalog, ["zz", "aa"]));
    expect(two.message).toBe('unknown providers "zz", "aa"; known: busybox, coreutils, diffutils, findutils, sudo-rs');
  });
});

describe("native switches in the catalog", () => {
  test("sudo-rs names the alternatives group; a bad native entry is refused with where it is", () => {
    const builtin = loadCatalog(join(tmp, "no-such-providers.d"));
    expect(builtin.get("sudo-rs")!.recipes.dpkg!.native).toEqual({ kind: "alternative", name: "sudo", original: "/usr/bin/sudo.ws", replacement: "/usr/lib/cargo/bin/sudo" });
    const entry = (native: unknown) => JSON.stringify({ x: { description: "d", dpkg: { replaces: ["a"], package: "b", applets: { dir: "/usr/bin" }, native } } });
    expect(() => parseCatalog(entry({ packages: { original: "a" } }), "t.jsonc")).toThrow("x.dpkg.native.replacement: must be a package name");
    expect(() => parseCatalog(entry({ alternative: { name: "sudo", original: "rel", replacement: "/b" } }), "t.jsonc")).toThrow("must be an absolute path");
    expect(() => parseCatalog(entry({ other: {} }), "t.jsonc")).toThrow('unknown key "other"');
  });
});
