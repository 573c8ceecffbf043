/** Applet discovery (src/providers/discover.ts): what the replacement really
 * ships, intersected with what the replaced packages own in the command dirs. */
import { describe, expect, test } from "bun:test";
import type { ManagerRecipe } from "../../src/providers/catalog.ts";
import { discoverApplets, parseAppletList, replacementCommands } from "../../src/providers/discover.ts";

const recipe = (applets: ManagerRecipe["applets"]): ManagerRecipe => ({ replaces: ["coreutils"], package: "rust-coreutils", applets });

describe("replacementCommands", () => {
  test("dir: every direct entry of the dir (trailing slash tolerated); subdirs, the dir itself and other dirs are not", () => {
    const files = [
      "/usr/lib/cargo/bin/coreutils",
      "/usr/lib/cargo/bin/coreutils/ls",
      "/usr/lib/cargo/bin/coreutils/[",
      "/usr/lib/cargo/bin/coreutils/b2sum",
      "/usr/lib/cargo/bin/coreutils/sub/nested",
      "/usr/lib/cargo/bin/findutils/find",
      "/usr/share/doc/rust-coreutils/copyright",
      "/usr/bin/coreutils",
    ];
    for (const dir of ["/usr/lib/cargo/bin/coreutils", "/usr/lib/cargo/bin/coreutils/"]) {
      const m = replacementCommands(recipe({ dir }), files);
      expect([...m.entries()].sort()).toEqual([
        ["[", "/usr/lib/cargo/bin/coreutils/["],
        ["b2sum", "/usr/lib/cargo/bin/coreutils/b2sum"],
        ["ls", "/usr/lib/cargo/bin/coreutils/ls"],
      ]);
    }
  });

  test("prefix: stripped; entries without it are not commands; a bare prefix is not a name", () => {
    const files = ["/usr/bin/uu-ls", "/usr/bin/uu-cat", "/usr/bin/ls", "/usr/bin/coreutils", "/usr/bin/uu-"];
    const m = replacementCommands(recipe({ dir: "/usr/bin", prefix: "uu-" }), files);
    expect(Object.fromEntries(m)).toEqual({ ls: "/usr/bin/uu-ls", cat: "/usr/bin/uu-cat" });
  });

  test("suffix and names (the pacman sudo-rs recipe): names may be given with or without the suffix", () => {
    const files = ["/usr/bin/sudo-rs", "/usr/bin/su-rs", "/usr/bin/visudo-rs", "/usr/bin/other-rs", "/usr/bin/sudo"];
    const m = replacementCommands(recipe({ dir: "/usr/bin", names: ["sudo-rs", "su-rs", "visudo-rs"], suffix: "-rs" }), files);
    expect(Object.fromEntries(m)).toEqual({ sudo: "/usr/bin/sudo-rs", su: "/usr/bin/su-rs", visudo: "/usr/bin/visudo-rs" });
    const m2 = replacementCommands(recipe({ dir: "/usr/bin", names: ["sudo"], suffix: "-rs" }), files);
    expect(Object.fromEntries(m2)).toEqual({ sudo: "/usr/bin/sudo-rs" });
  });

  test("names (the dpkg sudo-rs recipe): only the listed names", () => {
    const files = ["/usr/lib/cargo/bin/sudo", "/usr/lib/cargo/bin/su", "/usr/lib/cargo/bin/visudo", "/usr/lib/cargo/bin/other"];
    const m = replacementCommands(recipe({ dir: "/usr/lib/cargo/bin", names: ["sudo", "su", "visudo"] }), files);
    expect([...m.keys()].sort()).toEqual(["su", "sudo", "visudo"]);
  });

  test("list: every listed command maps to the multicall binary; package files are ignored", () => {
    const m = replacementCommands(recipe({ list: "/usr/bin/busybox" }), ["/usr/bin/ignored"], ["ls", "cat", "", ".", "..", "a/b", "[["]);
    expect(Object.fromEntries(m)).toEqual({ ls: "/usr/bin/busybox", cat: "/usr/bin/busybox", "[[": "/usr/bin/busybox" });
    expect(replacementCommands(recipe({ list: "/usr/bin/busybox" }), []).size).toBe(0);
  });
});

describe("parseAppletList", () => {
  test("one name a line; blanks, whitespace and paths dropped", () => {
    expect(parseAppletList("[\n[[\nacpid\n  ls  \n\n\r\nbin/ls\n.\n..\ncat\n")).toEqual(["[", "[[", "acpid", "ls", "cat"]);
    expect(parseAppletList("")).toEqual([]);
  });
});

describe("discoverApplets", () => {
  const cargo = (n: string) => `/usr/lib/cargo/bin/coreutils/${n}`;
  const replacement = new Map(["ls", "cat", "true", "stty", "hostname", "chroot", "x", "[", "install"].map((n) => [n, cargo(n)]));

  test("usrmerge: /bin/ls → target /usr/bin/ls, dbPath stays /bin/ls; /usr/sbin kept; sorted by target", () => {
    const replaced = new Map([["coreutils", ["/bin", "/bin/ls", "/usr/bin/[", "/bin/cat", "/usr/sbin/chroot", "/usr/bin/install", "/usr/share/man/man1/ls.1.gz"]]]);
    const a = discoverApplets(replacement, replaced, true, new Set());
    expect(a).toEqual([
      { applet: "chroot", target: "/usr/sbin/chroot", linkTarget: cargo("chroot"), replacedPackage: "coreutils", dbPath: "/usr/sbin/chroot" },
      { applet: "[", target: "/usr/bin/[", linkTarget: cargo("["), replacedPackage: "coreutils", dbPath: "/usr/bin/[" },
      { applet: "cat", target: "/usr/bin/cat", linkTarget: cargo("cat"), replacedPackage: "coreutils", dbPath: "/bin/cat" },
      { applet: "install", target: "/usr/bin/install", linkTarget: cargo("install"), replacedPackage: "coreutils", dbPath: "/usr/bin/install" },
      { applet: "ls", target: "/usr/bin/ls", linkTarget: cargo("ls"), replacedPackage: "coreutils", dbPath: "/bin/ls" },
    ].sort((x, y) => (x.target < y.target ? -1 : x.target > y.target ? 1 : 0)));
    // the sort is by code unit: "/usr/bin/[" < "/usr/bin/c…" < "/usr/sbin/…"
    expect(a.map((x) => x.target)).toEqual(["/usr/bin/[", "/usr/bin/cat", "/usr/bin/install", "/usr/bin/ls", "/usr/sbin/chroot"]);
  });

  test("not usrmerged: /bin/ls stays /bin/ls", () => {
    const a = discoverApplets(replacement, new Map([["coreutils", ["/bin/ls", "/sbin/x"]]]), false, new Set());
    expect(a.map((x) => [x.target, x.dbPath])).toEqual([["/bin/ls", "/bin/ls"], ["/sbin/x", "/sbin/x"]]);
  });

  test("/bin/x and /usr/bin/x: one target under usrmerge (first listed wins), two without", () => {
    const replaced = new Map([["coreutils", ["/bin/x", "/usr/bin/x"]]]);
    const merged = discoverApplets(replacement, replaced, true, new Set());
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ target: "/usr/bin/x", dbPath: "/bin/x" });
    const rev = discoverApplets(replacement, new Map([["coreutils", ["/usr/bin/x", "/bin/x"]]]), true, new Set());
    expect(rev).toHaveLength(1);
    expect(rev[0]).toMatchObject({ target: "/usr/bin/x", dbPath: "/usr/bin/x" });
    const split = discoverApplets(replacement, replaced, false, new Set());
    expect(split.map((x) => x.target)).toEqual(["/bin/x", "/usr/bin/x"]);
  });

  test("the same target owned by two replaced packages: the first package keeps it", () => {
    const replaced = new Map([
      ["coreutils", ["/bin/hostname"]],
      ["hostname", ["/usr/bin/hostname"]],
    ]);
    const a = discoverApplets(replacement, replaced, true, new Set());
    expect(a).toHaveLength(1);
    expect(a[0]!.replacedPackage).toBe("coreutils");
  });

  test("exclusions drop applets by name", () => {
    const a = discoverApplets(replacement, new Map([["coreutils", ["/bin/ls", "/bin/stty", "/bin/cat"]]]), true, new Set(["stty", "cat"]));
    expect(a.map((x) => x.applet)).toEqual(["ls"]);
  });

  test("only BIN_DIRS count: /usr/local/bin, /usr/libexec, nested dirs, /opt are ignored", () => {
    const replaced = new Map([["coreutils", ["/usr/local/bin/ls", "/usr/libexec/coreutils/cat", "/usr/bin/sub/true", "/opt/bin/x", "/usr/lib/ls", "/bin/true"]]]);
    const a = discoverApplets(replacement, replaced, true, new Set());
    expect(a.map((x) => x.dbPath)).toEqual(["/bin/true"]);
  });

  test("commands the replacement does not ship are not applets", () => {
    const a = discoverApplets(replacement, new Map([["coreutils", ["/usr/bin/sha256sum", "/bin/ls"]]]), true, new Set());
    expect(a.map((x) => x.applet)).toEqual(["ls"]);
  });

  test("a target equal to its link target is skipped (after canonicalization)", () => {
    const repl = new Map([
      ["ls", "/usr/bin/ls"],
      ["cat", "/usr/bin/busybox"],
    ]);
    expect(discoverApplets(repl, new Map([["coreutils", ["/usr/bin/ls", "/bin/cat"]]]), false, new Set()).map((x) => x.applet)).toEqual(["cat"]);
    // /bin/ls canonicalizes to /usr/bin/ls, which is the replacement itself
    expect(discoverApplets(repl, new Map([["coreutils", ["/bin/ls"]]]), true, new Set())).toEqual([]);
  });

  test("empty inputs", () => {
    expect(discoverApplets(new Map(), new Map([["coreutils", ["/bin/ls"]]]), true, new Set())).toEqual([]);
    expect(discoverApplets(replacement, new Map(), true, new Set())).toEqual([]);
  });
});
