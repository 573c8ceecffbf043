/** A root is a tree its own root user controls: links and edited state
 * planted in it must never make pkgswitch write, truncate, chmod or delete
 * anything outside it. Every case plants one thing, runs every command that
 * writes, and checks a canary tree outside the root (digests, modes, mtimes,
 * ctimes, inodes) is exactly as before — and that no run printed a stack
 * trace or an "internal error". */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { hostPath, resolveInRoot } from "../../src/config/paths.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, snapshotTree, type RunResult } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

/** A canary tree outside every root: files, a directory, a would-be victim. */
function canary(): string {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-canary-"));
  cleanup.push(dir);
  writeFileSync(join(dir, "victim"), "data\n");
  writeFileSync(join(dir, "keep"), "keep me\n");
  writeFileSync(join(dir, "keep.pkgswitch.json"), "{}\n");
  mkdirSync(join(dir, "sub/usr/bin"), { recursive: true });
  writeFileSync(join(dir, "sub/usr/bin/ls"), "not yours\n");
  writeFileSync(join(dir, "sub/usr/bin/ls.pkgswitch.json"), "{}\n");
  return dir;
}

/** R: coreutils enabled, with a signing key (the setting). */
function enabledRoot(): string {
  const r = coreutilsRoot();
  cleanup.push(r);
  expect(pkgswitch(["--root", r, "keys", "generate"]).code).toBe(0);
  expect(pkgswitch(["--root", r, "enable", "coreutils", "--yes"]).code).toBe(0);
  return r;
}

function freshRoot(): string {
  const r = coreutilsRoot();
  cleanup.push(r);
  return r;
}

/** Replace `path` (inside a root) by a symlink to `to`. */
function plantLink(path: string, to: string): void {
  rmSync(path, { recursive: true, force: true });
  mkdirSync(join(path, ".."), { recursive: true });
  symlinkSync(to, path);
}

/** Every command that writes, as an operator runs it. */
const WRITERS: string[][] = [
  ["enable", "coreutils", "--yes"],
  ["disable", "coreutils", "--yes"],
  ["relink"],
  ["keys", "generate", "--force"],
  ["hooks", "install", "--apt"],
  ["audit", "verify", "--all", "--record"],
];

function clean(r: RunResult, what: string): void {
  const text = r.stdout + r.stderr;
  expect(text, what).not.toContain("internal error");
  expect(text, what).not.toMatch(/\n\s+at .*:\d+:\d+/); // a stack trace
}

/** Run every writer against `root` and check the canary stayed as it was.
 * `expectCode` is what each must exit with (null: any documented code). */
function allWritersConfined(root: string, can: string, expectCode: number | null, only?: RegExp): RunResult[] {
  const before = snapshotTree(can);
  const results: RunResult[] = [];
  for (const args of WRITERS) {
    const r = pkgswitch(["--root", root, ...args]);
    results.push(r);
    const what = `${args.join(" ")} → ${r.code}: ${r.stderr.trim()}`;
    clean(r, what);
    if (expectCode !== null) expect(r.code, what).toBe(expectCode);
    if (only) expect(r.stderr, what).toMatch(only);
    expect(diffSnapshots(before, snapshotTree(can)), what).toEqual([]);
  }
  return results;
}

describe("planted links on pkgswitch's own paths: refused, nothing outside changes", () => {
  test("lock file → a file outside: exit 70 naming the lock; the file is not truncated", () => {
    const r = enabledRoot();
    const can = canary();
    plantLink(join(r, "run/lock/pkgswitch.lock"), join(can, "victim"));
    const results = allWritersConfined(r, can, null);
    WRITERS.forEach((args, i) => {
      // Commands that take the lock refuse; the others (keys generate, a
      // relink with nothing to repair) never open it.
      const r = results[i]!;
      if (r.code !== 0 || ["enable", "disable"].includes(args[0]!)) {
        expect(r.code, args.join(" ")).toBe(70);
        expect(r.stderr).toMatch(/lock .*pkgswitch\.lock is a symbolic link/);
      }
    });
    expect(readFileSync(join(can, "victim"), "utf8")).toBe("data\n");
  });

  for (const [rel, what] of [
    ["var/lib/pkgswitch", "state directory"],
    ["var/lib/pkgswitch/audit", "audit directory"],
    ["var/lib/pkgswitch/backups", "backup directory"],
    ["etc/pkgswitch", "config directory"],
    ["etc/pkgswitch/keys", "key directory"],
  ] as const) {
    test(`/${rel} → a directory outside: every writer exits 70 naming it`, () => {
      const r = enabledRoot();
      const can = canary();
      // What was there moves outside (as an attacker would arrange it).
      const outside = join(can, "moved");
      renameSync(join(r, rel), outside);
      plantLink(join(r, rel), outside);
      const before = snapshotTree(can);
      allWritersConfined(r, can, 70, new RegExp(`${what} .* is a symbolic link`));
      expect(diffSnapshots(before, snapshotTree(can))).toEqual([]);
    });
  }

  test("backups/usr/bin → a directory outside: disable and relink refuse (70); nothing outside deleted", () => {
    const r = enabledRoot();
    const can = canary();
    const bin = join(r, "var/lib/pkgswitch/backups/usr/bin");
    renameSync(bin, join(can, "bin"));
    plantLink(bin, join(can, "bin"));
    const before = snapshotTree(can);
    for (const args of [["disable", "coreutils", "--yes"], ["relink"], ["status"]]) {
      const res = pkgswitch(["--root", r, ...args]);
      clean(res, args.join(" "));
      expect(res.code, res.stderr).toBe(70);
      expect(res.stderr).toContain("is a symbolic link");
    }
    expect(diffSnapshots(before, snapshotTree(can))).toEqual([]);
  });

  test("/var/lib/pkgswitch → a dangling path outside (fresh root): 70, no stack trace, nothing created", () => {
    const r = freshRoot();
    const can = canary();
    plantLink(join(r, "var/lib/pkgswitch"), join(can, "nonexistent/state"));
    allWritersConfined(r, can, null);
    for (const args of [["enable", "coreutils", "--yes"], ["keys", "generate"]]) expect(pkgswitch(["--root", r, ...args]).code).toBe(70);
  });

  test("/run/lock → outside, absolute or climbing: resolved inside the root as chroot would, so the run works", () => {
    for (const link of ["ABS", "../../../../../../../../.."]) {
      const r = enabledRoot();
      const can = canary();
      // Absolute text names the canary's host path: inside the root it is R/<that path>.
      plantLink(join(r, "run/lock"), link === "ABS" ? can : link);
      const before = snapshotTree(can);
      const res = pkgswitch(["--root", r, "disable", "coreutils", "--yes"]);
      clean(res, res.stderr);
      expect(res.code, res.stderr).toBe(0);
      expect(diffSnapshots(before, snapshotTree(can))).toEqual([]);
    }
  });

  test("/usr → x/../evil with x missing, evil → a copy of /usr outside: resolved inside the root; nothing outside changes", () => {
    // A missing component followed by ".." used to end the resolution: the
    // kernel then followed "evil" to the host and every switch landed there.
    const r = freshRoot();
    const can = canary();
    cpSync(join(r, "usr"), join(can, "usr"), { recursive: true, verbatimSymlinks: true });
    renameSync(join(r, "usr"), join(r, "usr.real"));
    symlinkSync("x/../evil", join(r, "usr"));
    symlinkSync(join(can, "usr"), join(r, "evil"));
    expect(resolveInRoot(r, "/usr/bin/ls")).toBe(join(r, can, "usr/bin/ls"));
    expect(hostPath(r, "/usr/bin/ls")).toBe(join(r, can, "usr/bin/ls"));
    allWritersConfined(r, can, null);
  });

  test("/var/lib/dpkg/diversions-new → a file outside: enable writes the diversions inside the root; the file is untouched", () => {
    const r = freshRoot();
    const can = canary();
    symlinkSync(join(can, "victim"), join(r, "var/lib/dpkg/diversions-new"));
    const res = allWritersConfined(r, can, null)[0]!;
    expect(res.code, res.stderr).toBe(0);
    expect(lstatSync(join(r, "var/lib/dpkg/diversions")).isFile()).toBe(true);
    expect(readFileSync(join(can, "victim"), "utf8")).toBe("data\n");
  });

  test("keys/signing.key → a key outside: never used; the root's operations are not signed by it", () => {
    const r = freshRoot();
    const other = freshRoot(); // stands for the host's own key
    expect(pkgswitch(["--root", other, "keys", "generate"]).code).toBe(0);
    const outside = join(other, "etc/pkgswitch/keys/signing.key");
    const outsideId = (JSON.parse(pkgswitch(["--root", other, "keys", "show", "--json"]).stdout) as { key_id: string }).key_id;
    mkdirSync(join(r, "etc/pkgswitch/keys"), { recursive: true });
    symlinkSync(outside, join(r, "etc/pkgswitch/keys/signing.key"));
    const res = pkgswitch(["--root", r, "enable", "coreutils", "--yes"]);
    clean(res, res.stderr);
    expect(res.code, res.stderr).toBe(0);
    const ledger = readFileSync(join(r, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8");
    expect(ledger).not.toContain(outsideId);
    expect(ledger).not.toContain('"signature":"signed"');
    // A relative link climbing out (the kernel would reach the key outside)
    // stops at the root like chroot(2): keys rotate finds no key to rotate.
    rmSync(join(r, "etc/pkgswitch/keys/signing.key"));
    symlinkSync(`../../../../..${outside}`, join(r, "etc/pkgswitch/keys/signing.key"));
    expect(readFileSync(join(r, "etc/pkgswitch/keys/signing.key"), "utf8")).toBe(readFileSync(outside, "utf8"));
    const rotate = pkgswitch(["--root", r, "keys", "rotate"]);
    clean(rotate, rotate.stderr);
    expect(rotate.code).not.toBe(0);
    expect(readFileSync(join(r, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8")).not.toContain(outsideId);
  });

  test("host-id → a file outside: refused (70), the file's text never becomes the origin", () => {
    const r = freshRoot();
    const can = canary();
    rmSync(join(r, "etc/machine-id"));
    mkdirSync(join(r, "var/lib/pkgswitch"), { recursive: true });
    writeFileSync(join(can, "id"), "0123456789abcdef0123456789abcdef\n");
    plantLink(join(r, "var/lib/pkgswitch/host-id"), join(can, "id"));
    allWritersConfined(r, can, null);
    expect(pkgswitch(["--root", r, "enable", "coreutils", "--yes"]).stderr).toMatch(/host id .* is a symbolic link/);
  });
});

describe("paths read from state.json are untrusted", () => {
  const edits: Array<[string, (t: Record<string, unknown>) => void]> = [
    ["backup climbing out", (t) => (t.backup = "../../../../../../../../../../tmp/x/keep")],
    ["backup absolute", (t) => (t.backup = "/tmp/x/keep")],
    ["backup of another target", (t) => (t.backup = "backups/usr/bin/../../../../../keep")],
    ["path climbing out", (t) => (t.path = "/usr/bin/../../../../tmp/x")],
    ["diverted_to elsewhere", (t) => (t.diverted_to = "/etc/passwd")],
  ];
  for (const [name, edit] of edits) {
    test(`${name}: every command refuses before changing anything`, () => {
      const r = enabledRoot();
      const can = canary();
      const statePath = join(r, "var/lib/pkgswitch/state.json");
      const state = JSON.parse(readFileSync(statePath, "utf8"));
      const t = state.providers.coreutils.targets[0];
      // Point outside at the canary when the edit names /tmp/x.
      edit(t);
      for (const k of ["backup", "path"]) if (typeof t[k] === "string") t[k] = t[k].replace("/tmp/x", can);
      writeFileSync(statePath, JSON.stringify(state));
      const rootBefore = snapshotTree(join(r, "usr/bin"));
      const results = allWritersConfined(r, can, null);
      for (const res of results.slice(1, 3)) {
        // disable and relink read the state: refused, naming the key.
        expect(res.code).toBe(80);
        expect(res.stderr).toMatch(/state file .*state\.json is corrupt \(providers\.coreutils\.targets\[0\]\.\w+ /);
      }
      expect(diffSnapshots(rootBefore, snapshotTree(join(r, "usr/bin")))).toEqual([]);
    });
  }
});

describe("state a root can plant must not become signed evidence", () => {
  /** hash-cache.json claiming `digest` for the root's /usr/bin/ls, with its
   * real stat (what a container's root can read) and a save time after it. */
  function plantCache(r: string, digest: string): void {
    const st = lstatSync(join(r, "usr/bin/ls"), { bigint: true });
    const row = [st.dev, st.ino, st.mode, st.uid, st.gid, st.size, st.mtimeNs, st.ctimeNs].map(String);
    const savedAt = (BigInt(Date.now()) + 60_000n) * 1_000_000n;
    mkdirSync(join(r, "var/lib/pkgswitch"), { recursive: true });
    writeFileSync(join(r, "var/lib/pkgswitch/hash-cache.json"), JSON.stringify({ v: 1, saved_at_ns: `${savedAt}`, entries: [[...row, digest]] }), { mode: 0o600 });
  }
  const lsSwitch = (r: string, op: string) =>
    pkgswitchJson<{ events: Array<{ event: string; path?: string; before_sha256?: string; check?: string; note?: string }> }>(["--root", r, "audit", "show", op]).json.events;

  test("a planted hash cache: under a key kept outside the root it is discarded and the signed record has the true digest", () => {
    const planted = createHash("sha256").update("planted").digest("hex");
    const keys = mkdtempSync(join(tmpdir(), "pkgswitch-outside-key-"));
    cleanup.push(keys);
    const sk = join(keys, "signing.key");
    expect(Bun.spawnSync(["minisign", "-G", "-W", "-f", "-p", join(keys, "signing.pub"), "-s", sk]).exitCode).toBe(0);
    chmodSync(sk, 0o600);

    const r = freshRoot();
    const real = createHash("sha256").update(readFileSync(join(r, "usr/bin/ls"))).digest("hex");
    plantCache(r, planted);
    const e = pkgswitchJson<{ op: string }>(["--root", r, "--key", sk, "enable", "coreutils", "--yes"]);
    expect(e.code).toBe(0);
    const events = lsSwitch(r, e.json.op);
    expect(events.find((x) => x.event === "file.switch" && x.path === "/usr/bin/ls")?.before_sha256).toBe(real);
    expect(events.some((x) => x.check === "hash-cache" && /not authenticated/.test(x.note ?? ""))).toBe(true);
    expect(pkgswitch(["--root", r, "audit", "verify", "--all", "--pubkey", join(keys, "signing.pub")]).code).toBe(0);
    // The cache the run saved is authenticated: the next signed run reads it.
    expect(readFileSync(join(r, "var/lib/pkgswitch/hash-cache.json"), "utf8")).toStartWith('{"mac":"hmac-sha256:');

    // Control: unsigned, the same plant is read (nothing to key a MAC with;
    // the record is unsigned too) — the case the MAC closes is real.
    const u = freshRoot();
    plantCache(u, planted);
    const ue = pkgswitchJson<{ op: string }>(["--root", u, "enable", "coreutils", "--yes"]);
    expect(ue.code).toBe(0);
    expect(lsSwitch(u, ue.json.op).find((x) => x.event === "file.switch" && x.path === "/usr/bin/ls")?.before_sha256).toBe(planted);
  });
});
