/** Crash recovery: an operation killed mid-way leaves its journal; the next
 * run finalizes it (as failed, interrupted) before starting its own, and
 * re-signs a checkpoint a crash left one operation behind. With a signing
 * key only what the journal's MAC authenticates is finalized
 * (./journal-mac.ts): a journal planted by someone who can write the audit
 * dir but not read the key is set aside and reported, never signed. */
import { existsSync, lstatSync, readdirSync, renameSync, unlinkSync } from "node:fs";
import { READ_LIMIT, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { writeStderr } from "../sys/stdio.ts";
import { chainHash, eventLine, GENESIS, sealEvent, type AuditEvent } from "./event.ts";
import { checkpointBehind, readCheckpointHead, writeArtifacts, type FinalizeInput, type SigningSetup } from "./finalize.ts";
import { macMatches, parseMacLine } from "./journal-mac.ts";
import type { LedgerEntry } from "./ledger.ts";
import { OP_ID_RE } from "./opid.ts";
import { loadTip, tipRoot, writeTip, type LedgerTip } from "./tip.ts";
import { CHECKPOINT_FILE, journalMacName, journalName, journalOp, LEDGER_FILE, rejectedJournalName, rejectedMacName } from "./names.ts";
import { readAuditText, readLedger } from "./store.ts";

const INTERRUPTED_NOTE = "operation was interrupted (process killed); finalized by the next pkgswitch run";
/** How far ahead of this host's clock a journal's start may be (a clock
 * stepped back by NTP) and still be one this host wrote. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Finish operations a crash left behind (their journals), before a new one
 * starts: the events written so far, plus an `op.end` saying it was
 * interrupted. Caller holds the operation lock. Returns the recovered ids;
 * a journal refused is said on stderr (`warn`). */
export function recoverInterrupted(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"], tipFile: string | null = null, warn: (line: string) => void = (s) => writeStderr(`warning: ${s}\n`)): string[] {
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
    const macPath = join(dir, journalMacName(opId));
    const text = readAuditText(path, READ_LIMIT.record);
    const ledger = readLedger(dir);
    let events = signing.mode === "key" ? strictEvents(text, opId) : lenientEvents(text);
    // Nothing to finalize: finished already, or killed before its first
    // event was whole (under a key, a whole line that is not an event of
    // this op is refused below, not quietly removed).
    const whole = signing.mode === "key" && text.includes("\n");
    if ((events.length === 0 && !whole) || ledger.some((e) => e.op === opId)) {
      if (planted(macPath)) unlinkSync(macPath);
      unlinkSync(path);
      continue;
    }
    let note = INTERRUPTED_NOTE;
    if (signing.mode === "key") {
      const auth = authenticate(dir, opId, events, signing.signer.journalKey, ledger);
      if (typeof auth === "string") {
        renameSync(path, join(dir, rejectedJournalName(opId)));
        if (planted(macPath)) renameSync(macPath, join(dir, rejectedMacName(opId)));
        warn(`journal ${name} was not finalized or signed: ${auth}, so this host may not have written it; moved to ${rejectedJournalName(opId)} — inspect it, then delete it (docs/formats.md "Journals")`);
        continue;
      }
      const dropped = text.split("\n").filter(Boolean).length - (auth + 1);
      events = events.slice(0, auth + 1);
      if (dropped > 0) note += `; ${dropped} journal line(s) after the last authenticated event were dropped`;
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
        note,
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

/** The events of an unsigned journal, as far as its lines parse (a torn or
 * garbled line ends it): what recovery always did. */
function lenientEvents(text: string): AuditEvent[] {
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
  return events;
}

/** The events of a journal read strictly: each line a whole, canonical,
 * sealed event of `opId`, seq contiguous from 0, the hash chain intact;
 * the journal ends at the first line that is not. */
function strictEvents(text: string, opId: string): AuditEvent[] {
  const events: AuditEvent[] = [];
  const lines = text.split("\n");
  lines.pop(); // after the last "\n": empty, or a line the crash tore
  for (const line of lines) {
    if (tooDeep(line)) break;
    let e: AuditEvent;
    try {
      e = JSON.parse(line);
    } catch {
      break;
    }
    if (e === null || typeof e !== "object" || Array.isArray(e)) break;
    const { hash, ...body } = e;
    const prev = events.length === 0 ? e.prev : events[events.length - 1]!.hash;
    if (e.v !== 1 || e.op !== opId || e.seq !== events.length || typeof e.ts !== "string" || typeof e.event !== "string" || e.prev !== prev) break;
    if (typeof hash !== "string" || hash !== chainHash(body) || eventLine(e) !== line + "\n") break;
    events.push(e);
  }
  return events;
}

/** The last seq of `events` the journal's MAC authenticates, or why the
 * journal is not one this host wrote (then nothing of it is finalized). */
function authenticate(dir: string, opId: string, events: AuditEvent[], key: Uint8Array | undefined, ledger: LedgerEntry[]): number | string {
  if (!key) return "the signing key cannot authenticate journals";
  if (!OP_ID_RE.test(opId)) return "its name is not an operation id";
  const first = events[0];
  if (!first || first.event !== "op.start") return "its first line is not a sealed op.start of this operation";
  const head = ledger.at(-1)?.head ?? GENESIS;
  if (first.prev !== head) return "its op.start does not chain onto the ledger's head";
  const idTime = Date.parse(opId.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z-.*$/, "$1-$2-$3T$4:$5:$6Z"));
  const started = Date.parse(first.ts);
  if (!(started >= idTime)) return "its op.start is dated before its operation id";
  if (started > Date.now() + CLOCK_SKEW_MS) return "its op.start is dated in the future";
  const lastTs = ledger.length > 0 ? Date.parse(ledger[ledger.length - 1]!.ts) : NaN;
  if (lastTs - (lastTs % 1000) > idTime) return "it started before the ledger's last operation was recorded";
  const macPath = join(dir, journalMacName(opId));
  if (!planted(macPath)) return "it has no MAC file";
  let text: string;
  try {
    text = readAuditText(macPath, READ_LIMIT.small);
  } catch {
    return "its MAC file is not a regular file pkgswitch can read"; // a link, say: not ours
  }
  const claimed = parseMacLine(text);
  if (!claimed) return "its MAC file is not one pkgswitch writes";
  const at = events[claimed.seq];
  if (!at || !macMatches(key, opId, claimed.seq, at.hash, claimed.mac)) return "its MAC does not authenticate it under this signing key";
  return claimed.seq;
}

/** Whether a name is taken in the audit dir (a link counts: it is moved
 * aside with its journal, never followed). */
function planted(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
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
