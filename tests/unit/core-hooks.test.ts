/** Package-manager hook files (src/pkgmgr/hooks.ts): the apt Pre-Install-Pkgs
 * v2 reader, and the content of the hook files (checked by apt-config and sh
 * themselves where those are installed). */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  APT_HOOK_PATH,
  APT_PRE_INSTALL_PATH,
  aptHook,
  aptPreInstallScript,
  dpkgHook,
  MARKER,
  NO_PROC_MESSAGE,
  PACMAN_HOOK_PATH,
  PACMAN_PRE_REMOVE_HOOK_PATH,
  packageNamesFromLines,
  pacmanHook,
  pacmanPreRemoveHook,
  removalsFromAptV2,
  rpmHookScript,
} from "../../src/pkgmgr/hooks.ts";

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-hooks-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// What apt writes to a Pre-Install-Pkgs hook with ::Version "2": a header,
// the whole configuration, a blank line, then one line per package action.
const APT_V2 = `VERSION 2
APT::Architecture=amd64
APT::Build-Essential::=build-essential
APT::Install-Recommends=false
Dir=/
Dir::State=var/lib/apt/
Dir::State::status=/var/lib/dpkg/status
DPkg::Pre-Install-Pkgs::=/usr/lib/pkgswitch/apt-pre-install
DPkg::Tools::Options::/usr/lib/pkgswitch/apt-pre-install=
DPkg::Tools::Options::/usr/lib/pkgswitch/apt-pre-install::Version=2
Unattended-Upgrade::Package-Blacklist::=rust-coreutils **REMOVE** x y z

rust-coreutils 0.0.17-2 > - **REMOVE**
sudo-rs:amd64 0.2.2-1 > - **REMOVE**
hello - < 2.10-3 /var/cache/apt/archives/hello_2.10-3_amd64.deb
coreutils 9.1-1 = 9.1-1 /var/cache/apt/archives/coreutils_9.1-1_amd64.deb
libonig5 6.9.8-1 < 6.9.8-2 /var/cache/apt/archives/libonig5_6.9.8-2_amd64.deb
hello - < 2.10-3 **CONFIGURE**
busybox 1:1.35.0-4+b3 > - **REMOVE**
rust-coreutils 0.0.17-2 > - **REMOVE**
`;

describe("removalsFromAptV2", () => {
  test("only **REMOVE** lines of the package section; arch stripped; sorted, unique", () => {
    expect(removalsFromAptV2(APT_V2)).toEqual(["busybox", "rust-coreutils", "sudo-rs"]);
  });

  test("config lines never count, even one that ends in **REMOVE**", () => {
    const input = "VERSION 2\nFoo::Bar=a b c d **REMOVE**\n\nhello - < 2.10-3 **CONFIGURE**\n";
    expect(removalsFromAptV2(input)).toEqual([]);
  });

  test("no blank line (no package section), empty input", () => {
    expect(removalsFromAptV2("VERSION 2\nrust-coreutils 0.0.17-2 > - **REMOVE**\n")).toEqual([]);
    expect(removalsFromAptV2("")).toEqual([]);
  });

  test("empty config section; no trailing newline; short or malformed lines", () => {
    expect(removalsFromAptV2("VERSION 2\n\nrust-coreutils 0.0.17-2 > - **REMOVE**")).toEqual(["rust-coreutils"]);
    expect(removalsFromAptV2("VERSION 2\n\n**REMOVE**\nx **REMOVE**\nrust-coreutils > - **REMOVE**\n")).toEqual([]);
    expect(removalsFromAptV2("VERSION 2\n\nrust-coreutils 0.0.17-2 > - **REMOVE** extra\n")).toEqual([]);
  });
});

describe("aptHook", () => {
  const bin = "/usr/local/sbin/pkgswitch";
  const text = aptHook(bin);

  test("marker, Pre-Install-Pkgs with protocol version 2, Post-Invoke that never fails", () => {
    expect(text).toContain(MARKER);
    expect(text.split("\n")[0]).toContain(MARKER);
    expect(text).toContain(`DPkg::Pre-Install-Pkgs { "${APT_PRE_INSTALL_PATH}"; };`);
    expect(text).toContain(`DPkg::Tools::Options::${APT_PRE_INSTALL_PATH}::Version "2";`);
    expect(text).toContain(`DPkg::Post-Invoke { "if [ -x ${bin} ]; then if [ -e /proc/self ]; then ${bin} relink --hook || true; else echo '${NO_PROC_MESSAGE}' >&2; fi; fi"; };`);
    expect(text.endsWith("\n")).toBe(true);
    expect(APT_HOOK_PATH).toBe("/etc/apt/apt.conf.d/80pkgswitch");
    expect(APT_PRE_INSTALL_PATH.startsWith("/")).toBe(true);
  });

  test.skipIf(Bun.which("apt-config") === null)("apt-config parses it into the intended settings", () => {
    const file = join(tmp, "80pkgswitch");
    writeFileSync(file, text);
    const empty = join(tmp, "apt.conf");
    writeFileSync(empty, "");
    const r = Bun.spawnSync(["apt-config", "-c", file, "dump"], { env: { ...process.env, APT_CONFIG: empty } });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const dump = r.stdout.toString();
    expect(dump).toContain(`DPkg::Pre-Install-Pkgs:: "${APT_PRE_INSTALL_PATH}";`);
    expect(dump).toContain(`DPkg::Tools::Options::${APT_PRE_INSTALL_PATH}::Version "2";`);
    expect(dump).toContain(`DPkg::Post-Invoke:: "if [ -x ${bin} ]; then if [ -e /proc/self ]; then ${bin} relink --hook || true; else echo '${NO_PROC_MESSAGE}' >&2; fi; fi";`);
  });
});

describe("aptPreInstallScript", () => {
  test("shebang, marker, runs the binary with --apt-pre-install, always exits 0", () => {
    const s = aptPreInstallScript("/usr/sbin/pkgswitch");
    expect(s.startsWith("#!/bin/sh\n")).toBe(true);
    expect(s).toContain(MARKER);
    expect(s).toContain("/usr/sbin/pkgswitch relink --hook --apt-pre-install || true");
    expect(s.trimEnd().split("\n").pop()).toBe("exit 0");
  });

  const sh = Bun.which("sh");
  test.skipIf(sh === null)("with the binary: stdin reaches it, its failure does not fail apt; without: stdin drained, exit 0", () => {
    const fake = join(tmp, "fake-pkgswitch");
    const log = join(tmp, "fake.log");
    writeFileSync(fake, `#!/bin/sh\necho "args: $*" > ${log}\ncat >> ${log}\nexit 3\n`);
    chmodSync(fake, 0o755);
    const script = join(tmp, "apt-pre-install");
    writeFileSync(script, aptPreInstallScript(fake));
    chmodSync(script, 0o755);
    const r = Bun.spawnSync([sh!, script], { stdin: Buffer.from(APT_V2) });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(log, "utf8")).toBe(`args: relink --hook --apt-pre-install\n${APT_V2}`);

    const absent = join(tmp, "apt-pre-install-absent");
    writeFileSync(absent, aptPreInstallScript(join(tmp, "no-such-binary")));
    const r2 = Bun.spawnSync([sh!, absent], { stdin: Buffer.from(APT_V2) });
    expect(r2.exitCode).toBe(0);
    expect(r2.stderr.toString()).toBe("");
  });
});

/** The hooks' shell lines, run by sh in a mount namespace whose /proc is
 * an empty tmpfs (a chroot without /proc, as the binary sees it). */
describe("without /proc, a hook says so in one line instead of running the binary", () => {
  const unshare = Bun.which("unshare");
  const canUnshare = unshare !== null && process.getuid?.() === 0;
  const fake = join(tmp, "fake-pkgswitch-proc");
  writeFileSync(fake, `#!/bin/sh\necho "ran: $*"\n`);
  chmodSync(fake, 0o755);
  const lines = [
    ["apt Post-Invoke", /DPkg::Post-Invoke \{ "(.*)"; \};/.exec(aptHook(fake))![1]!],
    ["dpkg pre-invoke", /^pre-invoke="(.*)"$/m.exec(dpkgHook(fake))![1]!],
    ["dpkg post-invoke", /^post-invoke="(.*)"$/m.exec(dpkgHook(fake))![1]!],
  ] as const;
  const script = join(tmp, "apt-pre-install-proc");
  writeFileSync(script, aptPreInstallScript(fake));
  // pacman's Exec: sh -c and its single-quoted argument (alpm splits on
  // whitespace outside quotes); rpm's triggers run the script with sh.
  const pacmanShell = (hook: string) => /^Exec = \/usr\/bin\/sh -c '(.*)'$/m.exec(hook)![1]!;
  const rpmScript = join(tmp, "rpm-hook-proc");
  writeFileSync(rpmScript, rpmHookScript(fake));
  const run = (cmd: string, noProc: boolean) => {
    const inner = noProc ? `mount -t tmpfs none /proc && exec sh -c "$0"` : `exec sh -c "$0"`;
    const p = Bun.spawnSync([unshare!, "-m", "--propagation", "private", "sh", "-c", inner, cmd], { stdin: Buffer.from(APT_V2) });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };
  const more = [
    ["apt pre-install script", `sh ${script}`],
    ["pacman PostTransaction", pacmanShell(pacmanHook(fake, ["coreutils"]))],
    ["pacman PreTransaction (NeedsTargets)", pacmanShell(pacmanPreRemoveHook(fake, ["uutils-coreutils"]))],
    ["rpm file trigger script", `sh ${rpmScript}`],
  ] as const;
  for (const [name, line] of [...lines, ...more]) {
    test.skipIf(!canUnshare)(name, () => {
      expect(run(line, false)).toEqual({ code: 0, out: expect.stringContaining("ran: relink --hook"), err: "" });
      expect(run(line, true)).toEqual({ code: 0, out: "", err: `${NO_PROC_MESSAGE}\n` });
    });
  }
});

describe("pacmanHook", () => {
  test("marker, sections, sorted unique targets, Exec with the binary", () => {
    const h = pacmanHook("/usr/bin/pkgswitch", ["uutils-coreutils", "coreutils", "sudo", "coreutils", "busybox"]);
    expect(h).toContain(MARKER);
    expect(h.split("\n")[0]!.startsWith("# ")).toBe(true);
    const targets = h.split("\n").filter((l) => l.startsWith("Target = ")).map((l) => l.slice(9));
    expect(targets).toEqual(["busybox", "coreutils", "sudo", "uutils-coreutils"]);
    expect(h).toContain("[Trigger]\nOperation = Install\nOperation = Upgrade\nOperation = Remove\nType = Package\n");
    expect(h).toContain("[Action]\n");
    expect(h).toContain("When = PostTransaction\n");
    expect(h).toContain(`Exec = /usr/bin/sh -c 'if [ -x /usr/bin/pkgswitch ]; then if [ -e /proc/self ]; then /usr/bin/pkgswitch relink --hook || true; else echo "${NO_PROC_MESSAGE}" >&2; fi; fi; while read -r _; do :; done; exit 0'\n`);
    // Trigger before Action, targets inside Trigger
    expect(h.indexOf("[Trigger]")).toBeLessThan(h.indexOf("Target = busybox"));
    expect(h.indexOf("Target = uutils-coreutils")).toBeLessThan(h.indexOf("[Action]"));
    expect(PACMAN_HOOK_PATH).toBe("/etc/pacman.d/hooks/90-pkgswitch.hook");
  });

  test("every line is a comment, a section, blank, 'Key = value' or a bare flag", () => {
    for (const line of [...pacmanHook("/usr/bin/pkgswitch", ["a", "b"]).split("\n"), ...pacmanPreRemoveHook("/usr/bin/pkgswitch", ["a"]).split("\n")]) {
      expect(line === "" || line.startsWith("#") || /^\[[A-Za-z]+\]$/.test(line) || /^[A-Za-z]+ = \S.*$/.test(line) || line === "NeedsTargets").toBe(true);
    }
  });

  test("pre-remove hook: Remove of the replacements only, PreTransaction, targets on stdin, never AbortOnFail", () => {
    const h = pacmanPreRemoveHook("/usr/bin/pkgswitch", ["uutils-coreutils", "sudo-rs"]);
    expect(h).toContain(MARKER);
    expect(h).toContain("[Trigger]\nOperation = Remove\nType = Package\nTarget = sudo-rs\nTarget = uutils-coreutils\n");
    expect(h).toContain("When = PreTransaction\n");
    expect(h).toContain("relink --hook --removing");
    expect(h).toContain("NeedsTargets\n");
    expect(h).not.toContain("AbortOnFail");
    expect(PACMAN_PRE_REMOVE_HOOK_PATH).toBe("/etc/pacman.d/hooks/10-pkgswitch-pre-remove.hook");
  });

  // The Exec line's shell command, run by sh as pacman would (argv split on
  // the single quotes): exits 0 whatever pkgswitch does, and drains stdin
  // when the binary is absent.
  const shellOf = (hook: string) => /^Exec = \/usr\/bin\/sh -c '(.*)'$/m.exec(hook)![1]!;
  test.each([
    ["binary absent", join(tmp, "absent"), 0],
    ["binary fails", "/bin/false", 0],
  ])("Exec command exits 0 (%s)", (_label, binary, code) => {
    const r = Bun.spawnSync(["sh", "-c", shellOf(pacmanPreRemoveHook(binary as string, ["x"]))], { stdin: Buffer.from("uutils-coreutils\n") });
    expect(r.exitCode).toBe(code as number);
  });
});

describe("packageNamesFromLines", () => {
  test("one name a line, trimmed, unique, sorted; junk lines dropped", () => {
    expect(packageNamesFromLines("uutils-coreutils\nsudo-rs\n\n uutils-coreutils \nnot a name\n../x\n")).toEqual(["sudo-rs", "uutils-coreutils"]);
    expect(packageNamesFromLines("")).toEqual([]);
  });
});
