/** The root's distribution id from os-release (the purl namespace). */
import { resolveInRoot } from "../config/paths.ts";
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";

/** ID= from the root's /etc/os-release (or /usr/lib/os-release), else `fallback`. */
// os-release is often a link (to ../usr/lib/os-release): followed inside the root.
export function readOsId(root: string, fallback: string): string {
  for (const p of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const m = /^ID=("?)([a-z0-9._-]+)\1$/m.exec(readBoundedText(resolveInRoot(root, p), { max: READ_LIMIT.small }));
      if (m) return m[2]!;
    } catch {}
  }
  return fallback;
}
