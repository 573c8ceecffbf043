/** Pure parts of the guards and preflight: mountinfo, the target checks,
 * dpkg's argv in its pre-invoke hook, the hook set per package manager. */
import { describe, expect, test } from "bun:test";
import { checkTargets, mountOf, parseMountinfo, type TargetFacts } from "../../src/switch/preflight.ts";
import { dpkgPendingRemovals, parentPidFromStat, removalsInDpkgArgv } from "../../src/pkgmgr/invoker.ts";
import { hookFilesFor } from "../../src/hooks/files.ts";
import { hookBinary } from "../../src/hooks/install.ts";

const MOUNTINFO = [
  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "40 22 254:0 /tmp/r/usr/bin /tmp/r/usr/bin rw,nosuid,noexec,relatime shared:1 - ext4 /dev/vda rw",
  "41 22 0:50 / /tmp/r/mnt\\040x ro,relatime - tmpfs tmpfs rw",
  "42 22 0:51 / /tmp/r/opt rw,relatime - ext4 /dev/vdb ro,errors=remount-ro",
].join("\n");

describe("mountinfo", () => {
  const mounts = parseMountinfo(MOUNTINFO);
  test("options are the union of per-mount and superblock options; escapes decoded", () => {
    expect(mounts.map((m) => m.mountPoint)).toEqual(["/", "/tmp/r/usr/bin", "/tmp/r/mnt x", "/tmp/r/opt"]);
    expect(mounts[1]!.options.has("noexec")).toBe(true);
    expect(mounts[3]!.options.has("ro")).toBe(true); // ro on the superblock only
  });
  test("a path lives on the longest mount point containing it, not on a mere string prefix", () => {
    expect(mountOf(mounts, "/tmp/r/usr/bin/ls")!.mountPoint).toBe("/tmp/r/usr/bin");
    expect(mountOf(mounts, "/tmp/r/usr/bin2")!.mountPoint).toBe("/");
    expect(mountOf(mounts, "/tmp/r/mnt x/a")!.mountPoint).toBe("/tmp/r/mnt x");
  });
});

describe("checkTargets", () => {
  const mounts = parseMountinfo(MOUNTINFO);
  const fact = (over: Partial<TargetFacts>): TargetFacts => ({ target: "/usr/bin/ls", dirHost: "/tmp/r/usr/sbin", replacementDirHost: "/tmp/r/usr/lib", locked: null, inode: { dev: 1, ino: 10, nlink: 1 }, ...over });
  test("nothing wrong → no refusal", () => expect(checkTargets([fact({})], mounts, "/tmp/r")).toEqual([]));
  test("each gap is one refusal naming the target, with in-root mount points", () => {
    expect(checkTargets([fact({ locked: "immutable" })], mounts, "/tmp/r")[0]!.reason).toStartWith("immutable (chattr)");
    expect(checkTargets([fact({ dirHost: "/tmp/r/opt" })], mounts, "/tmp/r")[0]!.reason).toBe("its directory is on a read-only mount (/opt)");
    expect(checkTargets([fact({ replacementDirHost: "/tmp/r/usr/bin" })], mounts, "/tmp/r")[0]!.reason).toContain("noexec mount (/usr/bin)");
    expect(checkTargets([fact({ dirHost: "/tmp/other" , replacementDirHost: "/tmp/r/usr/lib" })], parseMountinfo("1 0 1:1 / / ro - ext4 x ro"), "/tmp/r")[0]!.reason).toBe("its directory is on a read-only mount (/, which holds the root)");
  });
  test("hard links: refused only when links exist beyond the targets of this switch", () => {
    const two = [fact({ target: "/usr/bin/gunzip", inode: { dev: 1, ino: 7, nlink: 2 } }), fact({ target: "/usr/bin/uncompress", inode: { dev: 1, ino: 7, nlink: 2 } })];
    expect(checkTargets(two, mounts, "/tmp/r")).toEqual([]);
    expect(checkTargets([two[0]!], mounts, "/tmp/r")).toEqual([{ target: "/usr/bin/gunzip", reason: expect.stringContaining("has 1 other hard link(s)") }]);
  });
});

describe("dpkg pre-invoke: which packages the calling dpkg removes", () => {
  test("from dpkg's argv, with or without :arch, ignoring option values", () => {
    expect(removalsInDpkgArgv(["dpkg", "-r", "rust-coreutils"], ["rust-coreutils", "sudo-rs"])).toEqual(["rust-coreutils"]);
    expect(removalsInDpkgArgv(["/usr/bin/dpkg", "--status-fd", "23", "--force-depends", "--remove", "rust-coreutils:amd64", "sudo-rs"], ["rust-coreutils", "sudo-rs"])).toEqual(["rust-coreutils", "sudo-rs"]);
    expect(removalsInDpkgArgv(["dpkg", "-r", "hello"], ["rust-coreutils"])).toEqual([]);
  });
  test("only for DPKG_HOOK_ACTION remove or purge", () => {
    const argv = ["dpkg", "--purge", "rust-coreutils"];
    expect(dpkgPendingRemovals({ DPKG_HOOK_ACTION: "purge" }, ["rust-coreutils"], argv)).toEqual(["rust-coreutils"]);
    expect(dpkgPendingRemovals({ DPKG_HOOK_ACTION: "install" }, ["rust-coreutils"], argv)).toEqual([]);
    expect(dpkgPendingRemovals({}, ["rust-coreutils"], argv)).toEqual([]);
    expect(dpkgPendingRemovals({ DPKG_HOOK_ACTION: "remove" }, ["rust-coreutils"], null)).toEqual([]);
  });
  test("the parent pid survives a command name with spaces and parentheses", () => {
    expect(parentPidFromStat("1234 (a) b (c)) S 77 1234 1234 0 -1")).toBe(77);
  });
});

describe("hook set per package manager", () => {
  test("dpkg: dpkg's own hook, plus apt's when apt is there; pacman: its two hooks (relink after, restore before a removal); others: none", () => {
    expect(hookFilesFor("dpkg", "/usr/bin/pkgswitch", { withApt: false, packages: [] }).map((f) => f.path)).toEqual(["/etc/dpkg/dpkg.cfg.d/pkgswitch"]);
    expect(hookFilesFor("dpkg", "/usr/bin/pkgswitch", { withApt: true, packages: [] }).map((f) => f.path)).toEqual(["/etc/apt/apt.conf.d/80pkgswitch", "/usr/lib/pkgswitch/apt-pre-install", "/etc/dpkg/dpkg.cfg.d/pkgswitch"]);
    expect(hookFilesFor("pacman", "/usr/bin/pkgswitch", { withApt: false, packages: ["coreutils"] }).map((f) => f.path)).toEqual(["/etc/pacman.d/hooks/90-pkgswitch.hook", "/etc/pacman.d/hooks/10-pkgswitch-pre-remove.hook"]);
    expect(hookFilesFor("rpm", "/usr/bin/pkgswitch", { withApt: false, packages: [] })).toEqual([]);
  });
  test("the hooks run the binary itself when it lives inside the root", () => {
    expect(hookBinary("/", "/usr/local/bin/pkgswitch")).toBe("/usr/local/bin/pkgswitch");
    expect(hookBinary("/srv/r", "/srv/r/opt/pkgswitch")).toBe("/opt/pkgswitch");
    expect(hookBinary("/srv/r", "/opt/build/dist/pkgswitch")).toBe("/usr/bin/pkgswitch");
    expect(hookBinary("/", "/usr/bin/bun")).toBe("/usr/bin/pkgswitch");
  });
});
