/** Temp roots with a real dpkg database (status + info/*.list) that
 * `dpkg-query --root` reads like any other, and small executable files in
 * place of the packages' commands. For integration tests that need no apt. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface FakePackage {
  version: string;
  arch?: string;
  /** path → file content (commands get mode 0755). Symlinks: "->target". */
  files: Record<string, string>;
  /** Paths to list in the dpkg database but not create on disk. */
  listedOnly?: string[];
}

export interface FakeRootOptions {
  usrMerged?: boolean;
  packages: Record<string, FakePackage>;
  config?: string;
}

export function makeFakeRoot(opts: FakeRootOptions): string {
  const root = mkdtempSync(join(tmpdir(), "pkgswitch-root-"));
  for (const d of ["usr/bin", "usr/sbin", "usr/lib", "etc", "var/lib/dpkg/info", "var/lib/dpkg/updates", "run/lock"]) mkdirSync(join(root, d), { recursive: true });
  if (opts.usrMerged ?? true) {
    symlinkSync("usr/bin", join(root, "bin"));
    symlinkSync("usr/sbin", join(root, "sbin"));
  } else {
    mkdirSync(join(root, "bin"));
    mkdirSync(join(root, "sbin"));
  }
  let status = "";
  for (const [name, p] of Object.entries(opts.packages)) {
    status += `Package: ${name}\nStatus: install ok installed\nPriority: optional\nSection: utils\nInstalled-Size: 1\nMaintainer: Test Maintainer <test@example.org>\nArchitecture: ${p.arch ?? "amd64"}\nVersion: ${p.version}\nDescription: fake ${name}\n\n`;
    const listed = new Set<string>();
    for (const [path, content] of Object.entries(p.files)) {
      const host = join(root, path);
      mkdirSync(dirname(host), { recursive: true });
      if (content.startsWith("->")) symlinkSync(content.slice(2), host);
      else {
        writeFileSync(host, content);
        chmodSync(host, 0o755);
      }
      for (let d = dirname(path); d !== "/"; d = dirname(d)) listed.add(d);
      listed.add(path);
    }
    for (const path of p.listedOnly ?? []) listed.add(path);
    writeFileSync(join(root, "var/lib/dpkg/info", `${name}.list`), ["/.", ...[...listed].sort()].join("\n") + "\n");
  }
  writeFileSync(join(root, "var/lib/dpkg/status"), status);
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  if (opts.config) {
    mkdirSync(join(root, "etc/pkgswitch"), { recursive: true });
    writeFileSync(join(root, "etc/pkgswitch/config.jsonc"), opts.config);
  }
  return root;
}

/** A root like Debian 12's: GNU coreutils under /bin (dpkg's view) and
 * /usr/bin, and rust-coreutils' applet tree, as tiny scripts. */
export function coreutilsRoot(extra: Partial<FakeRootOptions> = {}): string {
  const gnu: Record<string, string> = {};
  for (const a of ["cat", "ls", "cp", "mv", "echo"]) gnu[`/bin/${a}`] = `#!/bin/sh\necho "${a} (GNU coreutils) 9.1"\n`;
  for (const a of ["head", "tail", "wc", "sort", "[", "sha256sum"]) gnu[`/usr/bin/${a}`] = `#!/bin/sh\necho "${a} (GNU coreutils) 9.1"\n`;
  gnu["/usr/sbin/chroot"] = "#!/bin/sh\necho chroot GNU\n";
  const uu: Record<string, string> = { "/usr/bin/coreutils": "#!/bin/sh\necho uutils 0.0.17\n" };
  for (const a of ["cat", "ls", "cp", "mv", "echo", "head", "tail", "wc", "sort", "[", "sha256sum", "chroot", "hashsum"]) uu[`/usr/lib/cargo/bin/coreutils/${a}`] = "->../../../../bin/coreutils";
  return makeFakeRoot({
    packages: {
      coreutils: { version: "9.1-1", files: gnu },
      "rust-coreutils": { version: "0.0.17-2", files: uu },
      ...(extra.packages ?? {}),
    },
    config: extra.config ?? `{ "smokeTest": false, "lockTimeoutMs": 500 }`,
    usrMerged: extra.usrMerged ?? true,
  });
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
