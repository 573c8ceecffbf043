/** Local files that are wrong in ways a hand edit or a hostile root makes
 * them: one line, the documented exit code, nothing half-done; and a cache
 * that cannot be saved never fails a finished operation. Temp roots only. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootPool } from "../helpers/pool.ts";
import { diffSnapshots, pkgswitch, snapshotTree } from "../helpers/cli.ts";

setDefaultTimeout(300_000);
const newRoot = rootPool();

describe("bad local files", () => {
  test("hash-cache.json is a directory: enable and disable finish (exit 0) with one warning, no stack trace, no temp file left", () => {
    const root = newRoot();
    mkdirSync(join(root, "var/lib/pkgswitch/hash-cache.json"), { recursive: true });
    for (const argv of [["enable", "coreutils", "--yes"], ["disable", "coreutils", "--yes"]]) {
      const r = pkgswitch(["--root", root, ...argv]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^warning: hash cache not saved \(.*EISDIR.*\); the next operation hashes its files again\n$/);
    }
    expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
    expect(readdirSync(join(root, "var/lib/pkgswitch")).filter((n) => n.includes(".tmp") || n.includes("pkgswitch-tmp"))).toEqual([]);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });

  test("a dangling link at config.jsonc or providers.d is an error (exit 2, one line), not an absent file", () => {
    for (const [rel, argv] of [["etc/pkgswitch/config.jsonc", ["status"]], ["etc/pkgswitch/providers.d", ["list"]]] as const) {
      const root = newRoot();
      mkdirSync(join(root, "etc/pkgswitch"), { recursive: true });
      rmSync(join(root, rel), { recursive: true, force: true });
      symlinkSync("/nonexistent-pkgswitch-test", join(root, rel));
      const r = pkgswitch(["--root", root, ...argv]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(r.stderr).toContain(join(root, rel));
    }
  });

  test('a drop-in whose "replaces" names an option ("--foo") is refused (exit 2) before any package-manager command', () => {
    const root = newRoot();
    mkdirSync(join(root, "etc/pkgswitch/providers.d"), { recursive: true });
    writeFileSync(join(root, "etc/pkgswitch/providers.d/x.jsonc"), JSON.stringify({ x: { description: "x", dpkg: { replaces: ["--foo"], package: "rust-coreutils", applets: { dir: "/usr/lib/cargo/bin/coreutils" } } } }));
    const before = snapshotTree(root);
    const r = pkgswitch(["--root", root, "enable", "x", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*x\.dpkg\.replaces\[0\].*must be a package name/);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
    expect(existsSync(join(root, "var/lib/pkgswitch/audit"))).toBe(false);
  });
});
