/** Pure parsers of the rpm/dnf backend (src/pkgmgr/rpm.ts). Fixtures are
 * verbatim output of rpm 4.18 and dnf 4.14 (Debian 12's) on the Fedora
 * fixture root of scripts/make-fedora-root.sh, file lists cut short. */
import { describe, expect, test } from "bun:test";
import {
  dnfError,
  parseDnfTransaction,
  parseFromRepo,
  parseRpmInstalled,
  parseRpmOwnerLists,
  parseRpmVersions,
  RPM_HOOKS,
} from "../../src/pkgmgr/rpm.ts";
import { MARKER } from "../../src/hooks/files.ts";
import { rpmHookScript } from "../../src/pkgmgr/hooks.ts";

// rpm --root R --dbpath /usr/lib/sysimage/rpm -q --qf INSTALLED_QF coreutils nosuch uutils-coreutils coreutils
// (rc 1: one name is not installed; its line is on stdout).
const INSTALLED = [
  "@@coreutils\t9.1-1.fc40\tx86_64\tFedora Project\thttps://example.invalid/pkgswitch-fixture/coreutils",
  "/usr/bin/[",
  "/usr/bin/arch",
  "/usr/bin/ls",
  "/usr/sbin/chroot",
  "package nosuch is not installed",
  "@@uutils-coreutils\t0.0.17-1.fc40\tx86_64\tFedora Project\thttps://example.invalid/pkgswitch-fixture/uutils-coreutils",
  "/usr/bin/uu_ls",
  "/usr/bin/uutils-coreutils",
  "@@coreutils\t9.1-1.fc40\tx86_64\tFedora Project\thttps://example.invalid/pkgswitch-fixture/coreutils",
  "/usr/bin/[",
  "/usr/bin/arch",
  "/usr/bin/ls",
  "/usr/sbin/chroot",
  // Not from the fixture (whose packages have no epoch): the shape rpm prints
  // for a package with an epoch and neither vendor nor URL ("(none)").
  "@@shadow-utils\t2:4.15.1-1.fc40\tx86_64\t(none)\t(none)",
  "/usr/bin/newgrp",
  "",
].join("\n");

describe("rpm -q --qf INSTALLED_QF", () => {
  const m = parseRpmInstalled(INSTALLED);
  test("one entry per installed package, names not installed skipped", () => {
    expect([...m.keys()]).toEqual(["coreutils", "uutils-coreutils", "shadow-utils"]);
  });
  test("version-release, arch, vendor as supplier, URL as homepage", () => {
    expect(m.get("coreutils")).toEqual({
      name: "coreutils",
      version: "9.1-1.fc40",
      arch: "x86_64",
      supplier: "Fedora Project",
      homepage: "https://example.invalid/pkgswitch-fixture/coreutils",
      files: ["/usr/bin/[", "/usr/bin/arch", "/usr/bin/ls", "/usr/sbin/chroot"],
    });
  });
  test("a name asked twice is listed once, with its files once", () => {
    expect(m.get("coreutils")!.files.length).toBe(4);
  });
  test("epoch kept as E:V-R; (none) is no supplier or homepage", () => {
    const s = m.get("shadow-utils")!;
    expect(s.version).toBe("2:4.15.1-1.fc40");
    expect(s.supplier).toBeUndefined();
    expect(s.homepage).toBeUndefined();
  });
});

test("rpm -qa --qf VERSIONS_QF: gpg-pubkey entries are not packages", () => {
  const v = parseRpmVersions("filesystem\t3.18-6.fc40\nglibc\t2.36-9.fc40\ngpg-pubkey\ta15b79cc-63d04c2c\ncoreutils\t9.1-1.fc40\n");
  expect([...v]).toEqual([["filesystem", "3.18-6.fc40"], ["glibc", "2.36-9.fc40"], ["coreutils", "9.1-1.fc40"]]);
});

test("rpm -qf --qf OWNERS_QF: owners from each owner's file list; unowned paths absent", () => {
  const out = [
    "/usr/bin/[\tcoreutils",
    "/usr/bin/arch\tcoreutils",
    "/usr/bin/ls\tcoreutils",
    "/etc/group\tfilesystem",
    "/etc/passwd\tfilesystem",
    "/usr/bin\tfilesystem",
    "file /etc/dnf/dnf.conf is not owned by any package",
    "",
  ].join("\n");
  const o = parseRpmOwnerLists(out);
  expect(o.get("/usr/bin/ls")).toBe("coreutils");
  expect(o.get("/etc/passwd")).toBe("filesystem");
  expect(o.has("/etc/dnf/dnf.conf")).toBe(false);
  expect(o.has("file /etc/dnf/dnf.conf is not owned by any package")).toBe(false);
});

describe("dnf --assumeno transaction tables", () => {
  test("install with a dependency", () => {
    const out = [
      "Dependencies resolved.",
      "================================================================================",
      " Package                Architecture Version             Repository        Size",
      "================================================================================",
      "Installing:",
      " uutils-coreutils       x86_64       0.0.17-1.fc40       fedora           4.8 M",
      "Installing dependencies:",
      " libgcc                 x86_64       12.2.0-1.fc40       fedora            55 k",
      "",
      "Transaction Summary",
      "================================================================================",
      "Install  2 Packages",
      "",
      "Total size: 4.9 M",
      "Installed size: 22 M",
      "Operation aborted.",
    ].join("\n");
    expect(parseDnfTransaction(out)).toEqual({ changed: ["libgcc", "uutils-coreutils"], removed: [] });
  });
  test("remove with unused dependencies", () => {
    const out = [
      "Dependencies resolved.",
      "================================================================================",
      " Package                Architecture Version                Repository     Size",
      "================================================================================",
      "Removing:",
      " uutils-coreutils       x86_64       0.0.17-1.fc40          @fedora        22 M",
      "Removing unused dependencies:",
      " libgcc                 x86_64       12.2.0-1.fc40          @fedora       122 k",
      "",
      "Transaction Summary",
      "================================================================================",
      "Remove  2 Packages",
      "",
      "Freed space: 22 M",
      "Operation aborted.",
    ].join("\n");
    expect(parseDnfTransaction(out)).toEqual({ changed: ["libgcc", "uutils-coreutils"], removed: ["libgcc", "uutils-coreutils"] });
  });
  test("upgrade", () => {
    const out = [
      "Last metadata expiration check: 0:00:40 ago on Mon Nov 30 20:34:45 2026.",
      "Dependencies resolved.",
      "================================================================================",
      " Package            Architecture    Version               Repository       Size",
      "================================================================================",
      "Upgrading:",
      " coreutils          x86_64          9.1-2.fc40            fedora          1.1 M",
      "",
      "Transaction Summary",
      "================================================================================",
      "Upgrade  1 Package",
      "",
      "Total download size: 1.1 M",
      "Operation aborted.",
    ].join("\n");
    expect(parseDnfTransaction(out)).toEqual({ changed: ["coreutils"], removed: [] });
  });
  test("nothing to do", () => {
    expect(parseDnfTransaction("Dependencies resolved.\nNothing to do.\nComplete!\n")).toEqual({ changed: [], removed: [] });
  });
});

test("dnf's error line", () => {
  const out = "Last metadata expiration check: 0:00:29 ago on Mon Nov 30 20:34:45 2026.\nNo match for argument: hello\nNo match for argument: nosuchpkg\nError: Unable to find a match: hello nosuchpkg\n";
  expect(dnfError(out)).toBe("Error: Unable to find a match: hello nosuchpkg");
  expect(dnfError("No match for argument: nosuch\n")).toBe("No match for argument: nosuch");
});

test("dnf repoquery from_repo: a repository id, or local for a package from a file", () => {
  // dnf -q --cacheonly repoquery --installed --qf '%{name}\t%{from_repo}' coreutils libgcc bash nosuch
  const r = parseFromRepo("bash\tfedora\ncoreutils\tfedora\nlibgcc\t@commandline\nhello\t\n");
  expect([...r]).toEqual([["bash", "fedora"], ["coreutils", "fedora"], ["libgcc", "local"], ["hello", "local"]]);
});

test("the rpm hook script and package carry hooks/files.ts's marker (hooks remove removes only marked files)", () => {
  expect(rpmHookScript("/usr/bin/pkgswitch")).toContain(MARKER);
  const rpmFile = RPM_HOOKS.files("/usr/bin/pkgswitch").find((f) => f.path === RPM_HOOKS.packageFile)!;
  // The trigger scripts sit in the rpm header, which is not compressed.
  expect(Buffer.from(rpmFile.content as Uint8Array).toString("latin1")).toContain(MARKER);
  expect(Buffer.from(rpmFile.content as Uint8Array).subarray(0, 4).toString("hex")).toBe("edabeedb"); // rpm lead magic
});
