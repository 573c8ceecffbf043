/** A hostile root's package database: links and FIFOs its owner plants
 * where the package manager's host-side tools (dpkg-divert/dpkg-query
 * --root, rpm --root/--dbpath) or pkgswitch's own readers would follow them
 * out of the root. Each case plants one thing, runs the command, and checks
 * that a directory standing for the host ("outside") is exactly as before,
 * and the exit code and the one-line message. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { closeSync, constants, cpSync, existsSync, linkSync, openSync, readdirSync, realpathSync, truncateSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEntries, checkWritten, databaseDirProblem, forgetCheckedEntries, inTransaction, type DatabaseLayout } from "../../src/pkgmgr/common.ts";
import { DpkgBackend } from "../../src/pkgmgr/dpkg.ts";
import { DNF_TEMP_PREFIX, fdMountId, seedDnfCache, seedFile, sweepStaleDnfTemp } from "../../src/pkgmgr/dnfcache.ts";
import { PacmanBackend } from "../../src/pkgmgr/pacman.ts";
import { coreutilsRoot, makeFakeRoot, removeRoot } from "../helpers/fakeroot.ts";
import { dnfIn, fedoraRoot, removeFedoraRoot } from "../helpers/fedroot.ts";
import { archRoot, removeArchRoot } from "../helpers/archroot.ts";
import { diffSnapshots, pkgswitch, snapshotTree, type RunResult } from "../helpers/cli.ts";

/** The mount id of a directory, as the seed compares it. */
function mountOf(dir: string): number {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    return fdMountId(fd)!;
  } finally {
    closeSync(fd);
  }
}

setDefaultTimeout(300_000);

const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

/** A directory that stands for the host: a victim file, a host file with a secret. */
function outside(): string {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-outside-"));
  cleanup.push(dir);
  writeFileSync(join(dir, "victim"), "data\n");
  writeFileSync(join(dir, "hostfile"), '{"command":"HOST-SECRET"}\nHOST-SECRET\n');
  return dir;
}

/** A root with two switchable commands: fewer than dpkg.ts's DIRECT_DIVERT_MIN,
 * so every diversion goes through dpkg-divert. */
function twoCommandRoot(): string {
  const gnu: Record<string, string> = {};
  const uu: Record<string, string> = { "/usr/bin/coreutils": "#!/bin/sh\necho uutils 0.0.17\n" };
  for (const a of ["cat", "ls"]) {
    gnu[`/bin/${a}`] = `#!/bin/sh\necho "${a} (GNU coreutils) 9.1"\n`;
    uu[`/usr/lib/cargo/bin/coreutils/${a}`] = "->../../../../bin/coreutils";
  }
  const r = makeFakeRoot({
    packages: { coreutils: { version: "9.1-1", files: gnu }, "rust-coreutils": { version: "0.0.17-2", files: uu } },
    config: `{ "smokeTest": false, "lockTimeoutMs": 500 }`,
  });
  cleanup.push(r);
  return r;
}

function fresh(): string {
  const r = coreutilsRoot();
  cleanup.push(r);
  return r;
}

function clean(r: RunResult): void {
  expect(r.stdout + r.stderr).not.toContain("internal error");
  expect(r.stdout + r.stderr).not.toMatch(/\n\s+at .*:\d+:\d+/);
}

describe("dpkg-divert never writes through a planted diversions-new (fewer than 4 targets)", () => {
  test("diversions-new → a file outside: enable and disable divert inside the root; the file is untouched", () => {
    const r = twoCommandRoot();
    const out = outside();
    const before = snapshotTree(out);
    const admin = join(r, "var/lib/dpkg");
    symlinkSync(join(out, "victim"), join(admin, "diversions-new"));
    const e = pkgswitch(["--root", r, "enable", "coreutils", "--yes"]);
    clean(e);
    expect(e.code, e.stderr).toBe(0);
    expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
    expect(readFileSync(join(out, "victim"), "utf8")).toBe("data\n");
    expect(lstatSync(join(admin, "diversions")).isFile()).toBe(true);
    expect(readFileSync(join(admin, "diversions"), "utf8")).toContain("/bin/ls\n");
    // disable, with the link planted again and one at diversions-old too.
    symlinkSync(join(out, "victim"), join(admin, "diversions-new"));
    rmSync(join(admin, "diversions-old"), { force: true });
    symlinkSync(join(out, "victim"), join(admin, "diversions-old"));
    const d = pkgswitch(["--root", r, "disable", "coreutils", "--yes"]);
    clean(d);
    expect(d.code, d.stderr).toBe(0);
    expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
    expect(lstatSync(join(admin, "diversions")).isFile()).toBe(true);
    expect(lstatSync(join(admin, "diversions-old")).isFile()).toBe(true);
    expect(readFileSync(join(admin, "diversions"), "utf8")).toBe("");
  });

  test("diversions → a file outside: refused (70) before any change, naming it; the file is neither read nor written", () => {
    for (const mk of [twoCommandRoot, fresh]) {
      const r = mk();
      const out = outside();
      symlinkSync(join(out, "victim"), join(r, "var/lib/dpkg/diversions"));
      const before = snapshotTree(out);
      const usrBefore = snapshotTree(join(r, "usr"));
      const e = pkgswitch(["--root", r, "enable", "coreutils", "--yes"]);
      clean(e);
      expect(e.code, e.stderr).toBe(70);
      expect(e.stderr).toMatch(/package database file .*\/var\/lib\/dpkg\/diversions is a symbolic link; .*nothing was changed/);
      expect(e.stderr.trim().split("\n")).toHaveLength(1);
      expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
      expect(diffSnapshots(usrBefore, snapshotTree(join(r, "usr")))).toEqual([]);
    }
  });

  test("diversions-new is a directory: the enable is refused naming it and rolled back (40)", () => {
    const r = twoCommandRoot();
    mkdirSync(join(r, "var/lib/dpkg/diversions-new"));
    const e = pkgswitch(["--root", r, "enable", "coreutils", "--yes"]);
    clean(e);
    expect(e.code, e.stderr).toBe(40);
    expect(e.stderr).toMatch(/diversions-new is a directory where dpkg-divert writes a file; move it aside; rolled back 0 target\(s\), system is as before/);
    // Rolled back: nothing is switched.
    expect(readFileSync(join(r, "usr/bin/ls"), "utf8")).toContain("GNU coreutils");
  });
});

describe("the package database reached through a link out of the root: refused before any package-manager command", () => {
  test("/var/lib/dpkg → an absolute path outside: enable, list and status exit 70 naming it; nothing outside changes", () => {
    const r = fresh();
    const out = outside();
    renameSync(join(r, "var/lib/dpkg"), join(out, "dpkg"));
    symlinkSync(join(out, "dpkg"), join(r, "var/lib/dpkg"));
    // Inside the root the link leads to R/<out>/dpkg: give it a status file there.
    mkdirSync(join(r, out, "dpkg"), { recursive: true });
    cpSync(join(out, "dpkg/status"), join(r, out, "dpkg/status"));
    const before = snapshotTree(out);
    for (const args of [["enable", "coreutils", "--yes"], ["disable", "coreutils", "--yes"], ["list"], ["status"]]) {
      const res = pkgswitch(["--root", r, ...args]);
      clean(res);
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(70);
      expect(res.stderr).toMatch(new RegExp(`package database /var/lib/dpkg in ${r} goes through a symbolic link that leaves the root \\(the package manager would use ${out}/dpkg on the host\\); replace the link`));
    }
    expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
    expect(existsSync(join(out, "dpkg/diversions"))).toBe(false);
  });

  test("/var/lib/dpkg → /var/lock/../../var/lib/dpkg with /var/lock → /fake/x/y: the host's own database is never read (70)", () => {
    const r = fresh();
    rmSync(join(r, "var/lib/dpkg"), { recursive: true });
    symlinkSync("/var/lock/../../var/lib/dpkg", join(r, "var/lib/dpkg"));
    mkdirSync(join(r, "var"), { recursive: true });
    symlinkSync("/fake/x/y", join(r, "var/lock"));
    // Inside the root that resolves to R/fake/var/lib/dpkg: a root with a database there.
    mkdirSync(join(r, "fake/var/lib/dpkg/info"), { recursive: true });
    writeFileSync(join(r, "fake/var/lib/dpkg/status"), "");
    const res = pkgswitch(["--root", r, "list"]);
    clean(res);
    expect(res.code, res.stderr).toBe(70);
    expect(res.stderr).toMatch(/package database \/var\/lib\/dpkg in .* goes through a symbolic link that (leaves the root|leads nowhere)/);
    expect(res.stdout).toBe("");
  });

  test("/var/lib/dpkg → a relative link that stays inside the root: works as before", () => {
    const r = fresh();
    mkdirSync(join(r, "srv"));
    renameSync(join(r, "var/lib/dpkg"), join(r, "srv/dpkg"));
    symlinkSync("../../srv/dpkg", join(r, "var/lib/dpkg"));
    const e = pkgswitch(["--root", r, "enable", "coreutils", "--yes"]);
    clean(e);
    expect(e.code, e.stderr).toBe(0);
    expect(readFileSync(join(r, "srv/dpkg/diversions"), "utf8")).toContain("/bin/ls\n");
    expect(pkgswitch(["--root", r, "disable", "coreutils", "--yes"]).code).toBe(0);
  });

  test("rpm: a temp dir dnf cannot use is one line and exit 70 before any change (was a raw error read as a half-done operation)", () => {
    const r = fedoraRoot();
    try {
      const before = snapshotTree(join(r, "usr/bin"));
      const res = pkgswitch(["--root", r, "pkg", "install", "bash", "--yes"], { env: { TMPDIR: join(outside(), "missing") } });
      clean(res);
      expect(res.code, res.stderr).toBe(70);
      expect(res.stderr).toMatch(/^error: cannot write dnf's temp files in \S+missing \(ENOENT\); it must be a writable directory with free space \(or point TMPDIR elsewhere\); then run the command again/);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(diffSnapshots(before, snapshotTree(join(r, "usr/bin")))).toEqual([]);
    } finally {
      removeFedoraRoot(r);
    }
  });

  test("rpm: the database → an absolute path outside is refused (70); Fedora's relative link inside the root works", () => {
    const r = fedoraRoot();
    try {
      const out = outside();
      const db = join(r, "usr/lib/sysimage/rpm");
      // Relative, inside the root (as Fedora's /var/lib/rpm → ../../usr/lib/sysimage/rpm).
      renameSync(db, join(r, "var/lib/rpm-db"));
      symlinkSync("../../../var/lib/rpm-db", db);
      const ok = pkgswitch(["--root", r, "list"]);
      clean(ok);
      expect(ok.code, ok.stderr).toBe(0);
      // Absolute, to a copy outside (inside the root it would lead to R/<out>/rpm).
      cpSync(join(r, "var/lib/rpm-db"), join(out, "rpm"), { recursive: true });
      rmSync(db);
      symlinkSync(join(out, "rpm"), db);
      cpSync(join(r, "var/lib/rpm-db"), join(r, out, "rpm"), { recursive: true });
      const before = snapshotTree(out);
      for (const args of [["list"], ["enable", "coreutils", "--yes"]]) {
        const res = pkgswitch(["--root", r, ...args]);
        clean(res);
        expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(70);
        expect(res.stderr).toContain(`package database /usr/lib/sysimage/rpm in ${r} goes through a symbolic link that leaves the root (the package manager would use ${out}/rpm on the host)`);
      }
      expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
    } finally {
      removeFedoraRoot(r);
    }
  });
});

/** Plant a link to `target` at `rel` inside `root` (replacing what is there). */
function plant(root: string, rel: string, target: string): void {
  const p = join(root, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  rmSync(p, { force: true });
  symlinkSync(target, p);
}

describe("entries the package manager's host-side tools open by name: refused as links before any of them runs", () => {
  // dpkg-query --root reads these by name, following a link (dpkg 1.21,
  // traced): a host file's lines become file lists, owners and versions.
  const DPKG_ENTRIES = ["var/lib/dpkg/info/coreutils.list", "var/lib/dpkg/info/rust-coreutils.list", "var/lib/dpkg/updates/0001", "var/lib/dpkg/arch", "var/lib/dpkg/triggers/File", "var/lib/dpkg/info/format"];

  test("an updates/ journal → a host file: its package stanza never reaches list's output or an enable's SBOM (70 instead)", () => {
    const r = fresh();
    const out = outside();
    // The stand-in for a host file in dpkg's format (the host's own status).
    writeFileSync(join(out, "status"), "Package: rust-coreutils\nStatus: install ok installed\nVersion: 0.0.99-HOST-SECRET\nArchitecture: amd64\nMaintainer: HOST-SECRET <host@example.org>\nDescription: host\n\n");
    plant(r, "var/lib/dpkg/updates/0001", join(out, "status"));
    const before = snapshotTree(out);
    for (const args of [["list"], ["enable", "coreutils", "--yes"]]) {
      const res = pkgswitch(["--root", r, ...args]);
      clean(res);
      expect(res.stdout + res.stderr).not.toContain("HOST-SECRET");
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(70);
      expect(res.stderr.trim()).toBe(`error: package database file ${r}/var/lib/dpkg/updates/0001 is a symbolic link; the package manager would follow it out of the root or hang on it — move it aside, or replace it with the regular file it should be (nothing was changed)`);
    }
    expect(readFileSync(join(r, "usr/bin/ls"), "utf8")).toContain("GNU coreutils");
    expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
  });

  test("every dpkg entry dpkg-query reads (info/*.list, updates/N, arch, triggers/File, info/format) → a host file: list and enable exit 70 naming it; nothing changes", () => {
    for (const rel of DPKG_ENTRIES) {
      const r = fresh();
      const out = outside();
      writeFileSync(join(out, "list"), "/.\n/usr\n/usr/bin\n/usr/bin/ls\n/root:$y$HOST-SECRET:19000:0:99999:7:::\n");
      plant(r, rel, join(out, "list"));
      const before = snapshotTree(out);
      const usrBefore = snapshotTree(join(r, "usr"));
      for (const args of [["list"], ["enable", "coreutils", "--yes"]]) {
        const res = pkgswitch(["--root", r, ...args]);
        clean(res);
        expect(res.code, `${rel}: ${args.join(" ")}: ${res.stderr}`).toBe(70);
        expect(res.stderr).toContain(`package database file ${r}/${rel} is a symbolic link;`);
        expect(res.stderr.trim().split("\n")).toHaveLength(1);
        expect(res.stdout + res.stderr).not.toContain("HOST-SECRET");
      }
      expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
      expect(diffSnapshots(usrBefore, snapshotTree(join(r, "usr")))).toEqual([]);
    }
  });

  test("a FIFO at info/<pkg>.list: refused (70), no hang; a relative link inside the root is refused too (dpkg replaces these by rename: they are never links)", () => {
    const r = fresh();
    const list = join(r, "var/lib/dpkg/info/coreutils.list");
    rmSync(list);
    expect(Bun.spawnSync(["mkfifo", list]).exitCode).toBe(0);
    const res = pkgswitch(["--root", r, "list"], { timeoutMs: 20_000 });
    clean(res);
    expect(res.code, res.stderr).toBe(70);
    expect(res.stderr).toContain(`package database file ${list} is not a regular file;`);
    rmSync(list);
    writeFileSync(join(r, "var/lib/dpkg/coreutils.list"), "/.\n/usr/bin/ls\n");
    symlinkSync("../coreutils.list", list);
    expect(pkgswitch(["--root", r, "list"]).code).toBe(70);
  });

  test("/var/lib/dpkg/info → the host's info directory (absolute link): refused (70) naming it", () => {
    const r = fresh();
    const out = outside();
    renameSync(join(r, "var/lib/dpkg/info"), join(out, "info"));
    symlinkSync(join(out, "info"), join(r, "var/lib/dpkg/info"));
    const before = snapshotTree(out);
    const res = pkgswitch(["--root", r, "list"]);
    clean(res);
    expect(res.code, res.stderr).toBe(70);
    expect(res.stderr).toContain(`package database /var/lib/dpkg/info in ${r} goes through a symbolic link that leaves the root`);
    expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
  });

  test("rpm: rpmdb.sqlite, dnf's history.sqlite or a .repo → a host file: refused (70) before rpm or dnf runs; the host's copy is neither read nor written", () => {
    for (const rel of ["usr/lib/sysimage/rpm/rpmdb.sqlite", "var/lib/dnf/history.sqlite", "etc/yum.repos.d/fedora.repo"]) {
      const r = fedoraRoot();
      try {
        const out = outside();
        // A copy outside stands for the host's own database (SQLite follows
        // the link with readlink(2) and writes the -shm beside its target).
        cpSync(join(r, "usr/lib/sysimage/rpm"), join(out, "rpm"), { recursive: true });
        mkdirSync(join(out, "dnf"));
        for (const f of ["history.sqlite", "history.sqlite-shm", "history.sqlite-wal"]) if (existsSync(join(r, "var/lib/dnf", f))) cpSync(join(r, "var/lib/dnf", f), join(out, "dnf", f));
        const target = rel.endsWith(".repo") ? join(out, "hostfile") : rel.includes("dnf") ? join(out, "dnf/history.sqlite") : join(out, "rpm/rpmdb.sqlite");
        plant(r, rel, target);
        const before = snapshotTree(out);
        for (const args of [["list"], ["enable", "coreutils", "--dry-run"]]) {
          const res = pkgswitch(["--root", r, ...args]);
          clean(res);
          expect(res.code, `${rel}: ${args.join(" ")}: ${res.stderr}`).toBe(70);
          expect(res.stderr).toContain(`package database file ${r}/${rel} is a symbolic link;`);
        }
        expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
      } finally {
        removeFedoraRoot(r);
      }
    }
  });
});

describe("dnf's cache: a transaction writes there by name, so no entry may be a link, FIFO or device", () => {
  test("expired_repos.json → a host file, a FIFO at metadata_lock.pid, a link three levels down: pkg install refused (70) before dnf runs, naming it; the host file keeps its text; a real install with dnf's own cache works", () => {
    const r = fedoraRoot();
    try {
      const out = outside();
      const cache = join(r, "var/cache/dnf");
      const before = snapshotTree(out);
      // dnf 4 truncates expired_repos.json and writes "[]" through the link.
      plant(r, "var/cache/dnf/expired_repos.json", join(out, "victim"));
      const a = pkgswitch(["--root", r, "pkg", "install", "uutils-coreutils", "--yes"]);
      clean(a);
      expect(a.code, a.stderr).toBe(70);
      expect(a.stderr.trim().split("\n")).toHaveLength(1);
      expect(a.stderr).toContain(`error: package database file ${cache}/expired_repos.json is a symbolic link; the package manager would follow it out of the root or hang on it — move it aside, or replace it with the regular file it should be (nothing was changed)`);
      expect(readFileSync(join(out, "victim"), "utf8")).toBe("data\n");
      rmSync(join(cache, "expired_repos.json"));
      expect(Bun.spawnSync(["mkfifo", join(cache, "metadata_lock.pid")]).exitCode).toBe(0);
      const b = pkgswitch(["--root", r, "pkg", "install", "uutils-coreutils", "--yes"], { timeoutMs: 60_000 });
      clean(b);
      expect(b.code, b.stderr).toBe(70);
      expect(b.stderr).toContain(`package database file ${cache}/metadata_lock.pid is not a regular file;`);
      rmSync(join(cache, "metadata_lock.pid"));
      // A repository's download directory: <id>-<hash>/packages/<file>.
      plant(r, "var/cache/dnf/fedora-0123456789abcdef/packages/bash.rpm", join(out, "victim"));
      const c = pkgswitch(["--root", r, "pkg", "install", "uutils-coreutils", "--yes"]);
      clean(c);
      expect(c.code, c.stderr).toBe(70);
      expect(c.stderr).toContain(`package database file ${cache}/fedora-0123456789abcdef/packages/bash.rpm is a symbolic link;`);
      rmSync(join(cache, "fedora-0123456789abcdef"), { recursive: true });
      // Queries and dry runs keep dnf's cache in a temp dir: not refused.
      plant(r, "var/cache/dnf/expired_repos.json", join(out, "victim"));
      const d = pkgswitch(["--root", r, "list"]);
      expect(d.code, d.stderr).toBe(0);
      rmSync(join(cache, "expired_repos.json"));
      expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
      // dnf's own cache (files and per-repository directories, as the root's
      // dnf leaves them) passes, run after run; pkgswitch writes nothing there.
      expect(dnfIn(r, ["-q", "makecache"]).code).toBe(0);
      const own = snapshotTree(cache);
      expect(lstatSync(join(cache, "expired_repos.json")).isFile()).toBe(true);
      for (const args of [["install", "uutils-coreutils"], ["remove", "uutils-coreutils"]]) {
        const e = pkgswitch(["--root", r, "pkg", ...args, "--yes"]);
        clean(e);
        expect(e.code, `${args.join(" ")}: ${e.stderr}`).toBe(0);
      }
      expect(diffSnapshots(own, snapshotTree(cache))).toEqual([]);
    } finally {
      removeFedoraRoot(r);
    }
  });

  test("a relative link that stays inside the root is refused, and the message says why (the tools run on the host), not that it leads out", () => {
    const r = fedoraRoot();
    try {
      const repo = join(r, "etc/yum.repos.d/local.repo");
      symlinkSync("../dnf/dnf.conf", repo);
      const res = pkgswitch(["--root", r, "list"]);
      clean(res);
      expect(res.code, res.stderr).toBe(70);
      expect(res.stderr.trim()).toBe(`error: package database file ${repo} is a symbolic link; the package manager's tools run on the host and pkgswitch does not let them follow links in the database — replace it with the file itself (nothing was changed)`);
    } finally {
      removeFedoraRoot(r);
    }
  });
});

describe("lock files and pacman", () => {
  test("rpm: dnf's rpmdb_lock.pid → a host file, or a FIFO: never read through the link, never waited on; refused (70) naming it", () => {
    const r = fedoraRoot();
    try {
      const out = outside();
      // A live pid in the host file: read through the link, it would say "locked by pid …".
      writeFileSync(join(out, "pid"), `${process.pid}\n`);
      const pidFile = join(r, "var/lib/dnf/rpmdb_lock.pid");
      plant(r, "var/lib/dnf/rpmdb_lock.pid", join(out, "pid"));
      const e = pkgswitch(["--root", r, "enable", "coreutils", "--yes"], { timeoutMs: 30_000 });
      clean(e);
      expect(e.stderr).not.toContain(`pid ${process.pid}`);
      expect(e.code, e.stderr).toBe(70);
      expect(e.stderr).toContain(`package database file ${pidFile} is a symbolic link;`);
      rmSync(pidFile);
      expect(Bun.spawnSync(["mkfifo", pidFile]).exitCode).toBe(0);
      const f = pkgswitch(["--root", r, "enable", "coreutils", "--yes"], { timeoutMs: 30_000 });
      clean(f);
      expect(f.code, f.stderr).toBe(70); // -1 (killed) would be the hang
      expect(f.stderr).toContain(`package database file ${pidFile} is not a regular file;`);
      // A real pid file (dnf's own, a regular file) is still read: locked.
      rmSync(pidFile);
      writeFileSync(pidFile, `${process.pid}\n`);
      const g = pkgswitch(["--root", r, "enable", "coreutils", "--yes"], { timeoutMs: 30_000 });
      expect(g.code, g.stderr).toBe(30);
      expect(g.stderr).toContain(`${pidFile} by pid ${process.pid}`);
    } finally {
      removeFedoraRoot(r);
    }
  });

  test("pacman runs inside the root (chroot): a planted local/<pkg>/files → a host path reads the root's own file at that path, never the host's", () => {
    const r = archRoot();
    try {
      const out = outside();
      writeFileSync(join(out, "files"), "%FILES%\nusr/\nusr/bin/\nusr/bin/HOST-SECRET\n\n");
      const files = "var/lib/pacman/local/coreutils-9.1-1/files";
      // Inside the root the link leads to R/<out>/files: the root's own.
      mkdirSync(join(r, out), { recursive: true });
      writeFileSync(join(r, out, "files"), "%FILES%\nusr/\nusr/bin/\nusr/bin/INSIDE\n\n");
      plant(r, files, join(out, "files"));
      const before = snapshotTree(out);
      const b = new PacmanBackend({ root: r, observe: () => {}, readOnly: true });
      expect(b.installed(["coreutils"]).get("coreutils")?.files).toEqual(["/usr/bin/INSIDE"]);
      const res = pkgswitch(["--root", r, "enable", "coreutils", "--dry-run", "--json"]);
      clean(res);
      expect(res.stdout + res.stderr).not.toContain("HOST-SECRET");
      expect(diffSnapshots(before, snapshotTree(out))).toEqual([]);
    } finally {
      removeArchRoot(r);
    }
  });
});

describe("the shared check (pkgmgr/common.ts)", () => {
  test("kernel and chroot resolutions must agree, inside the root", () => {
    const r = mkdtempSync(join(tmpdir(), "pkgswitch-dbcheck-"));
    cleanup.push(r);
    const out = outside();
    mkdirSync(join(r, "usr/lib/sysimage/rpm"), { recursive: true });
    mkdirSync(join(r, "var/lib"), { recursive: true });
    symlinkSync("../../usr/lib/sysimage/rpm", join(r, "var/lib/rpm"));
    expect(databaseDirProblem(r, "/var/lib/rpm")).toBeNull();
    expect(databaseDirProblem(r, "/usr/lib/sysimage/rpm")).toBeNull();
    expect(databaseDirProblem(r, "/var/lib/dnf")).toBeNull(); // missing: judged by /var/lib
    expect(databaseDirProblem("/", "/var/lib/dpkg")).toBeNull();
    symlinkSync(out, join(r, "var/lib/abs"));
    expect(databaseDirProblem(r, "/var/lib/abs")).toContain(`would use ${out} on the host`);
    symlinkSync("../../../../../../../../.." + out, join(r, "var/lib/climb"));
    expect(databaseDirProblem(r, "/var/lib/climb")).toContain("leaves the root");
    // A missing directory under a link out: it would be created outside.
    expect(databaseDirProblem(r, "/var/lib/abs/sub/db")).toContain("leaves the root");
    symlinkSync(join(out, "nonexistent"), join(r, "var/lib/dangling"));
    expect(databaseDirProblem(r, "/var/lib/dangling")).toContain("leads nowhere on the host");
    symlinkSync("loop", join(r, "var/lib/loop"));
    expect(databaseDirProblem(r, "/var/lib/loop")).toContain("too many levels of symbolic links");
  });

  test("checkEntries: one readdir pass, only matching names; links and FIFOs refused, files and directories pass; checked again after a transaction", () => {
    const r = mkdtempSync(join(tmpdir(), "pkgswitch-dbcheck-"));
    cleanup.push(r);
    const out = outside();
    const db: DatabaseLayout = { dirs: [], files: [], entries: [{ dir: "/db/info", names: /\.list$/ }] };
    mkdirSync(join(r, "db/info/sub.list"), { recursive: true });
    writeFileSync(join(r, "db/info/a.list"), "/.\n");
    symlinkSync(join(out, "hostfile"), join(r, "db/info/a.md5sums")); // not a name the tool reads
    checkEntries(r, db);
    symlinkSync(join(out, "hostfile"), join(r, "db/info/b.list"));
    checkEntries(r, db); // remembered until the next package transaction
    forgetCheckedEntries();
    expect(() => checkEntries(r, db)).toThrow(`package database file ${r}/db/info/b.list is a symbolic link; the package manager would follow it out of the root or hang on it — move it aside, or replace it with the regular file it should be (the package transaction before it did run: see the audit record)`);
    rmSync(join(r, "db/info/b.list"));
    expect(Bun.spawnSync(["mkfifo", join(r, "db/info/c.list")]).exitCode).toBe(0);
    expect(() => checkEntries(r, db)).toThrow(/c\.list is not a regular file/);
    rmSync(join(r, "db/info/c.list"));
    checkEntries(r, db);
    checkEntries("/", db); // the host's own tree is the operator's
    // An entry directory that leaves the root is refused as a database directory.
    rmSync(join(r, "db/info"), { recursive: true });
    symlinkSync(out, join(r, "db/info"));
    forgetCheckedEntries();
    expect(() => checkEntries(r, db)).toThrow(/package database \/db\/info in .* goes through a symbolic link that leaves the root/);
  });
});

describe("checkWritten and inTransaction (pkgmgr/common.ts)", () => {
  test("checkWritten: every entry down to the depth, checked each time; deeper ones and other directories are not", () => {
    const r = mkdtempSync(join(tmpdir(), "pkgswitch-dbcheck-"));
    cleanup.push(r);
    const out = outside();
    const db: DatabaseLayout = { dirs: [], files: [], written: [{ dir: "/cache", depth: 1 }] };
    checkWritten(r, db); // missing: dnf creates it
    mkdirSync(join(r, "cache/repo/deeper"), { recursive: true });
    writeFileSync(join(r, "cache/a.json"), "[]");
    symlinkSync(join(out, "victim"), join(r, "cache/repo/deeper/x")); // below the depth: not opened
    checkWritten(r, db);
    symlinkSync(join(out, "victim"), join(r, "cache/repo/y"));
    expect(() => checkWritten(r, db)).toThrow(`package database file ${r}/cache/repo/y is a symbolic link;`);
    rmSync(join(r, "cache/repo/y"));
    checkWritten(r, db);
    checkEntries(r, db); // not among the entries every query needs
    rmSync(join(r, "cache"), { recursive: true });
    symlinkSync(out, join(r, "cache"));
    expect(() => checkWritten(r, db)).toThrow(/package database \/cache in .* goes through a symbolic link that leaves the root/);
  });

  test("inTransaction: the entries are checked again after it, even when it fails", () => {
    const r = mkdtempSync(join(tmpdir(), "pkgswitch-dbcheck-"));
    cleanup.push(r);
    const out = outside();
    const db: DatabaseLayout = { dirs: [], files: [], entries: [{ dir: "/db" }] };
    mkdirSync(join(r, "db"));
    checkEntries(r, db);
    expect(() => inTransaction(() => {
      symlinkSync(join(out, "hostfile"), join(r, "db/planted"));
      throw new Error("the transaction failed");
    })).toThrow("the transaction failed");
    expect(() => checkEntries(r, db)).toThrow(`package database file ${r}/db/planted is a symbolic link;`);
  });
});

describe("reads never follow a link out of the root or wait on a FIFO", () => {
  const OP = "20261201T000000Z-0badc0de";

  test("a journal → a host file: status does not print its text", () => {
    const r = fresh();
    const out = outside();
    expect(pkgswitch(["--root", r, "status"]).code).toBe(0); // creates the audit directory
    const audit = join(r, "var/lib/pkgswitch/audit");
    mkdirSync(audit, { recursive: true });
    symlinkSync(join(out, "hostfile"), join(audit, `.inprogress-${OP}.jsonl`));
    const s = pkgswitch(["--root", r, "status"]);
    clean(s);
    expect(s.stdout + s.stderr).not.toContain("HOST-SECRET");
  });

  test("a journal that is a FIFO: status ends", () => {
    const r = fresh();
    expect(pkgswitch(["--root", r, "status"]).code).toBe(0);
    const audit = join(r, "var/lib/pkgswitch/audit");
    mkdirSync(audit, { recursive: true });
    expect(Bun.spawnSync(["mkfifo", join(audit, `.inprogress-${OP}.jsonl`)]).exitCode).toBe(0);
    const s = pkgswitch(["--root", r, "status"], { timeoutMs: 20_000 });
    clean(s);
    expect([0, 70]).toContain(s.code); // -1 (killed) would be the hang
  });

  test("diversions and alternatives records that are links or FIFOs read as none", () => {
    const r = fresh();
    const out = outside();
    writeFileSync(join(out, "divs"), "/usr/bin/ls\n/usr/bin/HOST-SECRET\n:\n");
    const b = new DpkgBackend({ root: r, observe: () => {}, readOnly: true });
    symlinkSync(join(out, "divs"), join(r, "var/lib/dpkg/diversions"));
    expect(b.diverter.list().size).toBe(0);
    rmSync(join(r, "var/lib/dpkg/diversions"));
    expect(Bun.spawnSync(["mkfifo", join(r, "var/lib/dpkg/diversions")]).exitCode).toBe(0);
    expect(b.diverter.list().size).toBe(0);
    mkdirSync(join(r, "var/lib/dpkg/alternatives"));
    writeFileSync(join(out, "sudo"), "auto\n/usr/bin/sudo\n\n/usr/bin/sudo.ws\n50\n\n");
    symlinkSync(join(out, "sudo"), join(r, "var/lib/dpkg/alternatives/sudo"));
    const spec = { kind: "alternative", name: "sudo", original: "/usr/bin/sudo.ws", replacement: "/usr/lib/cargo/bin/sudo" } as const;
    expect(b.native.facts(spec)).toBeNull();
    expect(() => b.native.plan(spec, "original")).toThrow(/is not registered as an alternative/);
    rmSync(join(r, "var/lib/dpkg/alternatives/sudo"));
    expect(Bun.spawnSync(["mkfifo", join(r, "var/lib/dpkg/alternatives/sudo")]).exitCode).toBe(0);
    expect(b.native.facts(spec)).toBeNull();
  });
});

describe("dnf's private cache for a transaction (pkgmgr/dnfcache.ts): seeded from the root's, never through a link, nothing written back", () => {
  const seedRoot = () => {
    const root = makeFakeRoot({ packages: {} });
    cleanup.push(root);
    const priv = mkdtempSync(join(tmpdir(), "pkgswitch-dnfwork-"));
    cleanup.push(priv);
    return { root, cache: join(root, "var/cache/dnf"), priv };
  };

  test("seed copies regular files with their mtimes, skips links, FIFOs and packages/", () => {
    const out = outside();
    const { root, cache, priv } = seedRoot();
    mkdirSync(join(cache, "fedora-1/repodata"), { recursive: true });
    mkdirSync(join(cache, "fedora-1/packages"), { recursive: true });
    writeFileSync(join(cache, "fedora-1/repodata/repomd.xml"), "<repomd/>\n");
    utimesSync(join(cache, "fedora-1/repodata/repomd.xml"), 1_700_000_000, 1_700_000_000);
    writeFileSync(join(cache, "fedora-1/packages/x.rpm"), "rpm\n");
    symlinkSync(join(out, "hostfile"), join(cache, "fedora-1/repodata/primary.xml.gz"));
    symlinkSync(out, join(cache, "fedora-2"));
    Bun.spawnSync(["mkfifo", join(cache, "fifo")]);
    seedDnfCache(root, join(priv, "cache"));
    expect(readFileSync(join(priv, "cache/fedora-1/repodata/repomd.xml"), "utf8")).toBe("<repomd/>\n");
    expect(lstatSync(join(priv, "cache/fedora-1/repodata/repomd.xml")).mtimeMs).toBe(1_700_000_000_000);
    expect(existsSync(join(priv, "cache/fedora-1/repodata/primary.xml.gz"))).toBe(false);
    expect(existsSync(join(priv, "cache/fedora-2"))).toBe(false);
    expect(existsSync(join(priv, "cache/fifo"))).toBe(false);
    expect(existsSync(join(priv, "cache/fedora-1/packages"))).toBe(false);
  });

  test("a repository directory swapped for a link to a host directory after the listing: its files are not read (the descriptor's real path is outside the root)", () => {
    const out = outside();
    const { root, cache, priv } = seedRoot();
    mkdirSync(join(cache, "fedora-1/repodata"), { recursive: true });
    writeFileSync(join(cache, "fedora-1/repodata/repomd.xml"), "<repomd/>\n");
    mkdirSync(join(out, "repodata"));
    writeFileSync(join(out, "repodata/repomd.xml"), "HOST-SECRET\n");
    const inside = join(realpathSync(root), "var/cache/dnf") + "/";
    const mount = mountOf(root);
    mkdirSync(join(priv, "cache"));
    // What the walk listed was a directory; what the open meets is a link
    // (the outcome of the renameat2 race, set up without racing).
    expect(readdirSync(cache, { withFileTypes: true }).find((e) => e.name === "fedora-1")!.isDirectory()).toBe(true);
    renameSync(join(cache, "fedora-1"), join(root, "fedora-1.moved"));
    symlinkSync(out, join(cache, "fedora-1"));
    const dest = join(priv, "cache/repomd.xml");
    expect(seedFile(join(cache, "fedora-1/repodata/repomd.xml"), dest, inside, 1 << 30, mount)).toBe(0);
    expect(existsSync(dest)).toBe(false);
    // The same file through the root's own directory is copied.
    rmSync(join(cache, "fedora-1"));
    renameSync(join(root, "fedora-1.moved"), join(cache, "fedora-1"));
    expect(seedFile(join(cache, "fedora-1/repodata/repomd.xml"), dest, inside, 1 << 30, mount)).toBeGreaterThan(0);
    expect(readFileSync(dest, "utf8")).toBe("<repomd/>\n");
    // A link inside the root to elsewhere in the root is not the cache either.
    rmSync(dest);
    mkdirSync(join(root, "srv/cache/dnf"), { recursive: true });
    writeFileSync(join(root, "srv/cache/dnf/repomd.xml"), "elsewhere\n");
    symlinkSync(join(root, "srv/cache/dnf"), join(cache, "fedora-3"));
    expect(seedFile(join(cache, "fedora-3/repomd.xml"), dest, inside, 1 << 30, mount)).toBe(0);
    expect(existsSync(dest)).toBe(false);
  });

  test("a hard-linked file and a file on another mount than the root's are not copied (a second name or another mount namespace can reach a host file)", () => {
    const { root, cache, priv } = seedRoot();
    mkdirSync(join(cache, "fedora-1"), { recursive: true });
    writeFileSync(join(cache, "fedora-1/one.solv"), "one\n");
    writeFileSync(join(root, "elsewhere"), "HOST-LIKE\n");
    linkSync(join(root, "elsewhere"), join(cache, "fedora-1/two.solv"));
    seedDnfCache(root, join(priv, "cache"));
    expect(readFileSync(join(priv, "cache/fedora-1/one.solv"), "utf8")).toBe("one\n");
    expect(existsSync(join(priv, "cache/fedora-1/two.solv"))).toBe(false);
    // The mount is compared: the same file, checked against another mount id, is skipped.
    const inside = join(realpathSync(root), "var/cache/dnf") + "/";
    const dest = join(priv, "x.solv");
    expect(seedFile(join(cache, "fedora-1/one.solv"), dest, inside, 1 << 30, mountOf(root) + 1)).toBe(0);
    expect(existsSync(dest)).toBe(false);
    expect(seedFile(join(cache, "fedora-1/one.solv"), dest, inside, 1 << 30, mountOf(root))).toBeGreaterThan(0);
    // And fdMountId tells mounts apart (/proc is not /tmp's).
    expect(mountOf("/proc")).not.toBe(mountOf(tmpdir()));
  });

  test("a sparse file is not copied (its holes would be written out in full); the budget counts allocated and apparent size", () => {
    const { root, cache, priv } = seedRoot();
    mkdirSync(join(cache, "fedora-1"), { recursive: true });
    writeFileSync(join(cache, "fedora-1/sparse.solv"), "");
    truncateSync(join(cache, "fedora-1/sparse.solv"), 64 * 1024 ** 2);
    seedDnfCache(root, join(priv, "cache"));
    expect(existsSync(join(priv, "cache/fedora-1/sparse.solv"))).toBe(false);
    rmSync(join(priv, "cache"), { recursive: true });
    writeFileSync(join(cache, "fedora-1/small.solv"), Buffer.alloc(100_000, 1));
    writeFileSync(join(cache, "fedora-1/big.solv"), Buffer.alloc(300_000, 1));
    seedDnfCache(root, join(priv, "cache"), { entries: 1000, bytes: 200_000 });
    expect(readFileSync(join(priv, "cache/fedora-1/small.solv")).length).toBe(100_000);
    expect(existsSync(join(priv, "cache/fedora-1/big.solv"))).toBe(false);
  });

  test("stale dnf temp dirs (ours, a directory, older than 24 h) are swept; fresh ones, links and other names are left", () => {
    const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-sweep-"));
    cleanup.push(tmp);
    const old = Date.now() / 1000 - 25 * 3600;
    for (const n of ["pkgswitch-dnf-old", "pkgswitch-dnfwork-old", "pkgswitch-dnf-new", "other-old"]) {
      mkdirSync(join(tmp, n, "cache"), { recursive: true });
      writeFileSync(join(tmp, n, "cache/f"), "x");
      if (n.endsWith("-old")) utimesSync(join(tmp, n), old, old);
    }
    const target = outside();
    symlinkSync(target, join(tmp, `${DNF_TEMP_PREFIX}-link`));
    Bun.spawnSync(["touch", "-h", "-d", "@" + Math.floor(old), join(tmp, `${DNF_TEMP_PREFIX}-link`)]);
    sweepStaleDnfTemp(tmp);
    expect(readdirSync(tmp).sort()).toEqual(["other-old", "pkgswitch-dnf-link", "pkgswitch-dnf-new"]);
    expect(readFileSync(join(target, "victim"), "utf8")).toBe("data\n");
  });
});
