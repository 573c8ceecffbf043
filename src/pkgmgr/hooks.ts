/** The package-manager hook files pkgswitch installs (pure: content only),
 * and the hook points that call it, per package manager.
 * Each hook runs `pkgswitch relink --hook`, which never fails the package
 * manager's transaction: it records and prints errors and exits 0. */

import type { ManagerKind } from "./types.ts";

export const MARKER = "pkgswitch package-switch hook";

/** apt: a config snippet and the small sh wrapper apt feeds the package
 * list to. The wrapper is the hook's first word, so the protocol-version
 * option applies to it alone, and it exits 0 (draining stdin) when the
 * binary is absent: a hook never fails the transaction. */
export const APT_HOOK_PATH = "/etc/apt/apt.conf.d/80pkgswitch";
export const APT_PRE_INSTALL_PATH = "/usr/lib/pkgswitch/apt-pre-install";

/** Without /proc (a plain chroot) the compiled binary aborts in the Bun
 * runtime before any of pkgswitch's code runs, printing a crash banner per
 * hook into apt's or dpkg's output. The hook checks first and says in one
 * line what to do instead. No quotes inside: the line sits in apt's and
 * dpkg's double-quoted values. */
export const NO_PROC_MESSAGE = "pkgswitch: /proc is not mounted, so the hook did nothing: mount it (mount -t proc proc /proc) and run pkgswitch relink";

/** Whether `binary` can go into every hook's shell line as it is: apt's and
 * dpkg's double-quoted values, pacman's `sh -c '…'`, rpm's scriptlet. Only
 * characters no shell or quoting interprets, so a path can neither break a
 * hook nor inject a command into it. */
export function safeHookBinary(binary: string): boolean {
  return /^\/[A-Za-z0-9._+\/-]+$/.test(binary);
}

/** The shell line a hook runs: skip when the binary is absent, say so when
 * /proc is, else run it and never fail the transaction. `quote` encloses
 * the message: ' where the line sits in a double-quoted value (apt, dpkg),
 * " where it sits in a single-quoted `sh -c` argument (pacman). */
function hookCommand(binary: string, args: string, quote: "'" | '"' = "'"): string {
  return `if [ -x ${binary} ]; then if [ -e /proc/self ]; then ${binary} ${args} || true; else echo ${quote}${NO_PROC_MESSAGE}${quote} >&2; fi; fi`;
}

export function aptHook(binary: string): string {
  return `// ${MARKER} (written by \`pkgswitch enable\` or \`pkgswitch hooks install\`; remove with \`pkgswitch hooks remove\`).
// Before dpkg runs: restore the originals of a provider whose replacement
// package apt is about to remove (dpkg itself needs rm, cp, … while it works).
DPkg::Pre-Install-Pkgs { "${APT_PRE_INSTALL_PATH}"; };
DPkg::Tools::Options::${APT_PRE_INSTALL_PATH}::Version "2";
// After every dpkg run: re-apply switches an upgrade overwrote, refresh
// backups of upgraded originals, restore the originals of a removed provider.
// Never fails the apt transaction.
DPkg::Post-Invoke { "${hookCommand(binary, "relink --hook")}"; };
`;
}

export function aptPreInstallScript(binary: string): string {
  return `#!/bin/sh
# ${MARKER} (written by \`pkgswitch enable\` or \`pkgswitch hooks install\`).
# apt writes its package list (protocol version 2) to stdin.
if [ -x ${binary} ] && [ -e /proc/self ]; then
  ${binary} relink --hook --apt-pre-install || true
else
  if [ -x ${binary} ]; then echo '${NO_PROC_MESSAGE}' >&2; fi
  while read -r _; do :; done
fi
exit 0
`;
}

/** dpkg: its own hook points, so a bare `dpkg -r rust-coreutils` (no apt)
 * never leaves dangling links either. dpkg runs pre-invoke before it opens
 * its database (so the hook may call dpkg-divert) and exports
 * DPKG_HOOK_ACTION; the hook reads which packages from dpkg's argv. The
 * post-invoke is the same relink apt's Post-Invoke runs: idempotent, and it
 * writes nothing when there is nothing to repair. */
export const DPKG_HOOK_PATH = "/etc/dpkg/dpkg.cfg.d/pkgswitch";

export function dpkgHook(binary: string): string {
  return `# ${MARKER} (written by \`pkgswitch enable\` or \`pkgswitch hooks install\`; remove with \`pkgswitch hooks remove\`).
# Before dpkg removes a provider's package: restore its originals.
pre-invoke="${hookCommand(binary, "relink --hook --pre-invoke")}"
# After dpkg: re-apply switches an upgrade overwrote; restore a removed provider's originals.
post-invoke="${hookCommand(binary, "relink --hook")}"
`;
}

/** pacman (alpm hooks, alpm-hooks(5)). pacman runs Exec without a shell and
 * reports a missing program as a failed hook, so each hook goes through
 * sh and skips itself when the binary is absent (and says so when /proc
 * is, as apt's and dpkg's do); neither sets AbortOnFail,
 * so a hook never fails pacman's transaction.
 *  - PostTransaction, on Install/Upgrade/Remove of every replaced and
 *    replacement package: relink (re-apply links an upgrade overwrote, with
 *    the upgraded file as the new backup — what dpkg's diversion does on
 *    Debian; restore the originals of a removed provider).
 *  - PreTransaction, on Remove of a replacement package: restore that
 *    provider's originals while its commands still exist. */
export const PACMAN_HOOK_PATH = "/etc/pacman.d/hooks/90-pkgswitch.hook";
export const PACMAN_PRE_REMOVE_HOOK_PATH = "/etc/pacman.d/hooks/10-pkgswitch-pre-remove.hook";

/** pacman splits Exec on whitespace, honouring quotes (alpm-hooks(5)), so
 * the sh -c argument is single-quoted and the message inside it double-quoted.
 * The drain after the command reads what pacman writes to a NeedsTargets
 * hook that the binary did not (absent, or no /proc); pacman gives every
 * other hook an empty stdin. */
function pacmanExec(binary: string, args: string): string {
  return `Exec = /usr/bin/sh -c '${hookCommand(binary, args, '"')}; while read -r _; do :; done; exit 0'`;
}

function targetLines(packages: string[]): string {
  return [...new Set(packages)].sort().map((p) => `Target = ${p}`).join("\n");
}

export function pacmanHook(binary: string, packages: string[]): string {
  return `# ${MARKER} (written by \`pkgswitch enable\` or \`pkgswitch hooks install\`; remove with \`pkgswitch hooks remove\`).
[Trigger]
Operation = Install
Operation = Upgrade
Operation = Remove
Type = Package
${targetLines(packages)}

[Action]
Description = Re-applying pkgswitch command switches...
When = PostTransaction
${pacmanExec(binary, "relink --hook")}
`;
}

export function pacmanPreRemoveHook(binary: string, replacements: string[]): string {
  return `# ${MARKER} (written by \`pkgswitch enable\` or \`pkgswitch hooks install\`; remove with \`pkgswitch hooks remove\`).
[Trigger]
Operation = Remove
Type = Package
${targetLines(replacements)}

[Action]
Description = Restoring the originals of switched commands before their provider is removed...
When = PreTransaction
${pacmanExec(binary, "relink --hook --removing")}
NeedsTargets
`;
}

/** rpm: the script the pkgswitch-hooks rpm's file triggers run (rpm.ts
 * RPM_HOOKS; scripts/make-rpm-hook.sh builds the triggers, shell scriptlets
 * that drain their stdin and run this script). It runs inside the root,
 * after the transaction, and never fails it. */
export function rpmHookScript(binary: string): string {
  return `#!/bin/sh
# ${MARKER} (written by \`pkgswitch hooks install\`; run by the pkgswitch-hooks rpm's file triggers).
${hookCommand(binary, "relink --hook")}
exit 0
`;
}

/** Package names, one a line (what pacman writes to a NeedsTargets hook). Pure. */
export function packageNamesFromLines(input: string): string[] {
  return [...new Set(input.split("\n").map((l) => l.trim()).filter((l) => /^[A-Za-z0-9@._+-]+$/.test(l)))].sort();
}

/** Packages an apt transaction will remove, from the Pre-Install-Pkgs
 * protocol version 2 on stdin ("VERSION 2", config lines, a blank line, then
 * "name old-version direction new-version action" where action is the .deb,
 * **CONFIGURE** or **REMOVE**); pure. */
export function removalsFromAptV2(input: string): string[] {
  const blank = input.indexOf("\n\n");
  const body = blank >= 0 ? input.slice(blank + 2) : "";
  const out = new Set<string>();
  for (const line of body.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && f[f.length - 1] === "**REMOVE**") out.add(f[0]!.replace(/:[a-z0-9]+$/, ""));
  }
  return [...out].sort();
}

export interface HookFile {
  path: string;
  content: string | Uint8Array;
  mode?: number;
}

/** Every path pkgswitch may write a hook to (what `hooks remove` and
 * `status` look at). */
export const HOOK_PATHS: readonly string[] = [APT_HOOK_PATH, APT_PRE_INSTALL_PATH, DPKG_HOOK_PATH, PACMAN_HOOK_PATH, PACMAN_PRE_REMOVE_HOOK_PATH];

/** The hook files for a package manager (pure but for `exists`, which asks
 * whether a path is in the root). dpkg gets its own hook points and, when
 * apt is there (/etc/apt, or `withApt`), apt's; pacman a transaction hook on
 * `packages`; a manager with no hook support here gets none. */
export function hookFilesFor(kind: string, binary: string, opts: { withApt?: boolean; exists?: (path: string) => boolean; packages: string[]; replacements?: string[] }): HookFile[] {
  if (kind === "dpkg") {
    const files: HookFile[] = [{ path: DPKG_HOOK_PATH, content: dpkgHook(binary) }];
    if (opts.withApt || opts.exists?.("/etc/apt")) files.unshift({ path: APT_HOOK_PATH, content: aptHook(binary) }, { path: APT_PRE_INSTALL_PATH, content: aptPreInstallScript(binary), mode: 0o755 });
    return files;
  }
  if (kind === "pacman") return [{ path: PACMAN_HOOK_PATH, content: pacmanHook(binary, opts.packages) }, { path: PACMAN_PRE_REMOVE_HOOK_PATH, content: pacmanPreRemoveHook(binary, opts.replacements ?? []) }];
  return [];
}

/** The hook points `relink --hook` is called from before a transaction, as
 * `relink --hook --<flag>`: which packages the transaction is about to
 * remove comes from stdin (`fromStdin`, read whole whatever happens next)
 * or, without it, from the calling process (backend.pendingRemovals). `who`
 * names the remover in the audit record; absent, the backend's kind. */
export interface PreTransactionHook {
  readonly flag: string;
  readonly fromStdin?: (input: string) => string[];
  readonly who?: string;
  readonly help: string;
}

export const PRE_TRANSACTION_HOOKS: readonly PreTransactionHook[] = [
  {
    flag: "apt-pre-install",
    fromStdin: removalsFromAptV2,
    who: "apt",
    help: "--apt-pre-install (apt's DPkg::Pre-Install-Pkgs hook) reads apt's package list on stdin and restores the originals of a provider whose package apt is about to remove.",
  },
  {
    flag: "pre-invoke",
    help: "--pre-invoke (dpkg's pre-invoke hook) does the same for the packages the calling dpkg run removes (DPKG_HOOK_ACTION remove/purge; the names from its command line).",
  },
  {
    flag: "removing",
    fromStdin: packageNamesFromLines,
    help: "--removing (pacman's PreTransaction hook) does the same from package names on stdin, one a line.",
  },
];

/** `hooks install --<flag>`: the hooks of one package manager, whatever the
 * root holds. `files`: fixed hook files (apt's with dpkg's: apt drives
 * dpkg), else those for the root's providers (hooks/install.ts);
 * `packaged`: the hooks are a package of the root's database
 * (backend.hookPackage), and `missing` says why there is none. */
export interface HookInstallFlag {
  readonly flag: string;
  readonly kind: ManagerKind;
  readonly files?: (binary: string) => HookFile[];
  readonly packaged?: { missing: string };
}

export const HOOK_INSTALL_FLAGS: readonly HookInstallFlag[] = [
  { flag: "apt", kind: "dpkg", files: (binary) => hookFilesFor("dpkg", binary, { withApt: true, packages: [] }) },
  { flag: "pacman", kind: "pacman" },
  { flag: "rpm", kind: "rpm", packaged: { missing: "this root has no rpm database" } },
];

/** What `hooks install` writes for each package manager (its help). */
export const HOOK_INSTALL_HELP = `apt (--apt): ${APT_HOOK_PATH} (DPkg::Pre-Install-Pkgs via ${APT_PRE_INSTALL_PATH}, and DPkg::Post-Invoke), and dpkg's own pre-invoke/post-invoke in ${DPKG_HOOK_PATH} (a bare \`dpkg -r\`). pacman: ${PACMAN_HOOK_PATH} (PostTransaction on the providers' packages) and ${PACMAN_PRE_REMOVE_HOOK_PATH} (PreTransaction on removal of a replacement). rpm: the pkgswitch-hooks package (file triggers after every transaction touching /usr/bin or /usr/sbin, dnf or bare rpm) and the script it runs, /usr/lib/pkgswitch/rpm-hook. Without a flag: those of the root's package manager (dpkg: with apt's when the root has /etc/apt).`;
