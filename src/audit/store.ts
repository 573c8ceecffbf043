/** The audit directory on disk: made usable before an operation changes
 * anything, and its ledger read strictly. */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";
import { present } from "../config/access.ts";
import { parseLedger, type LedgerEntry } from "./ledger.ts";
import { LEDGER_FILE } from "./names.ts";

export function auditIoError(dir: string, e: unknown): PkgswitchError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return new PkgswitchError(Exit.PERMISSION, `audit directory ${dir} is not writable (${code || (e as Error).message}); nothing was changed`);
}

/** Create the audit dir (0700) and prove it is writable before any change. */
export function prepareAuditDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    const fd = openSync(probe, "w", 0o600);
    closeSync(fd);
    unlinkSync(probe);
  } catch (e) {
    throw auditIoError(dir, e);
  }
}

/** Read and strictly parse the ledger (empty when absent). */
export function readLedger(dir: string): LedgerEntry[] {
  const path = join(dir, LEDGER_FILE);
  if (!present(path)) return [];
  try {
    return parseLedger(readFileSync(path, "utf8"));
  } catch (e) {
    throw new PkgswitchError(Exit.INTERNAL, `ledger ${path} is corrupt (${(e as Error).message}); run \`pkgswitch audit verify --all\``);
  }
}
