/** How a provider's last operation ended, from its audit record: status and
 * relink must tell an enable that *failed* with its rollback incomplete
 * (exit 50: the next step is disable) from one that was *interrupted*
 * (killed: the next step is to run it again). Both leave the provider
 * "pending" in state.json. */
import { closeSync, fstatSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { Exit } from "../errors.ts";
import { present } from "../config/access.ts";
import { openRegular } from "../config/bounded.ts";
import { journalName, journalOp, jsonlName } from "../audit/names.ts";

/** The exit code recorded by the operation's `op.end`, or null when the
 * record is missing, unfinished (a journal) or unreadable — also when it
 * is a link (never followed out of the root) or not a regular file (a FIFO
 * would hang `status`). Reads only the file's tail: op.end is its last line. */
export function recordedExit(auditDir: string, opId: string): number | null {
  let fd: number;
  try {
    fd = openRegular(join(auditDir, jsonlName(opId)));
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

/** Operations that started and have not ended: their journals. A killed
 * pkgswitch leaves one (and maybe its package manager still running); the next
 * operation finalizes it. Status shows them so "no provider is enabled"
 * is never the whole story while an enable is half done. */
export function unfinishedOps(auditDir: string): Array<{ op: string; command: string }> {
  if (!present(auditDir)) return [];
  const out: Array<{ op: string; command: string }> = [];
  for (const name of readdirSync(auditDir).sort()) {
    const op = journalOp(name);
    if (!op) continue;
    let command = "?";
    try {
      // A link or a FIFO in its place is listed with command "?": never
      // followed out of the root, never waited on.
      const fd = openRegular(join(auditDir, journalName(op)));
      try {
        const buf = Buffer.alloc(16384);
        const n = readSync(fd, buf, 0, buf.length, 0);
        const first = JSON.parse(buf.subarray(0, n).toString("utf8").split("\n")[0]!) as { command?: string };
        command = String(first.command ?? "?");
      } finally {
        closeSync(fd);
      }
    } catch {}
    out.push({ op, command });
  }
  return out;
}
