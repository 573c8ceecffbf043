/** The root's distribution id from os-release (the purl namespace). */
import { readFileSync } from "node:fs";
import { hostPath } from "../config/paths.ts";

/** ID= from the root's /etc/os-release (or /usr/lib/os-release), else `fallback`. */
export function readOsId(root: string, fallback: string): string {
  for (const p of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const m = /^ID=("?)([a-z0-9._-]+)\1$/m.exec(readFileSync(hostPath(root, p), "utf8"));
      if (m) return m[2]!;
    } catch {}
  }
  return fallback;
}
