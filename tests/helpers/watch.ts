/** Start the lstat watcher (watcher.ts) in its own process over `targets`
 * of `root`; the returned function stops it and reports what it saw. */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT } from "./paths.ts";

export async function startWatcher(root: string, targets: string[]): Promise<() => Promise<{ rounds: number; checks: number; missing: string[] }>> {
  const dir = join(root, "tmp");
  const tf = join(dir, "watch-targets");
  const stop = join(dir, "watch-stop");
  const res = join(dir, "watch-result");
  writeFileSync(tf, targets.join("\n"));
  rmSync(stop, { force: true });
  const p = Bun.spawn([process.execPath, join(PROJECT, "tests/helpers/watcher.ts"), root, tf, stop, res]);
  while (!existsSync(res + ".ready")) await Bun.sleep(10);
  return async () => {
    writeFileSync(stop, "");
    await p.exited;
    const out = JSON.parse(readFileSync(res, "utf8")) as { rounds: number; checks: number; missing: string[] };
    rmSync(res + ".ready", { force: true });
    return out;
  };
}
