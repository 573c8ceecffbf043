/** SIGKILL a running `enable`/`disable` at given moments and check what it
 * leaves: after each kill every target must be original or switched
 * (`consistent` asserts that and counts), re-running the same command must
 * finish the job, and the opposite command puts the root back for the next
 * kill. Shared by the Debian, Arch and Fedora e2e suites. */
import { expect } from "bun:test";
import { lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { pkgswitch, sha256File } from "./cli.ts";
import { BINARY } from "./paths.ts";

export type KillPoint = number | "first-swap";

export async function killDuring(opts: {
  root: string;
  command: "enable" | "disable";
  provider: string;
  /** ms after spawning, or the instant the first target changes. */
  points: KillPoint[];
  /** Host path of a target that the command changes. */
  first: string;
  total: number;
  consistent: () => { switched: number; original: number };
}): Promise<{ seen: Set<string>; interrupted: number }> {
  const { root, command, provider } = opts;
  const undo = command === "enable" ? "disable" : "enable";
  const seen = new Set<string>();
  let interrupted = 0;
  for (const point of opts.points) {
    const p = Bun.spawn([BINARY, "--root", root, command, provider, "--yes"], { stdout: "ignore", stderr: "ignore" });
    if (point === "first-swap") {
      const deadline = Date.now() + 20_000;
      const wantLink = command === "enable";
      while (Date.now() < deadline && lstatSync(opts.first).isSymbolicLink() !== wantLink) {}
    } else await Bun.sleep(point);
    p.kill("SIGKILL");
    await p.exited;
    const c = opts.consistent();
    seen.add(c.switched === 0 ? "none" : c.original === 0 ? "all" : "partial");
    const again = pkgswitch(["--root", root, command, provider, "--yes"]);
    expect(again.code).toBe(0);
    if (again.stderr.includes("which was interrupted")) interrupted++;
    const after = opts.consistent();
    expect(command === "enable" ? after.switched : after.original).toBe(opts.total);
    expect(pkgswitch(["--root", root, undo, provider, "--yes"]).code).toBe(0);
  }
  return { seen, interrupted };
}

/** What a switch and its undo must keep of a file in `root`: its kind,
 * SHA-256, mode and owner (and mtime with `mtime`). */
export function fileIdentity(root: string, p: string, opts: { mtime?: boolean } = {}) {
  const st = lstatSync(join(root, p));
  const id: { kind: string; sha: string | null; mode: number; uid: number; gid: number; mtimeMs?: number } = { kind: st.isSymbolicLink() ? "symlink" : "file", sha: st.isFile() ? sha256File(join(root, p)) : null, mode: st.mode, uid: st.uid, gid: st.gid };
  if (opts.mtime) id.mtimeMs = st.mtimeMs;
  return id;
}

/** killDuring's `consistent` for one provider: every target is either
 * switched (a link to `linkFor(target)`) or original (its identity as in
 * `originals`, taken by `identity`). */
export function originalOrSwitched<I>(root: string, targets: readonly string[], originals: ReadonlyMap<string, I>, linkFor: (target: string) => string, identity: (p: string) => I): () => { switched: number; original: number } {
  return () => {
    let switched = 0;
    let original = 0;
    for (const t of targets) {
      if (lstatSync(join(root, t)).isSymbolicLink()) {
        expect(readlinkSync(join(root, t))).toBe(linkFor(t));
        switched++;
      } else {
        expect(identity(t)).toEqual(originals.get(t)!);
        original++;
      }
    }
    return { switched, original };
  };
}
