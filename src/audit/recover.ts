/** Crash recovery: an operation killed mid-way leaves its journal; the next
 * run finalizes it (as failed, interrupted) before starting its own, and
 * re-signs a checkpoint a crash left one operation behind. */
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { READ_LIMIT, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { eventLine, sealEvent, type AuditEvent } from "./event.ts";
import { checkpointBehind, readCheckpointHead, writeArtifacts, type FinalizeInput, type SigningSetup } from "./finalize.ts";
import { loadTip, tipRoot, writeTip, type LedgerTip } from "./tip.ts";
import { CHECKPOINT_FILE, journalName, journalOp, LEDGER_FILE } from "./names.ts";
import { readAuditText, readLedger } from "./store.ts";

/** Finish operations a crash left behind (their journals), before a new one
 * starts: the events written so far, plus an `op.end` saying it was
 * interrupted. Caller holds the operation lock. Returns the recovered ids. */
export function recoverInterrupted(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"], tipFile: string | null = null): string[] {
  if (!existsSync(dir)) return [];
  const recovered: string[] = [];
  // A recorded tip lists the operations that were open; only without one is
  // the audit dir listed (a dir of 100,000 operations takes seconds to sort).
  const loaded = tipFile ? loadTip(dir, tipFile) : null;
  const names = loaded?.known ? loaded.tip.open.map(journalName) : readdirSync(dir).sort();
  let ledgerTip: { tip: LedgerTip; file: string | null } | null = loaded ? { tip: loaded.tip, file: tipFile } : null;
  for (const name of names) {
    const opId = journalOp(name);
    if (opId === null) continue;
    if (!existsSync(join(dir, name))) continue;
    const path = join(dir, name);
    const text = readAuditText(path, READ_LIMIT.record);
    const events: AuditEvent[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      if (tooDeep(line)) break; // not a line we wrote: the journal ends here
      try {
        events.push(JSON.parse(line));
      } catch {
        break; // torn final line from the crash
      }
    }
    if (events.length === 0 || readLedger(dir).some((e) => e.op === opId)) {
      unlinkSync(path);
      continue;
    }
    const last = events[events.length - 1]!;
    if (last.event !== "op.end") {
      const started = Date.parse(events[0]!.ts);
      events.push(sealEvent(opId, events.length, new Date().toISOString(), "op.end", {
        status: "failed",
        exit_code: Exit.INTERNAL,
        duration_ms: Math.max(0, Date.now() - started),
        counts: {},
        interrupted: true,
        note: "operation was interrupted (process killed); finalized by the next pkgswitch run",
      }, last.hash));
    }
    ledgerTip ??= { tip: loadTip(dir, tipFile).tip, file: tipFile };
    writeArtifacts(dir, opId, events.map(eventLine), events[events.length - 1]!.hash, { status: "failed", exitCode: Exit.INTERNAL, signing, merkleRoot }, path, () => {}, ledgerTip);
    recovered.push(opId);
  }
  // Operations listed as open whose journals are gone (finished, or never
  // opened) are open no more.
  if (loaded?.known && ledgerTip && ledgerTip.tip.open.length > 0 && tipFile) {
    ledgerTip.tip = { ...ledgerTip.tip, open: [] };
    writeTip(tipFile, ledgerTip.tip);
  }
  catchUpCheckpoint(dir, signing, merkleRoot, tipFile, ledgerTip?.tip ?? null);
  return recovered;
}

/** A crash between the ledger write and the checkpoint write leaves the
 * checkpoint behind: re-sign it over the whole ledger, if what it signed is
 * still the ledger's prefix. */
function catchUpCheckpoint(dir: string, signing: SigningSetup, merkleRoot: FinalizeInput["merkleRoot"] | undefined, tipFile: string | null, known: LedgerTip | null): void {
  if (signing.mode !== "key") return;
  if (!existsSync(join(dir, LEDGER_FILE))) return;
  const tip = known ?? loadTip(dir, tipFile).tip;
  const cp = readCheckpointHead(dir);
  const size = cp === null ? 0 : cp === "unparsable" ? -1 : cp.size;
  if (size === tip.size || checkpointBehind(dir, tip, merkleRoot)) return;
  const root = tipRoot(tip);
  writeFileAtomic(join(dir, CHECKPOINT_FILE), signing.signer.checkpoint(tip.size, root));
  if (tipFile) writeTip(tipFile, { ...tip, checkpoint: { size: tip.size, root: Buffer.from(root).toString("hex") } });
}
