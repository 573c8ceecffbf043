/** Retention (`pkgswitch audit archive`): old operations' files move into
 * compressed segments under <audit dir>/archive/; their ledger lines stay,
 * so the chain, the Merkle tree and every checkpoint are unchanged.
 *
 * Order, so that a crash at any point loses nothing:
 *   1. the segment is written to a temp name, fsynced, renamed, the dir
 *      fsynced (and its .minisig likewise);
 *   2. an `archive.segment` event naming it, its SHA-256 and its operations
 *      is recorded in the archive operation's journal, fsynced;
 *   3. only then are the operations' files removed.
 * The next `audit archive` run repairs an interrupted one: a recorded
 * segment is FINISHED (files still in the audit dir whose bytes are in the
 * segment are removed); a segment that no record names is UNDONE (deleted:
 * no file was removed for it, by the order above); temp files are deleted.
 * The interrupted archive operation itself is finalized by the ordinary
 * crash recovery (./recover.ts), which keeps the events it recorded. */
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { checkOwnDir } from "../config/paths.ts";
import { Exit, PkgswitchError, VerifyExit } from "../errors.ts";
import { fsyncDir, writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { packSegment, unpackSegment, type TarMember } from "./archive-tar.ts";
import { ARCHIVE_EVENT, recordsIn, segmentPath, type RecorderCheck, type SegmentRecord } from "./archive-records.ts";
import type { LedgerEntry } from "./ledger.ts";
import { ARCHIVE_DIR, jsonlName, sbomName, SEGMENT_RE, segmentName, segmentSigName, sigName } from "./names.ts";
import type { Signer } from "./finalize.ts";
import type { EventFields } from "./event.ts";

/** At most this many operations per segment: the event listing them must
 * fit one audit line (16 KiB; an op id takes 28 bytes listed). */
export const SEGMENT_MAX_OPS = 400;
/** And at most this many bytes of files (uncompressed): a segment is read
 * whole by `audit verify`. */
export const SEGMENT_MAX_BYTES = 48 << 20;
/** Bound on a segment's decompressed size when read. */
export const SEGMENT_READ_LIMIT = 64 << 20;

export type Selection = { keep: number } | { before: Date };

/** Where the archive operation records what it does. */
export interface Recorder {
  /** The archive operation's id (named in each segment's signature). */
  readonly opId: string;
  record(event: string, fields: EventFields): unknown;
  /** Make what was recorded durable. */
  flush(): void;
}

export interface ArchiveResult {
  segments: { segment: string; ops: number; bytes: number; sha256: string; signed: boolean }[];
  archived: number;
  /** Operations whose files stay in the audit directory. */
  kept: number;
  finished: { segment: string; removed: number }[];
  undone: string[];
  /** The operations archived (not printed: the segments' records list them). */
  archivedOps: string[];
}

interface Present {
  entry: LedgerEntry;
  jsonl: Buffer;
}

/** Run an archive (or, with `dryRun`, say what it would do and write nothing). */
export function archive(auditDir: string, entries: readonly LedgerEntry[], sel: Selection, rec: Recorder, signer: Signer | null, dryRun: boolean): ArchiveResult {
  // The session checked it (checkLayout); checked again right before the
  // sweep and the writes, since a link planted meanwhile would send both —
  // and the deletion of every `.*.pkgswitch-tmp-*` — wherever it points.
  checkOwnDir(join(auditDir, ARCHIVE_DIR), "archive directory");
  const names = new Set(readdirSync(auditDir));
  const present: Present[] = [];
  const records: SegmentRecord[] = [];
  for (const entry of entries) {
    if (!names.has(jsonlName(entry.op))) continue;
    const jsonl = readFile(join(auditDir, jsonlName(entry.op)));
    if (sha256Hex(jsonl) !== entry.jsonl_sha256) {
      throw new PkgswitchError(Exit.PREFLIGHT, `${jsonlName(entry.op)} does not match its ledger line (seq ${entry.seq}); nothing was archived — run \`pkgswitch audit verify --all\``);
    }
    present.push({ entry, jsonl });
    records.push(...recordsIn(entry, jsonl));
  }
  const result: ArchiveResult = { segments: [], archived: 0, kept: 0, finished: [], undone: [], archivedOps: [] };
  repair(auditDir, records, names, rec, dryRun, result);

  // Operations holding segment records stay: they are where verify finds the segments.
  const holders = new Set(records.map((r) => r.archiveOp));
  const recorded = new Set(records.flatMap((r) => r.ops));
  // Ledger lines [0, limit) are old enough (a ledger line's seq is its index).
  const firstNew = "keep" in sel ? -1 : entries.findIndex((e) => Date.parse(e.ts) >= sel.before.getTime());
  const limit = "keep" in sel ? Math.max(0, entries.length - sel.keep) : firstNew < 0 ? entries.length : firstNew;
  const chosen = present.filter((p) => p.entry.seq < limit && !holders.has(p.entry.op) && !recorded.has(p.entry.op));
  result.kept = present.length - chosen.length;

  let batch: { p: Present; members: TarMember[] }[] = [];
  let size = 0;
  const flush = () => {
    if (batch.length > 0) result.segments.push(writeSegment(auditDir, batch.map((b) => b.p.entry.op), batch.flatMap((b) => b.members), rec, signer, dryRun));
    for (const b of batch) {
      if (!dryRun) for (const m of b.members) unlinkSync(join(auditDir, m.name));
      result.archived++;
      result.archivedOps.push(b.p.entry.op);
    }
    if (batch.length > 0 && !dryRun) fsyncDir(auditDir);
    batch = [];
    size = 0;
  };
  for (const p of chosen) {
    const members = membersOf(auditDir, p, names);
    const bytes = members.reduce((n, m) => n + m.bytes.length, 0);
    if (batch.length >= SEGMENT_MAX_OPS || (batch.length > 0 && size + bytes > SEGMENT_MAX_BYTES)) flush();
    batch.push({ p, members });
    size += bytes;
  }
  flush();
  return result;
}

/** An operation's files, as segment members (the JSONL first). */
function membersOf(auditDir: string, p: Present, names: Set<string>): TarMember[] {
  const op = p.entry.op;
  const out: TarMember[] = [{ name: jsonlName(op), bytes: p.jsonl }];
  for (const n of [sigName(op), sbomName(op)]) if (names.has(n)) out.push({ name: n, bytes: readFile(join(auditDir, n)) });
  return out;
}

function writeSegment(auditDir: string, ops: string[], members: TarMember[], rec: Recorder, signer: Signer | null, dryRun: boolean): ArchiveResult["segments"][number] {
  const segment = segmentName(ops[0]!, ops[ops.length - 1]!);
  // A fixed mtime: the segment's bytes depend only on what it holds.
  const gz = packSegment(members, 0);
  const sha256 = sha256Hex(gz);
  if (dryRun) return { segment, ops: ops.length, bytes: gz.length, sha256, signed: signer !== null };
  // Read back before anything depends on it: what verify will read must
  // hold exactly these files.
  const back = unpackSegment(gz, SEGMENT_READ_LIMIT);
  if (back.length !== members.length || back.some((m, i) => m.name !== members[i]!.name || !Buffer.from(m.bytes).equals(Buffer.from(members[i]!.bytes)))) {
    throw new Error(`segment ${segment} does not read back as written`);
  }
  const path = segmentPath(auditDir, segment);
  writeFileAtomic(path, gz, 0o600, true);
  let signed = false;
  if (signer) {
    writeFileAtomic(segmentPath(auditDir, segmentSigName(segment)), signer.signFile(gz, rec.opId, segment), 0o600, true);
    signed = true;
  }
  rec.record(ARCHIVE_EVENT, { segment, sha256, bytes: gz.length, signed, ops });
  rec.flush();
  return { segment, ops: ops.length, bytes: gz.length, sha256, signed };
}

/** Finish recorded segments, undo unrecorded ones, drop temp files. */
function repair(auditDir: string, records: SegmentRecord[], names: Set<string>, rec: Recorder, dryRun: boolean, result: ArchiveResult): void {
  const dir = join(auditDir, ARCHIVE_DIR);
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return;
  }
  const byName = new Map(records.map((r) => [r.segment, r]));
  for (const f of files) {
    if (f.startsWith(".") && f.includes(".pkgswitch-tmp-")) {
      if (!dryRun) unlinkSync(join(dir, f)); // a write a crash cut short
      continue;
    }
    if (!SEGMENT_RE.test(f)) continue;
    const r = byName.get(f);
    const gz = readFile(join(dir, f));
    let members: TarMember[];
    try {
      members = unpackSegment(gz, SEGMENT_READ_LIMIT);
    } catch {
      continue; // not ours to judge here: `audit verify` reports it
    }
    const inSegment = new Map(members.map((m) => [m.name, m.bytes]));
    // The files of the segment's operations still in the audit directory,
    // each identical to its copy in the segment.
    const leftovers = members.map((m) => m.name).filter((n) => names.has(n) && Buffer.from(readFile(join(auditDir, n))).equals(Buffer.from(inSegment.get(n)!)));
    if (r) {
      if (sha256Hex(gz) !== r.sha256 || leftovers.length === 0) continue;
      if (!dryRun) {
        for (const n of leftovers) unlinkSync(join(auditDir, n));
        fsyncDir(auditDir);
        rec.record("archive.finish", { segment: f, removed: leftovers.length });
      }
      result.finished.push({ segment: f, removed: leftovers.length });
    } else if (leftovers.length === members.length) {
      // No record names it, and every file it holds is still here.
      if (!dryRun) {
        unlinkSync(join(dir, f));
        try {
          unlinkSync(join(dir, segmentSigName(f)));
        } catch {}
        fsyncDir(dir);
        rec.record("archive.undo", { segment: f });
      }
      result.undone.push(f);
    }
  }
}

function readFile(path: string): Buffer {
  try {
    return readBounded(path, { max: READ_LIMIT.record, noFollow: true });
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing more was archived`);
  }
}

/** The record of the segment holding `op`'s files, or null (not archived);
 * only records of operations `accept` believes, when given. */
export function segmentOf(auditDir: string, entries: readonly LedgerEntry[], op: string, accept?: RecorderCheck): SegmentRecord | null {
  let names: Set<string>;
  try {
    names = new Set(readdirSync(auditDir));
  } catch {
    return null;
  }
  // Newest first: the archive operation is after the operations it archived.
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (!names.has(jsonlName(e.op))) continue;
    let bytes: Buffer;
    try {
      bytes = readBounded(join(auditDir, jsonlName(e.op)), { max: READ_LIMIT.record, noFollow: true });
    } catch {
      continue;
    }
    const r = recordsIn(e, bytes, accept).find((x) => x.ops.includes(op));
    if (r) return r;
  }
  return null;
}

/** One file of an archived operation, read from its segment (exit 3 when the
 * segment is missing, 1 when it is not the segment its record describes). */
export function readArchivedFile(auditDir: string, r: SegmentRecord, name: string): Uint8Array {
  const m = readSegmentFiles(auditDir, r).get(name);
  if (!m) throw new PkgswitchError(VerifyExit.NOT_FOUND, `${name} is not in ${segmentPath(auditDir, r.segment)}`);
  return m;
}

/** Why a recorded segment could not be read (see loadSegment). */
export type SegmentProblem = "missing" | "unreadable" | "altered" | "malformed";

/** A recorded segment, read and checked against its record: every file it
 * holds by name, or what stopped it (each caller says what to do next). */
export type SegmentLoad = { ok: true; files: Map<string, Uint8Array> } | { ok: false; problem: SegmentProblem; path: string; detail: string };

export function loadSegment(auditDir: string, r: SegmentRecord): SegmentLoad {
  const path = segmentPath(auditDir, r.segment);
  let gz: Buffer;
  try {
    gz = readBounded(path, { max: READ_LIMIT.record, noFollow: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === "ENOENT" ? "missing" : "unreadable", path, detail: code ?? (e as Error).message };
  }
  const digest = sha256Hex(gz);
  if (digest !== r.sha256) return { ok: false, problem: "altered", path, detail: `SHA-256 ${digest}, not the ${r.sha256} recorded by archive operation ${r.archiveOp}` };
  try {
    return { ok: true, files: new Map(unpackSegment(gz, SEGMENT_READ_LIMIT).map((m) => [m.name, m.bytes])) };
  } catch (e) {
    return { ok: false, problem: "malformed", path, detail: (e as Error).message };
  }
}

/** Every file in a recorded segment, by name (errors as readArchivedFile's). */
export function readSegmentFiles(auditDir: string, r: SegmentRecord): Map<string, Uint8Array> {
  const l = loadSegment(auditDir, r);
  if (l.ok) return l.files;
  const { path, detail } = l;
  switch (l.problem) {
    case "missing":
      throw new PkgswitchError(VerifyExit.NOT_FOUND, `operation files archived in ${path}, which is missing (archived by ${r.archiveOp})`);
    case "unreadable":
      throw new PkgswitchError(Exit.PERMISSION, `cannot read ${path} (${detail})`);
    case "altered":
      throw new PkgswitchError(VerifyExit.TAMPERED, `${path} is not the segment ${r.archiveOp} recorded (SHA-256 differs); run \`pkgswitch audit verify --all\``);
    case "malformed":
      throw new PkgswitchError(VerifyExit.TAMPERED, `${path} is not a readable segment (${detail}); run \`pkgswitch audit verify --all\``);
  }
}
