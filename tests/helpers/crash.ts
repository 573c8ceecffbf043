/** SIGKILL a running `enable`/`disable` at given moments and check what it
 * leaves: after each kill every target must be original or switched
 * (`consistent` asserts that and counts), re-running the same command must
 * finish the job, and the opposite command puts the root back for the next
 * kill. Shared by the Debian, Arch and Fedora e2e suites. */
import { expect } from "bun:test";
import { lstatSync } from "node:fs";
import { pkgswitch } from "./cli.ts";
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
