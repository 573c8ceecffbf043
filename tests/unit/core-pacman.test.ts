/** Pure parsers of the pacman backend (src/pkgmgr/pacman.ts), on verbatim
 * pacman 6 output captured from the Arch fixture root (tests/fixtures/pacman/
 * says which command made each file), and the path spelling pacman's -Qo
 * answers with on a usr-merged root. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseNameVersion, parseOwners, parseQueryInfoList, parseSyncInfo, pacmanSpelling, sourceRepoOf } from "../../src/pkgmgr/pacman.ts";
import { PROJECT } from "../helpers/paths.ts";
import { loadCatalog } from "../../src/providers/catalog.ts";
import { discoverApplets, replacementCommands } from "../../src/providers/discover.ts";

const fixture = (name: string) => readFileSync(join(PROJECT, "tests/fixtures/pacman", name), "utf8");

describe("parseQueryInfoList (-Qil)", () => {
  const pkgs = parseQueryInfoList(fixture("Qil-coreutils-uutils.txt"));
  test("one entry per package with version, arch, packager, URL", () => {
    expect([...pkgs.keys()]).toEqual(["coreutils", "uutils-coreutils"]);
    expect(pkgs.get("coreutils")).toMatchObject({ name: "coreutils", version: "9.1-1", arch: "x86_64", supplier: "pkgswitch fixture <fixture@pkgswitch.invalid>", homepage: "https://example.invalid/pkgswitch-fixture" });
    expect(pkgs.get("uutils-coreutils")!.version).toBe("0.0.17-1");
  });
  test("file lists without directories, each file once, in pacman's order", () => {
    const cu = pkgs.get("coreutils")!.files;
    expect(cu.length).toBe(105);
    expect(cu).toContain("/usr/bin/ls");
    expect(cu).toContain("/usr/bin/[");
    expect(cu.some((f) => f.endsWith("/"))).toBe(false);
    const uu = pkgs.get("uutils-coreutils")!.files;
    expect(uu).toContain("/usr/bin/uu-coreutils");
    expect(uu).toContain("/usr/bin/uu-ls");
    expect(uu.filter((f) => f.startsWith("/usr/bin/uu-")).length).toBe(113);
    expect(uu.every((f) => f.startsWith("/usr/bin/uu-"))).toBe(true);
  });
  test("a file line of another package, or 'None' fields, are not taken", () => {
    const p = parseQueryInfoList("Name            : a\nVersion         : 1-1\nArchitecture    : any\nURL             : None\nPackager        : Unknown Packager\n\na /usr/bin/x\nb /usr/bin/y\n");
    expect(p.get("a")).toEqual({ name: "a", version: "1-1", arch: "any", files: ["/usr/bin/x"] });
  });
  test("empty output (no package found)", () => {
    expect(parseQueryInfoList("").size).toBe(0);
  });
});

describe("parseOwners (-Qo)", () => {
  test("resolved paths to owners; unowned paths (on stderr) absent", () => {
    const o = parseOwners(fixture("Qo.stdout"));
    expect(Object.fromEntries(o)).toEqual({ "/usr/bin/ls": "coreutils", "/usr/bin/cat": "coreutils", "/usr/bin/uu-ls": "uutils-coreutils", "/usr/bin/[": "coreutils" });
    expect(parseOwners(fixture("Qo.stderr")).size).toBe(0);
  });
  test("a path owned by several packages (a directory) keeps the first", () => {
    expect(parseOwners("/usr/bin/ is owned by bash 5.2.15-1\n/usr/bin/ is owned by coreutils 9.1-1\n").get("/usr/bin/")).toBe("bash");
  });
  test("paths with spaces", () => {
    expect(parseOwners("/usr/share/a b is owned by x 1-1\n").get("/usr/share/a b")).toBe("x");
  });
});

describe("parseSyncInfo (-Si) and sourceRepoOf", () => {
  const sync = parseSyncInfo(fixture("Si.txt"));
  test("repository and version of each package", () => {
    expect(sync.get("coreutils")).toEqual({ repo: "core", version: "9.1-1" });
    expect(sync.get("uutils-coreutils")).toEqual({ repo: "core", version: "0.0.17-1" });
    expect(sync.get("bash")).toEqual({ repo: "core", version: "5.2.15-1" });
  });
  test("the installed version from a repository names it; any other version is local", () => {
    const installed = parseNameVersion(fixture("Q.txt"));
    installed.set("coreutils", "9.1-2"); // as after `pacman -U` of a newer build
    const repos = sourceRepoOf(installed, sync);
    expect(repos.get("uutils-coreutils")).toBe("core");
    expect(repos.get("coreutils")).toBe("local");
    expect(repos.get("glibc")).toBe("local"); // not in the -Si answer
  });
});

describe("parseNameVersion (-Q, --print-format '%n %v')", () => {
  test("every installed package", () => {
    const q = parseNameVersion(fixture("Q.txt"));
    expect(q.size).toBe(8);
    expect(q.get("pacman")).toBe("6.0.2-3");
  });
  test("--print answers: what a transaction would change", () => {
    expect([...parseNameVersion(fixture("R-print.txt")).keys()]).toEqual(["uutils-coreutils"]);
    expect(parseNameVersion(fixture("S-print.txt")).size).toBe(0);
  });
});

describe("pacmanSpelling: the path -Qo prints for a path asked", () => {
  const root = mkdtempSync(join(tmpdir(), "pkgswitch-pacman-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  symlinkSync("usr/bin", join(root, "bin"));
  symlinkSync("bin", join(root, "usr/sbin"));
  symlinkSync("/usr/bin", join(root, "abs")); // absolute: resolved inside the root, never the host's
  symlinkSync("uu-ls", join(root, "usr/bin/ls"));
  test.each([
    ["/usr/bin/ls", "/usr/bin/ls"], // the last component is never followed
    ["/bin/cat", "/usr/bin/cat"],
    ["/usr/sbin/chroot", "/usr/bin/chroot"],
    ["/abs/x", "/usr/bin/x"],
    ["/nonexistent/dir/x", "/nonexistent/dir/x"],
  ])("%s → %s", (asked, printed) => {
    expect(pacmanSpelling(root, asked)).toBe(printed);
  });
});

describe("Arch's uutils-coreutils layout through the catalog's pacman recipe", () => {
  const pkgs = parseQueryInfoList(fixture("Qil-coreutils-uutils.txt"));
  const recipe = loadCatalog("/nonexistent").get("coreutils")!.recipes.pacman!;
  const commands = replacementCommands(recipe, pkgs.get("uutils-coreutils")!.files);
  test("uu-<cmd> → <cmd>, from the package's own file list; the multicall binary is not a command", () => {
    expect(commands.get("ls")).toBe("/usr/bin/uu-ls");
    expect(commands.get("[")).toBe("/usr/bin/uu-[");
    expect(commands.has("uu-ls")).toBe(false);
    expect(commands.get("coreutils")).toBe("/usr/bin/uu-coreutils"); // named like no GNU command: never a target
    expect(recipe.multicall).toBe("/usr/bin/uu-coreutils");
  });
  test("intersected with coreutils' files: 103 targets, each linked to its uu- name", () => {
    const applets = discoverApplets(commands, new Map([["coreutils", pkgs.get("coreutils")!.files]]), true, new Set());
    expect(applets.length).toBe(103);
    for (const a of applets) expect(a).toEqual({ applet: a.applet, target: `/usr/bin/${a.applet}`, linkTarget: `/usr/bin/uu-${a.applet}`, replacedPackage: "coreutils", dbPath: `/usr/bin/${a.applet}` });
    // GNU commands uutils 0.0.17 lacks stay GNU.
    const gnuOnly = pkgs.get("coreutils")!.files.map((f) => f.slice("/usr/bin/".length)).filter((c) => !commands.has(c));
    expect(gnuOnly.sort()).toEqual(["basenc", "stty"]);
  });
});
