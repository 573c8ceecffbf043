/** Preflight gaps on temp roots with a real dpkg database: an immutable or
 * append-only target (real chattr), a read-only or noexec mount (real bind
 * mounts), extra hard links, a setuid original. Each is refused with exit
 * 10 and one line naming the file and the reason, and nothing outside
 * pkgswitch's own record changes; or, for setuid, skipped and recorded. */
import { describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { makeFakeRoot } from "../helpers/fakeroot.ts";
import { rootPool } from "../helpers/pool.ts";
import { diffSnapshots, pkgswitch, pkgswitchJson, snapshotTree } from "../helpers/cli.ts";

setDefaultTimeout(120_000);
const newRoot = rootPool();

// pkgswitch's own record of the refused operation (and its lock file) is the
// only thing allowed to appear.
const ours = (rel: string) => rel.startsWith("var/lib/pkgswitch") || rel.startsWith("run/lock");
const sh = (argv: string[]) => {
  const p = Bun.spawnSync(argv);
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr}`);
};

/** enable must exit 10 with one line naming `target` and `reason`, changing nothing. */
function expectRefusal(root: string, target: string, reason: string) {
  mkdirSync(join(root, "var/lib/pkgswitch"), { recursive: true });
  const before = snapshotTree(root, ours);
  const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
  expect(r.code).toBe(10);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(`${target}: `);
  expect(r.stderr).toContain(reason);
  expect(diffSnapshots(before, snapshotTree(root, ours))).toEqual([]);
}

/** Bind-mount a directory of a fresh root onto itself with `option`, expect the refusal, unmount. */
function underBindMount(rel: string, option: string, target: string, reason: string) {
  const root = newRoot();
  const dir = join(root, rel);
  sh(["mount", "--bind", dir, dir]);
  try {
    sh(["mount", "-o", `remount,bind,${option}`, dir]);
    expectRefusal(root, target, reason);
  } finally {
    sh(["umount", dir]);
  }
}

/** chattr +ATTR one target of a fresh root, expect the refusal, chattr -ATTR; the root. */
function withAttribute(attr: string, target: string, reason: string): string {
  const root = newRoot();
  sh(["chattr", `+${attr}`, join(root, target)]);
  try {
    expectRefusal(root, target, reason);
  } finally {
    sh(["chattr", `-${attr}`, join(root, target)]);
  }
  return root;
}

describe("preflight refuses before anything changes (exit 10)", () => {
  test("chattr +i on one target; without the attribute the same root switches", () => {
    const root = withAttribute("i", "/usr/bin/sort", "immutable");
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
  });
  test("chattr +a (append-only) on one target", () => {
    withAttribute("a", "/usr/bin/wc", "append-only");
  });

  // The applet links resolve to /usr/bin/coreutils: exec checks that file's mount.
  test("the replacement on a noexec mount", () => underBindMount("usr/bin", "noexec", "/usr/bin/[", "noexec mount (/usr/bin)"));
  test("the target directory on a read-only mount", () => underBindMount("usr/sbin", "ro", "/usr/sbin/chroot", "read-only mount (/usr/sbin)"));

  test("a target with a hard link the switch does not cover", () => {
    const root = newRoot();
    linkSync(join(root, "usr/bin/head"), join(root, "usr/lib/head-copy"));
    expectRefusal(root, "/usr/bin/head", "1 other hard link(s)");
    unlinkSync(join(root, "usr/lib/head-copy"));
    expect(lstatSync(join(root, "usr/bin/head")).nlink).toBe(1);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
  });
});

describe("setuid originals and the way back", () => {
  test("a setuid original whose replacement is not setuid root is never linked; the operation records why", () => {
    const root = makeFakeRoot({
      packages: {
        sudo: { version: "1.9.13p3-1", files: { "/usr/bin/sudo": "#!/bin/sh\necho sudo\n", "/usr/sbin/visudo": "#!/bin/sh\necho visudo\n" } },
        "sudo-rs": { version: "0.2.5-5", files: { "/usr/lib/cargo/bin/sudo": "#!/bin/sh\necho sudo-rs\n", "/usr/lib/cargo/bin/visudo": "#!/bin/sh\necho visudo-rs\n", "/usr/lib/cargo/bin/su": "#!/bin/sh\necho su-rs\n" } },
      },
      config: `{ "smokeTest": false, "lockTimeoutMs": 500 }`,
    });
    newRoot.keep(root);
    chmodSync(join(root, "usr/bin/sudo"), 0o4755);
    const r = pkgswitchJson<{ op: string; plan: Array<{ switch: string[]; skip: Array<{ target: string; reason: string }> }> }>(["--root", root, "enable", "sudo-rs", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.json.plan[0]!.switch).toEqual(["/usr/sbin/visudo"]);
    expect(r.json.plan[0]!.skip).toEqual([{ target: "/usr/bin/sudo", reason: "original is setuid but replacement /usr/lib/cargo/bin/sudo is not setuid root; the original stays" }]);
    const st = lstatSync(join(root, "usr/bin/sudo"));
    expect(st.isFile() && (st.mode & 0o4000) !== 0).toBe(true);
    const events = readFileSync(join(root, `var/lib/pkgswitch/audit/audit-${r.json.op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(events.find((e) => e.event === "preflight.check" && e.path === "/usr/bin/sudo")).toMatchObject({ ok: true, skipped: true, reason: expect.stringContaining("not setuid root") });
    expect(readlinkSync(join(root, "usr/sbin/visudo"))).toBe("/usr/lib/cargo/bin/visudo");
  });

  test("the dry-run plan names the way back that needs none of the switched commands", () => {
    const root = newRoot();
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("way back: pkgswitch disable coreutils (runs none of the switched commands)");
    expect(r.stdout).not.toContain("busybox");
  });
});
