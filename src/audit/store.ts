/** The audit directory on disk: made usable before an operation changes
 * anything, and its ledger read strictly. */
import { closeSync, lstatSync, mkdirSync, openSync, unlinkSync } from "node:fs";
import { READ_LIMIT, readBoundedText, readProblem } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";
import { present } from "../config/access.ts";
import { LedgerParseError, parseLedger, type LedgerEntry } from "./ledger.ts";
import { CHECKPOINT_FILE, LEDGER_FILE } from "./names.ts";

export function auditIoError(dir: string, e: unknown): PkgswitchError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return new PkgswitchError(Exit.PERMISSION, `audit directory ${dir} is not writable (${code || (e as Error).message}); nothing was changed`);
}

/** Create the audit dir (0700) and prove it is writable before any change. */
export function prepareAuditDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    try {
      unlinkSync(probe); // a leftover, or a link planted there: never opened
    } catch {}
    const fd = openSync(probe, "wx", 0o600);
    closeSync(fd);
    unlinkSync(probe);
  } catch (e) {
    throw auditIoError(dir, e);
  }
  // The files finalize reads back must be ours, so that it cannot stop
  // after the system was changed (a FIFO, a device, a link, a directory).
  for (const name of [LEDGER_FILE, CHECKPOINT_FILE]) {
    const path = join(dir, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    const problem = !st ? null : !st.isFile() ? "is not a regular file" : st.size > READ_LIMIT.ledger ? `is larger than ${READ_LIMIT.ledger} bytes` : null;
    if (problem) throw new PkgswitchError(Exit.PERMISSION, `audit file ${path} ${problem}; move it aside and run \`pkgswitch audit verify --all\` (nothing was changed)`);
  }
}

/** Read one of the audit directory's files: a regular file of ours (not
 * through a link), bounded; anything else stops the command before it
 * changes anything (exit 70, like an audit directory that cannot be written). */
export function readAuditText(path: string, max: number): string {
  try {
    return readBoundedText(path, { max, noFollow: true });
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `audit file ${path} ${readProblem(e)}; move it aside and run \`pkgswitch audit verify --all\` (nothing was changed)`);
  }
}

/** A ledger line that does not parse (LedgerParseError; its line number
 * counted from `firstLine`, when the text parsed began there): the record
 * is damaged or was edited, which is not a bug (1) but a file of ours that
 * is not what it should be — 70, as a ledger that is not a regular file,
 * before anything changes. Appending to it would bury the damage under new
 * operations; `audit verify --all` names every bad line. Commands that
 * exit with `audit verify`'s codes say 1 (invalid) instead. */
export class LedgerCorrupt extends PkgswitchError {}

export function ledgerCorrupt(path: string, e: unknown, firstLine = 1): LedgerCorrupt {
  const at = e instanceof LedgerParseError ? ` line ${firstLine - 1 + e.line}` : "";
  return new LedgerCorrupt(Exit.PERMISSION, `ledger ${path}${at} is corrupt (${(e as Error).message}); nothing was changed — run \`pkgswitch audit verify --all\` and see docs/recovery.md#a-corrupt-ledgerjsonl`);
}

/** Read and strictly parse the ledger (empty when absent). */
export function readLedger(dir: string): LedgerEntry[] {
  const path = join(dir, LEDGER_FILE);
  if (!present(path)) return [];
  const text = readAuditText(path, READ_LIMIT.ledger);
  try {
    return parseLedger(text);
  } catch (e) {
    throw ledgerCorrupt(path, e);
  }
}
