/** Compatibility probes on a real debootstrap bookworm root: GNU coreutils
 * and uutils 0.0.17 side by side, before and after the switch. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { debianRoot, inRoot, removeDebianRoot } from "../helpers/debroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, snapshotTree } from "../helpers/cli.ts";

// Hundreds of probes, two processes each: tens of seconds on a loaded machine.
setDefaultTimeout(600_000);

interface Report {
  probes: number;
  same: number;
  differs: number;
  unsupported: number;
  switched: boolean;
  commands: Array<{ cmd: string; verdict: string; first?: { id: string; difference: string } }>;
  results: Array<{ id: string; verdict: string; difference?: string }>;
  scripts: { files: number; invocations: Array<{ cmd: string; flags: string[]; count: number; probe: string | null }> };
}

let root: string;
// What the system holds outside our own state dir: a check or a refused
// enable must leave all of it as it was.
const system = (p: string) => p.startsWith("var/lib/pkgswitch") || p.startsWith("run") || p.startsWith("proc");

beforeAll(() => {
  root = debianRoot();
  expect(Bun.spawnSync(["mount", "-t", "proc", "proc", join(root, "proc")]).exitCode).toBe(0);
  // An attested install: it also makes pkgswitch's own state dir, where
  // `check` keeps its scratch directory while it runs.
  expect(pkgswitch(["--root", root, "pkg", "install", "rust-coreutils", "--yes"]).code).toBe(0);
});
afterAll(() => removeDebianRoot(root));

describe("check and enable --require-compat on bookworm (GNU coreutils 9.1 vs uutils 0.0.17)", () => {
  let first: Report;

  test("check coreutils runs ≥ 200 probes, read-only, and gives the same report twice", () => {
    const before = snapshotTree(root, system);
    const a = pkgswitchJson<Report>(["--root", root, "check", "coreutils"]);
    expect(a.code).toBe(0);
    expect(a.json.switched).toBe(false);
    expect(a.json.probes).toBeGreaterThanOrEqual(200);
    expect(a.json.same + a.json.differs + a.json.unsupported).toBe(a.json.probes);
    // uutils 0.0.17's install -D creates the parent directories with the
    // file's mode (0640), where GNU makes them 0755: a real difference.
    const install = a.json.results.find((r) => r.id === "install-D-m")!;
    expect(install.verdict).toBe("differs");
    expect(install.difference).toBe("file deep/dir: mode 0755 vs 0640");
    expect(a.json.results.find((r) => r.id === "sort-n")!.verdict).toBe("same");
    // The root's own maintainer scripts call switched commands with flags,
    // and those flag sets are probed too.
    expect(a.json.scripts.files).toBeGreaterThan(10);
    expect(a.json.scripts.invocations.some((i) => i.probe !== null)).toBe(true);
    expect(a.json.results.some((r) => r.id.startsWith("script:"))).toBe(true);
    const b = pkgswitchJson<Report>(["--root", root, "check", "coreutils"]);
    expect(b.json.results).toEqual(a.json.results);
    expect(b.json.commands).toEqual(a.json.commands);
    expect(diffSnapshots(before, snapshotTree(root, system))).toEqual([]);
    expect(readdirSync(join(root, "var/lib/pkgswitch")).filter((f) => f.startsWith("check-"))).toEqual([]);
    first = a.json;
  });

  test("the human report names each command's verdict and first difference", () => {
    const r = pkgswitch(["--root", root, "check", "coreutils"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^install +differs +\d+ of \d+; first install-D-m: file deep\/dir: mode 0755 vs 0640$/m);
    expect(r.stdout).toMatch(/^sort +same +\d+ probes$/m);
    expect(r.stdout).toMatch(/^coreutils: \d+ compatibility probes: \d+ same, \d+ differ \(.*\), \d+ unsupported/m);
  });

  test("enable --require-compat refuses with exit 10 naming the probes, and changes nothing", () => {
    const before = snapshotTree(root, system);
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--require-compat", "--yes"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("--require-compat: probes do not match (coreutils: ");
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(diffSnapshots(before, snapshotTree(root, system))).toEqual([]);
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
  });

  test("enable without the flag switches, and the operation holds the probe results", () => {
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/compatibility probes: \d+ same, \d+ differ/);
    const op = /op (\S+) —/.exec(r.stdout)![1]!;
    const show = pkgswitchJson<{ events: Array<Record<string, unknown>> }>(["--root", root, "audit", "show", op]);
    const ev = show.json.events.find((e) => e.event === "compat.check")!;
    expect(ev.provider).toBe("coreutils");
    expect(ev.probes).toBe(first.probes);
    expect(ev.differs).toBe(first.differs);
    // The refused enable ran the same probes on the same binaries: reused.
    expect(ev.cached).toBe(true);
    expect((ev.not_same as Array<{ id: string }>).some((n) => n.id === "install-D-m")).toBe(true);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });

  test("once switched, check takes the originals from their diverted copies: same findings", () => {
    const r = pkgswitchJson<Report>(["--root", root, "check", "coreutils"]);
    expect(r.code).toBe(0);
    expect(r.json.switched).toBe(true);
    expect(r.json.results).toEqual(first.results);
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
  });
});
