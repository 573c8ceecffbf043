/** Crash recovery: an operation killed mid-way leaves its journal; the next
 * run finalizes it (as failed, interrupted) before starting its own, and
 * re-signs a checkpoint a crash left one operation behind. */
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import { READ_LIMIT, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { eventLine, sealEvent, type AuditEvent } from "./event.ts";
import { checkpointMismatch, readCheckpointHead, writeArtifacts, type FinalizeInput, type SigningSetup } from "./finalize.ts";
import { CHECKPOINT_FILE, journalOp, LEDGER_FILE } from "./names.ts";
import { readAuditText, readLedger } from "./store.ts";

/** Finish operations a crash left behind (their journals), before a new one
 * starts: the events written so far, plus an `op.end` saying it was
 * interrupted. Caller holds the operation lock. Returns the recovered ids. */
export function recoverInterrupted(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"]): string[] {
  if (!existsSync(dir)) return [];
  const recovered: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const opId = journalOp(name);
    if (opId === null) continue;
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
    writeArtifacts(dir, opId, events.map(eventLine), events[events.length - 1]!.hash, { status: "failed", exitCode: Exit.INTERNAL, signing, merkleRoot }, path, () => {});
    recovered.push(opId);
  }
  catchUpCheckpoint(dir, signing, merkleRoot);
  return recovered;
}

/** A crash between the ledger write and the checkpoint write leaves the
 * checkpoint behind: re-sign it over the whole ledger, if what it signed is
 * still the ledger's prefix. */
function catchUpCheckpoint(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"]): void {
  if (signing.mode !== "key" || !merkleRoot) return;
  const ledgerPath = join(dir, LEDGER_FILE);
  if (!existsSync(ledgerPath)) return;
  const leaves = readAuditText(ledgerPath, READ_LIMIT.ledger).split("\n").filter(Boolean).map((l) => Buffer.from(l));
  const cp = readCheckpointHead(dir);
  const size = cp === null ? 0 : cp === "unparsable" ? -1 : cp.size;
  if (size === leaves.length || checkpointMismatch(dir, leaves, merkleRoot)) return;
  writeFileAtomic(join(dir, CHECKPOINT_FILE), signing.signer.checkpoint(leaves.length, merkleRoot(leaves)));
}


