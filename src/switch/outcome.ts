/** How a provider's last operation ended, from its audit record: status and
 * relink must tell an enable that *failed* with its rollback incomplete
 * (exit 50: the next step is disable) from one that was *interrupted*
 * (killed: the next step is to run it again). Both leave the provider
 * "pending" in state.json. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../errors.ts";

/** The exit code recorded by the operation's `op.end`, or null when the
 * record is missing, unfinished (a journal) or unreadable. Reads only the
 * file's tail: op.end is its last line. */
export function recordedExit(auditDir: string, opId: string): number | null {
  let fd: number;
  try {
    fd = openSync(join(auditDir, `audit-${opId}.jsonl`), "r");
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.min(size, 16384);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const last = buf.toString("utf8").trimEnd().split("\n").pop() ?? "";
    const end = JSON.parse(last) as { event?: string; exit_code?: number; interrupted?: boolean };
    if (end.event !== "op.end" || end.interrupted) return null;
    return typeof end.exit_code === "number" ? end.exit_code : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** A "pending" provider whose enable ended in exit 50 (not a crash). */
export function rollbackIncomplete(auditDir: string, opId: string): boolean {
  return recordedExit(auditDir, opId) === Exit.ROLLBACK_INCOMPLETE;
}
