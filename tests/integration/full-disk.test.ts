/** A full disk at any point of enable or disable: every target stays
 * original or switched, the run either finishes (0), rolls back (40/50) or
 * refuses before any change (70), in one line, never "internal error"; and
 * the audit record says what happened. The root lives on a small tmpfs
 * (mounted in a temp dir), filled to a chosen number of free bytes. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { pkgswitch } from "../helpers/cli.ts";

setDefaultTimeout(300_000);

const TARGETS = ["/usr/bin/[", "/usr/bin/cat", "/usr/bin/cp", "/usr/bin/echo", "/usr/bin/head", "/usr/bin/ls", "/usr/bin/mv", "/usr/bin/sha256sum", "/usr/bin/sort", "/usr/bin/tail", "/usr/bin/wc", "/usr/sbin/chroot"];

const mounts: string[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
  dirs.forEach(removeRoot);
});

/** A tmpfs of `sizeKiB`, holding a copy of `template`, then filled until
 * about `freeBytes` remain. Returns the root inside it. */
function tmpfsRoot(template: string, sizeKiB: number, freeBytes: number): string {
  const mnt = mkdtempSync(join(tmpdir(), "pkgswitch-full-"));
  dirs.push(mnt);
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${sizeKiB}k`, "tmpfs", mnt]);
  if (r.exitCode !== 0) throw new Error(`mount tmpfs failed: ${r.stderr.toString()}`);
  mounts.push(mnt);
  const root = join(mnt, "root");
  cpSync(template, root, { recursive: true, verbatimSymlinks: true });
  fill(mnt, freeBytes);
  return root;
}

/** Write filler files until about `freeBytes` are left. */
function fill(mnt: string, freeBytes: number): void {
  mkdirSync(join(mnt, "filler"), { recursive: true });
  const free = () => {
    const s = statfsSync(mnt);
    return Number(s.bavail) * Number(s.bsize);
  };
  let i = 0;
  while (free() > freeBytes + 4096) {
    const chunk = Math.min(free() - freeBytes, 1 << 20);
    try {
      writeFileSync(join(mnt, "filler", String(i++)), Buffer.alloc(chunk));
    } catch {
      break;
    }
  }
}

/** Each target is exactly original (a GNU script) or switched (our link). */
function states(root: string): { original: number; switched: number } {
  let original = 0;
  let switched = 0;
  for (const t of TARGETS) {
    const st = lstatSync(join(root, t));
    if (st.isSymbolicLink() && readlinkSync(join(root, t)).startsWith("/usr/lib/cargo/bin/coreutils/")) switched++;
    else if (st.isFile() && readFileSync(join(root, t), "utf8").includes("GNU")) original++;
  }
  expect(original + switched, `every target original or switched in ${root}`).toBe(TARGETS.length);
  return { original, switched };
}

/** The last operation's status, from its own record. */
function lastStatus(root: string): string | null {
  const audit = join(root, "var/lib/pkgswitch/audit");
  let names: string[];
  try {
    names = readdirSync(audit).filter((n) => /^audit-.*\.jsonl$/.test(n)).sort();
  } catch {
    return null;
  }
  if (names.length === 0) return null;
  const lines = readFileSync(join(audit, names[names.length - 1]!), "utf8").trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!).status ?? null;
}

describe("a full disk during enable and disable", () => {
  const template = coreutilsRoot();
  dirs.push(template);
  const enabled = coreutilsRoot();
  dirs.push(enabled);
  expect(pkgswitch(["--root", enabled, "enable", "coreutils", "--yes"]).code).toBe(0);

  // From nearly nothing free to plenty: each lands the failure elsewhere.
  // pkgswitch sets about 3 MiB aside first (record and state), so the dense
  // range just above it runs out of space inside enable/disable themselves.
  const FREE = [8 << 10, 768 << 10, 2560 << 10, ...Array.from({ length: 20 }, (_, i) => (3072 + 8 * i) << 10), 8192 << 10];

  for (const command of ["enable", "disable"] as const) {
    test(`${command} with little space left: finished, rolled back or refused — never half-done`, () => {
      const seen = new Set<number>();
      for (const free of FREE) {
        const root = tmpfsRoot(command === "enable" ? template : enabled, 16 << 10, free);
        const r = pkgswitch(["--root", root, command, "coreutils", "--yes"]);
        const what = `${command} with ${free >> 10} KiB free → ${r.code}: ${r.stderr.trim()}`;
        seen.add(r.code);
        expect(r.stderr + r.stdout, what).not.toContain("internal error");
        expect(r.stderr, what).not.toMatch(/\n\s+at .*:\d+:\d+/);
        expect(r.stderr.trim().split("\n").filter((l) => l.startsWith("error:")).length, what).toBeLessThanOrEqual(1);
        expect([0, 40, 50, 70], what).toContain(r.code);
        const s = states(root);
        const done = command === "enable" ? s.switched : s.original;
        if (r.code === 0) {
          expect(done, what).toBe(TARGETS.length);
          expect(lastStatus(root), what).toBe("ok");
          // The record is whole: verify accepts it (unsigned: no key here).
          const v = pkgswitch(["--root", root, "audit", "verify", "--all", "--allow-unsigned"]);
          expect(v.code, `${what}\n${v.stdout}`).toBe(0);
        } else if (r.code === 40 || r.code === 70) {
          // Rolled back, or refused before anything changed.
          expect(done, what).toBe(command === "enable" ? 0 : 0);
          if (r.code === 40) expect(lastStatus(root), what).toBe("rolled_back");
        }
        // Freeing the space and re-running finishes the job.
        rmSync(join(root, "..", "filler"), { recursive: true, force: true });
        const again = pkgswitch(["--root", root, command, "coreutils", "--yes"]);
        expect(again.code, `${what}; re-run: ${again.stderr}`).toBe(0);
        const after = states(root);
        expect(command === "enable" ? after.switched : after.original, what).toBe(TARGETS.length);
      }
      // The sizes were chosen so that at least one run could not finish.
      expect([...seen].some((c) => c !== 0), `exit codes seen: ${[...seen]}`).toBe(true);
    });
  }
});
