/** `audit verify`: one operation (`verifyOp`) or the whole record
 * (`verifyAll`), optionally against an earlier checkpoint and the live files.
 * Reads the audit directory, never writes it. Exit codes and their
 * precedence: ./report.ts. */
import { join } from "node:path";
import { b64 } from "../encoding/base64.ts";
import type { LedgerEntry } from "../audit/ledger.ts";
import { inclusionProof, leafHash, rootHash, verifyInclusion } from "../audit/merkle.ts";
import type { Checkpoint } from "../audit/note.ts";
import { OP_ID_RE, parseOpId } from "../audit/opid.ts";
import { VerifyExit } from "../errors.ts";
import { checkCheckpoint, checkConsistency, type CheckedCheckpoint } from "./checkpoint.ts";
import { checkLive, expectations } from "./deep.ts";
import { opendirSync, statSync } from "node:fs";
import { decodeUtf8, listDir, readArtifact, readError, type ReadResult } from "./files.ts";
import { CHECKPOINT_FILE, journalName, journalOp, jsonlName, LEDGER_FILE, rejectedJournalOp } from "../audit/names.ts";
import { checkOperation, checkOperationFrom, type OpCheckOptions, type OpCheckResult } from "./operation.ts";
import { Report } from "./report.ts";
import { readLedgerLines, readOpEvents, type LedgerLine } from "./strict.ts";
import type { TrustSet } from "./trust.ts";
import { runParallel, speculate, startPool, type Pool } from "./parallel.ts";
import { COLLECT_EVERY, LedgerIndex } from "./ledger-index.ts";
import { collectGarbage } from "../sys/index.ts";
import { archivedSource, checkArchived } from "./archive.ts";
import { journalExplains } from "./orphan.ts";
import { mark } from "./trace.ts";

export interface VerifyOptions {
  auditDir: string;
  /** Managed root (for --deep). */
  root: string;
  trust: TrustSet;
  allowUnsigned?: boolean;
  allowLegacy?: boolean;
  deep?: boolean;
  /** An earlier checkpoint file (--since-checkpoint). */
  sinceCheckpoint?: string;
  /** A missing archive segment is a warning, not exit 8 (--allow-missing-archive). */
  allowMissingArchive?: boolean;
  /** Worker threads for --all (default: by CPU count and log size; 1 = in-process). */
  workers?: number;
}


interface LedgerState {
  /** Every line read: entries on demand, leaf hashes (none when not readable). */
  index: LedgerIndex;
  /** False when the ledger could not be read at all. */
  readable: boolean;
  /** It exists but could not be read (not "deleted"): no orphan verdicts then. */
  ioError?: boolean;
  /** There is no ledger file at all. */
  missing?: boolean;
}

function opCheckOptions(o: VerifyOptions): OpCheckOptions {
  return { allowLegacy: o.allowLegacy ?? false, allowUnsigned: o.allowUnsigned ?? false, collectTouched: o.deep ?? false };
}

/** Trusted key files that could not be used: unreadable is I/O (6); a
 * malformed one is a warning here, its signatures then fail as untrusted (4). */
function addTrustProblems(trust: TrustSet, report: Report): void {
  for (const p of trust.problems) {
    if (p.io) report.fail("keys", VerifyExit.IO, p.message, { file: p.file });
    else report.warn("keys", `${p.message}; not trusted`, { file: p.file });
  }
}

/** Read and strictly parse the ledger, reporting every bad line. */
function readLedgerState(dir: string, report: Report): LedgerState {
  const r = readArtifact(join(dir, LEDGER_FILE));
  if (!r.ok) {
    report.fail("ledger", r.exit, r.exit === VerifyExit.NOT_FOUND ? `no ${LEDGER_FILE} in ${dir}: nothing was recorded here, or it was deleted` : r.message, { file: LEDGER_FILE });
    return { index: LedgerIndex.empty, readable: false, ioError: r.exit === VerifyExit.IO, missing: r.exit === VerifyExit.NOT_FOUND };
  }
  const text = decodeUtf8(r.bytes);
  if (!text) {
    report.fail("ledger", VerifyExit.TAMPERED, "not valid UTF-8", { file: LEDGER_FILE });
    return { index: LedgerIndex.empty, readable: false };
  }
  const dups: [op: string, line: number, first: number][] = [];
  const { index, problems, stopped } = LedgerIndex.read(r.bytes, text.text, (op, line, first) => void dups.push([op, line, first]));
  for (const [i, p] of problems.entries()) {
    // The "stopped reading" line must not drown among the capped failures.
    report.fail(stopped && i === problems.length - 1 ? "ledger.stopped" : "ledger", VerifyExit.TAMPERED, p.message, { file: LEDGER_FILE, line: p.line });
  }
  // Only a prefix was read: no tree, no checkpoint to compare it with.
  if (stopped) return { index, readable: false };
  for (const [op, line, first] of dups) report.fail("ledger", VerifyExit.TAMPERED, `operation ${op} listed again (first on line ${first})`, { file: LEDGER_FILE, line, op });
  report.count("ledger_lines", index.length);
  if (problems.length === 0) report.pass("ledger");
  return { index, readable: true };
}

/** Read and verify the current checkpoint against the ledger. With
 * `requireCurrent`, its size must cover every signed operation and its
 * root must be the tree's (verify --all). */
function checkCurrentCheckpoint(dir: string, ledger: LedgerState, trust: TrustSet, report: Report, full: boolean): CheckedCheckpoint | null {
  const lines = ledger.index;
  const r = readArtifact(join(dir, CHECKPOINT_FILE));
  if (!r.ok) {
    if (r.exit === VerifyExit.IO) report.fail("checkpoint", VerifyExit.IO, r.message, { file: CHECKPOINT_FILE });
    else if (signedFrom(lines, 0) >= 0) report.fail("checkpoint", VerifyExit.NOT_FOUND, "checkpoint missing, though signed operations are recorded", { file: CHECKPOINT_FILE });
    else if (lines.length > 0) report.warn("checkpoint", "no checkpoint: no operation was signed, so the ledger is not anchored by a signature", { file: CHECKPOINT_FILE });
    return null;
  }
  return checkCheckpointBytes(r.bytes, ledger, trust, report, full);
}

/** The first signed ledger line at or after `from`, or -1. */
function signedFrom(lines: LedgerIndex, from: number): number {
  for (let i = from; i < lines.length; i++) if (lines.signed(i)) return i;
  return -1;
}

/**
 * `audit checkpoint`: the checkpoint bytes about to be printed, checked as
 * `verify --op` checks the current checkpoint — the trusted keys, the strict
 * C2SP parse, the signature by a trusted key, its tree size and root against
 * the ledger's Merkle tree (a checkpoint may lag behind the ledger: unsigned
 * operations do not re-sign it). Reads the ledger, no operation's files.
 *
 * A bad ledger line is the ledger's fault, not the checkpoint's. Among the
 * lines the checkpoint covers it is a failure naming that line when those
 * lines no longer match the checkpoint (the likely why of the mismatch);
 * when they still match, they are what was signed, and it is a warning, as
 * is a bad line after them, which does not concern the checkpoint (`verify
 * --all` reports either as a failure).
 */
export function verifyCheckpoint(auditDir: string, bytes: Uint8Array, trust: TrustSet): { report: Report; checked: CheckedCheckpoint | null; signatureChecked: boolean } {
  const report = new Report();
  addTrustProblems(trust, report);
  const ledgerReport = new Report();
  const ledger = readLedgerState(auditDir, ledgerReport);
  const cpReport = new Report();
  const checked = checkCheckpointBytes(bytes, ledger, trust, cpReport, false);
  // Without a valid checkpoint no line is covered: its own failure decides.
  const size = checked ? Number(checked.cp.size) : 0;
  const mismatch = cpReport.failures.some((f) => f.file === LEDGER_FILE);
  for (const f of ledgerReport.failures) {
    const where = { file: f.file, line: f.line, op: f.op };
    if (f.line === undefined) report.fail(f.check, f.exit, f.message, where);
    else if (f.line <= size && mismatch) report.fail(f.check, f.exit, `${f.message}: a line the checkpoint covers (its first ${size}), so they no longer hash to its root`, where);
    else report.warn(f.check, `${f.message} (${f.line <= size ? "a line the checkpoint covers: they still hash to its root" : `after line ${size}, the last the checkpoint covers`})`, where);
  }
  report.warnings.push(...ledgerReport.warnings);
  // No key file at all (a copied audit directory, a root without keys): the
  // signature cannot be checked, which the caller says. A key file that is
  // there but unusable is not "none": verify's 6 or 4 stand.
  const unchecked = trust.keys.length === 0 && trust.problems.length === 0;
  for (const f of cpReport.failures) if (!(unchecked && f.exit === VerifyExit.UNTRUSTED && f.check === "checkpoint")) report.fail(f.check, f.exit, f.message, f);
  report.warnings.push(...cpReport.warnings);
  return { report, checked, signatureChecked: !unchecked };
}

function checkCheckpointBytes(bytes: Uint8Array, ledger: LedgerState, trust: TrustSet, report: Report, full: boolean): CheckedCheckpoint | null {
  const lines = ledger.index;
  const n = lines.length;
  const checked = checkCheckpoint(bytes, { file: CHECKPOINT_FILE }, trust, report);
  if (!checked) return null;
  const { cp } = checked;
  report.count("checkpoint_size", Number(cp.size));
  // The operation that wrote the checkpoint is ledger line `size`; when it
  // was signed, its key signed the checkpoint too.
  const writer = cp.size >= 1n && cp.size <= BigInt(n) ? lines.entry(Number(cp.size) - 1) : null;
  if (writer && writer.signature === "signed" && checked.keyId !== null && checked.keyId !== writer.key_id) {
    report.fail("checkpoint", VerifyExit.TAMPERED, `signed by key ${checked.keyId}, but the operation it closes (ledger line ${cp.size}) was signed by ${writer.key_id}`, { file: CHECKPOINT_FILE });
  }
  if (cp.size > BigInt(n) && ledger.missing) {
    // Not "removed from the end": the whole file is gone (as verify says).
    report.fail("checkpoint", VerifyExit.TAMPERED, `missing, though the checkpoint covers ${cp.size} operations: the ledger was deleted or moved`, { file: LEDGER_FILE });
    return checked;
  }
  if (cp.size > BigInt(n)) {
    // Where the lines went: a seq gap shows a deletion before the end.
    let gap = -1;
    for (let i = 0; i < n && gap < 0; i++) if ((lines.entry(i)?.seq ?? i) !== i) gap = i;
    const where = gap >= 0
      ? `operations were removed from the middle of the ledger (before line ${gap + 1}, whose seq is ${lines.entry(gap)!.seq})`
      : "operations were removed from the end of the ledger";
    report.fail("checkpoint", VerifyExit.TAMPERED, `covers ${cp.size} operations but ${LEDGER_FILE} has ${n} lines: ${where}`, { file: LEDGER_FILE });
    return checked;
  }
  if (full && cp.size < BigInt(n)) {
    const signed = signedFrom(lines, Number(cp.size));
    if (signed >= 0) {
      report.fail("checkpoint", VerifyExit.TAMPERED, `covers ${cp.size} of ${n} operations, but ledger line ${signed + 1} is signed, so its operation should have extended the checkpoint: either the checkpoint was replaced by an older one, or the ledger lost or changed lines before it (pkgswitch then refuses to re-sign; see the operation's "checkpoint not updated" warning)`, { file: CHECKPOINT_FILE });
    } else {
      report.warn("checkpoint", `covers ${cp.size} of ${n} operations; the ${n - Number(cp.size)} newer one(s) are not signed, so no checkpoint covers them`, { file: CHECKPOINT_FILE });
    }
  }
  const root = rootHash(lines.leaves.slice(0, Number(cp.size)));
  if (!equal(root, cp.root)) {
    report.fail("merkle.root", VerifyExit.TAMPERED, `the first ${cp.size} lines of ${LEDGER_FILE} hash to ${b64(root)}, but the signed checkpoint says ${b64(cp.root)}: the ledger was edited, reordered or lines were deleted`, { file: LEDGER_FILE });
  } else report.pass("merkle.root");
  return checked;
}

function sinceCheckpoint(path: string, ledger: LedgerState, current: Checkpoint | null, trust: TrustSet, report: Report): void {
  const r = readArtifact(path);
  if (!r.ok) {
    report.fail("consistency", r.exit, r.message, { file: path });
    return;
  }
  const old = checkCheckpoint(r.bytes, { file: path }, trust, report, "saved-checkpoint");
  if (!old) return;
  checkConsistency(old.cp, { file: LEDGER_FILE }, ledger.index.leaves, current, report);
}

/** Whether `dir` can be listed, or the error listing it would give. */
function openableDir(dir: string): { ok: true } | (ReadResult & { ok: false }) {
  try {
    opendirSync(dir).closeSync();
    return { ok: true };
  } catch (e) {
    return readError(e, dir);
  }
}

/** An operation's artifact: events, signature or SBOM. */
const ARTIFACT_RE = /^audit-(.*?)(\.jsonl|\.jsonl\.sig|-sbom\.json)$/;

/** What verify --all needs of the directory listing, so that its 300,000
 * names for 100,000 operations need not be kept: which ledger lines' events
 * files are here, the artifact names no ledger line lists (sorted), and the
 * interrupted operations' journals (in listing order), and the journals
 * recovery refused to finalize (../audit/recover.ts). */
function readListing(dir: string, index: LedgerIndex): { ok: true; inDir: Uint8Array; unlisted: string[]; journals: Set<string>; refused: string[] } | (ReadResult & { ok: false }) {
  const ls = listDir(dir);
  if (!ls.ok) return ls;
  const inDir = new Uint8Array(index.length);
  const unlisted: string[] = [];
  const journals = new Set<string>();
  const refused: string[] = [];
  for (const n of ls.names) {
    // test, not exec: no match array for each of 300,000 names.
    if (!ARTIFACT_RE.test(n)) {
      const j = journalOp(n);
      if (j !== null) journals.add(j);
      else if (rejectedJournalOp(n) !== null) refused.push(n);
      continue;
    }
    const events = n.endsWith(".jsonl");
    const line = index.firstLine.get(n.slice(6, n.length - (events ? 6 : 10)));
    if (line === undefined) unlisted.push(n);
    else if (events) inDir[line] = 1;
  }
  return { ok: true, inDir, unlisted: unlisted.sort(), journals, refused: refused.sort() };
}

/** Verify every operation, the whole chain, the tree against the signed
 * checkpoint; with options, consistency from a saved checkpoint and the
 * live files. */
export async function verifyAll(o: VerifyOptions): Promise<Report> {
  // The worker threads load while the ledger and the directory are read
  // (0.1–0.5 s at 10,000–100,000 operations); sized from the ledger's
  // length until its lines are counted.
  const pool = startPool(estimatedOps(o.auditDir), o.workers);
  try {
    return await verifyAllWith(o, pool);
  } finally {
    pool?.close();
  }
}

/** A ledger line is ~300 bytes (signed; a little less unsigned): the
 * number of operations a ledger of this size holds, or 0 when it cannot be
 * stat'ed (readLedgerState then says why). */
const LEDGER_LINE_BYTES = 256;
function estimatedOps(dir: string): number {
  try {
    const st = statSync(join(dir, LEDGER_FILE));
    return st.isFile() ? Math.floor(st.size / LEDGER_LINE_BYTES) : 0;
  } catch {
    return 0;
  }
}

async function verifyAllWith(o: VerifyOptions, pool: Pool | null): Promise<Report> {
  const report = new Report();
  mark("verifyAll start");
  const t0 = performance.now();
  addTrustProblems(o.trust, report);
  const dirFailed = (e: ReadResult & { ok: false }) => {
    report.fail("audit-dir", e.exit, e.exit === VerifyExit.NOT_FOUND ? `no audit directory at ${o.auditDir}` : e.message, { file: o.auditDir });
    return report;
  };
  // The directory's names are read after the ledger: its 300,000 names
  // (100,000 operations) and the ledger's text need not be held at once.
  const canList = openableDir(o.auditDir);
  if (!canList.ok) return dirFailed(canList);
  const ledger = readLedgerState(o.auditDir, report);
  const { index } = ledger;
  mark("ledger read");
  // The ledger's text and its parse are garbage now.
  const large = index.length >= COLLECT_EVERY;
  if (large) collectGarbage(true);
  // An operation listed again is reported once (readLedgerState) and
  // checked once: repeated lines must not multiply the work.
  const lines = [...index.firstLine.values()];
  // The workers start on the operations while the directory is listed:
  // kept if every operation turns out to be checked the ordinary way (no
  // archived ones), as the listing then shows (runParallel).
  // (operations_ms counts from here: the listing overlaps the checks.)
  const t1 = performance.now();
  const spec = speculate(pool, o.auditDir, lines, (l) => index.task(l), o.trust.keys, opCheckOptions(o), o.workers);
  const listing = readListing(o.auditDir, index);
  // (Only if the directory changed since it was opened.)
  if (!listing.ok) return dirFailed(listing);
  mark("listing read");
  // The listing's names are garbage now: collect them at once, or they
  // set the peak RSS (bench/README.md; with the workers already running
  // the peak at 100,000 operations is ~10–15 MiB higher than when they
  // started after this).
  if (large) collectGarbage(true);
  // Archived operations are read from their segments (./archive.ts).
  const archived = checkArchived(o.auditDir, index, lines, (l) => listing.inDir[l] === 1, o.trust.keys, { ...opCheckOptions(o), allowMissingArchive: o.allowMissingArchive ?? false }, report);
  const results: OpCheckResult[] = [...archived.results, ...(await runParallel(o.auditDir, archived.rest, (l) => index.task(l), o.trust.keys, opCheckOptions(o), report, o.workers, pool, spec))];
  const t2 = performance.now();
  report.timings.operations_ms = t2 - t1;
  mark("operations done");

  // Artifacts the ledger does not list.
  const { journals } = listing;
  for (const n of ledger.ioError ? [] : listing.unlisted) {
    const op = ARTIFACT_RE.exec(n)![1]!;
    // Only a journal whose content is the orphan's explains it (./orphan.ts).
    if (journals.has(op) && journalExplains(o.auditDir, op, n)) report.warn("orphan", "operation not in the ledger yet: it was interrupted, and the next pkgswitch run finalizes it", { file: n, op });
    else if (journals.has(op)) report.fail("orphan", VerifyExit.TAMPERED, `not listed in ${LEDGER_FILE}, and the journal ${journalName(op)} beside it does not hold its content (so no interrupted operation explains it): its ledger line was removed, or the journal was planted`, { file: n, op });
    else report.fail("orphan", VerifyExit.TAMPERED, `not listed in ${LEDGER_FILE}: its ledger line was removed (or the operation was never finalized)`, OP_ID_RE.test(op) ? { file: n, op } : { file: n });
  }
  for (const j of journals) if (!index.firstLine.has(j)) report.warn("journal", "an interrupted operation awaits finalizing (by the next pkgswitch run)", { file: journalName(j), op: j });
  // Someone who could write the audit dir, not read the key, may have planted it.
  for (const n of listing.refused) {
    const op = rejectedJournalOp(n)!;
    report.fail("journal", VerifyExit.TAMPERED, "a journal the signing key did not authenticate: recovery refused to finalize it (it may be forged) — inspect it, then delete it", OP_ID_RE.test(op) ? { file: n, op } : { file: n });
  }

  const current = ledger.readable ? checkCurrentCheckpoint(o.auditDir, ledger, o.trust, report, true) : null;
  if (o.sinceCheckpoint !== undefined) {
    if (ledger.readable) sinceCheckpoint(o.sinceCheckpoint, ledger, current?.verified ? current.cp : null, o.trust, report);
  }
  if (o.deep) {
    checkLive(o.root, expectations(results), report);
  }
  report.timings.total_ms = performance.now() - t0;
  mark("verifyAll end");
  return report;
}

/** Verify one operation: its chain, its link to the previous operation,
 * its signature, SBOM digest, ledger entry and Merkle inclusion under the
 * signed checkpoint. `opId` must be a valid op id (else usage error). */
export function verifyOp(opIdArg: string, o: VerifyOptions): Report {
  const opId = parseOpId(opIdArg);
  const report = new Report();
  addTrustProblems(o.trust, report);
  const ledger = readLedgerState(o.auditDir, report);
  const lines = ledger.index;
  const index = lines.firstLine.get(opId) ?? -1;
  if (index < 0) {
    const file = readArtifact(join(o.auditDir, jsonlName(opId)));
    if (file.ok && ledger.readable) report.fail("ledger", VerifyExit.TAMPERED, `operation ${opId} has an audit file but no line in ${LEDGER_FILE}`, { file: LEDGER_FILE, op: opId });
    else if (!file.ok && file.exit === VerifyExit.IO) report.fail("artifact", VerifyExit.IO, file.message, { file: jsonlName(opId), op: opId });
    else report.fail("op", VerifyExit.NOT_FOUND, `unknown operation ${opId} (see \`pkgswitch audit list\`)`, { op: opId });
    return report;
  }
  const opts = opCheckOptions(o);
  // An archived operation is read from its segment (./archive.ts).
  const inDir = readArtifact(join(o.auditDir, jsonlName(opId))).ok;
  const entries = inDir ? [] : lines.entries();
  const src = inDir ? null : archivedSource(o.auditDir, entries, opId, o.trust.keys, { allowLegacy: opts.allowLegacy, allowMissingArchive: o.allowMissingArchive ?? false }, report);
  // A believed record whose segment is missing or bad settled it (an
  // ignored record, "archive.record", leaves it to the ordinary check).
  const settled = !inDir && !src && report.failures.concat(report.warnings).some((c) => c.check === "archive.missing" || c.check === "archive.segment");
  const result = settled ? { op: opId, touched: [] } : src ? checkOperationFrom(src, lines.task(index), o.trust.keys, opts, report) : checkOperation(o.auditDir, lines.task(index), o.trust.keys, opts, report);

  const current = checkCurrentCheckpoint(o.auditDir, ledger, o.trust, report, false);
  if (current) {
    const { cp } = current;
    const entry = lines.entry(index) as LedgerEntry;
    if (BigInt(index) >= cp.size) {
      if (entry.signature === "signed") report.fail("merkle.inclusion", VerifyExit.TAMPERED, `the signed checkpoint covers ${cp.size} operations, not this one (ledger line ${index + 1})`, { file: CHECKPOINT_FILE, op: opId });
      else report.warn("merkle.inclusion", "no checkpoint covers this unsigned operation", { file: CHECKPOINT_FILE, op: opId });
    } else if (cp.size <= BigInt(lines.leaves.length)) {
      const leaves = lines.leaves.slice(0, Number(cp.size));
      const proof = inclusionProof(index, leaves);
      if (!verifyInclusion(index, cp.size, lines.leaves.at(index)!, proof, cp.root)) {
        report.fail("merkle.inclusion", VerifyExit.TAMPERED, `ledger line ${index + 1} is not included in the tree the checkpoint signs`, { file: LEDGER_FILE, line: index + 1, op: opId });
      } else {
        report.pass("merkle.inclusion");
        report.count("inclusion_proofs");
      }
    }
  }
  if (o.sinceCheckpoint !== undefined && ledger.readable) sinceCheckpoint(o.sinceCheckpoint, ledger, current?.verified ? current.cp : null, o.trust, report);
  if (o.deep) {
    // The newest operation touching each of this op's paths decides its
    // expected state: fold in the later operations' events too.
    const ops: { op: string; touched: OpCheckResult["touched"] }[] = [result];
    for (let i = index + 1; i < lines.length; i++) {
      const e = lines.entry(i);
      if (!e) continue;
      const r = readArtifact(join(o.auditDir, jsonlName(e.op)));
      const text = r.ok ? decodeUtf8(r.bytes) : null;
      if (text) ops.push({ op: e.op, touched: readOpEvents(text.text, text.ascii, e.op, true).touched });
    }
    checkLive(o.root, expectations(ops), report, new Set(result.touched.map((t) => t.path)));
  }
  return report;
}

/** Leaf hashes and parsed lines of a ledger text (for export). */
export function ledgerLeaves(text: string): { lines: LedgerLine[]; leaves: Uint8Array[] } {
  const { lines } = readLedgerLines(text);
  return { lines, leaves: lines.map((l) => leafHash(Buffer.from(l.text))) };
}


function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
