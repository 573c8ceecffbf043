/** Root-aware paths. Every path pkgswitch touches is an absolute path *inside*
 * the managed root, mapped to the host with `hostPath`; nothing may reach the
 * host's own `/` when a root is given. */
import { join, posix, resolve } from "node:path";

export interface Layout {
  /** Managed root on the host ("/" in production). */
  root: string;
  /** Host path of the audit directory. */
  auditDir: string;
  /** Host path of the state directory (state.json, hash cache, backups). */
  stateDir: string;
  /** Host path of the config file. */
  configFile: string;
  /** Host path of the pkgswitch operation lock. */
  lockFile: string;
  /** Host path of the drop-in provider catalog directory. */
  providersDir: string;
  /** Host path of the default key directory. */
  keyDir: string;
}

/** Host path of an absolute path inside `root`. */
export function hostPath(root: string, inRoot: string): string {
  if (!inRoot.startsWith("/")) throw new Error(`not an absolute path inside the root: ${inRoot}`);
  return root === "/" ? posix.normalize(inRoot) : join(root, posix.normalize(inRoot));
}

/** Default layout for a root; `overrides` are host paths from flags/config. */
export function layoutFor(root: string, overrides: Partial<Layout> = {}): Layout {
  const r = resolve(root);
  const at = (p: string) => hostPath(r, p);
  return {
    root: r,
    auditDir: overrides.auditDir ? resolve(overrides.auditDir) : at("/var/lib/pkgswitch/audit"),
    stateDir: overrides.stateDir ? resolve(overrides.stateDir) : at("/var/lib/pkgswitch"),
    configFile: overrides.configFile ? resolve(overrides.configFile) : at("/etc/pkgswitch/config.jsonc"),
    lockFile: at("/run/lock/pkgswitch.lock"),
    providersDir: at("/etc/pkgswitch/providers.d"),
    keyDir: at("/etc/pkgswitch/keys"),
  };
}

/** Directories whose commands providers may take over, and the canonical
 * (usrmerge) form of each: on Debian 12 `/bin` is a link to `usr/bin`. */
export const BIN_DIRS = ["/bin", "/sbin", "/usr/bin", "/usr/sbin"] as const;

/** `/bin/ls` → `/usr/bin/ls` when the root is usrmerged (its /bin is a link). */
export function canonicalBinPath(path: string, usrMerged: boolean): string {
  if (!usrMerged) return path;
  if (path.startsWith("/bin/")) return "/usr" + path;
  if (path.startsWith("/sbin/")) return "/usr" + path;
  return path;
}
