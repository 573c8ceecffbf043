/** Where archived operations went: the `archive.segment` events of the
 * archive operations (signed like any operation), found by reading the
 * operation files still in the audit directory. No index file is trusted:
 * an event counts only when its file's SHA-256 is the one in its ledger line,
 * so a record is exactly as trustworthy as the operation `audit verify`
 * checks. Shared by `audit archive`, `audit verify`, `audit show` and `audit push`. */
import { join } from "node:path";
import { sha256Hex } from "../sys/index.ts";
import type { LedgerEntry } from "./ledger.ts";
import { ARCHIVE_DIR, jsonlName, SEGMENT_RE } from "./names.ts";

/** One segment as its archive operation recorded it. */
export interface SegmentRecord {
  /** The archive operation that wrote the segment. */
  archiveOp: string;
  /** File name under <audit dir>/archive/. */
  segment: string;
  sha256: string;
  bytes: number;
  /** Operations (ledger order) whose files the segment holds. */
  ops: string[];
}

export const ARCHIVE_EVENT = "archive.segment";

/** Path of a segment (or its signature) under the audit directory. */
export const segmentPath = (auditDir: string, name: string) => join(auditDir, ARCHIVE_DIR, name);

/** Whether the records in an operation's file (its bytes already match its
 * ledger line) are to be believed: `audit verify` believes only an archive
 * operation signed by a trusted key (../verify/archive.ts). Asked only of
 * files that hold an `archive.segment` event. */
export type RecorderCheck = (e: LedgerEntry, bytes: Uint8Array) => boolean;

/** Segment records in the operations whose files `read` returns (null when
 * the file is absent or unreadable: it holds no record then), in ledger
 * order. Files whose digest is not their ledger line's are skipped (verify
 * reports them), as are those `accept` refuses. Cheap for the usual file:
 * one substring search. */
export function findSegmentRecords(entries: readonly LedgerEntry[], read: (name: string) => Uint8Array | null, accept?: RecorderCheck): SegmentRecord[] {
  const out: SegmentRecord[] = [];
  for (const e of entries) {
    const bytes = read(jsonlName(e.op));
    if (!bytes) continue;
    out.push(...recordsIn(e, bytes, accept));
  }
  return out;
}

/** Each archived operation's record (the first that lists it, as verify reads it). */
export function recordsByOp(records: readonly SegmentRecord[]): Map<string, SegmentRecord> {
  const out = new Map<string, SegmentRecord>();
  for (const r of records) for (const op of r.ops) if (!out.has(op)) out.set(op, r);
  return out;
}

/** The records in one operation file (bound to its ledger line; none when
 * `accept` refuses its operation). */
export function recordsIn(e: LedgerEntry, bytes: Uint8Array, accept?: RecorderCheck): SegmentRecord[] {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  if (!text.includes(`"event":"${ARCHIVE_EVENT}"`)) return [];
  if (sha256Hex(bytes) !== e.jsonl_sha256) return [];
  if (accept && !accept(e, bytes)) return [];
  const out: SegmentRecord[] = [];
  for (const line of text.split("\n")) {
    if (!line.includes(ARCHIVE_EVENT)) continue;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    if (ev.event !== ARCHIVE_EVENT) continue;
    const r = shape(e.op, ev);
    if (r) out.push(r);
  }
  return out;
}

function shape(archiveOp: string, ev: Record<string, unknown>): SegmentRecord | null {
  const { segment, sha256, bytes, ops } = ev;
  if (typeof segment !== "string" || !SEGMENT_RE.test(segment)) return null;
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return null;
  if (typeof bytes !== "number" || !Array.isArray(ops) || !ops.every((o) => typeof o === "string")) return null;
  return { archiveOp, segment, sha256, bytes, ops: ops as string[] };
}
