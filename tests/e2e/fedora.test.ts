/** The rpm/dnf acceptance checks (issue 9) on the Fedora-like root of
 * scripts/make-fedora-root.sh: a real rpm database in /usr/lib/sysimage/rpm,
 * dnf installing from a local repository, `rpm -V` as the third-party
 * verifier, stock minisign for the signatures. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { copyFileSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { cachedFedora, dnfIn, fedoraRoot, removeFedoraRoot, rpmIn } from "../helpers/fedroot.ts";
import { inRoot, startWatcher } from "../helpers/debroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, sha256File, snapshotTree } from "../helpers/cli.ts";
import { BINARY, VECTORS } from "../helpers/paths.ts";
import { fileIdentity, killDuring, originalOrSwitched } from "../helpers/crash.ts";
import { canUnshare } from "../helpers/noproc.ts";
import { NO_PROC_MESSAGE } from "../../src/pkgmgr/hooks.ts";

setDefaultTimeout(300_000);
// Commands that run a dnf transaction: on a loaded machine (CI shares it)
// they can take minutes; the helper's default would kill them at 120 s.
const SLOW = { timeoutMs: 280_000 };

let root: string;
const audit = () => join(root, "var/lib/pkgswitch/audit");
type Ev = Record<string, any>;
const events = (op: string): Ev[] => readFileSync(join(audit(), `audit-${op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const cachedRepo = () => join(cachedFedora(), "repo");

/** coreutils' commands (as the rpm database lists them) that uutils-coreutils
 * provides as /usr/bin/uu_<cmd>: what `enable` must switch. */
function expectedTargets(): string[] {
  const files = rpmIn(root, ["-ql", "coreutils"]).out.split("\n");
  return files.filter((f) => /^\/usr\/s?bin\/[^/]+$/.test(f) && existsSync(join(root, "usr/bin", "uu_" + f.split("/").pop()))).sort();
}
function gnuCommands(): string[] {
  return rpmIn(root, ["-ql", "coreutils"]).out.split("\n").filter((f) => /^\/usr\/s?bin\/[^/]+$/.test(f));
}
const identity = (p: string) => fileIdentity(root, p, { mtime: true });
beforeAll(() => {
  root = fedoraRoot();
  expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
});
afterAll(() => removeFedoraRoot(root));

describe("coreutils → uutils-coreutils on a Fedora root (rpm database, dnf)", () => {
  let targets: string[] = [];
  const originals = new Map<string, ReturnType<typeof identity>>();

  test("the root is what the backend expects: rpm database in /usr/lib/sysimage/rpm, rpm -V clean", () => {
    expect(existsSync(join(root, "usr/lib/sysimage/rpm/rpmdb.sqlite"))).toBe(true);
    expect(rpmIn(root, ["-q", "coreutils"]).out.trim()).toBe("coreutils-9.1-1.fc40.x86_64");
    expect(rpmIn(root, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
  });

  test("--dry-run plans the dnf install and changes no file under the root", () => {
    // Any `rpm -q` or dnf query rewrites the SQLite bookkeeping of rpm's and
    // dnf's databases (-shm/-wal files, dnf's history.sqlite): those are
    // theirs, not pkgswitch's; everything else must be untouched, and the
    // database must list the same packages.
    const skip = (rel: string) => /\.sqlite-(shm|wal)$/.test(rel) || rel === "var/lib/dnf/history.sqlite";
    const before = snapshotTree(root, skip);
    const packages = rpmIn(root, ["-qa"]).out;
    const r = pkgswitchJson<{ dry_run: boolean; plan: Array<{ install: boolean; package: string }> }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.plan[0]).toMatchObject({ install: true });
    expect(diffSnapshots(before, snapshotTree(root, skip))).toEqual([]);
    expect(rpmIn(root, ["-qa"]).out).toBe(packages);
  });

  test("enable installs uutils-coreutils with dnf and links every command it provides; a watcher never sees one missing", async () => {
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
    for (const t of gnuCommands()) originals.set(t, identity(t));
    const stop = await startWatcher(root, [...originals.keys()]);
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"], SLOW);
    const watched = await stop();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(watched.missing).toEqual([]);
    expect(watched.rounds).toBeGreaterThan(10);
    expect(rpmIn(root, ["-q", "uutils-coreutils"]).out.trim()).toBe("uutils-coreutils-0.0.17-1.fc40.x86_64");
    targets = expectedTargets();
    expect(targets.length).toBeGreaterThan(90);
    expect(targets).toContain("/usr/sbin/chroot");
    for (const t of targets) expect(readlinkSync(join(root, t))).toBe(`/usr/bin/uu_${t.split("/").pop()}`);
    const ls = inRoot(root, ["ls", "--version"]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/^ls 0\.0\.17/);
    const st = pkgswitchJson<{ providers: Array<{ switched: number; targets: number; drifted: unknown[] }>; hooks: string[] }>(["--root", root, "status"]);
    expect(st.json.providers[0]).toMatchObject({ switched: targets.length, targets: targets.length, drifted: [] });
    // Guards on by default: enable installed the hook package (its file
    // triggers) without being asked, and status lists its files.
    expect(r.stdout).toContain("installed hook package pkgswitch-hooks");
    expect(rpmIn(root, ["-q", "pkgswitch-hooks"]).out.trim()).toBe("pkgswitch-hooks-1-1.noarch");
    expect(st.json.hooks).toContain("/usr/lib/pkgswitch/rpm-hook");
  });

  test("audit: provenance from the rpm database, pkg:rpm purls in a valid SPDX SBOM, at most 3 rpm/dnf queries, minisign verifies", () => {
    const op = pkgswitchJson<{ operations: Array<{ op: string; command: string }> }>(["--root", root, "audit", "list"]).json.operations.find((o) => o.command === "enable coreutils")!.op;
    const evs = events(op);
    expect(evs.filter((e) => e.event === "file.switch").map((e) => e.path).sort()).toEqual(targets);
    for (const p of evs.filter((e) => e.event === "provenance")) expect(p).toMatchObject({ owner: "coreutils", version: "9.1-1.fc40", source_repo: "fedora", foreign: false });
    expect(evs.some((e) => e.event === "pkg.install" && e.manager === "rpm" && e.packages[0] === "uutils-coreutils")).toBe(true);
    // Queries, not the install transaction itself: O(1) whatever the number of targets.
    const runs = evs.filter((e) => e.event === "pkg.query").map((e) => (e.args as string[]).join(" "));
    const queries = runs.filter((a) => /(^|\/)rpm /.test(a) || (/(^|\/)dnf /.test(a) && !/ -y /.test(a)));
    // The hook package enable installs by default is looked up apart (is it
    // there; its version once installed): two more, whatever the targets.
    const hookQueries = queries.filter((a) => a.includes("pkgswitch-hooks"));
    expect(hookQueries.length).toBeLessThanOrEqual(2);
    expect(queries.length - hookQueries.length).toBeGreaterThan(0);
    expect(queries.length - hookQueries.length).toBeLessThanOrEqual(3);
    const end = evs.at(-1)!;
    const sbomText = readFileSync(join(audit(), end.sbom.file));
    expect(createHash("sha256").update(sbomText).digest("hex")).toBe(end.sbom.sha256);
    const sbom = JSON.parse(sbomText.toString());
    const ajv = new Ajv({ allErrors: true });
    addFormats(ajv);
    const valid = ajv.validate(JSON.parse(readFileSync(join(VECTORS, "spdx-2.3/spdx-schema.json"), "utf8")), sbom);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    const purls = sbom.packages.flatMap((p: any) => p.externalRefs.map((r: any) => r.referenceLocator)).sort();
    expect(purls).toEqual(["pkg:rpm/fedora/coreutils@9.1-1.fc40?arch=x86_64", "pkg:rpm/fedora/uutils-coreutils@0.0.17-1.fc40?arch=x86_64"]);
    const m = Bun.spawnSync(["minisign", "-Vm", join(audit(), `audit-${op}.jsonl`), "-x", join(audit(), `audit-${op}.jsonl.sig`), "-p", join(root, "etc/pkgswitch/keys/signing.pub")]);
    expect(m.exitCode).toBe(0);
    const v = pkgswitch(["--root", root, "audit", "verify", "--all"]);
    expect(v.code).toBe(0);
  });

  test("disable restores SHA-256, mode, uid, gid and mtime of every file: rpm -V coreutils prints nothing", async () => {
    const stop = await startWatcher(root, targets);
    const r = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    const watched = await stop();
    expect(r.code).toBe(0);
    expect(watched.missing).toEqual([]);
    for (const [t, id] of originals) expect(identity(t)).toEqual(id);
    expect(rpmIn(root, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
    // The last provider gone: the hooks have nothing to guard.
    expect(r.stdout).toContain("removed package-manager hooks (no provider is enabled): pkgswitch-hooks");
    expect(rpmIn(root, ["-q", "pkgswitch-hooks"]).code).not.toBe(0);
    expect(existsSync(join(root, "usr/lib/pkgswitch/rpm-hook"))).toBe(false);
  });

  for (const command of ["enable", "disable"] as const) {
    test(`SIGKILL during ${command} leaves each target original or switched; re-running finishes`, async () => {
      if (command === "disable") expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
      // Kills at fixed delays and the instant the first target changes.
      const { seen } = await killDuring({ root, command, provider: "coreutils", points: [20, 200, "first-swap", "first-swap", "first-swap"], first: join(root, targets[0]!), total: targets.length, consistent: originalOrSwitched(root, targets, originals, (t) => `/usr/bin/uu_${t.split("/").pop()}`, identity) });
      expect(seen.has("partial")).toBe(true);
      if (command === "disable") expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
      for (const d of ["usr/bin", "usr/sbin"]) expect(readdirSync(join(root, d)).filter((n) => n.includes(".pkgswitch-"))).toEqual([]);
      expect(rpmIn(root, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
    }, 280_000);
  }

  test("bad input: a provider with no rpm recipe, an unknown provider, a held rpm lock — one line, documented code, nothing changed", async () => {
    const skip = (rel: string) => /\.sqlite-(shm|wal)$/.test(rel) || rel === "var/lib/dnf/history.sqlite" || rel.startsWith("var/lib/pkgswitch") || rel.startsWith("run/lock");
    const f = pkgswitch(["--root", root, "enable", "findutils", "--yes"]);
    expect(f.code).toBe(10);
    expect(f.stderr.trim().split("\n").length).toBe(1);
    expect(f.stderr).toContain("rpm");
    const u = pkgswitch(["--root", root, "enable", "nosuch", "--yes"]);
    expect(u.code).not.toBe(0);
    expect(u.stderr.trim().split("\n").length).toBe(1);
    // rpm's transaction lock is an fcntl lock on <dbpath>/.rpm.lock.
    expect(dnfIn(root, ["-y", "-q", "remove", "uutils-coreutils"]).code).toBe(0);
    const holder = Bun.spawn(["python3", "-c", "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", join(root, "usr/lib/sysimage/rpm/.rpm.lock")], { stdout: "pipe" });
    const reader = holder.stdout.getReader();
    await reader.read();
    const snap = snapshotTree(root, skip);
    const l = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    holder.kill();
    await holder.exited;
    expect(l.code).toBe(30);
    expect(l.stderr).toContain(".rpm.lock");
    expect(diffSnapshots(snap, snapshotTree(root, skip))).toEqual([]);
    expect(rpmIn(root, ["-q", "uutils-coreutils"]).code).not.toBe(0);
  });
});

describe("pkg install|remove with dnf, attested", () => {
  let r3: string;
  beforeAll(() => {
    r3 = fedoraRoot();
    expect(pkgswitch(["--root", r3, "keys", "generate"]).code).toBe(0);
  });
  afterAll(() => removeFedoraRoot(r3));

  test("pkg install records every file of every package dnf installed, with pkg:rpm purls; pkg remove records them gone", () => {
    // The root's dnf cache (filled by the root's own dnf) and logs: pkgswitch
    // seeds its private cache from them and writes nothing back.
    expect(dnfIn(r3, ["-q", "makecache"]).code).toBe(0);
    const dnfOwn = (rel: string) => /^var($|\/cache($|\/dnf)|\/log($|\/(dnf|hawkey)))/.test(rel);
    const state = () => {
      const snap = snapshotTree(r3, (rel) => !dnfOwn(rel));
      return [...snap].map(([k, v]) => `${k} ${v.kind} ${v.size} ${v.mtimeNs} ${v.ctimeNs} ${v.kind === "file" ? sha256File(join(r3, k)) : v.link ?? ""}`).filter((l) => !/^(\/|var|var\/cache|var\/log) /.test(l));
    };
    const before = state();
    expect(before.some((l) => /^var\/cache\/dnf\/fedora-[0-9a-f]+\/repodata\/repomd\.xml file/.test(l))).toBe(true);
    const i = pkgswitchJson<{ op: string }>(["--root", r3, "pkg", "install", "uutils-coreutils", "--yes"], SLOW);
    expect(i.code).toBe(0);
    expect(state()).toEqual(before);
    expect(rpmIn(r3, ["-q", "uutils-coreutils"]).code).toBe(0);
    const ev = readFileSync(join(r3, `var/lib/pkgswitch/audit/audit-${i.json.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const files = ev.filter((e) => e.event === "pkg.file" && e.package === "uutils-coreutils");
    // Every path the rpm database lists for it (directories aside), with the digest now on disk.
    const listed = rpmIn(r3, ["-ql", "uutils-coreutils"]).out.split("\n").filter((f) => f.startsWith("/"));
    expect(files.map((e) => e.path).sort()).toEqual(listed.sort());
    const multicall = files.find((e) => e.path === "/usr/bin/uutils-coreutils")!;
    expect(multicall).toMatchObject({ before_sha256: null, after_sha256: sha256File(join(r3, "usr/bin/uutils-coreutils")) });
    // libgcc came along as a dependency: recorded too.
    expect(ev.some((e) => e.event === "provenance" && e.package === "libgcc" && e.role === "installed" && e.source_repo === "fedora")).toBe(true);
    const end = ev.at(-1)!;
    const sbom = JSON.parse(readFileSync(join(r3, "var/lib/pkgswitch/audit", end.sbom.file), "utf8"));
    const purls = sbom.packages.flatMap((p: any) => p.externalRefs.map((r: any) => r.referenceLocator)).sort();
    expect(purls).toEqual(["pkg:rpm/fedora/libgcc@12.2.0-1.fc40?arch=x86_64", "pkg:rpm/fedora/uutils-coreutils@0.0.17-1.fc40?arch=x86_64"]);
    const r = pkgswitchJson<{ op: string }>(["--root", r3, "pkg", "remove", "uutils-coreutils", "--yes"], SLOW);
    expect(r.code).toBe(0);
    expect(rpmIn(r3, ["-q", "uutils-coreutils"]).code).not.toBe(0);
    const gone = readFileSync(join(r3, `var/lib/pkgswitch/audit/audit-${r.json.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(gone.find((e) => e.event === "pkg.file" && e.path === "/usr/bin/uutils-coreutils")).toMatchObject({ before_sha256: multicall.after_sha256, after_sha256: null });
    expect(pkgswitch(["--root", r3, "audit", "verify", "--all"]).code).toBe(0);
  });
});

describe("a hook package dnf will not install (excludepkgs): exit 90, no orphaned hook files", () => {
  let r4: string;
  beforeAll(() => {
    r4 = fedoraRoot();
  });
  afterAll(() => removeFedoraRoot(r4));

  test("the switch stays, the hook files written for the package are taken out again and recorded so; hooks install works once dnf allows it", () => {
    const conf = join(r4, "etc/dnf/dnf.conf");
    const plain = readFileSync(conf, "utf8");
    writeFileSync(conf, `${plain}excludepkgs=pkgswitch-hooks\n`);
    const e = pkgswitch(["--root", r4, "enable", "coreutils", "--yes"], SLOW);
    expect(e.code).toBe(90);
    expect(e.stderr.trim().split("\n").length).toBe(1);
    expect(e.stderr).toContain("the commands are switched, but the package-manager hooks are NOT installed");
    expect(rpmIn(r4, ["-q", "pkgswitch-hooks"]).code).not.toBe(0);
    expect(existsSync(join(r4, "usr/lib/pkgswitch/rpm-hook"))).toBe(false);
    expect(readdirSync(join(r4, "usr/lib/pkgswitch")).filter((n) => n.endsWith(".rpm"))).toEqual([]);
    expect(lstatSync(join(r4, "usr/bin/ls")).isSymbolicLink()).toBe(true);
    const op = pkgswitchJson<{ operations: Array<{ op: string }> }>(["--root", r4, "audit", "list"]).json.operations.at(-1)!.op;
    const ev = readFileSync(join(r4, `var/lib/pkgswitch/audit/audit-${op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const installed = ev.filter((x) => x.event === "hook.install").map((x) => x.path).sort();
    const removed = ev.filter((x) => x.event === "hook.remove" && /the hook package pkgswitch-hooks could not be installed/.test(x.reason)).map((x) => x.path).sort();
    expect(installed.length).toBe(2);
    expect(removed).toEqual(installed);
    expect(ev.find((x) => x.event === "error")).toMatchObject({ exit_code: 90, step: "hook.install" });
    expect(ev.at(-1)).toMatchObject({ event: "op.end", status: "ok", exit_code: 90 });
    // audit show says it in words, not raw JSON.
    const shown = pkgswitch(["--root", r4, "audit", "show", op]).stdout;
    expect(shown).toMatch(/hook\.install +\/usr\/lib\/pkgswitch\/rpm-hook sha256 [0-9a-f]{12}… \(enable installs the package-manager hooks/);
    expect(shown).toMatch(/hook\.remove +\/usr\/lib\/pkgswitch\/rpm-hook \(the hook package pkgswitch-hooks could not be installed\)/);
    expect(pkgswitch(["--root", r4, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
    // What the message says to run, once dnf may install the package.
    writeFileSync(conf, plain);
    expect(pkgswitch(["--root", r4, "hooks", "install"], SLOW).code).toBe(0);
    expect(rpmIn(r4, ["-q", "pkgswitch-hooks"]).code).toBe(0);
    expect(existsSync(join(r4, "usr/lib/pkgswitch/rpm-hook"))).toBe(true);
  });
});

describe("upgrades on a Fedora root: the pkgswitch-hooks rpm's file triggers", () => {
  let r2: string;
  let targets: string[] = [];
  const ops = () => pkgswitchJson<{ operations: Array<{ op: string; command: string; status: string }> }>(["--root", r2, "audit", "list"]).json.operations;
  const links = () => targets.filter((t) => lstatSync(join(r2, t)).isSymbolicLink());

  beforeAll(() => {
    r2 = fedoraRoot();
    // The triggers run inside the root: the binary is installed there, as an operator would.
    copyFileSync(BINARY, join(r2, "usr/bin/pkgswitch"));
    expect(Bun.spawnSync(["mount", "-t", "proc", "proc", join(r2, "proc")]).exitCode).toBe(0);
    expect(pkgswitch(["--root", r2, "keys", "generate"]).code).toBe(0);
  });
  afterAll(() => removeFedoraRoot(r2));

  test("enable installs pkgswitch-hooks by default; hooks install re-installs it", () => {
    expect(pkgswitch(["--root", r2, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    expect(rpmIn(r2, ["-q", "pkgswitch-hooks"]).out.trim()).toBe("pkgswitch-hooks-1-1.noarch");
    targets = rpmIn(r2, ["-ql", "coreutils"]).out.split("\n").filter((f) => /^\/usr\/s?bin\/[^/]+$/.test(f) && existsSync(join(r2, "usr/bin", "uu_" + f.split("/").pop()))).sort();
    expect(links()).toEqual(targets);
    const h = pkgswitch(["--root", r2, "hooks", "install"], SLOW);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("installed package pkgswitch-hooks");
    expect(rpmIn(r2, ["-q", "pkgswitch-hooks"]).out.trim()).toBe("pkgswitch-hooks-1-1.noarch");
    expect(rpmIn(r2, ["-q", "--filetriggers", "pkgswitch-hooks"]).out).toContain("transfiletriggerpostun");
    expect(readFileSync(join(r2, "usr/lib/pkgswitch/rpm-hook"), "utf8")).toContain("/usr/bin/pkgswitch relink --hook || true");
  });

  test("dnf upgrade coreutils to 9.1-2 keeps uutils; the trigger's relink backs up the new files; verify --all passes", () => {
    const up = dnfIn(r2, ["-y", "-q", "upgrade", "coreutils"]);
    expect(up.code).toBe(0);
    expect(rpmIn(r2, ["-q", "coreutils"]).out.trim()).toBe("coreutils-9.1-2.fc40.x86_64");
    expect(links()).toEqual(targets);
    expect(inRoot(r2, ["ls", "--version"]).out).toMatch(/^ls 0\.0\.17/);
    const st = pkgswitchJson<{ providers: Array<{ switched: number; targets: number; drifted: unknown[] }> }>(["--root", r2, "status"]).json.providers[0]!;
    expect(st).toMatchObject({ switched: targets.length, targets: targets.length, drifted: [] });
    const op = ops().at(-1)!;
    expect(op.command).toBe("relink --hook");
    const evs = readFileSync(join(r2, `var/lib/pkgswitch/audit/audit-${op.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(evs.filter((e) => e.event === "file.backup" && e.reason === "target was overwritten").length).toBe(targets.length);
    const v = pkgswitch(["--root", r2, "audit", "verify", "--all"]);
    expect(v.stdout + v.stderr).not.toContain("FAIL");
    expect(v.code).toBe(0);
  });

  test("disable after the upgrade restores the new release's files: rpm -V coreutils prints nothing", () => {
    expect(pkgswitch(["--root", r2, "disable", "coreutils", "--yes"]).code).toBe(0);
    expect(links()).toEqual([]);
    expect(rpmIn(r2, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
    // 9.1-2's files carry its release note: the backup was refreshed, not the 9.1-1 bytes put back.
    expect(readFileSync(join(r2, "usr/bin/ls")).toString("latin1")).toContain("pkgswitch fixture coreutils 9.1-2.fc40");
  });

  test("a bare rpm -U inside the root fires the same trigger", () => {
    expect(pkgswitch(["--root", r2, "enable", "coreutils", "--yes"]).code).toBe(0);
    const rpmFile = readdirSync(join(cachedRepo(), "x86_64")).find((f) => f.startsWith("coreutils-9.1-2"))!;
    copyFileSync(join(cachedRepo(), "x86_64", rpmFile), join(r2, "tmp", rpmFile));
    const before = ops().length;
    // --replacepkgs: the same release again, written over the links like any upgrade.
    const u = inRoot(r2, ["rpm", "--dbpath", "/usr/lib/sysimage/rpm", "-U", "--replacepkgs", `/tmp/${rpmFile}`]);
    expect(u.code).toBe(0);
    expect(links()).toEqual(targets);
    expect(ops().length).toBe(before + 1);
    expect(ops().at(-1)!.command).toBe("relink --hook");
  });

  // A rescue chroot without /proc: the compiled binary would abort with a
  // crash banner before pkgswitch's code runs, so the trigger's script says
  // so in one line and runs nothing; relink afterwards does its work.
  test.skipIf(!canUnshare)("without /proc: dnf remove uutils-coreutils exits 0, the trigger prints the one line and runs nothing; relink afterwards restores the originals", () => {
    const log = join(r2, "var/log/dnf.rpm.log");
    const from = readFileSync(log).length;
    const before = ops().length;
    const r = dnfIn(r2, ["-y", "remove", "uutils-coreutils"], { noProc: true });
    expect(r.code).toBe(0);
    // dnf logs each scriptlet's output as one INFO entry of dnf.rpm.log
    // (continuation lines unprefixed), and shows it on stdout.
    const entries = readFileSync(log).subarray(from).toString().split(/\n(?=\d{4}-\d\d-\d\dT\S+ [A-Z]+ )/);
    const printed = entries.filter((e) => / INFO /.test(e) && !e.includes("--- logging initialized ---")).map((e) => e.replace(/^\S+ INFO /, "").trimEnd());
    expect(printed).toEqual([NO_PROC_MESSAGE]);
    expect(r.out.split(NO_PROC_MESSAGE).length).toBe(2);
    expect(r.out).not.toMatch(/Bun|panic/);
    expect(ops().length).toBe(before);
    // Nothing restored the originals after their provider went: the links dangle.
    expect(links()).toEqual(targets);
    for (const t of targets) expect(existsSync(join(r2, t))).toBe(false);
    expect(pkgswitch(["--root", r2, "relink"]).code).toBe(0);
    expect(links()).toEqual([]);
    expect(rpmIn(r2, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
    // Enabled again for the removal with /proc below.
    expect(pkgswitch(["--root", r2, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
  });

  test("dnf remove uutils-coreutils leaves no dangling link: the originals come back", () => {
    const r = dnfIn(r2, ["-y", "-q", "remove", "uutils-coreutils"]);
    expect(r.code).toBe(0);
    expect(links()).toEqual([]);
    for (const t of targets) expect(lstatSync(join(r2, t)).isFile()).toBe(true);
    expect(rpmIn(r2, ["-V", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(inRoot(r2, ["ls", "--version"]).out).toContain("GNU coreutils");
    expect(pkgswitchJson<{ providers: unknown[] }>(["--root", r2, "status"]).json.providers).toEqual([]);
    expect(pkgswitch(["--root", r2, "audit", "verify", "--all"]).code).toBe(0);
  });

  test("hooks remove erases pkgswitch-hooks and its files", () => {
    const r = pkgswitch(["--root", r2, "hooks", "remove"], SLOW);
    expect(r.code).toBe(0);
    expect(rpmIn(r2, ["-q", "pkgswitch-hooks"]).code).not.toBe(0);
    expect(existsSync(join(r2, "usr/lib/pkgswitch/rpm-hook"))).toBe(false);
    expect(pkgswitch(["--root", r2, "hooks", "remove"]).stdout).toContain("no pkgswitch hooks installed");
  });
});

describe("a scriptlet that plants links where dnf writes after the transaction (its cache's json files, hawkey.log)", () => {
  let r5: string;
  let outside: string;
  beforeAll(() => {
    r5 = fedoraRoot();
    outside = mkdtempSync("/tmp/pkgswitch-victim-");
  });
  afterAll(() => {
    removeFedoraRoot(r5);
    rmSync(outside, { recursive: true, force: true });
  });

  test("the host's files they point at are unchanged; exit 70 says the transaction ran; nothing is written back into the root's cache or logs", () => {
    expect(pkgswitch(["--root", r5, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    // dnf ran with a private cache: nothing of it is put into the root,
    // which had no /var/cache/dnf and still has none.
    expect(existsSync(join(r5, "var/cache/dnf"))).toBe(false);
    // Markers on the host, outside the root (temp files, never real host files).
    const cacheVictim = join(outside, "cache-victim");
    const logVictim = join(outside, "log-victim");
    writeFileSync(cacheVictim, "marker\n");
    writeFileSync(logVictim, "marker\n");
    // The hook runs from the pkgswitch-hooks rpm's file trigger when
    // uutils-coreutils is erased: after the scriptlets start, before dnf
    // finalizes (expired_repos.json, tempfiles.json) and logs (hawkey.log).
    writeFileSync(join(r5, "usr/lib/pkgswitch/rpm-hook"), [
      "#!/bin/sh",
      "mkdir -p /var/cache/dnf",
      `ln -sf ${cacheVictim} /var/cache/dnf/expired_repos.json`,
      `ln -sf ${cacheVictim} /var/cache/dnf/tempfiles.json`,
      `ln -sf ${logVictim} /var/log/hawkey.log`,
      "exit 0",
      "",
    ].join("\n"), { mode: 0o755 });
    const r = pkgswitch(["--root", r5, "disable", "coreutils", "--remove-package", "--yes"], SLOW);
    expect(readFileSync(cacheVictim, "utf8")).toBe("marker\n");
    expect(readFileSync(logVictim, "utf8")).toBe("marker\n");
    // Refused right after the transaction that let the link in, not at
    // some later command: the package is gone and the message says so.
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^error: package database file \S+ is a symbolic link; .*\(the package transaction before it did run: see the audit record\)/);
    expect(rpmIn(r5, ["-q", "uutils-coreutils"]).code).not.toBe(0);
    // dnf logged in a private dir, removed with it: the root's log does not
    // get the lines (the audit record has what ran).
    expect(readFileSync(logVictim, "utf8")).toBe("marker\n");
    const rpmLog = join(r5, "var/log/dnf.rpm.log");
    expect(existsSync(rpmLog) ? readFileSync(rpmLog, "utf8") : "").not.toContain("uutils-coreutils");
  });
});

describe("a scriptlet that swaps dnf's /var/lib/dnf for a link out of the root", () => {
  let r6: string;
  let outside: string;
  beforeAll(() => {
    r6 = fedoraRoot();
    outside = mkdtempSync("/tmp/pkgswitch-victim-");
  });
  afterAll(() => {
    removeFedoraRoot(r6);
    rmSync(outside, { recursive: true, force: true });
  });

  test("refused right after that transaction, exit 70, saying the transaction ran (not 'nothing was changed')", () => {
    expect(pkgswitch(["--root", r6, "enable", "coreutils", "--yes"], SLOW).code).toBe(0);
    writeFileSync(join(r6, "usr/lib/pkgswitch/rpm-hook"), ["#!/bin/sh", "mv /var/lib/dnf /var/lib/dnf.moved", `ln -s ${outside} /var/lib/dnf`, "exit 0", ""].join("\n"), { mode: 0o755 });
    const r = pkgswitch(["--root", r6, "disable", "coreutils", "--remove-package", "--yes"], SLOW);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/^error: package database \/var\/lib\/dnf in \S+ goes through a symbolic link that leaves the root .*\(the package transaction before it did run: see the audit record\)/);
    expect(r.stderr).not.toContain("nothing was changed");
    expect(rpmIn(r6, ["-q", "uutils-coreutils"]).code).not.toBe(0);
  });
});
