/** A planted link inside the audit directory must never make `audit archive`
 * write or delete outside the root: <audit dir>/archive/ is one of
 * pkgswitch's own directories, refused (exit 70, one line, nothing changed)
 * when it is a symbolic link — by the session's layout check, and again by
 * the archive code itself right before its sweep and writes. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archive, type Recorder } from "../../src/audit/archive.ts";
import { readLedger } from "../../src/audit/store.ts";
import { PkgswitchError } from "../../src/errors.ts";
import { diffSnapshots, pkgswitch, snapshotTree } from "../helpers/cli.ts";
import { makeRecord } from "../helpers/record.ts";

setDefaultTimeout(300_000);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A root with a short signed record (5 operations) and its key. */
function recordedRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "pkgswitch-hostile-audit-"));
  dirs.push(root);
  for (const d of ["var/lib/dpkg", "etc", "usr/bin", "run/lock"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  expect(pkgswitch(["--root", root, "keys", "generate", "-q"]).code).toBe(0);
  rmSync(join(root, "var/lib/pkgswitch/audit"), { recursive: true, force: true });
  makeRecord(root, 5, { allSigned: true });
  return root;
}

/** A directory outside the root holding what the archive's sweep would take
 * for its own leftovers, and a file of someone else's. */
function canary(): string {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-canary-"));
  dirs.push(dir);
  writeFileSync(join(dir, ".important.pkgswitch-tmp-1"), "not a temp file of pkgswitch's\n");
  writeFileSync(join(dir, "normal"), "keep me\n");
  return dir;
}

const auditOf = (root: string) => join(root, "var/lib/pkgswitch/audit");

describe("audit archive with <audit dir>/archive a symbolic link out of the root", () => {
  test("refused with 70 and one line; nothing written or deleted outside, the audit directory untouched", () => {
    const root = recordedRoot();
    const can = canary();
    symlinkSync(can, join(auditOf(root), "archive"));
    const outside = snapshotTree(can);
    const inside = snapshotTree(auditOf(root));
    for (const extra of [[], ["--audit-dir", auditOf(root)]]) {
      const r = pkgswitch(["--root", root, ...extra, "audit", "archive", "--keep", "0", "--yes"]);
      expect(r.code).toBe(70);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toBe(`error: archive directory ${join(auditOf(root), "archive")} is a symbolic link; pkgswitch does not follow links for its own directories — move it aside (nothing was changed)`);
      expect(diffSnapshots(outside, snapshotTree(can))).toEqual([]);
      expect(diffSnapshots(inside, snapshotTree(auditOf(root)))).toEqual([]);
    }
    // The same link is refused by a dry run too, and by a command that writes elsewhere.
    expect(pkgswitch(["--root", root, "audit", "archive", "--keep", "0", "--dry-run"]).code).toBe(70);
    expect(pkgswitch(["--root", root, "hooks", "install", "--apt"]).code).toBe(70);
    expect(diffSnapshots(outside, snapshotTree(can))).toEqual([]);
  });

  test("the archive code refuses it by itself (a link planted after the session's check)", () => {
    const root = recordedRoot();
    const can = canary();
    symlinkSync(can, join(auditOf(root), "archive"));
    const outside = snapshotTree(can);
    const inside = snapshotTree(auditOf(root));
    const recorded: string[] = [];
    const rec: Recorder = { opId: "20261202T000000Z-00000000", record: (e) => recorded.push(e), flush: () => {} };
    let err: unknown;
    try {
      archive(auditOf(root), readLedger(auditOf(root)), { keep: 0 }, rec, null, false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PkgswitchError);
    expect((err as PkgswitchError).exitCode).toBe(70);
    expect((err as Error).message).toContain("is a symbolic link");
    expect(recorded).toEqual([]);
    expect(diffSnapshots(outside, snapshotTree(can))).toEqual([]);
    expect(diffSnapshots(inside, snapshotTree(auditOf(root)))).toEqual([]);
  });

  test("a real archive directory still works (the check refuses links only)", () => {
    const root = recordedRoot();
    const r = pkgswitch(["--root", root, "audit", "archive", "--keep", "0", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("archived 5 operation(s) into 1 segment(s)");
  });
});
