/** Arch Linux, as a new user would meet it: a usr-merged root with a real
 * pacman database (scripts/make-arch-root.sh: makepkg-built packages of real
 * binaries, a [core] repository inside the root). pacman installs
 * uutils-coreutils inside it, `pacman -Qkk` checks the restore, the alpm
 * hooks run the copy of pkgswitch inside the root. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { archRoot, pacman, removeArchRoot } from "../helpers/archroot.ts";
import { inRoot, startWatcher } from "../helpers/debroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, sha256File, snapshotTree } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";
import { checkedSbom } from "../helpers/sbom.ts";
import { fileIdentity, killDuring, originalOrSwitched } from "../helpers/crash.ts";
import { canUnshare } from "../helpers/noproc.ts";
import { NO_PROC_MESSAGE } from "../../src/pkgmgr/hooks.ts";

setDefaultTimeout(300_000);
// enable runs the compatibility probes (hundreds of processes, cached by the
// binaries' digests): minutes on a loaded machine when the binaries are new.
const SLOW = { timeoutMs: 280_000 };

let root: string;
const NEWER = "/srv/pkgs/coreutils-9.1-2-x86_64.pkg.tar.zst";
type Ev = Record<string, any>;

const identity = (p: string) => fileIdentity(root, p);
/** coreutils' commands (pacman's file list) that uutils-coreutils provides as uu-<cmd>. */
function expectedTargets(): string[] {
  const files = (pkg: string) => pacman(root, ["-Qlq", pkg]).out.split("\n").filter((f) => /^\/usr\/bin\/[^/]+$/.test(f));
  const uu = new Set(files("uutils-coreutils").map((f) => f.slice("/usr/bin/uu-".length)));
  return files("coreutils").filter((f) => uu.has(f.slice("/usr/bin/".length))).sort();
}
const gnuCommands = () => pacman(root, ["-Qlq", "coreutils"]).out.split("\n").filter((f) => /^\/usr\/bin\/[^/]+$/.test(f));
function ops(): Array<{ op: string; command: string; status: string }> {
  return pkgswitchJson<{ operations: Array<{ op: string; command: string; status: string }> }>(["--root", root, "audit", "list"]).json.operations;
}
function events(op: string): Ev[] {
  return readFileSync(join(root, `var/lib/pkgswitch/audit/audit-${op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
/** What each alpm hook printed during the transaction that wrote `log`
 * (the part of pacman.log it appended): pacman logs a hook's whole output
 * as ALPM-SCRIPTLET lines after "running '<hook>'...". Output outside a
 * hook (a package's install scriptlet) is under "". */
function hookOutput(log: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let hook = "";
  for (const line of log.split("\n")) {
    const running = /\[ALPM\] running '(.+)'\.\.\.$/.exec(line);
    const printed = /\[ALPM-SCRIPTLET\] (.*)$/.exec(line);
    if (running) out[(hook = running[1]!)] = [];
    else if (printed) (out[hook] ??= []).push(printed[1]!);
    else if (/\[ALPM\]/.test(line)) hook = "";
  }
  return out;
}
/** pacman without /proc in the root; what its hooks printed, and the operations pkgswitch recorded meanwhile. */
function pacmanWithoutProc(args: string[]) {
  const log = join(root, "var/log/pacman.log");
  const from = readFileSync(log).length;
  const n = ops().length;
  const r = pacman(root, args, { noProc: true });
  return { ...r, hooks: hookOutput(readFileSync(log).subarray(from).toString()), newOps: ops().slice(n) };
}
const altered = (pkg: string) => /(\d+) total files, (\d+) altered files/.exec(pacman(root, ["-Qkk", pkg]).out);

beforeAll(() => {
  root = archRoot();
  copyFileSync(BINARY, join(root, "usr/bin/pkgswitch"));
  // The compiled binary needs /proc inside the root (pacman's hooks run it there).
  expect(Bun.spawnSync(["mount", "-t", "proc", "proc", join(root, "proc")]).exitCode).toBe(0);
  expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
});
afterAll(() => removeArchRoot(root));

describe("coreutils → uutils-coreutils on an Arch root (pacman)", () => {
  let targets: string[] = [];
  const originals = new Map<string, ReturnType<typeof identity>>();
  let enableOp = "";

  test("--dry-run leaves every file under the root unchanged", () => {
    const before = snapshotTree(root, (rel) => rel === "proc");
    const r = pkgswitchJson<{ plan: Array<{ install: boolean; package: string }> }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.plan[0]).toMatchObject({ install: true, package: "uutils-coreutils" });
    expect(diffSnapshots(before, snapshotTree(root, (rel) => rel === "proc"))).toEqual([]);
  });

  test("db.lck present → exit 30, nothing changed", () => {
    writeFileSync(join(root, "var/lib/pacman/db.lck"), "");
    try {
      const before = snapshotTree(root, (rel) => rel === "proc");
      const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW);
      expect(r.code).toBe(30);
      expect(r.stderr).toContain("/var/lib/pacman/db.lck");
      expect(r.stderr.trim().split("\n").length).toBe(1);
      expect(diffSnapshots(before, snapshotTree(root, (rel) => rel === "proc"))).toEqual([]);
    } finally {
      rmSync(join(root, "var/lib/pacman/db.lck"));
    }
  });

  test("enable installs uutils-coreutils with pacman and links every command it provides; a watcher never sees one missing", async () => {
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
    for (const t of gnuCommands()) originals.set(t, identity(t));
    const stop = await startWatcher(root, [...originals.keys()]);
    const r = pkgswitchJson<{ op: string }>(["--root", root, "enable", "coreutils", "--yes"], SLOW);
    const watched = await stop();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    enableOp = r.json.op;
    expect(watched.missing).toEqual([]);
    expect(watched.rounds).toBeGreaterThan(10);
    expect(pacman(root, ["-Q", "uutils-coreutils"]).out).toBe("uutils-coreutils 0.0.17-1\n");
    targets = expectedTargets();
    expect(targets.length).toBeGreaterThan(90);
    for (const t of targets) expect(readlinkSync(join(root, t))).toBe(`/usr/bin/uu-${t.split("/").pop()}`);
    // Nothing unprefixed came with uutils: each link is ours, and only GNU names are linked.
    expect(readdirSync(join(root, "usr/bin")).filter((n) => lstatSync(join(root, "usr/bin", n)).isSymbolicLink() && !n.startsWith("uu-") && !["sh"].includes(n)).sort()).toEqual(targets.map((t) => t.split("/").pop()!).sort());
    const ls = inRoot(root, ["ls", "--version"]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^ls 0\.0\.17/);
    const st = pkgswitchJson<{ providers: Array<{ switched: number; targets: number; drifted: unknown[] }> }>(["--root", root, "status"]);
    expect(st.json.providers[0]).toMatchObject({ switched: targets.length, targets: targets.length, drifted: [] });
  });

  test("the record: provenance from pacman, at most 3 ownership calls, SBOM with pkg:alpm purls (SPDX schema), verify 0, minisign verifies", () => {
    const evs = events(enableOp);
    const switches = evs.filter((e) => e.event === "file.switch");
    expect(switches.map((e) => e.path).sort()).toEqual(targets);
    const uuSha = sha256File(join(root, "usr/bin/uu-coreutils"));
    for (const s of switches) {
      expect(s.before_sha256).toBe(originals.get(s.path)!.sha);
      expect(s.after_sha256).toBe(uuSha);
    }
    for (const p of evs.filter((e) => e.event === "provenance")) expect(p).toMatchObject({ owner: "coreutils", version: "9.1-1", source_repo: "core", foreign: false });
    expect(evs.some((e) => e.event === "pkg.install" && e.manager === "pacman" && e.packages[0] === "uutils-coreutils" && e.version === "0.0.17-1")).toBe(true);
    const queries = evs.filter((e) => e.event === "pkg.query" && e.manager === "pacman");
    const ownership = queries.filter((e) => e.args.includes("-Qo"));
    expect(ownership.length).toBeGreaterThanOrEqual(1);
    expect(ownership.length).toBeLessThanOrEqual(3);
    expect(queries.length).toBeLessThanOrEqual(8);

    const audit = join(root, "var/lib/pkgswitch/audit");
    const end = evs[evs.length - 1]!;
    const sbom = checkedSbom(audit, end);
    const purls = sbom.packages.flatMap((p: { externalRefs: Array<{ referenceLocator: string }> }) => p.externalRefs.map((r) => r.referenceLocator)).sort();
    expect(purls).toEqual(["pkg:alpm/arch/coreutils@9.1-1?arch=x86_64", "pkg:alpm/arch/uutils-coreutils@0.0.17-1?arch=x86_64"]);

    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
    const m = Bun.spawnSync(["minisign", "-Vm", join(audit, `audit-${enableOp}.jsonl`), "-x", join(audit, `audit-${enableOp}.jsonl.sig`), "-p", join(root, "etc/pkgswitch/keys/signing.pub")]);
    expect(m.stderr.toString()).toBe("");
    expect(m.exitCode).toBe(0);
  });

  test("disable restores SHA-256, mode, uid, gid of every file; pacman -Qkk coreutils: 0 altered; a watcher never sees one missing", async () => {
    const stop = await startWatcher(root, targets);
    const r = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    const watched = await stop();
    expect(r.code).toBe(0);
    expect(watched.missing).toEqual([]);
    for (const [t, id] of originals) expect(identity(t)).toEqual(id);
    const q = altered("coreutils")!;
    expect(Number(q[1])).toBeGreaterThan(100);
    expect(q[2]).toBe("0");
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
  });

  for (const command of ["enable", "disable"] as const) {
    test(`SIGKILL during ${command} leaves each target original or switched; re-running finishes`, async () => {
      if (command === "disable") expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
      // Kills at fixed delays, and the instant the first target changes (the
      // swap phase lasts milliseconds: timing alone rarely lands inside it).
      const { seen, interrupted } = await killDuring({ root, command, provider: "coreutils", points: [30, 150, "first-swap", "first-swap", "first-swap"], first: join(root, targets[0]!), total: targets.length, consistent: originalOrSwitched(root, targets, originals, (t) => `/usr/bin/uu-${t.split("/").pop()}`, identity) });
      expect(seen.has("partial")).toBe(true);
      expect(interrupted).toBeGreaterThanOrEqual(2);
      if (command === "disable") expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
      expect(readdirSync(join(root, "usr/bin")).filter((n) => n.includes(".pkgswitch-"))).toEqual([]);
      expect(altered("coreutils")![2]).toBe("0");
      expect(ops().every((o) => ["ok", "failed"].includes(o.status))).toBe(true);
    }, 280_000);
  }
});

describe("staying switched across pacman transactions (alpm hooks)", () => {
  let before91: Map<string, string>;

  test("hooks install --pacman writes both hooks into the root's hook dir", () => {
    const r = pkgswitch(["--root", root, "hooks", "install"]);
    expect(r.code).toBe(0);
    expect(existsSync(join(root, "etc/pacman.d/hooks/90-pkgswitch.hook"))).toBe(true);
    expect(existsSync(join(root, "etc/pacman.d/hooks/10-pkgswitch-pre-remove.hook"))).toBe(true);
    expect(existsSync(join(root, "etc/apt"))).toBe(false);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    before91 = new Map(expectedTargets().map((t) => [t, sha256File(join(root, "var/lib/pkgswitch/backups", t))]));
  });

  test("pacman -U of a newer coreutils keeps uutils in place and records a relink that refreshed every backup", () => {
    const n = ops().length;
    const r = pacman(root, ["-U", "--noconfirm", NEWER]);
    expect(r.out).not.toMatch(/error|failed/i);
    expect(r.code).toBe(0);
    expect(pacman(root, ["-Q", "coreutils"]).out).toBe("coreutils 9.1-2\n");
    expect(inRoot(root, ["ls", "--version"]).out).toMatch(/^ls 0\.0\.17/);
    const after = ops();
    expect(after.length).toBe(n + 1);
    const op = after[after.length - 1]!;
    expect(op).toMatchObject({ command: "relink --hook", status: "ok" });
    const evs = events(op.op);
    const refreshed = evs.filter((e) => e.event === "file.backup" && e.reason === "target was overwritten");
    expect(refreshed.length).toBe(before91.size);
    for (const e of refreshed) expect(e.sha256).not.toBe(before91.get(e.path));
    expect(evs.filter((e) => e.event === "file.switch").length).toBe(before91.size);
    for (const t of before91.keys()) expect(readlinkSync(join(root, t))).toBe(`/usr/bin/uu-${t.split("/").pop()}`);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
  });

  // A rescue chroot without /proc: the compiled binary would abort with a
  // crash banner before pkgswitch's code runs, so the hook says so in one
  // line and runs nothing; relink afterwards does what the hook would have.
  test.skipIf(!canUnshare)("without /proc: pacman -U exits 0, the hook prints the one line and runs nothing; relink afterwards re-applies", () => {
    const r = pacmanWithoutProc(["-U", "--noconfirm", NEWER]);
    expect(r.code).toBe(0);
    expect(r.hooks).toEqual({ "90-pkgswitch.hook": [NO_PROC_MESSAGE] });
    expect(r.out).not.toMatch(/Bun|panic|error/i);
    expect(r.newOps).toEqual([]);
    // pacman wrote coreutils' files over the links, and nothing put them back.
    for (const t of before91.keys()) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(pkgswitch(["--root", root, "relink"]).code).toBe(0);
    for (const t of before91.keys()) expect(readlinkSync(join(root, t))).toBe(`/usr/bin/uu-${t.split("/").pop()}`);
  });

  test("disable afterwards restores the new version's files: pacman -Qkk coreutils 0 altered", () => {
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    expect(altered("coreutils")![2]).toBe("0");
    expect(readFileSync(join(root, "usr/bin/ls")).toString("latin1")).toContain("pkgswitch fixture coreutils 9.1-2");
  });

  test.skipIf(!canUnshare)("without /proc: pacman -R uutils-coreutils exits 0, each hook prints the one line (its targets drained) and runs nothing; relink afterwards restores the originals", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    const list = expectedTargets();
    const r = pacmanWithoutProc(["-R", "--noconfirm", "uutils-coreutils"]);
    expect(r.code).toBe(0);
    expect(r.hooks).toEqual({ "10-pkgswitch-pre-remove.hook": [NO_PROC_MESSAGE], "90-pkgswitch.hook": [NO_PROC_MESSAGE] });
    expect(r.out).not.toMatch(/Bun|panic|error/i);
    expect(r.newOps).toEqual([]);
    // Nothing restored the originals before their provider went: the links dangle.
    for (const t of list) expect(lstatSync(join(root, t)).isSymbolicLink() && !existsSync(join(root, t))).toBe(true);
    expect(pkgswitch(["--root", root, "relink"]).code).toBe(0);
    for (const t of list) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(altered("coreutils")![2]).toBe("0");
  });

  test("pacman -R uutils-coreutils exits 0 and leaves no dangling link: the pre-remove hook restored the originals first", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    const list = expectedTargets();
    const r = pacman(root, ["-R", "--noconfirm", "uutils-coreutils"]);
    expect(r.code).toBe(0);
    for (const t of list) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(altered("coreutils")![2]).toBe("0");
    const pre = ops().find((o) => o.command === "relink --hook --removing")!;
    expect(pre.status).toBe("ok");
    expect(events(pre.op).filter((e) => e.event === "file.restore" && e.action === "restore" && String(e.reason).includes("about to remove uutils-coreutils")).length).toBe(list.length);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("no provider is enabled");
  });

  test("pkg install (a name, or a package file: -U) and pkg remove run pacman as attested operations", () => {
    const r = pkgswitchJson<{ op: string }>(["--root", root, "pkg", "install", "uutils-coreutils", "--yes"]);
    expect(r.code).toBe(0);
    const evs = events(r.json.op);
    expect(evs.some((e) => e.event === "pkg.install" && e.manager === "pacman")).toBe(true);
    expect(evs.find((e) => e.event === "provenance" && e.package === "uutils-coreutils")).toMatchObject({ version_after: "0.0.17-1", source_repo: "core", role: "installed" });
    const file = evs.find((e) => e.event === "pkg.file" && e.path === "/usr/bin/uu-coreutils")!;
    expect(file.after_sha256).toBe(sha256File(join(root, "usr/bin/uu-coreutils")));
    const sbom = JSON.parse(readFileSync(join(root, "var/lib/pkgswitch/audit", evs[evs.length - 1]!.sbom.file), "utf8"));
    expect(sbom.packages[0].externalRefs[0].referenceLocator).toBe("pkg:alpm/arch/uutils-coreutils@0.0.17-1?arch=x86_64");

    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    const rm = pkgswitchJson<{ op: string }>(["--root", root, "pkg", "remove", "uutils-coreutils", "--yes"]);
    expect(rm.code).toBe(0);
    expect(existsSync(join(root, "usr/bin/uu-coreutils"))).toBe(false);
    expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
    expect(altered("coreutils")![2]).toBe("0");
    const rmEvs = events(rm.json.op);
    expect(rmEvs.find((e) => e.event === "provenance" && e.package === "uutils-coreutils")).toMatchObject({ version_before: "0.0.17-1", version_after: null, role: "removed" });
    // No provider is left: the hooks enable installed go, as after a disable.
    expect(rmEvs.filter((e) => e.event === "hook.remove").length).toBeGreaterThan(0);
    expect(readdirSync(join(root, "etc/pacman.d/hooks"))).toEqual([]);

    // A package file inside the root: pacman -U.
    const pkgFile = "/var/cache/pacman/pkg/uutils-coreutils-0.0.17-1-x86_64.pkg.tar.zst";
    expect(existsSync(join(root, pkgFile))).toBe(true);
    const u = pkgswitchJson<{ op: string }>(["--root", root, "pkg", "install", pkgFile, "--yes"]);
    expect(u.code).toBe(0);
    const uEvs = events(u.json.op);
    expect(uEvs.some((e) => e.event === "pkg.query" && e.args.includes("-U") && e.args.includes(pkgFile) && e.rc === 0)).toBe(true);
    expect(uEvs.find((e) => e.event === "provenance" && e.package === "uutils-coreutils")).toMatchObject({ version_after: "0.0.17-1", role: "installed" });
    expect(existsSync(join(root, "usr/bin/uu-coreutils"))).toBe(true);
    expect(pkgswitch(["--root", root, "pkg", "install", "/srv/../etc/passwd", "--yes"]).code).toBe(2);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
  });

  test("hooks remove takes both hook files out", () => {
    expect(pkgswitch(["--root", root, "hooks", "install"]).code).toBe(0);
    expect(readdirSync(join(root, "etc/pacman.d/hooks")).length).toBe(2);
    expect(pkgswitch(["--root", root, "hooks", "remove"]).code).toBe(0);
    expect(readdirSync(join(root, "etc/pacman.d/hooks"))).toEqual([]);
  });
});
