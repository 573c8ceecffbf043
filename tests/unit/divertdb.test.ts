/** dpkg's diversions database, written in one go (src/pkgmgr/divertdb.ts):
 * the planner against dpkg-divert itself. Every case runs the same entries
 * through the host's dpkg-divert, one call each, on a scratch admin dir:
 * where dpkg-divert succeeds the planner must give the same set of records
 * (or decline), and where dpkg-divert fails the planner must decline (so
 * the backend leaves the batch to dpkg-divert and its own error). */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDivertDb, listProblem, parseDivertDb, planAdd, planRemove, plainDpkgName } from "../../src/pkgmgr/divertdb.ts";
import type { Diversion } from "../../src/pkgmgr/backend.ts";

const scratch = mkdtempSync(join(tmpdir(), "pkgswitch-divertdb-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** A scratch root whose diversions file holds `text`. */
function rootWith(text: string): string {
  const root = join(scratch, `r${n++}`);
  mkdirSync(join(root, "var/lib/dpkg"), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  if (text !== "") writeFileSync(join(root, "var/lib/dpkg/diversions"), text);
  mkdirSync(join(root, "usr/bin/somedir"), { recursive: true });
  return root;
}

function dpkgDivert(root: string, args: string[]): number {
  return Bun.spawnSync(["dpkg-divert", `--root=${root}`, "--no-rename", ...args], { stdout: "ignore", stderr: "ignore" }).exitCode;
}

function dbOf(root: string): Diversion[] {
  let text = "";
  try {
    text = readFileSync(join(root, "var/lib/dpkg/diversions"), "utf8");
  } catch {}
  return parseDivertDb(text)!;
}

const key = (rs: Diversion[]) => rs.map((r) => `${r.from} ${r.to} ${r.by}`).sort();

/** dpkg-divert's verdict on adding `entries` one by one: the records after,
 * or null when a call failed. */
function referenceAdd(text: string, entries: Array<{ from: string; to: string }>): Diversion[] | null {
  const root = rootWith(text);
  for (const e of entries) if (dpkgDivert(root, ["--local", "--divert", e.to, "--add", e.from]) !== 0) return null;
  return dbOf(root);
}

function referenceRemove(text: string, paths: string[]): Diversion[] | null {
  const root = rootWith(text);
  for (const p of paths) if (dpkgDivert(root, ["--remove", p]) !== 0) return null;
  return dbOf(root);
}

const EXISTING = formatDivertDb([
  { from: "/usr/bin/pg_config", to: "/usr/bin/pg_config.libpq-dev", by: "postgresql-common" },
  { from: "/bin/ls", to: "/bin/.ls.pkgswitch-orig", by: ":" },
]);

describe("planAdd against dpkg-divert --add", () => {
  const cases: Array<[string, string, Array<{ from: string; to: string }>]> = [
    ["fresh database, many entries", "", Array.from({ length: 12 }, (_, i) => ({ from: `/usr/bin/t${i}`, to: `/usr/bin/.t${i}.pkgswitch-orig` }))],
    ["beside a package's diversion and a local one", EXISTING, [{ from: "/bin/cat", to: "/bin/.cat.pkgswitch-orig" }, { from: "/bin/cp", to: "/bin/.cp.pkgswitch-orig" }]],
    ["the same local diversion again (dpkg-divert leaves it)", EXISTING, [{ from: "/bin/ls", to: "/bin/.ls.pkgswitch-orig" }]],
    ["the same entry twice in one batch", "", [{ from: "/bin/a", to: "/bin/.a.o" }, { from: "/bin/a", to: "/bin/.a.o" }]],
    ["from already diverted elsewhere (clash)", EXISTING, [{ from: "/bin/ls", to: "/bin/.ls.other" }]],
    ["to is another diversion's from (clash)", EXISTING, [{ from: "/bin/x", to: "/bin/ls" }]],
    ["to is another diversion's to (clash)", EXISTING, [{ from: "/bin/x", to: "/bin/.ls.pkgswitch-orig" }]],
    ["a package's diversion re-added as local (clash)", EXISTING, [{ from: "/usr/bin/pg_config", to: "/usr/bin/pg_config.libpq-dev" }]],
    ["two entries to one name (clash)", "", [{ from: "/bin/a", to: "/bin/.o" }, { from: "/bin/b", to: "/bin/.o" }]],
    ["a diversion to itself", "", [{ from: "/bin/a", to: "/bin/a" }]],
    ["a relative name", "", [{ from: "bin/a", to: "/bin/.a.o" }]],
  ];
  for (const [name, text, entries] of cases) {
    test(name, () => {
      const ref = referenceAdd(text, entries);
      const plan = planAdd(parseDivertDb(text)!, entries);
      if (ref === null) expect(plan).toBeNull();
      else {
        expect(plan).not.toBeNull();
        expect(key(plan!.records)).toEqual(key(ref));
        expect(plan!.changed).toBe(key(ref).join() !== key(parseDivertDb(text)!).join());
        // And dpkg reads the planned file as it reads its own.
        const root = rootWith(formatDivertDb(plan!.records));
        expect(dpkgDivert(root, ["--list"])).toBe(0);
      }
    });
  }
});

describe("planRemove against dpkg-divert --remove", () => {
  test("local diversions removed, an absent one ignored, the package's kept", () => {
    const paths = ["/bin/ls", "/bin/never-diverted"];
    const ref = referenceRemove(EXISTING, paths)!;
    const plan = planRemove(parseDivertDb(EXISTING)!, paths)!;
    expect(key(plan.records)).toEqual(key(ref));
    expect(plan.changed).toBe(true);
    expect(planRemove(parseDivertDb(EXISTING)!, ["/bin/none"])!.changed).toBe(false);
  });
  test("a package's diversion is left to dpkg-divert", () => {
    expect(planRemove(parseDivertDb(EXISTING)!, ["/usr/bin/pg_config"])).toBeNull();
  });
});

describe("parseDivertDb declines what it does not know to be dpkg's own", () => {
  test("complete records parse; format round-trips", () => {
    expect(formatDivertDb(parseDivertDb(EXISTING)!)).toBe(EXISTING);
    expect(parseDivertDb("")).toEqual([]);
  });
  for (const [name, text] of [
    ["no trailing newline", "/a\n/b\n:"],
    ["an incomplete record", "/a\n/b\n:\n/c\n"],
    ["an empty package line", "/a\n/b\n\n"],
    ["a non-normalized name", "//a\n/b\n:\n"],
    ["a dot component", "/x/./a\n/b\n:\n"],
    ["a name in two records (dpkg: conflicting diversions)", "/a\n/b\n:\n/b\n/c\n:\n"],
  ] as const) {
    test(name, () => expect(parseDivertDb(text)).toBeNull());
  }
  test("plainDpkgName", () => {
    expect(plainDpkgName("/usr/bin/.ls.pkgswitch-orig")).toBe(true);
    for (const p of ["", "/", "usr/bin", "/usr//bin", "/usr/bin/", "/a/../b", "/a\nb"]) expect(plainDpkgName(p)).toBe(false);
  });
});

describe("listProblem (dpkg-divert --list read back)", () => {
  const out = "diversion of /usr/bin/pg_config to /usr/bin/pg_config.libpq-dev by postgresql-common\nlocal diversion of /bin/ls to /bin/.ls.pkgswitch-orig\n";
  test("what was written is shown", () => {
    expect(listProblem(out, [{ from: "/bin/ls", to: "/bin/.ls.pkgswitch-orig" }], ["/bin/cat"])).toBeNull();
  });
  test("an addition missing, or a removal still listed, is named", () => {
    expect(listProblem(out, [{ from: "/bin/cat", to: "/bin/.cat.pkgswitch-orig" }], [])).toContain("/bin/cat");
    expect(listProblem(out, [{ from: "/bin/ls", to: "/bin/.ls.other" }], [])).toContain("/bin/.ls.other");
    expect(listProblem(out, [], ["/bin/ls"])).toContain("still shows");
  });
});
