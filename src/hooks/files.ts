/** The package-manager hook files pkgswitch installs (pure: content only).
 * Each hook runs `pkgswitch relink --hook`, which never fails the package
 * manager's transaction: it records and prints errors and exits 0. */

export const MARKER = "pkgswitch package-switch hook";

/** apt: a config snippet and the small sh wrapper apt feeds the package
 * list to. The wrapper is the hook's first word, so the protocol-version
 * option applies to it alone, and it exits 0 (draining stdin) when the
 * binary is absent: a hook never fails the transaction. */
export const APT_HOOK_PATH = "/etc/apt/apt.conf.d/80pkgswitch";
export const APT_PRE_INSTALL_PATH = "/usr/lib/pkgswitch/apt-pre-install";

export function aptHook(binary: string): string {
  return `// ${MARKER} (written by \`pkgswitch hooks install --apt\`; remove with \`pkgswitch hooks remove\`).
// Before dpkg runs: restore the originals of a provider whose replacement
// package apt is about to remove (dpkg itself needs rm, cp, … while it works).
DPkg::Pre-Install-Pkgs { "${APT_PRE_INSTALL_PATH}"; };
DPkg::Tools::Options::${APT_PRE_INSTALL_PATH}::Version "2";
// After every dpkg run: re-apply switches an upgrade overwrote, refresh
// backups of upgraded originals, restore the originals of a removed provider.
// Never fails the apt transaction.
DPkg::Post-Invoke { "if [ -x ${binary} ]; then ${binary} relink --hook || true; fi"; };
`;
}

export function aptPreInstallScript(binary: string): string {
  return `#!/bin/sh
# ${MARKER} (written by \`pkgswitch hooks install --apt\`).
# apt writes its package list (protocol version 2) to stdin.
if [ -x ${binary} ]; then
  ${binary} relink --hook --apt-pre-install || true
else
  while read -r _; do :; done
fi
exit 0
`;
}

/** pacman: a PostTransaction hook on the packages providers involve. */
export const PACMAN_HOOK_PATH = "/etc/pacman.d/hooks/90-pkgswitch.hook";
export function pacmanHook(binary: string, packages: string[]): string {
  const targets = [...new Set(packages)].sort().map((p) => `Target = ${p}`).join("\n");
  return `# ${MARKER} (written by \`pkgswitch hooks install --pacman\`; remove with \`pkgswitch hooks remove\`).
[Trigger]
Operation = Install
Operation = Upgrade
Operation = Remove
Type = Package
${targets}

[Action]
Description = Re-applying pkgswitch command switches...
When = PostTransaction
Exec = ${binary} relink --hook
`;
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
