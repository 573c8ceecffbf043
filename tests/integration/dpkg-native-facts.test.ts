/** The dpkg backend's native package facts (Ubuntu's coreutils-from-gnu /
 * coreutils-from-uutils pair) on real dpkg databases read by the real
 * dpkg-query: when the status file names neither package, the answer
 * (none) comes without starting dpkg-query; when it names one, or dpkg has
 * journal entries not yet folded into the status file, dpkg-query is asked
 * as before and its answer stands. */
import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openBackend } from "../../src/pkgmgr/factory.ts";
import type { CommandResult } from "../../src/pkgmgr/exec.ts";
import { makeFakeRoot, removeRoot, type FakePackage } from "../helpers/fakeroot.ts";

const SPEC = { kind: "packages", original: "coreutils-from-gnu", replacement: "coreutils-from-uutils" } as const;
const pkg = (files: Record<string, string>): FakePackage => ({ version: "1.0", files });
const roots: string[] = [];

afterEach(() => {
  for (const r of roots.splice(0)) removeRoot(r);
});

function factsOf(packages: Record<string, FakePackage>, edit?: (root: string) => void) {
  const root = makeFakeRoot({ packages });
  roots.push(root);
  edit?.(root);
  const ran: CommandResult[] = [];
  const backend = openBackend({ root, observe: (r) => ran.push(r), readOnly: true });
  return { facts: backend.native!.facts(SPEC), ran: ran.map((r) => r.argv[0]) };
}

test("neither package in the database: no facts, and no dpkg-query", () => {
  const r = factsOf({ coreutils: pkg({ "/usr/bin/ls": "#!/bin/sh\n" }), "coreutils-from-gnu-doc": pkg({ "/usr/share/doc/x": "x" }) });
  expect(r).toEqual({ facts: null, ran: [] });
});

test("the original side installed: dpkg-query is asked and its answer stands", () => {
  const r = factsOf({ "coreutils-from-gnu": pkg({ "/usr/bin/ls": "#!/bin/sh\n", "/usr/share/doc/x": "x" }) });
  expect(r.ran).toEqual(["dpkg-query"]);
  expect(r.facts).toEqual({ active: "original", activeName: "coreutils-from-gnu", paths: ["/usr/bin/ls"], packages: ["coreutils-from-gnu"] });
});

test("dpkg journal entries pending: dpkg-query is asked (it reads them too)", () => {
  const r = factsOf({ coreutils: pkg({ "/usr/bin/ls": "#!/bin/sh\n" }) }, (root) => writeFileSync(join(root, "var/lib/dpkg/updates/0001"), ""));
  expect(r).toEqual({ facts: null, ran: ["dpkg-query"] });
});
