/** Leftovers of a killed run: temp names beside targets and backups. */
import { readdirSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostPath } from "../config/paths.ts";
import { backupHostPath } from "../fsops/backup.ts";

/** Where a target's backup lives: the state dir mirrors the root's tree. */
export function backupRel(target: string): string {
  return join("backups", target);
}

/** Remove temp files a killed run left beside targets and backups (ours
 * only: `.NAME.pkgswitch-{link,tmp,…}-XXXXXXXX`). `dirs` are host paths. */
export function sweepTempFiles(dirs: Iterable<string>): number {
  let n = 0;
  for (const d of dirs) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith(".") && /\.pkgswitch-(link|restore|tmp|bak)-[0-9a-f]{8}$/.test(name)) {
        unlinkSync(join(d, name));
        n++;
      }
    }
  }
  return n;
}

/** The host directories of targets and of their backups. */
export function workDirs(root: string, stateDir: string, targets: Iterable<string>): Set<string> {
  const dirs = new Set<string>();
  for (const t of targets) {
    dirs.add(hostPath(root, dirname(t)));
    dirs.add(dirname(backupHostPath(stateDir, backupRel(t))));
  }
  return dirs;
}
