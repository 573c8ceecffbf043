/** Applet discovery: what the replacement package really installed,
 * intersected with what the replaced packages own in the command dirs. Pure. */
import { posix } from "node:path";
import { BIN_DIRS, canonicalBinPath } from "../config/paths.ts";
import type { ManagerRecipe } from "./catalog.ts";

export interface Applet {
  /** Command name (ls, sudo, …). */
  applet: string;
  /** Canonical target path inside the root (/usr/bin/ls). */
  target: string;
  /** What the target will point to (inside the root). */
  linkTarget: string;
  /** The replaced package that owns the target. */
  replacedPackage: string;
  /** The path as the package database records it (/bin/ls on Debian 12). */
  dbPath: string;
}

/** Applet name → path of the replacement command, from the package's files. */
export function replacementCommands(recipe: ManagerRecipe, packageFiles: string[], listed: string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const src = recipe.applets;
  if ("list" in src) {
    for (const name of listed) if (isCommandName(name)) out.set(name, src.list);
    return out;
  }
  const dir = src.dir.replace(/\/$/, "");
  for (const f of packageFiles) {
    if (posix.dirname(f) !== dir) continue;
    let name = posix.basename(f);
    if (src.prefix) {
      if (!name.startsWith(src.prefix)) continue;
      name = name.slice(src.prefix.length);
    }
    if (src.suffix) {
      if (!name.endsWith(src.suffix)) continue;
      name = name.slice(0, -src.suffix.length);
    }
    if (src.names && !src.names.includes(name) && !src.names.includes(posix.basename(f))) continue;
    if (isCommandName(name)) out.set(name, f);
  }
  return out;
}

/** Parse `busybox --list` output (one applet a line). */
export function parseAppletList(out: string): string[] {
  return out.split("\n").map((l) => l.trim()).filter(isCommandName);
}

function isCommandName(n: string): boolean {
  return n.length > 0 && n !== "." && n !== ".." && !n.includes("/") && !n.includes("\0");
}

/** Intersect the replacement's commands with the replaced packages' files in
 * BIN_DIRS; `exclude` applets are dropped. Sorted by target path. */
export function discoverApplets(
  replacement: Map<string, string>,
  replacedFiles: Map<string, string[]>,
  usrMerged: boolean,
  exclude: Set<string>,
): Applet[] {
  const byTarget = new Map<string, Applet>();
  const bin = new Set<string>(BIN_DIRS);
  for (const [pkg, files] of replacedFiles) {
    for (const f of files) {
      if (!bin.has(posix.dirname(f))) continue;
      const applet = posix.basename(f);
      const linkTarget = replacement.get(applet);
      if (!linkTarget || exclude.has(applet)) continue;
      const target = canonicalBinPath(f, usrMerged);
      if (target === linkTarget || byTarget.has(target)) continue;
      byTarget.set(target, { applet, target, linkTarget, replacedPackage: pkg, dbPath: f });
    }
  }
  return [...byTarget.values()].sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}
