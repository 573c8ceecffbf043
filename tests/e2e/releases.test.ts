/** Today's Debian: every provider this release carries, on a debootstrap
 * root of Debian 13 (trixie) and of sid — apt installs the replacement
 * inside the root, a watcher lstat-s every target during the switch, the
 * audit record verifies, and after disable `dpkg --verify` of the replaced
 * package is empty and every original is back byte for byte. One root copy
 * per release, the providers one after another (each leaves it as found). */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { lstatSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { debianRoot, inRoot, removeDebianRoot, startWatcher, type Release } from "../helpers/debroot.ts";
import { pkgswitch, pkgswitchJson, sha256File } from "../helpers/cli.ts";

// Real roots, apt and dpkg: seconds per step, more on a loaded machine.
setDefaultTimeout(300_000);

const MATRIX: Array<{ release: Release; providers: string[] }> = [
  { release: "trixie", providers: ["coreutils", "findutils", "diffutils", "sudo-rs"] },
  { release: "sid", providers: ["coreutils", "findutils"] },
];
const REPLACED: Record<string, string> = { coreutils: "coreutils", findutils: "findutils", diffutils: "diffutils", "sudo-rs": "sudo" };

/** The replaced package's commands, as files under /usr (usrmerged roots). */
function commandsOf(root: string, pkg: string): string[] {
  const list = Bun.spawnSync(["dpkg-query", `--root=${root}`, "-L", pkg]).stdout.toString().split("\n");
  const out = new Set<string>();
  for (const f of list) if (/^(\/usr)?\/s?bin\/[^/]+$/.test(f)) out.add(f.startsWith("/usr") ? f : "/usr" + f);
  return [...out].sort();
}

function identity(root: string, p: string) {
  const st = lstatSync(join(root, p));
  return { kind: st.isSymbolicLink() ? `link ${readlinkSync(join(root, p))}` : "file", sha: st.isFile() ? sha256File(join(root, p)) : null, mode: st.mode, uid: st.uid };
}

/** stat of what a path inside the root runs: our links are absolute, so
 * their text is resolved inside the root, not on the host. */
function statInRoot(root: string, p: string) {
  const st = lstatSync(join(root, p));
  return st.isSymbolicLink() ? statSync(join(root, readlinkSync(join(root, p)))) : st;
}
const setuidRoot = (st: { mode: number; uid: number }) => ({ setuid: (st.mode & 0o4000) !== 0, uid: st.uid });

/** su must never be a link to a binary that is not setuid root. */
function expectSuSafe(root: string) {
  const su = lstatSync(join(root, "usr/bin/su"), { throwIfNoEntry: false });
  if (su?.isSymbolicLink()) expect(setuidRoot(statInRoot(root, "/usr/bin/su"))).toEqual({ setuid: true, uid: 0 });
}

for (const { release, providers } of MATRIX) {
  describe(`Debian ${release}: ${providers.join(", ")}`, () => {
    let root: string;
    beforeAll(() => {
      root = debianRoot(release);
      expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0); // signed operations
    });
    afterAll(() => removeDebianRoot(root));

    for (const provider of providers) {
      test(`${provider}: enable (watcher never sees a target missing), audit verifies, disable leaves dpkg --verify ${REPLACED[provider]} empty`, async () => {
        const replaced = REPLACED[provider]!;
        if (provider === "sudo-rs") expect(inRoot(root, ["apt-get", "install", "-y", "-q", "sudo"]).code).toBe(0);
        const commands = commandsOf(root, replaced);
        expect(commands.length).toBeGreaterThan(0);
        const before = new Map(commands.map((c) => [c, identity(root, c)]));

        const stop = await startWatcher(root, commands);
        const r = pkgswitchJson<{ op: string; plan: Array<{ switch: string[]; skip: Array<{ target: string; reason: string }> }> }>(["--root", root, "enable", provider, "--yes"]);
        const watched = await stop();
        expect(r.code).toBe(0);
        expect(watched.missing).toEqual([]);
        const switched = r.json.plan[0]!.switch;
        expect(switched.length).toBeGreaterThan(0);
        for (const t of switched) expect(readlinkSync(join(root, t))).toStartWith("/usr/lib/cargo/bin/");
        expectSuSafe(root);
        if (provider === "sudo-rs") {
          // sudo stays setuid root while switched: the link resolves to sudo-rs's setuid binary.
          expect(switched).toContain("/usr/bin/sudo");
          expect(setuidRoot(statInRoot(root, "/usr/bin/sudo"))).toEqual({ setuid: true, uid: 0 });
          expect(inRoot(root, ["sudo", "--version"]).out).toContain("sudo-rs");
        }
        expect(pkgswitch(["--root", root, "audit", "verify", "--op", r.json.op]).code).toBe(0);

        const d = pkgswitch(["--root", root, "disable", provider, "--yes"]);
        expect(d.code).toBe(0);
        expect(inRoot(root, ["dpkg", "--verify", replaced])).toEqual({ code: 0, out: "" });
        for (const c of commands) expect(identity(root, c)).toEqual(before.get(c)!);
        expectSuSafe(root);
        expect(Bun.spawnSync(["chroot", root, "dpkg-divert", "--list"]).stdout.toString()).not.toContain("pkgswitch");
      });
    }

    test("every operation on this root verifies (chain, ledger)", () => {
      const v = pkgswitch(["--root", root, "audit", "verify", "--all"]);
      expect(v.stdout + v.stderr).not.toContain("FAIL");
      expect(v.code).toBe(0);
    });
  });
}
