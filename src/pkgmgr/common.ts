/** Small helpers every backend shares. */
import { readFileSync } from "node:fs";
import { hostPath } from "../config/paths.ts";

/** The last line of a command's output: what a one-line error message quotes. */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}

/** The root's os-release ID (the purl namespace: debian, arch, fedora), or
 * `fallback` when the root has none. */
export function readOsId(root: string, fallback: string): string {
  for (const p of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const m = /^ID=("?)([a-z0-9._-]+)\1$/m.exec(readFileSync(hostPath(root, p), "utf8"));
      if (m) return m[2]!;
    } catch {}
  }
  return fallback;
}
