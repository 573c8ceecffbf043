/** The host id that names this machine in events and checkpoints: the
 * root's /etc/machine-id, else a random id kept in the state dir. */
import { randomBytes } from "../sys/index.ts";
import { join } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { READ_LIMIT, readBoundedText, readProblem } from "./bounded.ts";
import { resolveInRoot, type Layout } from "./paths.ts";

const ID = /^[0-9a-f]{32}$/;

export function hostId(layout: Layout, persist: boolean): string {
  try {
    // machine-id may legitimately be a link (to /run/machine-id): followed inside the root.
    const id = readBoundedText(resolveInRoot(layout.root, "/etc/machine-id"), { max: READ_LIMIT.small }).trim();
    if (ID.test(id)) return id;
  } catch {}
  // Ours: never through a link (its text would become the checkpoint origin).
  const file = join(layout.stateDir, "host-id");
  let text: string | null = null;
  try {
    text = readBoundedText(file, { max: READ_LIMIT.small, noFollow: true }).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new PkgswitchError(Exit.PERMISSION, `host id ${file} ${readProblem(e)}; move it aside (nothing was changed)`);
  }
  if (text !== null) {
    if (!ID.test(text)) throw new PkgswitchError(Exit.PERMISSION, `host id ${file} is not 32 hex digits; move it aside (nothing was changed)`);
    return text;
  }
  const id = randomBytes(16).toString("hex");
  if (persist) writeFileAtomic(file, id + "\n", 0o644);
  return id;
}
