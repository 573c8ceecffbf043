/** Native switches (docs/native.md) on a bookworm root carrying the
 * stand-in packages of scripts/make-native-repo.sh: coreutils as an
 * Essential meta package over coreutils-from-gnu / coreutils-from-uutils,
 * and /usr/bin/sudo as an update-alternatives group. apt and dpkg run for
 * real inside the root, from a local file repository. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "../helpers/paths.ts";
import { debianRoot, inRoot, removeDebianRoot, startWatcher } from "../helpers/debroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, snapshotTree } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

let root: string;
let plain: string;

function nativeRepo(): string {
  const p = Bun.spawnSync(["bash", join(PROJECT, "scripts/make-native-repo.sh")], { stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error("scripts/make-native-repo.sh failed");
  return p.stdout.toString().trim();
}

function must(r: { code: number; out: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.out}`);
  return r.out;
}

/** Paths coreutils-from-<side> owns, as dpkg spells them (/bin/ls). */
function ownedPaths(r: string, pkg: string): string[] {
  return Bun.spawnSync(["dpkg-query", `--root=${r}`, "-L", pkg]).stdout.toString().split("\n").filter((f) => /^(\/usr)?\/s?bin\/[^/]+$/.test(f));
}

function installed(r: string, pkg: string): boolean {
  return Bun.spawnSync(["dpkg-query", `--root=${r}`, "-W", "-f=${db:Status-Abbrev}", pkg]).stdout.toString().startsWith("ii");
}

function dpkgVerify(r: string): string {
  return inRoot(r, ["dpkg", "--verify"]).out;
}

function lastOp(r: string, command: string): string {
  const ops = pkgswitchJson<{ operations: Array<{ op: string; command: string }> }>(["--root", r, "audit", "list"]).json.operations;
  return ops.filter((o) => o.command === command).pop()!.op;
}

function events(r: string, op: string): Array<Record<string, unknown>> {
  return readFileSync(join(r, "var/lib/pkgswitch/audit", `audit-${op}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));
}

beforeAll(() => {
  const repo = nativeRepo();
  root = debianRoot();
  mkdirSync(join(root, "srv/pkgswitch-native"), { recursive: true });
  cpSync(join(repo, "debs"), join(root, "srv/pkgswitch-native"), { recursive: true });
  writeFileSync(join(root, "etc/apt/sources.list.d/pkgswitch-native.list"), "deb [trusted=yes] file:/srv/pkgswitch-native ./\n");
  must(inRoot(root, ["apt-get", "update", "-qq", "-o", "Dir::Etc::sourcelist=sources.list.d/pkgswitch-native.list", "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"]), "apt-get update");
  // Ubuntu's starting point: the GNU side active, sudo-rs the alternative in auto mode.
  must(inRoot(root, ["apt-get", "install", "-y", "-q", "--no-install-recommends", "coreutils", "coreutils-from-gnu", "sudo-ws-native", "sudo-rs-native"]), "apt-get install stand-ins");
  expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
  plain = debianRoot();
});
afterAll(() => {
  removeDebianRoot(root);
  removeDebianRoot(plain);
});

describe("native switches on a root with the stand-in packages", () => {
  test("status reports the native provider and mechanism", () => {
    const st = pkgswitchJson<{ native: Array<{ provider: string; mechanism: string; active: string; active_name: string; paths: number }>; providers: unknown[] }>(["--root", root, "status"]);
    expect(st.code).toBe(0);
    const cu = st.json.native.find((n) => n.provider === "coreutils")!;
    expect(cu).toMatchObject({ mechanism: "packages", active: "original", active_name: "coreutils-from-gnu" });
    expect(cu.paths).toBe(ownedPaths(root, "coreutils-from-gnu").length);
    expect(st.json.native.find((n) => n.provider === "sudo-rs")).toMatchObject({ mechanism: "alternative", active: "replacement", active_name: "/usr/lib/cargo/bin/sudo" });
    expect(st.json.providers).toEqual([]);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("coreutils: not enabled — native switch (packages): coreutils-from-gnu is active");
  });

  test("enable coreutils --dry-run changes nothing", () => {
    const before = snapshotTree(root);
    const r = pkgswitchJson<{ native: boolean; plan: Array<{ from: string; to: string; remove: string[] }> }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.native).toBe(true);
    expect(r.json.plan[0]).toMatchObject({ from: "coreutils-from-gnu", to: "coreutils-from-uutils", remove: ["coreutils-from-gnu"] });
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
  });

  for (const [verb, from, to, linkPrefix] of [
    ["enable", "coreutils-from-gnu", "coreutils-from-uutils", "/usr/lib/cargo/bin/coreutils/"],
    ["disable", "coreutils-from-uutils", "coreutils-from-gnu", "/usr/bin/gnu"],
  ] as const) {
    test(`${verb} coreutils installs ${to} in place of ${from}: no path ever missing, dpkg --verify clean, audit verify 0`, async () => {
      const paths = ownedPaths(root, from);
      expect(paths.length).toBeGreaterThan(100);
      const stop = await startWatcher(root, paths);
      const r = pkgswitch(["--root", root, verb, "coreutils", "--yes"]);
      const watched = await stop();
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(watched.missing).toEqual([]);
      expect(watched.rounds).toBeGreaterThan(10);
      expect(installed(root, to)).toBe(true);
      expect(installed(root, from)).toBe(false);
      // pkgswitch put no link of its own: every path is the package's, and it has no state for it.
      expect(ownedPaths(root, to).sort()).toEqual([...paths].sort());
      expect(readlinkSync(join(root, "bin/ls"))).toBe(`${linkPrefix}ls`);
      expect(existsSync(join(root, "var/lib/pkgswitch/state.json")) ? JSON.parse(readFileSync(join(root, "var/lib/pkgswitch/state.json"), "utf8")).providers : {}).toEqual({});
      expect(dpkgVerify(root)).toBe("");
      expect(must(inRoot(root, ["ls", "--version"]), "ls --version")).toMatch(verb === "enable" ? /^ls 0\.0\.\d+/ : /GNU coreutils/);
      const op = lastOp(root, `${verb} coreutils`);
      expect(pkgswitch(["--root", root, "audit", "verify", "--op", op]).code).toBe(0);
      const ev = events(root, op);
      const sw = ev.find((e) => e.event === "native.switch")!;
      expect(sw).toMatchObject({ provider: "coreutils", mechanism: "packages", from, to });
      const files = ev.filter((e) => e.event === "native.file");
      // Every path whose link changed is recorded with before/after link and digest.
      const ls = files.find((e) => e.path === "/bin/ls")!;
      expect(ls.after_link_target).toBe(`${linkPrefix}ls`);
      expect(ls.before_sha256).not.toBe(ls.after_sha256);
      expect(files.length).toBeGreaterThan(90);
      expect(ev.filter((e) => e.event === "provenance").map((e) => e.package)).toContain(to);
      expect(existsSync(join(root, "var/lib/pkgswitch/audit", `audit-${op}-sbom.json`))).toBe(true);
      const st = pkgswitchJson<{ native: Array<{ provider: string; active: string }> }>(["--root", root, "status"]);
      expect(st.json.native.find((n) => n.provider === "coreutils")!.active).toBe(verb === "enable" ? "replacement" : "original");
    });
  }

  test("sudo through update-alternatives: disable and enable sudo-rs keep sudo setuid root", () => {
    for (const [verb, to] of [["disable", "/usr/bin/sudo.ws"], ["enable", "/usr/lib/cargo/bin/sudo"]] as const) {
      const r = pkgswitch(["--root", root, verb, "sudo-rs", "--yes"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(readlinkSync(join(root, "etc/alternatives/sudo"))).toBe(to);
      expect(readlinkSync(join(root, "usr/bin/sudo"))).toBe("/etc/alternatives/sudo");
      const st = lstatSync(join(root, to.slice(1)));
      expect(st.mode & 0o4000).toBe(0o4000);
      expect(st.uid).toBe(0);
      const op = lastOp(root, `${verb} sudo-rs`);
      expect(pkgswitch(["--root", root, "audit", "verify", "--op", op]).code).toBe(0);
      const file = events(root, op).find((e) => e.event === "native.file" && e.path === "/etc/alternatives/sudo")!;
      expect(file.after_link_target).toBe(to);
      expect((file.mode as number) & 0o4000).toBe(0o4000);
    }
    expect(must(inRoot(root, ["update-alternatives", "--query", "sudo"]), "update-alternatives --query")).toContain("Value: /usr/lib/cargo/bin/sudo");
  });

  test("a non-setuid alternative for sudo is refused before any change (exit 10)", () => {
    // A third alternative, registered by hand, that is not setuid.
    must(inRoot(root, ["update-alternatives", "--install", "/usr/bin/sudo", "sudo", "/usr/bin/env", "10"]), "update-alternatives --install");
    must(inRoot(root, ["update-alternatives", "--set", "sudo", "/usr/bin/sudo.ws"]), "update-alternatives --set");
    const prov = join(root, "etc/pkgswitch/providers.d");
    mkdirSync(prov, { recursive: true });
    writeFileSync(join(prov, "plain-sudo.jsonc"), JSON.stringify({ "plain-sudo": { description: "sudo → a non-setuid binary", dpkg: { replaces: ["sudo"], package: "coreutils", applets: { dir: "/usr/bin", names: ["env"] }, native: { alternative: { name: "sudo", original: "/usr/bin/sudo.ws", replacement: "/usr/bin/env" } } }, setuid: ["sudo"] } }));
    const before = snapshotTree(root);
    const r = pkgswitch(["--root", root, "enable", "plain-sudo", "--yes"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("/usr/bin/env is not setuid root");
    expect(readlinkSync(join(root, "etc/alternatives/sudo"))).toBe("/usr/bin/sudo.ws");
    // Only pkgswitch's own record of the refusal (and its lock file) changed.
    expect(diffSnapshots(before, snapshotTree(root)).filter((d) => !/ (var\/lib\/pkgswitch|run\/lock\/pkgswitch\.lock)(\/|$)/.test(d))).toEqual([]);
  });
});

describe("a native switch is a package transaction: dpkg's database is checked again after it", () => {
  test("a link planted among dpkg's entries while dpkg -i runs (dpkg's post-invoke hook, as a maintainer script could): the next dpkg-query is refused, the host file never read", () => {
    const out = mkdtempSync("/tmp/pkgswitch-outside-");
    writeFileSync(join(out, "list"), "/usr/bin/HOST-SECRET\n");
    const hook = join(root, "etc/dpkg/dpkg.cfg.d/zz-plant-link");
    const planted = join(root, "var/lib/dpkg/info/planted.list");
    // dpkg runs it inside the root after each run; dpkg-query on the host would follow the link.
    writeFileSync(hook, `post-invoke=ln -sf ${out}/list /var/lib/dpkg/info/planted.list\n`);
    try {
      const verb = installed(root, "coreutils-from-gnu") ? "enable" : "disable";
      const r = pkgswitch(["--root", root, verb, "coreutils", "--yes"]);
      // Refused (70) after dpkg -i; the switch back meets the same link and
      // is refused too, so the exit is 50 (a failed switch not undone).
      expect(r.code, r.stderr).toBe(50);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`package database file ${planted} is a symbolic link;`);
      expect(r.stderr).toContain("the package transaction before it did run");
      expect(r.stdout + r.stderr).not.toContain("HOST-SECRET");
    } finally {
      rmSync(hook, { force: true });
      rmSync(planted, { force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("a plain root (no native mechanism) behaves as before", () => {
  test("status reports no native provider; enable --dry-run plans pkgswitch's own links", () => {
    const st = pkgswitchJson<{ native: unknown[] }>(["--root", plain, "status"]);
    expect(st.code).toBe(0);
    expect(st.json.native).toEqual([]);
    const r = pkgswitchJson<{ native?: boolean; plan: Array<{ install: boolean; package: string }> }>(["--root", plain, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.native).toBeUndefined();
    expect(r.json.plan[0]).toMatchObject({ install: true, package: "rust-coreutils" });
  });
});
