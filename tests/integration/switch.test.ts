/** The switch engine on temp roots with a real dpkg database (dpkg-query
 * --root reads it) and the compiled binary, as an operator runs it. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeFakeRoot } from "../helpers/fakeroot.ts";
import { rootPool } from "../helpers/pool.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, sha256File, snapshotTree } from "../helpers/cli.ts";

// Real roots, apt and dpkg: seconds per test, more on a loaded machine.
setDefaultTimeout(300_000);

const newRoot = rootPool();

const TARGETS = ["/usr/bin/[", "/usr/bin/cat", "/usr/bin/cp", "/usr/bin/echo", "/usr/bin/head", "/usr/bin/ls", "/usr/bin/mv", "/usr/bin/sha256sum", "/usr/bin/sort", "/usr/bin/tail", "/usr/bin/wc", "/usr/sbin/chroot"];

function identity(root: string, path: string) {
  const st = lstatSync(join(root, path));
  return { sha: st.isFile() ? sha256File(join(root, path)) : null, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs, link: st.isSymbolicLink() ? readlinkSync(join(root, path)) : null };
}

describe("enable / disable on a temp root", () => {
  test("enable switches exactly the intersection; disable restores every original", () => {
    const root = newRoot();
    const before = new Map(TARGETS.map((t) => [t, identity(root, t)]));
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const t of TARGETS) {
      expect(lstatSync(join(root, t)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(root, t))).toBe(`/usr/lib/cargo/bin/coreutils/${t.split("/").pop()}`);
    }
    // `hashsum` is uutils-only: no GNU file to replace, so nothing is created.
    expect(existsSync(join(root, "/usr/bin/hashsum"))).toBe(false);
    const st = pkgswitchJson<{ providers: Array<{ provider: string; switched: number; targets: number; drifted: unknown[] }> }>(["--root", root, "status"]);
    expect(st.json.providers[0]).toMatchObject({ provider: "coreutils", switched: 12, targets: 12, drifted: [] });

    const d = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    expect(d.code).toBe(0);
    for (const t of TARGETS) expect(identity(root, t)).toEqual(before.get(t)!);
    expect(readdirSync(join(root, "var/lib/pkgswitch/backups/usr/bin"))).toEqual([]);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("no provider is enabled");
  });

  test("--dry-run changes nothing anywhere under the root", () => {
    const root = newRoot();
    const before = snapshotTree(root);
    const r = pkgswitchJson<{ dry_run: boolean; plan: Array<{ switch: string[] }> }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.json.dry_run).toBe(true);
    expect(r.json.plan[0]!.switch.sort()).toEqual([...TARGETS].sort());
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
  });

  test("enable twice is idempotent and records a second operation", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const again = pkgswitchJson<{ counts: { switched: number; already: number } }>(["--root", root, "enable", "coreutils", "--yes"]);
    expect(again.code).toBe(0);
    expect(again.json.counts).toMatchObject({ switched: 0, already: 12 });
    const ops = pkgswitchJson<{ operations: unknown[] }>(["--root", root, "audit", "list"]);
    expect(ops.json.operations.length).toBe(2);
  });

  test("a failing smoke test rolls everything back (exit 40) and the record says so", () => {
    // The fake root has no /bin/sh, so every switched command fails to exec (127).
    const root = newRoot({ config: `{ "smokeTest": true }` });
    const before = new Map(TARGETS.map((t) => [t, identity(root, t)]));
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(40);
    expect(r.stderr).toMatch(/smoke test failed .*rolled back 12 target\(s\), system is as before \[op \d{8}T\d{6}Z-[0-9a-f]{8}\]/);
    for (const t of TARGETS) expect(identity(root, t)).toEqual(before.get(t)!);
    expect(existsSync(join(root, "var/lib/pkgswitch/state.json")) ? JSON.parse(readFileSync(join(root, "var/lib/pkgswitch/state.json"), "utf8")).providers : {}).toEqual({});
    const ops = pkgswitchJson<{ operations: Array<{ status: string }> }>(["--root", root, "audit", "list"]);
    expect(ops.json.operations.map((o) => o.status)).toEqual(["rolled_back"]);
    const opId = /\[op ([^\]]+)\]/.exec(r.stderr)![1]!;
    const events = pkgswitchJson<{ events: Array<{ event: string }> }>(["--root", root, "audit", "show", opId]).json.events;
    expect(events.filter((e) => e.event === "rollback.step").length).toBe(12);
  });

  test("a target owned by another package is refused before anything changes (exit 10)", () => {
    const root = newRoot();
    // dpkg's database says /usr/bin/sort belongs to a different package too.
    const status = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
    writeFileSync(join(root, "var/lib/dpkg/status"), status + "Package: evil\nStatus: install ok installed\nPriority: optional\nSection: misc\nMaintainer: x <x@x>\nArchitecture: amd64\nVersion: 1\nDescription: x\n\n");
    writeFileSync(join(root, "var/lib/dpkg/info/evil.list"), "/usr/bin/sort\n");
    const list = readFileSync(join(root, "var/lib/dpkg/info/coreutils.list"), "utf8").replace("/usr/bin/sort\n", "");
    writeFileSync(join(root, "var/lib/dpkg/info/coreutils.list"), list + "/usr/bin/sort\n");
    // The refusal itself is recorded (var/lib/pkgswitch); /usr must not change.
    const before = snapshotTree(join(root, "usr"));
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("/usr/bin/sort: owned by evil");
    expect(diffSnapshots(before, snapshotTree(join(root, "usr")))).toEqual([]);
    expect(existsSync(join(root, "var/lib/pkgswitch/state.json"))).toBe(false);
  });

  test("non-usrmerged root: dpkg paths are used as they are", () => {
    const root = newRoot({ usrMerged: false });
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    expect(readlinkSync(join(root, "bin/ls"))).toBe("/usr/lib/cargo/bin/coreutils/ls");
    expect(pkgswitch(["--root", root, "disable", "--all", "--yes"]).code).toBe(0);
    expect(lstatSync(join(root, "bin/ls")).isFile()).toBe(true);
  });

  test("exclusions from the config are honoured", () => {
    const root = newRoot({ config: `{ "smokeTest": false, // comments are fine\n "exclude": { "coreutils": ["ls", "cp"] } }` });
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
    expect(lstatSync(join(root, "usr/bin/cp")).isFile()).toBe(true);
    expect(lstatSync(join(root, "usr/bin/cat")).isSymbolicLink()).toBe(true);
  });

  test("a target replaced behind our back is left alone by disable and reported by status", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    // Simulate a package upgrade writing a new GNU file over our link.
    const p = join(root, "usr/bin/ls");
    const tmp = join(root, "usr/bin/.ls.new");
    writeFileSync(tmp, "#!/bin/sh\necho new ls\n");
    chmodSync(tmp, 0o755);
    require("node:fs").renameSync(tmp, p);
    const st = pkgswitchJson<{ providers: Array<{ drifted: Array<{ path: string }> }> }>(["--root", root, "status"]);
    expect(st.json.providers[0]!.drifted.map((d) => d.path)).toEqual(["/usr/bin/ls"]);
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    expect(readFileSync(p, "utf8")).toContain("new ls");
  });
});

describe("bad input: one line, the documented exit code, nothing changed", () => {
  test("unknown provider → 2, listing the known ones", () => {
    const root = newRoot();
    const r = pkgswitch(["--root", root, "enable", "nosuch", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toContain('unknown provider "nosuch"; known: busybox, coreutils, diffutils, findutils, sudo-rs');
  });

  test("a root that is not a dpkg system → 10", () => {
    const root = makeFakeRoot({ packages: {} });
    newRoot.keep(root);
    require("node:fs").rmSync(join(root, "var/lib/dpkg"), { recursive: true });
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("has no package database pkgswitch knows (looked for /var/lib/dpkg/status");
  });

  test("malformed config → 2 naming file and line; unknown key → 2", () => {
    const root = newRoot({ config: `{ "smokeTest": false,\n  "exclude": [ }` });
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/config .*config\.jsonc: line 2: /);
    const root2 = newRoot({ config: `{ "smokeTets": false }` });
    expect(pkgswitch(["--root", root2, "status"]).stderr).toContain('unknown key "smokeTets"');
  });

  test("bad op id → 2, never used as a path", () => {
    const root = newRoot();
    const r = pkgswitch(["--root", root, "audit", "show", "../../etc/passwd"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad op id "../../etc/passwd"');
    expect(pkgswitch(["--root", root, "audit", "show", "20261127T053000Z-3fa9c2d1"]).code).toBe(3);
  });

  test("unwritable audit dir → 70 with a clear message, nothing switched", () => {
    const root = newRoot();
    writeFileSync(join(root, "not-a-dir"), "");
    const before = snapshotTree(root, (p) => p.startsWith("var/lib/pkgswitch") || p.startsWith("run"));
    const r = pkgswitch(["--root", root, "--audit-dir", join(root, "not-a-dir/audit"), "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(70);
    expect(r.stderr).toMatch(/audit directory .*not-a-dir\/audit is not writable \(ENOTDIR\); nothing was changed/);
    expect(diffSnapshots(before, snapshotTree(root, (p) => p.startsWith("var/lib/pkgswitch") || p.startsWith("run")))).toEqual([]);
  });

  test("read-only audit dir (ro mount) → 70, nothing switched", () => {
    const root = newRoot();
    const ro = join(root, "ro-audit");
    mkdirSync(ro);
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]);
    expect(m.exitCode).toBe(0);
    try {
      const r = pkgswitch(["--root", root, "--audit-dir", ro, "enable", "coreutils", "--yes"]);
      expect(r.code).toBe(70);
      expect(r.stderr).toContain("(EROFS)");
      expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
    } finally {
      Bun.spawnSync(["umount", ro]);
    }
  });

  test("pkgswitch lock held → 30; dpkg lock held → 30", async () => {
    const root = newRoot();
    mkdirSync(join(root, "run/lock"), { recursive: true });
    for (const lockFile of [join(root, "run/lock/pkgswitch.lock"), join(root, "var/lib/dpkg/lock-frontend")]) {
      writeFileSync(lockFile, "");
      // util-linux flock(1) holds the lock like another process would
      // (--no-fork: killing it releases the lock).
      const holder = Bun.spawn(["flock", "--no-fork", lockFile, "sleep", "30"]);
      await Bun.sleep(200);
      try {
        const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
        expect(r.code).toBe(30);
        expect(r.stderr).toMatch(lockFile.endsWith("lock-frontend") ? /package manager's lock is held/ : /another pkgswitch operation holds/);
        expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
      } finally {
        holder.kill();
        await holder.exited;
      }
    }
  });

  test("corrupt hash cache is discarded and the operation succeeds", () => {
    const root = newRoot();
    mkdirSync(join(root, "var/lib/pkgswitch"), { recursive: true });
    writeFileSync(join(root, "var/lib/pkgswitch/hash-cache.json"), "{ this is not json");
    const r = pkgswitchJson<{ op: string }>(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(0);
    const events = pkgswitchJson<{ events: Array<{ event: string; check?: string; note?: string }> }>(["--root", root, "audit", "show", r.json.op]).json.events;
    expect(events.some((e) => e.check === "hash-cache" && /discarded/.test(e.note ?? ""))).toBe(true);
    JSON.parse(readFileSync(join(root, "var/lib/pkgswitch/hash-cache.json"), "utf8"));
  });

  test("enable without --yes and no terminal → 2, nothing changed", () => {
    const root = newRoot();
    const r = pkgswitch(["--root", root, "enable", "coreutils"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("without --yes");
    expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
  });

  test("a replacement that is not installed and cannot be installed → 20, nothing switched", () => {
    const root = makeFakeRoot({ packages: { findutils: { version: "4.9.0-4", files: { "/usr/bin/find": "#!/bin/sh\n" } } }, config: `{ "smokeTest": false }` });
    newRoot.keep(root);
    const r = pkgswitch(["--root", root, "enable", "findutils", "--yes"]);
    expect(r.code).toBe(20);
    expect(r.stderr).toContain("apt-get install rust-findutils failed");
    expect(lstatSync(join(root, "usr/bin/find")).isFile()).toBe(true);
  });
});

describe("relink and interrupted commands", () => {
  test("relink does not re-switch what an interrupted disable restored; it says to re-run disable", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    // The state an interrupted disable leaves: provider marked, one target restored.
    const statePath = join(root, "var/lib/pkgswitch/state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8"));
    state.providers.coreutils.status = "disabling";
    writeFileSync(statePath, JSON.stringify(state));
    const tmp = join(root, "usr/bin/.ls.restore");
    require("node:fs").linkSync(join(root, "var/lib/pkgswitch/backups/usr/bin/ls"), tmp);
    require("node:fs").renameSync(tmp, join(root, "usr/bin/ls"));
    const ledger = () => readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8");
    const before = ledger();
    const r = pkgswitch(["--root", root, "relink"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("coreutils: an interrupted disable is unfinished; relink leaves it alone — run `pkgswitch disable coreutils` again");
    expect(lstatSync(join(root, "usr/bin/ls")).isFile()).toBe(true);
    expect(ledger()).toBe(before);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("interrupted disable (run disable again)");
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    for (const t of TARGETS) expect(lstatSync(join(root, t)).isFile()).toBe(true);
  });
});

describe("a step that fails after the swap (review findings: guards, rollback)", () => {
  const stateOf = (root: string) => JSON.parse(readFileSync(join(root, "var/lib/pkgswitch/state.json"), "utf8")) as { providers: Record<string, { status: string }> };
  const eventsOf = (root: string, op: string) => pkgswitchJson<{ events: Array<Record<string, unknown>> }>(["--root", root, "audit", "show", op]).json.events;

  test("hooks that cannot be written: the switch stays, exit 90, one line saying so, op.end ok", () => {
    const root = newRoot();
    // An immutable hook directory: dpkg's config snippet cannot be created.
    const dir = join(root, "etc/dpkg/dpkg.cfg.d");
    mkdirSync(dir, { recursive: true });
    expect(Bun.spawnSync(["chattr", "+i", dir]).exitCode).toBe(0);
    let r;
    try {
      r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    } finally {
      Bun.spawnSync(["chattr", "-i", dir]);
    }
    expect(r.code).toBe(90);
    expect(r.stdout).toContain("coreutils: switched 12 command(s)");
    const errors = r.stderr.trim().split("\n");
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/^error: the commands are switched, but the package-manager hooks are NOT installed \(EPERM.*\); .* run `pkgswitch hooks install` \[op [^\]]+\]$/);
    expect(r.stderr).not.toContain("internal error");
    for (const t of TARGETS) expect(readlinkSync(join(root, t))).toBe(`/usr/lib/cargo/bin/coreutils/${t.split("/").pop()}`);
    expect(stateOf(root).providers.coreutils!.status).toBe("switched");
    const op = /\[op ([^\]]+)\]/.exec(r.stderr)![1]!;
    const events = eventsOf(root, op);
    expect(events.find((e) => e.event === "error")).toMatchObject({ exit_code: 90, step: "hook.install" });
    expect(events.at(-1)).toMatchObject({ event: "op.end", status: "ok", exit_code: 90 });
    // What the line says to run works, and the record verifies.
    expect(pkgswitch(["--root", root, "hooks", "install"]).code).toBe(0);
    expect(existsSync(join(dir, "pkgswitch"))).toBe(true);
    expect(pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]).code).toBe(0);
  });

  test("a directory where a hook goes is someone else's file: warned and left alone, never an internal error", () => {
    const root = newRoot();
    mkdirSync(join(root, "etc/dpkg/dpkg.cfg.d/pkgswitch"), { recursive: true });
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("/etc/dpkg/dpkg.cfg.d/pkgswitch exists and was not written by pkgswitch; left alone");
    expect(pkgswitch(["--root", root, "status"]).code).toBe(0);
    const h = pkgswitch(["--root", root, "hooks", "install"]);
    expect(h.code).toBe(10);
    expect(h.stderr).toContain("was not written by pkgswitch");
  });

  test("a rollback step that fails (fsync EIO) does not stop the others: exit 50 naming what is left", () => {
    // The fake root has no /bin/sh: the smoke test fails, enable rolls back;
    // strace makes every fsync of /usr/sbin fail, as a failing disk would.
    const root = newRoot({ config: `{ "smokeTest": true }` });
    const before = new Map(TARGETS.map((t) => [t, identity(root, t)]));
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"], { wrap: ["strace", "-f", "-qq", "-o", "/dev/null", "-P", join(root, "usr/sbin"), "-e", "trace=fsync", "-e", "inject=fsync:error=EIO"] });
    expect(r.code).toBe(50);
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toMatch(/smoke test failed .*; rollback incomplete: all 12 target\(s\) are original again, but the restores in \/usr\/sbin may not be on disk yet \(fsync: EIO.*\) — run `pkgswitch status`/);
    // Every other step was still done: originals back, diversions and their
    // copies gone, backups dropped, state updated.
    for (const t of TARGETS) expect(identity(root, t)).toEqual(before.get(t)!);
    expect(readdirSync(join(root, "usr/bin")).filter((n) => n.includes("pkgswitch-orig"))).toEqual([]);
    expect(readdirSync(join(root, "usr/sbin")).filter((n) => n.includes("pkgswitch-orig"))).toEqual([]);
    expect(readFileSync(join(root, "var/lib/dpkg/diversions"), "utf8")).toBe("");
    expect(readdirSync(join(root, "var/lib/pkgswitch/backups/usr/bin"))).toEqual([]);
    expect(stateOf(root).providers).toEqual({});
    const op = /\[op ([^\]]+)\]/.exec(r.stderr)![1]!;
    const events = eventsOf(root, op);
    expect(events.filter((e) => e.event === "rollback.step" && e.action === "restore" && e.ok === true).length).toBe(12);
    expect(events.find((e) => e.event === "rollback.step" && e.ok === false)).toMatchObject({ path: "/usr/sbin", action: "fsync" });
    expect(events.at(-1)).toMatchObject({ event: "op.end", status: "failed", exit_code: 50 });
    // Nothing is left for the next run: enable again works.
    const again = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(again.code).toBe(40);
  });

  test("diverted copies that cannot be removed in a rollback: one rollback.step per target with its own error; the other copies go", () => {
    const root = newRoot({ config: `{ "smokeTest": true }` });
    const before = new Map(TARGETS.map((t) => [t, identity(root, t)]));
    const stuck = [join(root, "usr/bin/.ls.pkgswitch-orig"), join(root, "usr/bin/.cp.pkgswitch-orig")];
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"], { wrap: ["strace", "-f", "-qq", "-o", "/dev/null", ...stuck.flatMap((p) => ["-P", p]), "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:error=EACCES"] });
    expect(r.code).toBe(50);
    expect(r.stderr.trim().split("\n").length).toBe(1);
    expect(r.stderr).toContain("but 2 .pkgswitch-orig copies of the diverted originals could not be removed (EACCES");
    for (const t of TARGETS) expect(identity(root, t)).toEqual(before.get(t)!);
    // Only the copies that could not be removed are left.
    expect(readdirSync(join(root, "usr/bin")).filter((n) => n.includes("pkgswitch-orig")).sort()).toEqual([".cp.pkgswitch-orig", ".ls.pkgswitch-orig"]);
    const op = /\[op ([^\]]+)\]/.exec(r.stderr)![1]!;
    const events = eventsOf(root, op);
    const failed = events.filter((e) => e.event === "rollback.step" && e.ok === false).sort((a, b) => String(a.path).localeCompare(String(b.path)));
    expect(failed).toEqual([
      expect.objectContaining({ path: "/usr/bin/cp", action: "undivert", ok: false, error: expect.stringMatching(/^EACCES/) }),
      expect.objectContaining({ path: "/usr/bin/ls", action: "undivert", ok: false, error: expect.stringMatching(/^EACCES/) }),
    ]);
    // Every diversion is removed, and the record says so; two copies stayed.
    const removes = events.filter((e) => e.event === "pkg.divert" && e.action === "remove");
    expect(removes.length).toBe(TARGETS.length);
    expect(removes.filter((e) => e.copy_removed === false).map((e) => String(e.diverted_to).split("/").pop()).sort()).toEqual([".cp.pkgswitch-orig", ".ls.pkgswitch-orig"]);
    expect(readFileSync(join(root, "var/lib/dpkg/diversions"), "utf8")).toBe("");
    expect(pkgswitch(["--root", root, "audit", "show", op]).stdout).toMatch(/pkg\.divert +remove \S+ → \S+\.ls\.pkgswitch-orig \(copy NOT removed: EACCES/);
    // The provider stays pending; disable finishes the job.
    expect(stateOf(root).providers.coreutils!.status).toBe("pending");
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    for (const p of stuck) expect(existsSync(p)).toBe(false);
    for (const t of TARGETS) expect(identity(root, t)).toEqual(before.get(t)!);
  });

  test("hooks that cannot be removed once no provider is left: disable still succeeds, one warning, each failure recorded", () => {
    const root = newRoot();
    const e = pkgswitchJson<{ op: string }>(["--root", root, "enable", "coreutils", "--yes"]);
    expect(e.code).toBe(0);
    const hooks = eventsOf(root, e.json.op).filter((x) => x.event === "hook.install").map((x) => String(x.path));
    expect(hooks.length).toBeGreaterThan(0);
    const stuck = hooks[0]!;
    const d = pkgswitch(["--root", root, "disable", "coreutils", "--yes"], { wrap: ["strace", "-f", "-qq", "-o", "/dev/null", "-P", join(root, stuck), "-e", "trace=unlink,unlinkat", "-e", "inject=unlink,unlinkat:error=EACCES"] });
    expect(d.code).toBe(0);
    expect(d.stderr).toBe(`warning: no provider is enabled, but ${stuck} could not be removed (audit show has why); they find nothing to do — \`pkgswitch hooks remove\` takes them out\n`);
    expect(existsSync(join(root, stuck))).toBe(true);
    for (const h of hooks.slice(1)) expect(existsSync(join(root, h))).toBe(false);
    for (const t of TARGETS) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    const op = pkgswitchJson<{ operations: Array<{ op: string }> }>(["--root", root, "audit", "list"]).json.operations.at(-1)!.op;
    const events = eventsOf(root, op);
    expect(events.find((x) => x.event === "hook.remove" && x.path === stuck)).toMatchObject({ ok: false, error: expect.stringContaining("EACCES") });
    expect(pkgswitch(["--root", root, "audit", "show", op]).stdout).toContain(` ${stuck} FAILED EACCES`);
    expect(events.at(-1)).toMatchObject({ event: "op.end", status: "ok", exit_code: 0 });
    // What the warning says to run.
    expect(pkgswitch(["--root", root, "hooks", "remove"]).code).toBe(0);
    expect(existsSync(join(root, stuck))).toBe(false);
  });
});
