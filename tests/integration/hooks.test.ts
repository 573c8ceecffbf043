/** Hook files as written into a root; apt running them is in tests/e2e/upgrades. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { pkgswitch } from "../helpers/cli.ts";

setDefaultTimeout(60_000);
const root = coreutilsRoot();
afterAll(() => removeRoot(root));

describe("hooks install / remove", () => {
  test("--apt writes the config snippet and the pre-install wrapper, recorded as an operation", () => {
    const r = pkgswitch(["--root", root, "hooks", "install", "--apt"]);
    expect(r.code).toBe(0);
    const conf = readFileSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"), "utf8");
    expect(conf).toContain('DPkg::Pre-Install-Pkgs { "/usr/lib/pkgswitch/apt-pre-install"; };');
    expect(conf).toContain('DPkg::Tools::Options::/usr/lib/pkgswitch/apt-pre-install::Version "2";');
    const script = join(root, "usr/lib/pkgswitch/apt-pre-install");
    expect(statSync(script).mode & 0o777).toBe(0o755);
    expect(Bun.spawnSync(["sh", "-n", script]).exitCode).toBe(0);
    // Without the binary the wrapper drains stdin and succeeds: apt is never blocked.
    const run = Bun.spawnSync(["sh", script], { stdin: Buffer.from("VERSION 2\n\nfoo 1 > - **REMOVE**\n") });
    expect(run.exitCode).toBe(0);
    expect(readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8")).toContain('"op"');
  });

  test("--pacman writes a PostTransaction hook on the catalog's pacman packages and a PreTransaction one on removals", () => {
    expect(pkgswitch(["--root", root, "hooks", "install", "--pacman"]).code).toBe(0);
    const hook = readFileSync(join(root, "etc/pacman.d/hooks/90-pkgswitch.hook"), "utf8");
    for (const l of ["Operation = Upgrade", "Target = uutils-coreutils", "Target = coreutils", "When = PostTransaction", "/usr/bin/pkgswitch relink --hook"]) expect(hook).toContain(l);
    const pre = readFileSync(join(root, "etc/pacman.d/hooks/10-pkgswitch-pre-remove.hook"), "utf8");
    for (const l of ["Operation = Remove", "Target = uutils-coreutils", "When = PreTransaction", "relink --hook --removing", "NeedsTargets"]) expect(pre).toContain(l);
    expect(pre).not.toContain("Target = coreutils\n");
  });

  test("--binary with a character the hooks' shell lines would interpret: usage error (2), nothing written", () => {
    const fresh = coreutilsRoot();
    try {
      for (const bad of ["/opt/my tools/pkgswitch", "/opt/x';touch /tmp/pwn;'", '/opt/x"y', "/opt/$(id)", "/opt/a;b"]) {
        const r = pkgswitch(["--root", fresh, "hooks", "install", "--apt", "--binary", bad]);
        expect(r.code, bad).toBe(2);
        expect(r.stderr.trim().split("\n").length, bad).toBe(1);
        expect(r.stderr, bad).toContain("--binary");
      }
      expect(existsSync(join(fresh, "etc/apt/apt.conf.d/80pkgswitch"))).toBe(false);
      expect(existsSync(join(fresh, "var/lib/pkgswitch/audit/ledger.jsonl"))).toBe(false);
      const ok = pkgswitch(["--root", fresh, "hooks", "install", "--apt", "--binary", "/opt/pkgswitch-1.2/bin/pkgswitch"]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(readFileSync(join(fresh, "etc/dpkg/dpkg.cfg.d/pkgswitch"), "utf8")).toContain("/opt/pkgswitch-1.2/bin/pkgswitch relink");
    } finally {
      removeRoot(fresh);
    }
  });

  test("a link at a hook path is someone else's, even to a file with pkgswitch's marker: refused, never read through", () => {
    const fresh = coreutilsRoot();
    const outside = `${fresh}-outside-hook`;
    try {
      const text = readFileSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"), "utf8"); // ours, from the first test
      writeFileSync(outside, text);
      mkdirSync(join(fresh, "etc/apt/apt.conf.d"), { recursive: true });
      symlinkSync(outside, join(fresh, "etc/apt/apt.conf.d/80pkgswitch"));
      const r = pkgswitch(["--root", fresh, "hooks", "install", "--apt"]);
      expect(r.code).toBe(10);
      expect(r.stderr).toContain("was not written by pkgswitch");
      expect(pkgswitch(["--root", fresh, "hooks", "remove"]).code).toBe(0);
      expect(lstatSync(join(fresh, "etc/apt/apt.conf.d/80pkgswitch")).isSymbolicLink()).toBe(true);
      expect(readFileSync(outside, "utf8")).toBe(text);
    } finally {
      removeRoot(fresh);
      rmSync(outside, { force: true });
    }
  });

  test("a same-named file pkgswitch did not write is refused, and kept by remove", () => {
    const other = join(root, "etc/pacman.d/hooks/90-pkgswitch.hook");
    writeFileSync(other, "# someone else's hook\n");
    const r = pkgswitch(["--root", root, "hooks", "install", "--pacman"]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain("was not written by pkgswitch");
    const rm = pkgswitch(["--root", root, "hooks", "remove"]);
    expect(rm.code).toBe(0);
    expect(rm.stderr).toContain("left alone");
    expect(existsSync(other)).toBe(true);
    expect(existsSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"))).toBe(false);
    expect(existsSync(join(root, "usr/lib/pkgswitch/apt-pre-install"))).toBe(false);
  });

  test("relink with nothing enabled says so and writes nothing", () => {
    const fresh = coreutilsRoot();
    mkdirSync(join(fresh, "var/lib/pkgswitch"), { recursive: true });
    const r = pkgswitch(["--root", fresh, "relink"]);
    expect(r).toMatchObject({ code: 0 });
    expect(r.stdout).toContain("nothing to relink");
    expect(existsSync(join(fresh, "var/lib/pkgswitch/audit"))).toBe(false);
    removeRoot(fresh);
  });
});
