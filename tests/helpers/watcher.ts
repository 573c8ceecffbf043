/** A separate process that lstat-s every target in a tight loop until told
 * to stop, and reports how often one was missing. Usage:
 *   bun watcher.ts ROOT TARGETS_FILE STOP_FILE RESULT_FILE */
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [root, targetsFile, stopFile, resultFile] = process.argv.slice(2) as [string, string, string, string];
const targets = readFileSync(targetsFile, "utf8").split("\n").filter(Boolean).map((t) => join(root, t));
let rounds = 0;
let checks = 0;
const missing = new Set<string>();
writeFileSync(resultFile + ".ready", "");
while (!existsSync(stopFile)) {
  for (const t of targets) {
    checks++;
    if (!lstatSync(t, { throwIfNoEntry: false })) missing.add(t);
  }
  rounds++;
}
writeFileSync(resultFile, JSON.stringify({ rounds, checks, missing: [...missing] }));
