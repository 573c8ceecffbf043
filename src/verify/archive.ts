/** Verifying archived operations (`audit archive`): their files are read
 * from the segments their archive operations recorded, and fed to the same
 * per-operation checks as files in the audit directory (./operation.ts).
 *
 * A segment is found through its record: the `archive.segment` event of an
 * archive operation whose file matches its ledger line (and which is itself
 * verified like every other operation). Its SHA-256 must be the recorded
 * one (else exit 1, naming the segment); the files read from it are checked
 * exactly as in the directory (digest in the ledger line, signature). A
 * missing segment leaves its operations "archived, not checked" (exit 8),
 * or a warning with --allow-missing-archive — but only when a record
 * `vouches` for it: its archive operation is signed and the signature
 * verifies under a trusted key. A record of any other operation does not
 * excuse missing files: its operations are checked as if not archived
 * (exit 3), with a warning naming the record. The chain links, ledger and Merkle tree are
 * checked from the ledger as before, whatever happened to the files. */
import { join } from "node:path";
import { findSegmentRecords, recordsByOp, recordsIn, segmentPath, type RecorderCheck, type SegmentRecord } from "../audit/archive-records.ts";
import { SEGMENT_READ_LIMIT, segmentOf } from "../audit/archive.ts";
import { SegmentFormatError, unpackSegment } from "../audit/archive-tar.ts";
import type { LedgerEntry } from "../audit/ledger.ts";
import { ARCHIVE_DIR, jsonlName, SEGMENT_RE, sigName } from "../audit/names.ts";
import type { LedgerIndex } from "./ledger-index.ts";
import type { PublicKey } from "../attest/minisign.ts";
import { VerifyExit } from "../errors.ts";
import { decodeUtf8, listDir, readArtifact } from "./files.ts";
import { checkOperationFrom, type ArtifactSource, type OpCheckOptions, type OpCheckResult, type OpTask } from "./operation.ts";
import type { Report } from "./report.ts";
import { checkAuditSignature } from "./signature.ts";
import { sha256Hex } from "./strict.ts";

/** Whether an archive operation's records vouch for missing segments: only
 * when it is signed and its signature verifies under a trusted key.
 * Whoever can write the audit directory can append a correctly chained
 * UNSIGNED operation, and its record naming a signed operation whose files
 * they deleted would otherwise turn that operation's "missing" (3) into
 * "archived, segment missing" (8, or 0 with --allow-missing-archive). A
 * segment that is present needs no voucher (what is read from it is
 * checked like the files in the directory), so an unsigned `audit archive`
 * (no key) still verifies with --allow-unsigned. Asked only of the few
 * files holding an `archive.segment` event; `refused` gets the others'. */
function vouches(dir: string, keys: readonly PublicKey[], allowLegacy: boolean, refused: (r: SegmentRecord[]) => void): RecorderCheck {
  return (e, bytes) => {
    const sig = e.signature === "signed" ? readArtifact(join(dir, sigName(e.op))) : null;
    const text = sig?.ok ? decodeUtf8(sig.bytes) : null;
    if (text && checkAuditSignature(bytes, text.text, e.op, jsonlName(e.op), keys, { allowLegacy, expectKeyId: e.key_id }).findings.length === 0) return true;
    refused(recordsIn(e, bytes));
    return false;
  };
}

/** The warning for a missing segment whose record does not vouch for it
 * (the archive operation's own check reports why: unsigned, untrusted key,
 * bad signature). */
function warnNotVouched(r: SegmentRecord, n: number, report: Report): void {
  report.warn("archive.record", `segment missing, and archive operation ${r.archiveOp}, which records it, is not signed by a trusted key: ${n} operation(s) it names are checked as if not archived`, { file: `${ARCHIVE_DIR}/${r.segment}`, op: r.archiveOp });
}

/** Check the operations on ledger lines `lines` whose files are not in
 * the audit dir (`inDir`, by line) but in a recorded segment; returns their
 * results and the lines left for the ordinary path (in the dir, or missing
 * without a record). */
export function checkArchived(dir: string, ledger: LedgerIndex, lines: readonly number[], inDir: (line: number) => boolean, keys: readonly PublicKey[], opts: OpCheckOptions & { allowMissingArchive?: boolean }, report: Report): { results: OpCheckResult[]; rest: readonly number[] } {
  const absent = lines.some((l) => !inDir(l));
  const segDir = listDir(join(dir, ARCHIVE_DIR));
  const onDisk = segDir.ok ? segDir.names.filter((n) => SEGMENT_RE.test(n)) : [];
  if (!absent && onDisk.length === 0) return { results: [], rest: lines };

  const unvouched: SegmentRecord[] = [];
  const records = findSegmentRecords(ledger.entries(), (name) => {
    const line = name.startsWith("audit-") && name.endsWith(".jsonl") ? ledger.firstLine.get(name.slice(6, -6)) : undefined;
    if (line === undefined || !inDir(line)) return null;
    const r = readArtifact(join(dir, name));
    return r.ok ? r.bytes : null;
  }, vouches(dir, keys, opts.allowLegacy, (rs) => void unvouched.push(...rs)));
  // A vouched-for record wins over any other listing the same operation.
  const recordOf = recordsByOp(records);
  const otherOf = recordsByOp(unvouched);
  const weak = new Set(unvouched);
  const recorded = new Set([...records, ...unvouched].map((r) => r.segment));
  for (const n of onDisk) {
    if (!recorded.has(n)) report.warn("archive.segment", "no archive operation records this segment (an interrupted `audit archive`: the next run removes it); not read", { file: `${ARCHIVE_DIR}/${n}` });
  }

  const bySegment = new Map<SegmentRecord, OpTask[]>();
  const rest: number[] = [];
  for (const line of lines) {
    const op = inDir(line) ? undefined : ledger.entry(line)!.op;
    const r = op === undefined ? undefined : recordOf.get(op) ?? otherOf.get(op);
    if (!r) rest.push(line);
    else {
      const t = ledger.task(line);
      const list = bySegment.get(r);
      if (list) list.push(t);
      else bySegment.set(r, [t]);
    }
  }
  const results: OpCheckResult[] = [];
  let restSorted = true;
  for (const [r, ts] of bySegment) {
    const file = `${ARCHIVE_DIR}/${r.segment}`;
    const read = readArtifact(segmentPath(dir, r.segment));
    if (!read.ok) {
      if (read.exit === VerifyExit.NOT_FOUND && weak.has(r)) {
        warnNotVouched(r, ts.length, report);
        for (const t of ts) rest.push(t.ledgerLine - 1);
        restSorted = false;
      } else if (read.exit === VerifyExit.NOT_FOUND) {
        report.count("archived_not_checked", ts.length);
        const msg = `segment missing: ${ts.length} archived operation(s) (recorded by ${r.archiveOp}) not checked; their ledger lines and chain links still are`;
        if (opts.allowMissingArchive) report.warn("archive.missing", `${msg} (--allow-missing-archive)`, { file, op: r.archiveOp });
        else report.fail("archive.missing", VerifyExit.ARCHIVED, `${msg}; restore the segment, or pass --allow-missing-archive`, { file, op: r.archiveOp });
      } else report.fail("archive.segment", read.exit, read.message, { file, op: r.archiveOp });
      continue;
    }
    const digest = sha256Hex(read.bytes);
    if (digest !== r.sha256) report.fail("archive.segment", VerifyExit.TAMPERED, `SHA-256 ${digest} differs from ${r.sha256} recorded by archive operation ${r.archiveOp}`, { file, op: r.archiveOp });
    let members: Map<string, Uint8Array>;
    try {
      members = new Map(unpackSegment(read.bytes, SEGMENT_READ_LIMIT).map((m) => [m.name, m.bytes]));
    } catch (e) {
      if (!(e instanceof SegmentFormatError)) throw e;
      report.fail("archive.segment", VerifyExit.TAMPERED, `not a readable segment (${e.message}); its ${ts.length} operation(s) were not checked`, { file, op: r.archiveOp });
      continue;
    }
    if (digest === r.sha256) report.pass("archive.segment");
    report.count("segments");
    const src = memberSource(members, file);
    for (const t of ts) {
      const before = report.failures.length;
      results.push(checkOperationFrom(src, t, keys, opts, report));
      // Name the segment in what failed inside it.
      for (const f of report.failures.slice(before)) if (f.file && !f.file.includes("/")) f.file = `${file}:${f.file}`;
    }
    report.count("archived_operations", ts.length);
  }
  if (!restSorted) rest.sort((a, b) => a - b);
  return { results, rest };
}

/** Where `verify --op` reads an archived operation's files: its segment,
 * checked against its record (a failure names the segment and returns
 * null, as does an operation that is not archived). */
export function archivedSource(dir: string, entries: readonly LedgerEntry[], op: string, keys: readonly PublicKey[], opts: { allowLegacy: boolean; allowMissingArchive: boolean }, report: Report): ArtifactSource | null {
  const { allowMissingArchive } = opts;
  // The newest record that vouches for its segment, else the newest other.
  const unvouched: SegmentRecord[] = [];
  const vouched = segmentOf(dir, entries, op, vouches(dir, keys, opts.allowLegacy, (rs) => void unvouched.push(...rs)));
  const r = vouched ?? unvouched.find((x) => x.ops.includes(op));
  if (!r) return null;
  const file = `${ARCHIVE_DIR}/${r.segment}`;
  const read = readArtifact(segmentPath(dir, r.segment));
  if (!read.ok) {
    if (read.exit === VerifyExit.NOT_FOUND && !vouched) warnNotVouched(r, 1, report);
    else if (read.exit !== VerifyExit.NOT_FOUND) report.fail("archive.segment", read.exit, read.message, { file, op: r.archiveOp });
    else if (allowMissingArchive) report.warn("archive.missing", `segment missing: operation ${op} (archived by ${r.archiveOp}) not checked (--allow-missing-archive)`, { file, op: r.archiveOp });
    else report.fail("archive.missing", VerifyExit.ARCHIVED, `segment missing: operation ${op} (archived by ${r.archiveOp}) not checked; restore the segment, or pass --allow-missing-archive`, { file, op: r.archiveOp });
    return null;
  }
  const digest = sha256Hex(read.bytes);
  if (digest !== r.sha256) {
    report.fail("archive.segment", VerifyExit.TAMPERED, `SHA-256 ${digest} differs from ${r.sha256} recorded by archive operation ${r.archiveOp}`, { file, op: r.archiveOp });
    return null;
  }
  let members: Map<string, Uint8Array>;
  try {
    members = new Map(unpackSegment(read.bytes, SEGMENT_READ_LIMIT).map((m) => [m.name, m.bytes]));
  } catch (e) {
    report.fail("archive.segment", VerifyExit.TAMPERED, `not a readable segment (${(e as Error).message})`, { file, op: r.archiveOp });
    return null;
  }
  report.pass("archive.segment");
  return memberSource(members, file);
}

function memberSource(members: Map<string, Uint8Array>, file: string): ArtifactSource {
  return {
    read: (name) => {
      const b = members.get(name);
      return b ? { ok: true, bytes: Buffer.from(b.buffer, b.byteOffset, b.byteLength) } : { ok: false, exit: VerifyExit.NOT_FOUND, message: `missing: ${name} in ${file}` };
    },
    exists: (name) => members.has(name),
    ledgerRef: (line) => `ledger.jsonl line ${line}`,
  };
}
