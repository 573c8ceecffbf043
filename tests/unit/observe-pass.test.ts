/** executableInfoPass (status, relink's inspection) answers what
 * executableInfo answers, link by link, on real trees: applet links into a
 * multicall binary, relative and absolute links, chains, dangling links,
 * loops, chains too long to follow, setuid and non-executable files. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { executableInfo, executableInfoPass } from "../../src/switch/observe.ts";

let root = "";
const links: string[] = [];

beforeAll(() => {
  root = mkdtempSync("/tmp/pkgswitch-observe-pass-");
  const at = (p: string) => join(root, p);
  for (const d of ["usr/bin", "usr/lib/cargo/bin/coreutils", "usr/sbin", "opt/chain"]) mkdirSync(at(d), { recursive: true });
  writeFileSync(at("usr/bin/coreutils"), "#!/bin/sh\n");
  chmodSync(at("usr/bin/coreutils"), 0o755);
  writeFileSync(at("usr/bin/plain"), "not executable\n");
  chmodSync(at("usr/bin/plain"), 0o644);
  writeFileSync(at("usr/sbin/su"), "#!/bin/sh\n");
  chmodSync(at("usr/sbin/su"), 0o4755);
  // 40 applet links to one multicall binary, the shape the pass is for.
  for (let i = 0; i < 40; i++) {
    symlinkSync("../../../../bin/coreutils", at(`usr/lib/cargo/bin/coreutils/a${i}`));
    links.push(`/usr/lib/cargo/bin/coreutils/a${i}`);
  }
  symlinkSync("/usr/bin/coreutils", at("usr/bin/abs"));
  symlinkSync("abs", at("usr/bin/via-abs"));
  symlinkSync("plain", at("usr/bin/to-plain"));
  symlinkSync("../sbin/su", at("usr/bin/to-su"));
  symlinkSync("gone", at("usr/bin/dangling"));
  symlinkSync("loop-b", at("usr/bin/loop-a"));
  symlinkSync("loop-a", at("usr/bin/loop-b"));
  symlinkSync("/../../../usr/bin/coreutils", at("usr/bin/above-root"));
  // A chain of 20 links: longer than the walk follows (16), and entered
  // part-way too, so answers remembered from one entry must not leak to another.
  for (let i = 0; i < 20; i++) symlinkSync(i === 19 ? "/usr/bin/coreutils" : `c${i + 1}`, at(`opt/chain/c${i}`));
  links.push("/usr/bin/coreutils", "/usr/bin/abs", "/usr/bin/via-abs", "/usr/bin/to-plain", "/usr/bin/to-su", "/usr/bin/dangling", "/usr/bin/loop-a", "/usr/bin/above-root", "/usr/bin/missing", "/usr/sbin");
  for (const i of [19, 10, 5, 4, 3, 0, 8, 2, 1]) links.push(`/opt/chain/c${i}`);
});

afterAll(() => {
  if (root.startsWith("/tmp/pkgswitch-observe-pass-")) rmSync(root, { recursive: true, force: true });
});

test("one pass answers each link as executableInfo does, in any order", () => {
  for (const order of [links, [...links].reverse()]) {
    const pass = executableInfoPass(root);
    for (const l of order) expect({ l, ...pass(l) }).toEqual({ l, ...executableInfo(root, l) });
  }
});

test("the answers are real: applets, setuid, not executable, dangling, loops, too long", () => {
  const pass = executableInfoPass(root);
  expect(pass("/usr/lib/cargo/bin/coreutils/a7")).toEqual({ exists: true, executable: true, setuidRoot: false });
  expect(pass("/usr/bin/to-su").setuidRoot).toBe(process.getuid?.() === 0);
  expect(pass("/usr/bin/to-plain")).toEqual({ exists: true, executable: false, setuidRoot: false });
  expect(pass("/usr/bin/dangling").exists).toBe(false);
  expect(pass("/usr/bin/loop-a").exists).toBe(false);
  expect(pass("/usr/bin/above-root").exists).toBe(true);
  expect(pass("/opt/chain/c0").exists).toBe(false); // 21 lookups: beyond the walk
  expect(pass("/opt/chain/c5").exists).toBe(true); // 16 lookups: the most it makes
  expect(pass("/opt/chain/c4").exists).toBe(false); // 17 (c5 is remembered by now)
});
