/** state.json's paths are checked (src/switch/state.ts untrustedPath) by
 * slicing and a regular expression; this holds them to the definitions in
 * posix.normalize/join/dirname terms on generated paths: a target path is
 * clean (absolute, normal, no trailing slash, no `..`, no NUL), its backup
 * is exactly posix.join("backups", path), its diverted name lies beside the
 * path or the database path. */
import { expect, test } from "bun:test";
import { posix } from "node:path";
import { untrustedPath, type State } from "../../src/switch/state.ts";

const clean = (p: unknown) => typeof p === "string" && p.startsWith("/") && p.length > 1 && !p.includes("\0") && posix.normalize(p) === p && !p.endsWith("/") && !p.split("/").includes("..");

/** Which field the definitions refuse first, or null. */
function expected(t: { path: string; backup: string; db_path?: string | null; diverted_to?: string | null }): string | null {
  if (!clean(t.path)) return "path";
  if (t.backup !== posix.join("backups", t.path)) return "backup";
  if (t.db_path !== undefined && t.db_path !== null && !clean(t.db_path)) return "db_path";
  if (t.diverted_to === undefined || t.diverted_to === null) return null;
  const dirs = [posix.dirname(t.path), ...(t.db_path ? [posix.dirname(t.db_path)] : [])];
  return clean(t.diverted_to) && dirs.includes(posix.dirname(t.diverted_to)) ? null : "diverted_to";
}

test("untrustedPath refuses exactly what the posix definitions refuse, naming the field", () => {
  const paths = ["/usr/bin/ls", "/bin/ls", "/usr/bin/ls.distrib", "/bin/ls.distrib", "/ls", "/", "", "usr/bin/ls", "/usr//bin/ls", "/usr/bin/ls/", "/usr/./bin/ls", "/usr/../bin/ls", "/usr/bin/..", "/usr/bin/.", "/usr/bin/l\0s", "/usr/bin/...", "/.x", "//ls"];
  let refused = 0;
  let accepted = 0;
  for (const path of paths) {
    for (const db of [undefined, null, "/bin/ls", "/bin/../ls", "/bin//ls"]) {
      for (const div of [undefined, null, "/usr/bin/ls.distrib", "/bin/ls.distrib", "/etc/ls.distrib", "/usr/bin/x/../ls.distrib", "/ls.distrib", "/usr/bin/ls.distrib/"]) {
        for (const backup of [`backups${path}`, posix.join("backups", path), "backups/usr/bin/ls"]) {
          const t = { applet: "ls", path, link_target: "/usr/lib/cargo/bin/coreutils/ls", backup, db_path: db, diverted_to: div, original: {} };
          const s = { v: 1, providers: { coreutils: { targets: [t] } } } as unknown as State;
          const want = expected(t);
          const got = untrustedPath(s);
          expect(`${JSON.stringify(t)}: ${got === null ? null : got.match(/^providers\.coreutils\.targets\[0\]\.(\w+)/)?.[1]}`).toBe(`${JSON.stringify(t)}: ${want}`);
          if (want === null) accepted++;
          else refused++;
        }
      }
    }
  }
  expect(accepted).toBeGreaterThan(50);
  expect(refused).toBeGreaterThan(500);
});
