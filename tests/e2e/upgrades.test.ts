/** Staying switched across package transactions, on a debootstrap root:
 * dpkg diversions, apt hooks (run by apt inside the root), relink, and
 * attested `pkg install`. The binary is copied into the root, as an
 * operator would install it, so apt's hooks can run it. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { copyFileSync, existsSync, lstatSync, readFileSync, readlinkSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { debianRoot, inRoot, removeDebianRoot } from "../helpers/debroot.ts";
import { pkgswitch, pkgswitchJson, sha256File } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";

// Real roots, apt and dpkg: seconds per test, more on a loaded machine.
setDefaultTimeout(300_000);

let root: string;
const UU = "/usr/lib/cargo/bin/coreutils";
const HOOKS = ["/etc/apt/apt.conf.d/80pkgswitch", "/etc/dpkg/dpkg.cfg.d/pkgswitch", "/usr/lib/pkgswitch/apt-pre-install"];
const ledgerLength = () => readFileSync(join(root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8").split("\n").filter(Boolean).length;
const ourDiversions = () => inRoot(root, ["dpkg-divert", "--list"]).out.split("\n").filter((l) => l.includes("pkgswitch"));
type Status = { providers: Array<{ switched: number; targets: number; drifted: unknown[]; diversions: number; diversions_missing: unknown[] }> };

function lastOp(): { op: string; command: string; status: string } {
  const ops = pkgswitchJson<{ operations: Array<{ op: string; command: string; status: string }> }>(["--root", root, "audit", "list"]).json.operations;
  return ops[ops.length - 1]!;
}
function events(op: string): Array<Record<string, unknown>> {
  return readFileSync(join(root, `var/lib/pkgswitch/audit/audit-${op}.jsonl`), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
/** Every coreutils command dpkg lists that uutils also provides: a link, or all GNU again. */
function targets(): string[] {
  const uu = existsSync(join(root, UU)) ? new Set(readdirSync(join(root, UU))) : new Set(["ls", "cat", "cp"]);
  return Bun.spawnSync(["dpkg-query", `--root=${root}`, "-L", "coreutils"]).stdout.toString().split("\n")
    .filter((f) => /^(\/usr)?\/s?bin\/[^/]+$/.test(f) && uu.has(f.split("/").pop()!)).map((f) => (f.startsWith("/usr") ? f : "/usr" + f));
}

beforeAll(() => {
  root = debianRoot();
  copyFileSync(BINARY, join(root, "usr/bin/pkgswitch"));
  // The compiled binary needs /proc inside the root (apt runs it there).
  expect(Bun.spawnSync(["mount", "-t", "proc", "proc", join(root, "proc")]).exitCode).toBe(0);
  expect(pkgswitch(["--root", root, "keys", "generate"]).code).toBe(0);
});
afterAll(() => removeDebianRoot(root));

describe("upgrades keep the switch", () => {
  test("a plain enable diverts every switched target and installs apt's and dpkg's hooks; status shows them", () => {
    const r = pkgswitch(["--root", root, "enable", "coreutils", "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("installed package-manager hooks");
    const status = pkgswitchJson<Status & { hooks: string[] }>(["--root", root, "status"]).json;
    const st = status.providers[0]!;
    expect(st.diversions).toBe(st.targets);
    expect(ourDiversions().length).toBe(st.targets);
    // Debian 12 is usrmerged but dpkg knows /bin/ls: the diversion must be of that path.
    expect(ourDiversions()).toContain("local diversion of /bin/ls to /bin/.ls.pkgswitch-orig");
    expect(status.hooks.sort()).toEqual(HOOKS);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain(`package-manager hooks: ${HOOKS[0]}`);
    expect(readFileSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"), "utf8")).toContain('DPkg::Post-Invoke { "if [ -x /usr/bin/pkgswitch ]; then if [ -e /proc/self ]; then /usr/bin/pkgswitch relink --hook || true; else');
    expect(readFileSync(join(root, "etc/dpkg/dpkg.cfg.d/pkgswitch"), "utf8")).toContain('pre-invoke="if [ -x /usr/bin/pkgswitch ]; then if [ -e /proc/self ]; then /usr/bin/pkgswitch relink --hook --pre-invoke || true; else');
    // The operation records each hook file it wrote, with the content's digest.
    const written = events(lastOp().op).filter((e) => e.event === "hook.install");
    expect(written.map((e) => e.path).sort()).toEqual(HOOKS);
    for (const e of written) expect(e.sha256).toBe(sha256File(join(root, String(e.path))));
  });

  test("apt-get install --reinstall coreutils keeps uutils; status consistent; verify --all passes", () => {
    const before = ledgerLength();
    const r = inRoot(root, ["apt-get", "install", "--reinstall", "-y", "-q", "coreutils"]);
    expect(r.code).toBe(0);
    expect(inRoot(root, ["ls", "--version"]).out).toMatch(/^ls 0\.0\.\d+/);
    const st = pkgswitchJson<Status>(["--root", root, "status"]).json.providers[0]!;
    expect(st).toMatchObject({ drifted: [], diversions_missing: [] });
    expect(st.switched).toBe(st.targets);
    // The hook recorded the transaction's effect: backups refreshed from the new originals.
    expect(ledgerLength()).toBe(before + 1);
    const op = lastOp();
    expect(op.command).toBe("relink --hook");
    expect(events(op.op).filter((e) => e.event === "file.backup" && e.reason === "the package manager updated the diverted original").length).toBe(st.targets);
    const v = pkgswitch(["--root", root, "audit", "verify", "--all"]);
    expect(v.stdout + v.stderr).not.toContain("FAIL");
    expect(v.code).toBe(0);
  });

  test("a no-op relink changes nothing and writes no operation", () => {
    const before = ledgerLength();
    const r = pkgswitch(["--root", root, "relink"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("nothing to do");
    expect(ledgerLength()).toBe(before);
  });

  test("disable after the reinstall restores the package's current files; no diversion remains; the last disable removes the hooks", () => {
    const d = pkgswitch(["--root", root, "disable", "coreutils", "--yes"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("removed package-manager hooks");
    for (const h of HOOKS) expect(existsSync(join(root, h))).toBe(false);
    expect(events(lastOp().op).filter((e) => e.event === "hook.remove").map((e) => e.path).sort()).toEqual(HOOKS);
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(ourDiversions()).toEqual([]);
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
  });

  test("apt-get remove rust-coreutils after a plain enable: originals restored before dpkg runs, apt succeeds", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const r = inRoot(root, ["apt-get", "remove", "-y", "-q", "rust-coreutils"]);
    expect(r.out).not.toContain("not found in PATH");
    expect(r.code).toBe(0);
    for (const t of targets()) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
    const op = lastOp();
    expect(op.command).toBe("relink --hook --apt-pre-install");
    expect(events(op.op).some((e) => e.event === "file.restore" && String(e.reason).includes("apt is about to remove rust-coreutils"))).toBe(true);
  });

  test("a bare dpkg -r rust-coreutils after a plain enable: dpkg's pre-invoke hook restores the originals first", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const list = targets();
    expect(readlinkSync(join(root, "usr/bin/rm"))).toBe(`${UU}/rm`);
    const r = inRoot(root, ["dpkg", "-r", "rust-coreutils"]);
    expect(r.out).not.toContain("not found in PATH");
    expect(r.code).toBe(0);
    expect(existsSync(join(root, UU))).toBe(false);
    for (const t of list) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(ourDiversions()).toEqual([]);
    const op = lastOp();
    expect(op.command).toBe("relink --hook --pre-invoke");
    expect(events(op.op).filter((e) => e.event === "file.restore" && String(e.reason).includes("dpkg is about to remove rust-coreutils")).length).toBe(list.length);
  });

  test("removing rust-coreutils behind pkgswitch's back, then relink: no dangling link, and the operation says why", () => {
    expect(pkgswitch(["--root", root, "hooks", "remove"]).code).toBe(0);
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes", "--no-hooks"]).code).toBe(0);
    for (const h of HOOKS) expect(existsSync(join(root, h))).toBe(false); // --no-hooks: no hook file
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("package-manager hooks: none");
    const list = targets();
    inRoot(root, ["apt-get", "remove", "-y", "-q", "rust-coreutils"]); // dpkg itself trips over the dangling rm
    expect(existsSync(join(root, "usr/bin/coreutils"))).toBe(false);
    expect(readlinkSync(join(root, "usr/bin/ls"))).toBe(`${UU}/ls`); // dangling now
    const r = pkgswitch(["--root", root, "relink"]);
    expect(r.code).toBe(0);
    for (const t of list) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(inRoot(root, ["ls", "--version"]).out).toContain("GNU coreutils");
    const op = lastOp();
    expect(op.command).toBe("relink");
    expect(events(op.op).filter((e) => e.event === "file.restore" && String(e.reason).includes("rust-coreutils was removed")).length).toBe(list.length);
    expect(ourDiversions()).toEqual([]);
    expect(pkgswitch(["--root", root, "status"]).stdout).toContain("no provider is enabled");
  });

  test("pkg remove of an enabled provider's package restores the originals first; dpkg never breaks", () => {
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const list = targets();
    // The dry run's plan says so too, and keeps them.
    const plan = pkgswitch(["--root", root, "pkg", "remove", "rust-coreutils", "--dry-run"]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("would first restore the originals of coreutils (its package is removed)\nwould remove package-manager hooks (no provider would be enabled): /etc/apt/apt.conf.d/80pkgswitch");
    expect(existsSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"))).toBe(true);
    const r = pkgswitch(["--root", root, "pkg", "remove", "rust-coreutils", "--yes"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const t of list) expect(lstatSync(join(root, t)).isFile()).toBe(true);
    expect(inRoot(root, ["dpkg", "--verify", "coreutils"])).toEqual({ code: 0, out: "" });
    expect(existsSync(join(root, UU))).toBe(false);
    const op = lastOp();
    expect(op.command).toBe("pkg remove rust-coreutils");
    expect(events(op.op).filter((e) => e.event === "file.restore" && String(e.reason).includes("about to be removed by pkg remove")).length).toBe(list.length);
    // The last provider is gone, as after a disable: so are the hooks enable installed.
    expect(r.stdout).toContain("removed package-manager hooks (no provider is enabled): /etc/apt/apt.conf.d/80pkgswitch");
    expect(events(op.op).filter((e) => e.event === "hook.remove" && e.reason === "no provider is enabled any more").map((e) => e.path)).toContain("/etc/apt/apt.conf.d/80pkgswitch");
    expect(existsSync(join(root, "etc/apt/apt.conf.d/80pkgswitch"))).toBe(false);
    expect(existsSync(join(root, "etc/dpkg/dpkg.cfg.d/pkgswitch"))).toBe(false);
  });

  test("pkg install hello: a signed operation whose SBOM lists hello and whose JSONL has /usr/bin/hello's digest", () => {
    const r = pkgswitch(["--root", root, "pkg", "install", "hello", "--yes"]);
    expect(r.code).toBe(0);
    const op = lastOp();
    expect(op.command).toBe("pkg install hello");
    const audit = join(root, "var/lib/pkgswitch/audit");
    expect(existsSync(join(audit, `audit-${op.op}.jsonl.sig`))).toBe(true);
    const file = events(op.op).find((e) => e.event === "pkg.file" && e.path === "/usr/bin/hello")!;
    expect(file.after_sha256).toBe(sha256File(join(root, "usr/bin/hello")));
    expect(file.before_sha256).toBeNull();
    const sbom = JSON.parse(readFileSync(join(audit, `audit-${op.op}-sbom.json`), "utf8"));
    const hello = sbom.packages.find((p: { name: string }) => p.name === "hello");
    expect(hello.versionInfo).toBe("2.10-3");
    const m = Bun.spawnSync(["minisign", "-Vm", join(audit, `audit-${op.op}.jsonl`), "-x", join(audit, `audit-${op.op}.jsonl.sig`), "-p", join(root, "etc/pkgswitch/keys/signing.pub")]);
    expect(m.exitCode).toBe(0);
  });
});
