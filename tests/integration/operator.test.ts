/** What a newcomer meets outside the happy path (issue 14): reads as a
 * non-root user, long paths in `audit show`, dry-run and no-op output, a
 * corrupt state.json, a ledger with a line deleted from its middle, and the
 * `list` table. Each test failed before its fix. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { coreutilsRoot, makeFakeRoot, removeRoot } from "../helpers/fakeroot.ts";
import { rootPool } from "../helpers/pool.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, snapshotTree } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";

setDefaultTimeout(300_000);

const newRoot = rootPool();
const auditDir = (root: string) => join(root, "var/lib/pkgswitch/audit");

/** The binary as `nobody` (no supplementary groups). */
function asNobody(args: string[]) {
  const p = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BINARY, ...args], { env: { PATH: "/usr/bin:/bin", NO_COLOR: "1" }, stdin: "ignore" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("reads as a non-root user", () => {
  test("an unreadable state or audit dir is exit 70 naming the path, never 'nothing there'", () => {
    const root = newRoot();
    chmodSync(root, 0o755); // mkdtemp makes it 0700: let nobody in, as / is
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const ops = readdirSync(auditDir(root)).filter((f) => /^audit-.*\.jsonl$/.test(f));
    const op = ops[0]!.slice(6, -6);
    const cases: Array<[string[], RegExp]> = [
      [["status"], /state\.json|var\/lib\/pkgswitch/],
      [["status", "--json"], /state\.json|var\/lib\/pkgswitch/],
      [["list"], /state\.json|var\/lib\/pkgswitch/],
      [["audit", "list"], /var\/lib\/pkgswitch\/audit/],
      [["audit", "show", op], /var\/lib\/pkgswitch\/audit/],
      [["relink"], /var\/lib\/pkgswitch/],
      [["relink", "--dry-run"], /var\/lib\/pkgswitch/],
    ];
    for (const [args, path] of cases) {
      const r = asNobody(["--root", root, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 70 });
      expect(r.stderr).toMatch(path);
      expect(r.stderr).toMatch(/permission denied.*run as root/i);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    }
    // keys show: the key dir is 0700 once a key exists.
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    const k = asNobody(["--root", root, "keys", "show"]);
    expect(k.code).toBe(70);
    expect(k.stderr).toContain("etc/pkgswitch/keys");
    // As root all of it works.
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("coreutils: enabled");
  });
});

describe("a root the user cannot even enter", () => {
  test("audit verify is exit 6 (I/O or permission), status exit 70: never an internal error", () => {
    const root = newRoot();
    chmodSync(root, 0o700); // as mkdtemp makes it: nobody cannot look inside
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "hooks", "install", "--apt"]).code).toBe(0);
    const v = asNobody(["--root", root, "audit", "verify"]);
    expect(v.stdout + v.stderr).not.toContain("internal error");
    expect(v.code).toBe(6);
    expect(v.stdout).toContain("EACCES");
    const s = asNobody(["--root", root, "status"]);
    expect(s.stderr).not.toContain("internal error");
    expect(s.code).toBe(70);
  });
});

describe("audit show never cuts a path silently", () => {
  test("a pkg.query line with a long root path is printed whole", () => {
    const base = mkdtempSync("/tmp/pkgswitch-long-");
    const root = join(base, "a-rather-long-directory-name-for-a-rescue-root".repeat(2));
    mkdirSync(root);
    const src = coreutilsRoot();
    Bun.spawnSync(["cp", "-a", `${src}/.`, root]);
    removeRoot(src);
    newRoot.keep(base);
    const e = pkgswitchJson<{ op: string }>(["--root", root, "enable", "coreutils", "--yes"]);
    expect(e.code).toBe(0);
    const show = pkgswitch(["--root", root, "audit", "show", e.json.op]);
    expect(show.code).toBe(0);
    const queries = show.stdout.split("\n").filter((l) => l.includes("pkg.query"));
    expect(queries.length).toBeGreaterThan(0);
    const events = pkgswitchJson<{ events: Array<{ event: string; args?: string[] }> }>(["--root", root, "audit", "show", e.json.op]).json.events.filter((x) => x.event === "pkg.query");
    // Every argument of every query is shown, or the line says it was cut.
    events.forEach((ev, i) => {
      const line = queries[i]!;
      const whole = ev.args!.every((a) => line.includes(a));
      expect(whole || /… \(\d+ more characters?/.test(line)).toBe(true);
    });
    expect(queries.some((l) => l.includes(`--root=${root}`))).toBe(true);
  });
});

describe("audit show lists what exit-codes.md says it lists", () => {
  test("each failing smoke command (exit 40) and the package manager's stderr (exit 20)", () => {
    // The fake root has no /bin/sh: every switched command fails its smoke test.
    const root = newRoot({ config: `{ "smokeTest": true }` });
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(40);
    const op = /\[op ([^\]]+)\]/.exec(r.stderr)![1]!;
    const show = pkgswitch(["--root", root, "audit", "show", op]).stdout;
    const fails = show.split("\n").filter((l) => /^\s+FAIL \/usr\/s?bin\//.test(l));
    expect(fails.length).toBe(12);
    expect(show).toContain("12 tested, 12 failed");

    const fr = makeFakeRoot({ packages: { findutils: { version: "4.9.0-4", files: { "/usr/bin/find": "#!/bin/sh\n" } } }, config: `{ "smokeTest": false }` });
    newRoot.keep(fr);
    const e = pkgswitch(["--root", fr, "enable", "findutils", "--yes"]);
    expect(e.code).toBe(20);
    const op2 = /\[op ([^\]]+)\]/.exec(e.stderr)![1]!;
    const events = pkgswitchJson<{ events: Array<{ event: string; stderr?: string }> }>(["--root", fr, "audit", "show", op2]).json.events;
    const last = events.filter((x) => x.event === "pkg.query" && x.stderr).pop()!.stderr!.trimEnd().split("\n").pop()!;
    expect(pkgswitch(["--root", fr, "audit", "show", op2]).stdout).toContain(`stderr: ${last}`);
  });
});

describe("dry runs and no-ops write nothing and cite no op", () => {
  test("enable/disable --dry-run --json: \"op\": null", () => {
    const root = newRoot();
    const d = pkgswitchJson<{ op: unknown; dry_run: boolean }>(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(d.code).toBe(0);
    expect(d.json.dry_run).toBe(true);
    expect(d.json.op).toBeNull();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const hooks = readdirSync(join(root, "etc/dpkg/dpkg.cfg.d")).length;
    const before = snapshotTree(root);
    const dd = pkgswitchJson<{ op: unknown; hooks_removed: string[] }>(["--root", root, "disable", "coreutils", "--dry-run"]);
    expect(dd.code).toBe(0);
    expect(dd.json.op).toBeNull();
    // The plan names the hooks the real disable takes out (the last provider goes), and keeps them.
    expect(dd.json.hooks_removed).toContain("/etc/dpkg/dpkg.cfg.d/pkgswitch");
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--dry-run"]).stdout).toContain("would remove package-manager hooks (no provider would be enabled): ");
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
    expect(readdirSync(join(root, "etc/dpkg/dpkg.cfg.d")).length).toBe(hooks);
    const real = pkgswitchJson<{ hooks_removed: string[] }>(["--root", root, "disable", "coreutils", "--yes"]);
    expect(real.json.hooks_removed).toEqual(dd.json.hooks_removed);
  });

  test("disable of a provider that is not enabled writes nothing and prints no 'verify with'", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const before = snapshotTree(root);
    for (const args of [["disable", "diffutils", "--yes"], ["disable", "findutils", "--yes", "--json"]]) {
      const r = pkgswitch(["--root", root, ...args]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain("verify with");
      if (args.includes("--json")) expect(JSON.parse(r.stdout)).toMatchObject({ op: null, plan: [] });
      else expect(r.stdout.trim()).toBe("diffutils: not enabled; nothing to do");
    }
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
    // --all with nothing enabled: the same.
    const empty = newRoot();
    const b2 = snapshotTree(empty);
    const a = pkgswitch(["--root", empty, "disable", "--all", "--yes"]);
    expect(a.code).toBe(0);
    expect(a.stdout.trim()).toBe("no provider is enabled; nothing to do");
    expect(diffSnapshots(b2, snapshotTree(empty))).toEqual([]);
  });
});

describe("a corrupt state.json", () => {
  test("status, disable, relink and enable exit 80 naming the file and the way out; nothing changes", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    writeFileSync(join(root, "var/lib/pkgswitch/state.json"), "{ broken\n");
    const before = snapshotTree(root);
    for (const args of [["status"], ["list"], ["disable", "coreutils", "--yes"], ["disable", "--all", "--yes"], ["relink"], ["enable", "coreutils", "--yes"]]) {
      const r = pkgswitch(["--root", root, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 80 });
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(join(root, "var/lib/pkgswitch/state.json"));
      expect(lines[0]).toContain("recovery.md#a-corrupt-statejson");
    }
    expect(diffSnapshots(before, snapshotTree(root))).toEqual([]);
    const j = pkgswitchJson<{ exit_code: number }>(["--root", root, "status"]);
    expect(j.json.exit_code).toBe(80);
  });
});

describe("a ledger line deleted from the middle", () => {
  test("is reported as removed from the middle (naming where), not from the end", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    const path = join(auditDir(root), "ledger.jsonl");
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(lines).toHaveLength(4);
    const gone = lines.splice(1, 1); // line 2 of 4
    writeFileSync(path, lines.join("\n") + "\n");
    const r = pkgswitch(["--root", root, "audit", "verify", "--all"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).not.toContain("removed from the end");
    expect(r.stdout + r.stderr).toMatch(/line 2 .*(missing|removed)|removed .*line 2/);
    expect(JSON.parse(gone[0]!).seq).toBe(1);
  });

  test("a line cut from the end is still reported as such", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]).code).toBe(0);
    const path = join(auditDir(root), "ledger.jsonl");
    const lines = readFileSync(path, "utf8").trim().split("\n");
    writeFileSync(path, lines.slice(0, -1).join("\n") + "\n");
    const r = pkgswitch(["--root", root, "audit", "verify", "--all"]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("removed from the end");
  });
});

describe("relink while another operation runs", () => {
  test("waits for the lock, then reads the state the other operation left; past lockTimeoutMs it exits 30 naming the lock", async () => {
    const root = newRoot({ config: `{ "smokeTest": false, "lockTimeoutMs": 4000 }` });
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    // What a running enable looks like from outside: the lock held, the
    // provider "pending" in state.json until it finishes.
    const statePath = join(root, "var/lib/pkgswitch/state.json");
    const done = readFileSync(statePath, "utf8");
    expect(done).toContain('"status": "switched"');
    writeFileSync(statePath, done.replace('"status": "switched"', '"status": "pending"'));
    const lock = join(root, "run/lock/pkgswitch.lock");
    const holder = Bun.spawn(["flock", "--no-fork", lock, "sh", "-c", `sleep 1.5; printf '%s' '${done.replace(/'/g, "'\\''")}' > ${statePath}`]);
    await Bun.sleep(300);
    const t0 = Date.now();
    const r = pkgswitch(["--root", root, "relink"]);
    const waited = Date.now() - t0;
    await holder.exited;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("interrupted");
    expect(r.stdout).toContain("every switch is in place");
    expect(waited).toBeGreaterThan(900);

    const short = newRoot({ config: `{ "smokeTest": false, "lockTimeoutMs": 300 }` });
    expect(pkgswitch(["--root", short, "enable", "coreutils", "--yes"]).code).toBe(0);
    const h2 = Bun.spawn(["flock", "--no-fork", join(short, "run/lock/pkgswitch.lock"), "sleep", "60"]);
    await Bun.sleep(300);
    try {
      const r2 = pkgswitch(["--root", short, "relink"]);
      expect(r2.code).toBe(30);
      expect(r2.stderr).toContain(`another pkgswitch operation holds ${join(short, "run/lock/pkgswitch.lock")}`);
      const hook = pkgswitch(["--root", short, "relink", "--hook"]);
      expect(hook.code).toBe(0); // a hook never fails apt's transaction
      expect(hook.stderr).toContain("another pkgswitch operation holds");
    } finally {
      h2.kill();
      await h2.exited;
    }
  });
});

describe("locks held by others", () => {
  test("exit 30 names the process holding the package manager's lock", async () => {
    const root = newRoot();
    const lockFile = join(root, "var/lib/dpkg/lock-frontend");
    writeFileSync(lockFile, "");
    // flock --no-fork execs the command: the holder is `sleep 30` itself.
    const holder = Bun.spawn(["flock", "--no-fork", lockFile, "sleep", "30"]);
    await Bun.sleep(300);
    try {
      const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
      expect(r.code).toBe(30);
      expect(r.stderr).toContain(`${lockFile} by pid ${holder.pid} (sleep 30)`);
    } finally {
      holder.kill();
      await holder.exited;
    }
  });
});

describe("list", () => {
  test("every row's columns line up (enabled, installed, -)", () => {
    const root = newRoot();
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const rows = pkgswitch(["--root", root, "list"]).stdout.trim().split("\n");
    const cols = rows.map((l) => /^\S+\s+\S+\s+/.exec(l)![0].length);
    expect(new Set(cols).size).toBe(1);
    expect(rows.find((l) => l.startsWith("coreutils"))).toMatch(/coreutils\s+enabled\s+rust-coreutils/);
  });
});

