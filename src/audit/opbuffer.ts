/** The operation buffer: the one sink through which every step of an
 * operation reaches its audit file (start → record → finalize).
 *
 * While the operation runs, sealed events are appended to a journal
 * (`.inprogress-<op>.jsonl`) so a SIGKILL leaves evidence behind; finalize
 * writes the real artifacts atomically, links the operation into the ledger,
 * rewrites the checkpoint, and drops the journal (./finalize.ts). A dry run
 * keeps everything in memory and writes nothing. Masking is ./mask.ts's,
 * line fitting ./fit.ts's, crash recovery ./recover.ts's. */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { sha256Hex } from "../sys/index.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { maskArgv, maskFields, recordableEnv } from "./mask.ts";
import { eventLine, GENESIS, MAX_LINE_BYTES, sealEvent, type AuditEvent, type EventFields } from "./event.ts";
import { newOpId } from "./opid.ts";
import { fitFields } from "./fit.ts";
import { writeArtifacts, type FinalizeInput, type OpSummary } from "./finalize.ts";
import { journalMacName, journalName, sbomName } from "./names.ts";
import { journalKeyOf, MacSidecar } from "./journal-mac.ts";
import { auditIoError, prepareAuditDir } from "./store.ts";
import { emptyTip, loadTip, writeTip, type LedgerTip } from "./tip.ts";

import type { SigningSetup } from "./finalize.ts";
export type { FinalizeInput, OpStatus, OpSummary, Signer, SigningSetup } from "./finalize.ts";

export interface OpStartInfo {
  auditDir: string;
  command: string;
  argv: string[];
  env: Record<string, string | undefined>;
  root: string;
  dryRun: boolean;
  toolVersion: string;
  hostId: string;
  /** Where the ledger's tip is kept (./tip.ts); without it every operation
   * rebuilds the tip from the whole ledger. */
  tipFile?: string;
  /** How the operation signs: with a key, its journal is authenticated
   * (./journal-mac.ts). Not given: not signed, no MAC. */
  signing?: SigningSetup;
}

export class OpBuffer {
  readonly opId: string;
  readonly events: AuditEvent[] = [];
  /** The JSONL lines of `events`, as sealed (canonicalized once). */
  private readonly lines: string[] = [];
  private prev: string;
  private journal: string | null = null;
  private journalFd: number | null = null;
  private mac: MacSidecar | null = null;
  private ledgerTip: { tip: LedgerTip; file: string | null } = { tip: emptyTip(), file: null };
  private readonly t0 = performance.now();

  private constructor(readonly info: OpStartInfo, opId: string, prev: string) {
    this.opId = opId;
    this.prev = prev;
  }

  /** Start an operation (caller holds the operation lock). Checks the audit
   * directory is usable before anything else happens. */
  static start(info: OpStartInfo, startFields: EventFields = {}): OpBuffer {
    const opId = newOpId();
    let loaded: ReturnType<typeof loadTip> | null = null;
    if (!info.dryRun) {
      prepareAuditDir(info.auditDir);
      loaded = loadTip(info.auditDir, info.tipFile ?? null);
    }
    const op = new OpBuffer(info, opId, loaded?.tip.head ?? GENESIS);
    if (loaded) op.ledgerTip = { tip: loaded.tip, file: info.tipFile ?? null };
    if (!info.dryRun) op.openJournal();
    op.record("op.start", {
      command: info.command,
      argv: maskArgv(info.argv),
      env: recordableEnv(info.env),
      tool_version: info.toolVersion,
      root: info.root,
      dry_run: info.dryRun,
      uid: process.getuid?.() ?? -1,
      host_id: info.hostId,
      ...startFields,
    });
    if (loaded?.rebuilt || loaded?.repaired) op.record("ledger.tip", { operations: loaded.tip.size, rebuilt: loaded.rebuilt, repaired: loaded.repaired });
    return op;
  }

  private openJournal(): void {
    // Recovery finds this journal through the tip's list of open operations
    // (no listing of the audit dir), so the list is durable before it exists.
    if (this.ledgerTip.file) {
      this.ledgerTip.tip = { ...this.ledgerTip.tip, open: [...this.ledgerTip.tip.open, this.opId] };
      try {
        writeTip(this.ledgerTip.file, this.ledgerTip.tip, true);
      } catch (e) {
        throw auditIoError(dirname(this.ledgerTip.file), e);
      }
    }
    this.journal = join(this.info.auditDir, journalName(this.opId));
    const key = journalKeyOf(this.info.signing);
    try {
      // The MAC file first: a journal never exists without it, so recovery
      // never meets a real journal it cannot authenticate.
      if (key) this.mac = new MacSidecar(join(this.info.auditDir, journalMacName(this.opId)), key, this.opId);
      this.journalFd = openSync(this.journal, "wx", 0o600);
    } catch (e) {
      throw auditIoError(this.info.auditDir, e);
    }
  }

  /** Record one event; it is sealed into the chain at once. */
  record(event: string, fields: EventFields = {}): AuditEvent {
    const masked = maskFields(fields) as EventFields;
    const ts = new Date().toISOString();
    const seq = this.events.length;
    const seal = (f: EventFields) => sealEvent(this.opId, seq, ts, event, f, this.prev);
    // Seal once; only an over-long line pays for shrinking and resealing.
    let e = seal(masked);
    let line = eventLine(e);
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
      e = seal(fitFields(masked, (f) => Buffer.byteLength(eventLine(seal(f)))));
      line = eventLine(e);
    }
    this.events.push(e);
    this.lines.push(line);
    this.prev = e.hash;
    if (this.journalFd !== null) {
      try {
        writeSync(this.journalFd, line);
        // After the line: a kill in between leaves the MAC one event behind.
        this.mac?.update(seq, e.hash);
      } catch {
        // A full disk must not turn recording into a failure of its own (a
        // rollback records every step): the events stay in memory and are
        // written at finalize, into the space reserved for the record.
        this.journalFd = null;
      }
    }
    return e;
  }

  /** Make the journal durable (call before changing the system). */
  flush(): void {
    if (this.journalFd === null) return;
    try {
      fsyncSync(this.journalFd);
    } catch {
      this.journalFd = null;
      return;
    }
    this.mac?.sync();
  }

  get durationMs(): number {
    return Math.round(performance.now() - this.t0);
  }

  /** Write the operation's artifacts and link it into the ledger. */
  finalize(input: FinalizeInput): OpSummary {
    const dir = this.info.auditDir;
    const sbomFile = sbomName(this.opId);
    const endFields: EventFields = { status: input.status, exit_code: input.exitCode, duration_ms: this.durationMs, counts: input.counts ?? {} };
    if (input.sbom) endFields.sbom = { file: sbomFile, sha256: sha256Hex(input.sbom) };
    // The SBOM is on disk before the journal names it in op.end, so a crash
    // in between never leaves a recovered operation pointing at nothing.
    if (input.sbom && !this.info.dryRun) writeFileAtomic(join(dir, sbomFile), input.sbom);
    this.record("op.end", endFields);
    if (this.info.dryRun) return { opId: this.opId, status: input.status, files: [], signature: "unsigned", ledgerSeq: -1 };
    return writeArtifacts(dir, this.opId, this.lines, this.prev, input, this.journal, () => {
      if (this.journalFd !== null) closeSync(this.journalFd);
      this.journalFd = null;
      this.mac?.close();
    }, this.ledgerTip);
  }
}
