/** hostPath and backupHostPath answer a path already in normal form by
 * slicing (src/config/paths.ts, src/fsops/backup.ts say why). Property: on
 * a real root with links among its directories, every path gets the answer
 * the same path spelled with a `.` component gets — that spelling is never
 * normal, so it takes the normalize/join route. */
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { forgetResolvedDirs, hostPath, isNormalAbsolute } from "../../src/config/paths.ts";
import { backupHostPath } from "../../src/fsops/backup.ts";
import { posix } from "node:path";

const tmp = mkdtempSync("/tmp/pkgswitch-hostpath-");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const root = join(tmp, "root");
mkdirSync(join(root, "usr/bin"), { recursive: true });
mkdirSync(join(root, "usr/lib/cargo/bin"), { recursive: true });
mkdirSync(join(root, "etc"), { recursive: true });
symlinkSync("usr/bin", join(root, "bin")); // usrmerge
symlinkSync("/usr/lib", join(root, "lib")); // absolute: restarts at the root
symlinkSync("../../etc", join(root, "usr/lib/up")); // `..` stops at the root
const stateDir = join(root, "var/lib/pkgswitch");
mkdirSync(join(stateDir, "backups/usr/bin"), { recursive: true });

/** Every path of 1–4 components drawn from names, `.`, `..`, empty ones, links. */
function paths(): string[] {
  const parts = ["usr", "bin", "lib", "up", "ls", "cargo", ".", "..", "", "...", ".x", "etc", "a b"];
  const out: string[] = [];
  const walk = (prefix: string, depth: number) => {
    if (depth > 0) out.push(prefix);
    if (depth === 4) return;
    for (const p of parts) walk(`${prefix}/${p}`, depth + 1);
  };
  walk("", 0);
  return out;
}

test("isNormalAbsolute is: absolute, posix.normalize leaves it, no trailing slash", () => {
  for (const p of [...paths(), "/", "//", "/a/", "a", "", "/a//b", "/\0"]) {
    expect(`${p}: ${isNormalAbsolute(p)}`).toBe(`${p}: ${p.length > 1 && p.startsWith("/") && !p.endsWith("/") && posix.normalize(p) === p}`);
  }
});

test("hostPath: a normal path gets the answer its `.` spelling gets, for several roots", () => {
  let normal = 0;
  for (const r of [root, `${root}/`, "/", tmp + "/root/../root"]) {
    for (const p of paths()) {
      forgetResolvedDirs();
      const fast = hostPath(r, p);
      forgetResolvedDirs();
      expect(`${r} ${p} → ${fast}`).toBe(`${r} ${p} → ${hostPath(r, `/.${p}`)}`);
      if (isNormalAbsolute(p)) normal++;
    }
  }
  expect(normal).toBeGreaterThan(1000);
});

test("backupHostPath: a normal backups/… path gets the answer (and the checks) its `./` spelling gets", () => {
  const rels = ["backups/usr/bin/ls", "backups/usr/bin/a b", "backups/x", "backups/usr/../etc", "backups//usr/bin/ls", "backups/./usr", "backups", "backups/", "other/usr/bin/ls", "backups/usr/bin/..."];
  for (const rel of rels) {
    const answer = (r: string) => {
      try {
        return backupHostPath(stateDir, r);
      } catch (e) {
        return `error: ${(e as Error).message}`;
      }
    };
    // (an error names the path as it was given)
    expect(`${rel} → ${answer(rel)}`).toBe(`${rel} → ${answer(`./${rel}`).replace(`./${rel}`, rel)}`);
  }
  expect(backupHostPath(stateDir, "backups/usr/bin/ls")).toBe(`${stateDir}/backups/usr/bin/ls`);
  // A link planted on the way is refused on either route.
  symlinkSync("/tmp", join(stateDir, "backups/lnk"));
  expect(() => backupHostPath(stateDir, "backups/lnk/ls")).toThrow(/symbolic link/);
});
