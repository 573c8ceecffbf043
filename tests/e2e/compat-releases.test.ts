/** Compatibility probes on Debian 13 (trixie): the issue's own finding —
 * uutils diffutils 0.4.2 rejects `diff --version` — must show up in `check`,
 * coreutils 0.0.30 must be probed as deeply as on bookworm, and
 * docs/compatibility.md must be what scripts/compat-matrix.ts generates from
 * real runs today. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { debianRoot, removeDebianRoot } from "../helpers/debroot.ts";
import { PROJECT } from "../helpers/paths.ts";
import { pkgswitch, pkgswitchJson, snapshotTree, diffSnapshots } from "../helpers/cli.ts";

// Hundreds of probes, two processes each; the matrix runs three releases.
setDefaultTimeout(1_200_000);

interface Report {
  probes: number;
  same: number;
  differs: number;
  unsupported: number;
  packages: Array<{ name: string; version: string; role: string }>;
  commands: Array<{ cmd: string; verdict: string; first?: { id: string; difference: string } }>;
  results: Array<{ id: string; cmd: string; verdict: string; difference?: string }>;
}

let root: string;
const system = (p: string) => p.startsWith("var/lib/pkgswitch") || p.startsWith("run") || p.startsWith("proc");

beforeAll(() => {
  root = debianRoot("trixie");
  expect(Bun.spawnSync(["mount", "-t", "proc", "proc", join(root, "proc")]).exitCode).toBe(0);
  expect(pkgswitch(["--root", root, "pkg", "install", "rust-coreutils", "rust-diffutils", "--yes"]).code).toBe(0);
});
afterAll(() => removeDebianRoot(root));

describe("check on Debian 13 (trixie)", () => {
  test("check diffutils reports diff --version as not matching GNU (uutils diffutils 0.4.2 rejects it)", () => {
    const r = pkgswitchJson<Report>(["--root", root, "check", "diffutils"]);
    expect(r.code).toBe(0);
    expect(r.json.packages.map((p) => `${p.name} ${p.version}`)).toContain("rust-diffutils 0.4.2-1+b4");
    const version = r.json.results.find((x) => x.id === "diff:--version")!;
    expect(version).toBeDefined();
    expect(version.verdict).not.toBe("same");
    expect(r.json.commands.find((c) => c.cmd === "diff")!.verdict).not.toBe("same");
    // The human report names it too.
    const human = pkgswitch(["--root", root, "check", "diffutils"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/diff\b.*(differs|unsupported)/);
  });

  test("check coreutils (0.0.30) runs ≥ 200 probes, read-only, and gives the same report twice", () => {
    const before = snapshotTree(root, system);
    const a = pkgswitchJson<Report>(["--root", root, "check", "coreutils"]);
    expect(a.code).toBe(0);
    expect(a.json.probes).toBeGreaterThanOrEqual(200);
    expect(a.json.same + a.json.differs + a.json.unsupported).toBe(a.json.probes);
    expect(a.json.packages.map((p) => `${p.name} ${p.version}`)).toContain("rust-coreutils 0.0.30-2");
    const b = pkgswitchJson<Report>(["--root", root, "check", "coreutils"]);
    expect(b.json.results).toEqual(a.json.results);
    expect(diffSnapshots(before, snapshotTree(root, system))).toEqual([]);
  });
});

describe("docs/compatibility.md", () => {
  test("matches what scripts/compat-matrix.ts generates from real runs on bookworm, trixie and sid", () => {
    const p = Bun.spawnSync([process.execPath, join(PROJECT, "scripts/compat-matrix.ts"), "--check"], { cwd: PROJECT });
    const err = p.stderr.toString();
    if (p.exitCode !== 0) console.error(err);
    expect(p.exitCode).toBe(0);
    expect(p.stdout.toString()).toContain("docs/compatibility.md matches the generated matrix");
  });
});
