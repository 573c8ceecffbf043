/** The acceptance checks on a real Debian bookworm root made by
 * debootstrap: apt installs rust-coreutils inside it, dpkg verifies it. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fingerprint } from "../../src/audit/mask.ts";
import { debianRoot, inRoot, removeDebianRoot, startWatcher } from "../helpers/debroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, sha256File, snapshotTree } from "../helpers/cli.ts";
import { checkedSbom } from "../helpers/sbom.ts";
import { fileIdentity, killDuring, originalOrSwitched, type KillPoint } from "../helpers/crash.ts";

// Real roots, apt and dpkg: seconds per test, more on a loaded machine.
setDefaultTimeout(300_000);

const UU = "/usr/lib/cargo/bin/coreutils";
let root: string;

/** GNU coreutils' commands (as dpkg lists them, /bin → /usr/bin) that the
 * installed uutils tree also provides: what `enable` must switch. */
function expectedTargets(r: string): string[] {
  const list = Bun.spawnSync(["dpkg-query", `--root=${r}`, "-L", "coreutils"]).stdout.toString().split("\n");
  const uu = new Set(readdirSync(join(r, UU)));
  const out = new Set<string>();
  for (const f of list) {
    const m = /^(\/usr)?(\/s?bin)\/([^/]+)$/.exec(f);
    if (m && uu.has(m[3]!)) out.add(`/usr${m[2]}/${m[3]}`);
  }
  return [...out].sort();
}

const identity = fileIdentity;

beforeAll(() => {
  root = debianRoot();
});
afterAll(() => removeDebianRoot(root));

describe("coreutils → uutils on a debootstrap bookworm root", () => {
  let targets: string[] = [];
  let originals = new Map<string, ReturnType<typeof identity>>();

  test("--dry-run leaves every file under the root unchanged", () => {
    const before = snapshotTree(root);
    const r = pkgswitchJson<{ dry_run: boolean; plan: Array<{ install: boolean }> }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.plan[0]!.install).toBe(true);
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
  });

  test("enable installs rust-coreutils with apt and switches every target; a watcher never sees one missing", async () => {
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
    // The GNU targets, before: everything dpkg lists under the bin dirs.
    const gnu = Bun.spawnSync(["dpkg-query", `--root=${root}`, "-L", "coreutils"]).stdout.toString().split("\n").filter((f) => /^(\/usr)?\/s?bin\/[^/]+$/.test(f)).map((f) => (f.startsWith("/usr") ? f : "/usr" + f));
    for (const t of gnu) originals.set(t, identity(root, t));
    const stop = await startWatcher(root, gnu);
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"], { env: { API_TOKEN: "tok-e2e-9f8e7d", DB_PASSWORD: "hunter2-e2e" } });
    const watched = await stop();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(watched.missing).toEqual([]);
    expect(watched.rounds).toBeGreaterThan(10);

    targets = expectedTargets(root);
    expect(targets.length).toBeGreaterThan(90);
    for (const t of targets) expect(readlinkSync(join(root, t))).toBe(`${UU}/${t.split("/").pop()}`);
    const ls = inRoot(root, ["ls", "--version"]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^ls 0\.0\.\d+/);
    expect(ls.out).not.toContain("GNU");
    const st = pkgswitchJson<{ providers: Array<{ switched: number; targets: number; drifted: unknown[] }> }>(["--root", root, "status"]);
    expect(st.json.providers[0]).toMatchObject({ switched: targets.length, targets: targets.length, drifted: [] });
  });

  test("the audit file has before/after SHA-256 and provenance for each target, and no secret", () => {
    const audit = join(root, "var/lib/pkgswitch/audit");
    const ops = pkgswitchJson<{ operations: Array<{ op: string; command: string }> }>(["--root", root, "audit", "list"]).json.operations;
    const op = ops.find((o) => o.command === "enable coreutils")!.op;
    const events = readFileSync(join(audit, `audit-${op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const switches = events.filter((e) => e.event === "file.switch");
    expect(switches.map((e) => e.path).sort()).toEqual(targets);
    const uuSha = sha256File(join(root, "usr/bin/coreutils"));
    for (const s of switches) {
      expect(s.before_sha256).toBe(originals.get(s.path)!.sha);
      expect(s.after_sha256).toBe(uuSha);
    }
    const prov = events.filter((e) => e.event === "provenance");
    expect(prov.length).toBe(targets.length);
    for (const p of prov) expect(p).toMatchObject({ owner: "coreutils", version: "9.1-1", source_repo: "deb.debian.org/debian bookworm/main", foreign: false });
    expect(events.some((e) => e.event === "pkg.install" && e.packages[0] === "rust-coreutils")).toBe(true);
    // dpkg-query calls: O(1), not one per file.
    const queries = events.filter((e) => e.event === "pkg.query" && e.args.includes("dpkg-query") || (e.event === "pkg.query" && String(e.args[0]).endsWith("dpkg-query")));
    expect(queries.length).toBeLessThanOrEqual(4);
    // The SBOM the signature covers (via op.end) is valid SPDX 2.3 and describes both packages.
    const end = events[events.length - 1];
    const sbom = checkedSbom(audit, end);
    expect(sbom.documentNamespace).toMatch(/^https:\/\//);
    expect(sbom.packages.map((p: { name: string; versionInfo: string }) => `${p.name} ${p.versionInfo}`).sort()).toEqual(["coreutils 9.1-1", "rust-coreutils 0.0.17-2"]);
    for (const p of sbom.packages) expect(sbom.relationships).toContainEqual(expect.objectContaining({ spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: p.SPDXID }));
    // Secrets from the environment: fingerprints only.
    const all = readdirSync(audit).map((f) => readFileSync(join(audit, f), "utf8")).join("\n");
    for (const secret of ["tok-e2e-9f8e7d", "hunter2-e2e"]) {
      expect(all).not.toContain(secret);
      expect(all).toContain(`<redacted:sha256:${fingerprint(secret)}>`);
    }
  });

  test("disable restores every original exactly; dpkg --verify is clean; a watcher never sees one missing", async () => {
    const stop = await startWatcher(root, targets);
    const r = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    const watched = await stop();
    expect(r.code).toBe(0);
    expect(watched.missing).toEqual([]);
    for (const [t, id] of originals) expect(identity(root, t)).toEqual(id);
    const v = inRoot(root, ["dpkg", "--verify", "coreutils"]);
    expect(v).toEqual({ code: 0, out: "" });
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
  });

  /** When the swaps (enable) or restores (disable) of a clean run happen,
   * in ms after spawning, read from its own audit events. */
  function swapWindow(command: "enable" | "disable"): [number, number] {
    const t0 = Date.now();
    const r = pkgswitchJson<{ op: string }>(["--root", root, command, "coreutils", "--yes"]);
    expect(r.code).toBe(0);
    const evs = readFileSync(join(root, `var/lib/pkgswitch/audit/audit-${r.json.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const ts = evs.filter((e) => e.event === (command === "enable" ? "file.switch" : "file.restore")).map((e) => Date.parse(e.ts) - t0);
    return [Math.min(...ts), Math.max(...ts)];
  }

  for (const command of ["enable", "disable"] as const) {
    test(`SIGKILL at any moment of ${command} leaves each target original or switched; re-running finishes`, async () => {
      const undo = command === "enable" ? "disable" : "enable";
      if (command === "disable") expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
      const [from, to] = swapWindow(command);
      expect(pkgswitch(["--root", root, undo, "coreutils", "--yes"]).code).toBe(0);
      // Kill points across the whole run (timed from a clean run's events),
      // plus kills fired the instant the first target changes: the swap phase
      // lasts only ~20 ms, so timing alone rarely lands inside it.
      const points: KillPoint[] = [5, 50, Math.max(1, from - 100), from / 2, to + 20, to + 150, "first-swap", "first-swap", "first-swap"];
      const { seen, interrupted } = await killDuring({ root, command, provider: "coreutils", points, first: join(root, targets[0]!), total: targets.length, consistent: originalOrSwitched(root, targets, originals, (t) => `${UU}/${t.split("/").pop()}`, (p) => identity(root, p)) });
      // The kills landed mid-operation, and at least once mid-swap, or this proved nothing.
      expect(seen.has("partial")).toBe(true);
      expect(interrupted).toBeGreaterThanOrEqual(3);
      if (command === "disable") expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
      // Disabled again: no temp file, diverted copy or diversion of ours is left.
      for (const d of ["usr/bin", "usr/sbin", "var/lib/pkgswitch/backups/usr/bin"]) {
        if (existsSync(join(root, d))) expect(readdirSync(join(root, d)).filter((n) => n.includes(".pkgswitch-"))).toEqual([]);
      }
      expect(inRoot(root, ["dpkg-divert", "--list"]).out).not.toContain("pkgswitch");
      expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
      // Interrupted operations were finalized and are in the record.
      const ops = pkgswitchJson<{ operations: Array<{ status: string }> }>(["--root", root, "audit", "list"]).json.operations;
      expect(ops.every((o) => ["ok", "failed"].includes(o.status))).toBe(true);
    }, 280_000);
  }

  test("disable --remove-package removes rust-coreutils", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const r = pkgswitch(["--root", root, "disable", "coreutils", "--yes", "--remove-package"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("removed rust-coreutils");
    expect(existsSync(join(root, UU))).toBe(false);
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
  });

  // `pkg remove` of the replacement restores the originals first (the
  // package manager needs rm, cp, …); when the removal then fails, the
  // switch must be as before the command ran.
  const prerm = () => join(root, "var/lib/dpkg/info/rust-coreutils.prerm");
  const dpkgStatus = (pkg: string) => inRoot(root, ["dpkg-query", "-W", "-f=${Status}", pkg]).out;
  test("pkg remove of the replacement that the package manager fails: switched again, exit 20 true", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    targets = expectedTargets(root);
    writeFileSync(prerm(), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const r = pkgswitch(["--root", root, "pkg", "remove", "rust-coreutils", "--yes"]);
    expect(r.code).toBe(20);
    expect(r.stderr).toMatch(/^error: apt-get remove rust-coreutils failed .*; coreutils switched again: the commands are as before \[op [^\]]+\]\n$/);
    expect(dpkgStatus("rust-coreutils")).toBe("install ok installed");
    for (const t of targets) expect(readlinkSync(join(root, t))).toBe(`${UU}/${t.split("/").pop()}`);
    const st = pkgswitchJson<{ providers: Array<{ provider: string; status: string; switched: number; targets: number }> }>(["--root", root, "status"]);
    expect(st.json.providers[0]).toMatchObject({ provider: "coreutils", status: "switched", switched: targets.length, targets: targets.length });
    // Diversions and backups are whole again: nothing for relink to repair.
    expect(pkgswitch(["--root", root, "relink"]).stdout).toContain("nothing to do");
    expect(inRoot(root, ["dpkg-divert", "--list"]).out.split("\n").filter((l) => l.includes(".pkgswitch-orig")).length).toBe(targets.length);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });

  test("… and when switching again fails too (the replacement's files are gone): exit 50, provider disabled, originals in place", () => {
    writeFileSync(prerm(), "#!/bin/sh\nrm -rf /usr/lib/cargo/bin/coreutils\nexit 1\n", { mode: 0o755 });
    const r = pkgswitch(["--root", root, "pkg", "remove", "rust-coreutils", "--yes"]);
    expect(r.code).toBe(50);
    expect(r.stderr).toMatch(/^error: apt-get remove rust-coreutils failed .*; switching coreutils again failed \(.* is gone: .*\): coreutils is now DISABLED — the original commands are in place; run `pkgswitch enable coreutils --yes`/);
    for (const t of targets) expect(identity(root, t).kind).toBe("file");
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(inRoot(root, ["dpkg-divert", "--list"]).out).not.toContain(".pkgswitch-orig");
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("no provider is enabled");
    rmSync(prerm());
  });
});
