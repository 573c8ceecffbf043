/** The host id that names this machine in events and checkpoints: the
 * root's /etc/machine-id, else a random id kept in the state dir. */
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "../sys/index.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { hostPath, type Layout } from "./paths.ts";

export function hostId(layout: Layout, persist: boolean): string {
  try {
    const id = readFileSync(hostPath(layout.root, "/etc/machine-id"), "utf8").trim();
    if (/^[0-9a-f]{32}$/.test(id)) return id;
  } catch {}
  const file = join(layout.stateDir, "host-id");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const id = randomBytes(16).toString("hex");
  if (persist) writeFileAtomic(file, id + "\n", 0o644);
  return id;
}
