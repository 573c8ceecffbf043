/** Pure parsers of the dpkg/apt backend (src/pkgmgr/dpkg.ts). Fixtures are
 * verbatim output of dpkg-query / apt-cache / apt-get on Debian 12 (bookworm),
 * including the shapes that are easy to get wrong: non-"ii" statuses,
 * arch-qualified names, multi-owner and diversion lines of `dpkg-query -S`. */
import { describe, expect, test } from "bun:test";
import {
  escapeGlob,
  parseDiversions,
  parseInstalled,
  parsePolicy,
  parseSearch,
  parseSimulation,
  usrMergeAlias,
} from "../../src/pkgmgr/dpkg.ts";

// `dpkg-query -W -f='${binary:Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\t${Maintainer}\t${Homepage}\n${db-fsys:Files}'`
// Note the trailing space of the status abbreviation ("ii ") and the leading
// space of every file line, and the "/." root entry every package lists.
const INSTALLED = [
  "coreutils\t9.1-1\tamd64\tii \tMichael Stone <mstone@debian.org>\thttp://gnu.org/software/coreutils",
  " /.",
  " /bin",
  " /bin/cat",
  " /bin/ls",
  " /usr",
  " /usr/bin",
  " /usr/bin/[",
  " /usr/bin/arch",
  " /usr/share/doc/coreutils/copyright",
  "libc6:amd64\t2.36-9+deb12u14\tamd64\tii \tGNU Libc Maintainers <debian-glibc@lists.debian.org>\thttps://www.gnu.org/software/libc/libc.html",
  " /.",
  " /lib/x86_64-linux-gnu/libc.so.6",
  "rust-coreutils\t0.0.17-2\tamd64\trc \tDebian Rust Maintainers <pkg-rust-maintainers@alioth-lists.debian.net>\thttps://github.com/uutils/coreutils",
  " /usr/share/doc/rust-coreutils/copyright",
  "halfpkg\t1.0\tamd64\tiU \tSomeone <s@example.org>\t",
  " /usr/bin/half",
  "brokenpkg\t1.0\tamd64\tiF \tSomeone <s@example.org>\t",
  " /usr/bin/broken",
  "nomaint\t0.1\tall\tii \t\t",
  " /.",
  " /usr/bin/nomaint",
  "",
].join("\n");

describe("parseInstalled", () => {
  const pkgs = parseInstalled(INSTALLED);

  test("installed packages with version, arch, supplier, homepage", () => {
    const c = pkgs.get("coreutils")!;
    expect(c).toBeDefined();
    expect(c.name).toBe("coreutils");
    expect(c.version).toBe("9.1-1");
    expect(c.arch).toBe("amd64");
    expect(c.supplier).toBe("Michael Stone <mstone@debian.org>");
    expect(c.homepage).toBe("http://gnu.org/software/coreutils");
  });

  test("file list: leading space stripped, '/.' dropped, order kept, nothing from the next package", () => {
    expect(pkgs.get("coreutils")!.files).toEqual([
      "/bin",
      "/bin/cat",
      "/bin/ls",
      "/usr",
      "/usr/bin",
      "/usr/bin/[",
      "/usr/bin/arch",
      "/usr/share/doc/coreutils/copyright",
    ]);
    expect(pkgs.get("libc6")!.files).toEqual(["/lib/x86_64-linux-gnu/libc.so.6"]);
  });

  test("arch-qualified binary:Package (libc6:amd64) is keyed and named without the arch", () => {
    expect(pkgs.has("libc6:amd64")).toBe(false);
    const l = pkgs.get("libc6")!;
    expect(l.name).toBe("libc6");
    expect(l.version).toBe("2.36-9+deb12u14");
    expect(l.arch).toBe("amd64");
  });

  test("not-installed statuses are left out, and their files do not leak into the previous package", () => {
    // rc = removed, config-files remain; iU = unpacked; iF = half-configured
    expect(pkgs.has("rust-coreutils")).toBe(false);
    expect(pkgs.has("halfpkg")).toBe(false);
    expect(pkgs.has("brokenpkg")).toBe(false);
    expect(pkgs.get("libc6")!.files).not.toContain("/usr/share/doc/rust-coreutils/copyright");
    for (const p of pkgs.values()) {
      expect(p.files).not.toContain("/usr/bin/half");
      expect(p.files).not.toContain("/usr/bin/broken");
    }
    expect([...pkgs.keys()].sort()).toEqual(["coreutils", "libc6", "nomaint"]);
  });

  test("empty Maintainer/Homepage fields are omitted, not empty strings", () => {
    const n = pkgs.get("nomaint")!;
    expect(n.arch).toBe("all");
    expect("supplier" in n).toBe(false);
    expect("homepage" in n).toBe(false);
    expect(n.files).toEqual(["/usr/bin/nomaint"]);
  });

  test("file lines before any header, and the empty input, yield nothing", () => {
    expect(parseInstalled("").size).toBe(0);
    expect(parseInstalled(" /usr/bin/orphan\n").size).toBe(0);
  });

  test("a package without a file list (last in the output, no trailing newline)", () => {
    const m = parseInstalled("coreutils\t9.1-1\tamd64\tii \tM <m@x>\t");
    expect(m.get("coreutils")!.files).toEqual([]);
  });

  // BUG: "hi " (desired=hold, status=installed: `apt-mark hold coreutils`)
  // is an installed package, but only statuses starting with "ii" are kept;
  // so are "ri"/"pi" (marked for removal/purge but still installed). The
  // second letter of db:Status-Abbrev is the installed state.
  test("a held package (status 'hi ') is installed", () => {
    const m = parseInstalled("coreutils\t9.1-1\tamd64\thi \tM <m@x>\t\n /bin/ls\n");
    expect(m.get("coreutils")?.files).toEqual(["/bin/ls"]);
  });
});

describe("parseSearch (dpkg-query -S)", () => {
  test("single owner, several owners (first wins), arch-qualified owners", () => {
    const out = [
      "coreutils: /bin/ls",
      "postgresql-common, libpq-dev: /usr/bin/pg_config",
      "libc6:amd64, libc6:i386: /usr/share/doc/libc6",
      "dpkg-query: no path found matching pattern /usr/bin/ls", // stderr, if merged
      "",
    ].join("\n");
    const m = parseSearch(out);
    expect(m.get("/bin/ls")).toBe("coreutils");
    expect(m.get("/usr/bin/pg_config")).toBe("postgresql-common");
    expect(m.get("/usr/share/doc/libc6")).toBe("libc6");
    expect(m.has("/usr/bin/ls")).toBe(false);
    expect(m.size).toBe(3);
  });

  test("'diversion by PKG from/to' lines are not owners; the owner line after them is", () => {
    // verbatim from a bookworm host
    const out = [
      "diversion by postgresql-common from: /usr/bin/pg_config",
      "diversion by postgresql-common to: /usr/bin/pg_config.libpq-dev",
      "postgresql-common, libpq-dev: /usr/bin/pg_config",
      "diversion by postgresql-common from: /usr/bin/pg_config",
      "diversion by postgresql-common to: /usr/bin/pg_config.libpq-dev",
      "",
    ].join("\n");
    const m = parseSearch(out);
    expect(m.get("/usr/bin/pg_config")).toBe("postgresql-common");
    expect(m.has("/usr/bin/pg_config.libpq-dev")).toBe(false);
    expect(m.size).toBe(1);
  });

  test("a local diversion followed by its owner line: the owner wins", () => {
    // dpkg-divert --local --no-rename --divert /bin/.ls.orig --add /bin/ls
    const out = "local diversion from: /bin/ls\nlocal diversion to: /bin/.ls.orig\ncoreutils: /bin/ls\n";
    expect(parseSearch(out).get("/bin/ls")).toBe("coreutils");
  });

  // BUG: dpkg prints "local diversion from: P" / "local diversion to: Q" for
  // a local diversion (pkgswitch's own kind). Only "diversion by" is skipped,
  // so a diverted path that no package owns (the replaced package was
  // removed while switched) gets the owner "local diversion from", and the
  // diverted-to name gets "local diversion to".
  test("'local diversion from/to' lines are not owners", () => {
    const out = "local diversion from: /usr/bin/sudo\nlocal diversion to: /usr/bin/sudo.orig\n";
    const m = parseSearch(out);
    expect(m.has("/usr/bin/sudo")).toBe(false);
    expect(m.has("/usr/bin/sudo.orig")).toBe(false);
  });

  test("paths with glob metacharacters and spaces come back verbatim", () => {
    const m = parseSearch("coreutils: /usr/bin/[\nfoo: /usr/share/foo/a file: with colon\n");
    expect(m.get("/usr/bin/[")).toBe("coreutils");
    expect(m.get("/usr/share/foo/a file: with colon")).toBe("foo");
  });

  test("empty output", () => {
    expect(parseSearch("").size).toBe(0);
  });
});

// apt-cache policy, verbatim from bookworm (apt 2.6).
const POLICY = `coreutils:
  Installed: 9.1-1
  Candidate: 9.1-1
  Version table:
 *** 9.1-1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
libc6:amd64:
  Installed: 2.36-9+deb12u14
  Candidate: 2.36-9+deb12u14
  Version table:
 *** 2.36-9+deb12u14 500
        500 https://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
     2.36-9+deb12u7 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
rust-coreutils:
  Installed: 0.0.17-2+local1
  Candidate: 0.0.17-2+local1
  Version table:
 *** 0.0.17-2+local1 100
        100 /var/lib/dpkg/status
     0.0.17-2 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
sudo:
  Installed: 1.9.13p3-1+deb12u1
  Candidate: 1.9.13p3-1+deb12u2
  Version table:
     1.9.13p3-1+deb12u2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
 *** 1.9.13p3-1+deb12u1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
hello:
  Installed: (none)
  Candidate: 2.10-3
  Version table:
     2.10-3 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
`;

describe("parsePolicy (apt-cache policy)", () => {
  const repos = parsePolicy(POLICY);

  test("installed from a repository: host/path and suite/component, scheme stripped", () => {
    expect(repos.get("coreutils")).toBe("deb.debian.org/debian bookworm/main");
    expect(repos.get("libc6")).toBe("deb.debian.org/debian bookworm/main"); // https:// and :amd64 header
  });

  test("installed version known only to /var/lib/dpkg/status → local, even when another version is in a repo", () => {
    expect(repos.get("rust-coreutils")).toBe("local");
  });

  test("the *** marker on a non-first version: its own source line counts, not the first version's", () => {
    expect(repos.get("sudo")).toBe("deb.debian.org/debian bookworm/main");
  });

  test("not installed → absent (the caller's default is 'unknown')", () => {
    expect(repos.has("hello")).toBe(false);
    expect([...repos.keys()].sort()).toEqual(["coreutils", "libc6", "rust-coreutils", "sudo"]);
  });

  test("the first repository listed for the installed version is taken", () => {
    const out = `bash:
  Installed: 5.2.15-2+b2
  Candidate: 5.2.15-2+b2
  Version table:
 *** 5.2.15-2+b2 500
        500 http://mirror.example/debian bookworm/main amd64 Packages
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
`;
    expect(parsePolicy(out).get("bash")).toBe("mirror.example/debian bookworm/main");
  });

  // BUG: apt prints the per-source priority with "%4i" after 7 spaces, so the
  // column is only 8 spaces wide for 3-digit priorities. A pinned release
  // (1001: 7 spaces), experimental/NotAutomatic (1: 10 spaces) or a negative
  // pin (-10) do not match /^ {8}\d+ /, and the package is reported "local"
  // (foreign). Verbatim apt 2.6 output with Pin-Priority 1001 / 1 / -10:
  test("source lines with priorities 1001, 1 and -10", () => {
    for (const prio of ["       1001", "          1", "        -10"]) {
      const out = `coreutils:
  Installed: 9.1-1
  Candidate: 9.1-1
  Version table:
 *** 9.1-1 100
${prio} http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
`;
      expect(parsePolicy(out).get("coreutils")).toBe("deb.debian.org/debian bookworm/main");
    }
  });
});

describe("parseDiversions (/var/lib/dpkg/diversions)", () => {
  test("three-line records: from, to, package (':' for local)", () => {
    const text = [
      "/usr/bin/pg_config",
      "/usr/bin/pg_config.libpq-dev",
      "postgresql-common",
      "/bin/ls",
      "/bin/.ls.pkgswitch-orig",
      ":",
      "",
    ].join("\n");
    const m = parseDiversions(text);
    expect(m.size).toBe(2);
    expect(m.get("/usr/bin/pg_config")).toEqual({ from: "/usr/bin/pg_config", to: "/usr/bin/pg_config.libpq-dev", by: "postgresql-common" });
    expect(m.get("/bin/ls")).toEqual({ from: "/bin/ls", to: "/bin/.ls.pkgswitch-orig", by: ":" });
  });

  test("no trailing newline; empty file; an incomplete trailing record is ignored", () => {
    expect(parseDiversions("/a\n/b\n:").get("/a")).toEqual({ from: "/a", to: "/b", by: ":" });
    expect(parseDiversions("").size).toBe(0);
    const m = parseDiversions("/a\n/b\n:\n/c\n");
    expect([...m.keys()]).toEqual(["/a"]);
  });
});

describe("parseSimulation (apt-get -s)", () => {
  test("Inst/Remv/Purg names, arch stripped, sorted, unique; Conf lines and prose ignored", () => {
    const out = `NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Reading state information...
The following additional packages will be installed:
  libonig5
The following packages will be REMOVED:
  sudo
The following NEW packages will be installed:
  rust-coreutils sudo-rs
0 upgraded, 3 newly installed, 1 to remove and 0 not upgraded.
Remv sudo [1.9.13p3-1+deb12u1]
Inst libonig5:amd64 (6.9.8-1 Debian:12.5/stable [amd64])
Inst rust-coreutils (0.0.17-2 Debian:12.5/stable [amd64])
Inst sudo-rs (0.2.2-1 Debian:12.5/stable [amd64])
Conf libonig5:amd64 (6.9.8-1 Debian:12.5/stable [amd64])
Conf rust-coreutils (0.0.17-2 Debian:12.5/stable [amd64])
Conf sudo-rs (0.2.2-1 Debian:12.5/stable [amd64])
Purg oldconf [1.0]
Conf onlyconfigured (1.0 Debian:12.5/stable [amd64])
`;
    expect(parseSimulation(out)).toEqual({ changed: ["libonig5", "oldconf", "rust-coreutils", "sudo", "sudo-rs"], removed: ["oldconf", "sudo"] });
  });

  test("lines that merely mention Inst are not actions", () => {
    expect(parseSimulation("  Inst foo (indented)\nXInst bar\nInstall baz\n")).toEqual({ changed: [], removed: [] });
    expect(parseSimulation("")).toEqual({ changed: [], removed: [] });
  });
});

describe("escapeGlob", () => {
  test("fnmatch metacharacters get a backslash; other characters do not", () => {
    expect(escapeGlob("/usr/bin/[")).toBe("/usr/bin/\\[");
    expect(escapeGlob("/usr/bin/a*b?c]")).toBe("/usr/bin/a\\*b\\?c\\]");
    expect(escapeGlob("/a\\b")).toBe("/a\\\\b");
    expect(escapeGlob("/usr/bin/ls")).toBe("/usr/bin/ls");
    expect(escapeGlob("/usr/bin/x-y.z+1 {a,b}")).toBe("/usr/bin/x-y.z+1 {a,b}");
  });
});

describe("usrMergeAlias", () => {
  test("both directions for bin, sbin, lib, lib64", () => {
    expect(usrMergeAlias("/usr/bin/ls")).toBe("/bin/ls");
    expect(usrMergeAlias("/bin/ls")).toBe("/usr/bin/ls");
    expect(usrMergeAlias("/usr/sbin/visudo")).toBe("/sbin/visudo");
    expect(usrMergeAlias("/sbin/visudo")).toBe("/usr/sbin/visudo");
    expect(usrMergeAlias("/lib/x86_64-linux-gnu/libc.so.6")).toBe("/usr/lib/x86_64-linux-gnu/libc.so.6");
    expect(usrMergeAlias("/usr/lib64/ld-linux-x86-64.so.2")).toBe("/lib64/ld-linux-x86-64.so.2");
    expect(usrMergeAlias("/lib64/ld-linux-x86-64.so.2")).toBe("/usr/lib64/ld-linux-x86-64.so.2");
  });

  test("paths outside the merged dirs, look-alike prefixes and the dirs themselves have none", () => {
    for (const p of ["/usr/share/doc/x", "/etc/passwd", "/usr/libexec/x", "/binx/y", "/usr/binary", "/bin", "/usr/bin", "/usr/local/bin/x", "/opt/bin/x"]) {
      expect(usrMergeAlias(p)).toBeNull();
    }
  });

  test("alias of the alias is the original", () => {
    for (const p of ["/bin/ls", "/usr/bin/[", "/sbin/x", "/usr/lib/a/b"]) {
      expect(usrMergeAlias(usrMergeAlias(p)!)).toBe(p);
    }
  });
});

describe("native switches: parsing what dpkg's tools print", () => {
  test("an alternatives file: link, slaves, each alternative with its priority", async () => {
    const { parseAlternatives } = await import("../../src/pkgmgr/dpkg-native.ts");
    // update-alternatives' own format: mode, link, slave name/link pairs, blank,
    // then per alternative: path, priority, one line per slave.
    const text = "manual\n/usr/bin/sudo\nsudoedit\n/usr/bin/sudoedit\n\n/usr/bin/sudo.ws\n50\n/usr/bin/sudoedit.ws\n/usr/lib/cargo/bin/sudo\n60\n\n\n";
    expect(parseAlternatives(text)).toEqual({ link: "/usr/bin/sudo", slaves: ["/usr/bin/sudoedit"], alternatives: [{ path: "/usr/bin/sudo.ws", priority: 50 }, { path: "/usr/lib/cargo/bin/sudo", priority: 60 }] });
    expect(parseAlternatives("auto\nnot-a-path\n")).toBeNull();
  });
  test("apt-get download --print-uris: the package's URI and file name, not another's", async () => {
    const { parsePrintUris } = await import("../../src/pkgmgr/dpkg-native.ts");
    const out = "'file:/srv/r/./a-b_1_all.deb' a-b_1_all.deb 10 SHA256:00\n'http://deb.debian.org/debian/pool/main/a/a_2_amd64.deb' a_2_amd64.deb 20 SHA256:11\n";
    expect(parsePrintUris(out, "a")).toEqual({ uri: "http://deb.debian.org/debian/pool/main/a/a_2_amd64.deb", file: "a_2_amd64.deb" });
    expect(parsePrintUris(out, "a-b")).toEqual({ uri: "file:/srv/r/./a-b_1_all.deb", file: "a-b_1_all.deb" });
    expect(parsePrintUris(out, "c")).toBeNull();
  });
});
