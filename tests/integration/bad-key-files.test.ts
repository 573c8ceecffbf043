/** `keys show` reads a public key that may be anything: a directory, a
 * FIFO (which would block a plain read), a link to /dev/zero (endless), a
 * huge file. Each is one line and exit 2 (not a key file), never a crash. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { diffSnapshots, pkgswitch, snapshotTree } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

const PLANTS: [string, (path: string) => void, string][] = [
  ["a directory", (p) => mkdirSync(p), "is not a regular file"],
  ["a FIFO", (p) => expect(spawnSync("mkfifo", [p]).status).toBe(0), "is not a regular file"],
  ["a link to /dev/zero", (p) => symlinkSync("/dev/zero", p), "is a symbolic link"],
  ["larger than 1 MiB", (p) => writeFileSync(p, "a".repeat((1 << 20) + 1)), "is larger than 1048576 bytes"],
];

describe("keys show: a signing.pub that is not a key file", () => {
  const root = coreutilsRoot();
  cleanup.push(root);
  const keys = join(root, "etc/pkgswitch/keys");
  const pub = join(keys, "signing.pub");

  test("a generated key shows (exit 0)", () => {
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "keys", "show"]).code).toBe(0);
  });

  for (const [name, plant, why] of PLANTS) {
    test(`${name} → exit 2, one line naming it, nothing changed`, () => {
      renameSync(pub, pub + ".real");
      try {
        plant(pub);
        const before = snapshotTree(root);
        const r = pkgswitch(["--root", root, "keys", "show"], { timeoutMs: 20_000 });
        const what = `${r.code}: ${r.stderr}`;
        expect(r.code, what).toBe(2);
        expect(r.stderr.trim().split("\n"), what).toHaveLength(1);
        expect(r.stderr, what).toContain(`error: public key ${pub} ${why}: it must be a regular file of at most 1 MiB holding a minisign public key`);
        expect(r.stderr, what).not.toContain("internal error");
        expect(diffSnapshots(before, snapshotTree(root)), what).toEqual([]);
      } finally {
        rmSync(pub, { recursive: true, force: true });
        renameSync(pub + ".real", pub);
      }
    });
  }

  test("--pubkey naming a directory or /dev/zero → exit 2, one line", () => {
    for (const [path, why] of [[keys, "is not a regular file"], ["/dev/zero", "is not a regular file"]] as const) {
      const r = pkgswitch(["--root", root, "keys", "show", "--pubkey", path], { timeoutMs: 20_000 });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr).toContain(`error: public key ${path} ${why}:`);
    }
  });
});
