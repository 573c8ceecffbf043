/** What `audit push` reads from this host's audit directory: the ledger
 * (strictly), the current checkpoint, each operation's artifacts (from an
 * archive segment when `audit archive` moved them) and the summary fleet
 * status shows. Reads only; push never changes anything here. */
import { join } from "node:path";
import { leafHash } from "../audit/merkle.ts";
import { NoteError, parseCheckpoint, type Checkpoint } from "../audit/note.ts";
import { hostId } from "../config/hostid.ts";
import type { Layout } from "../config/paths.ts";
import { PkgswitchError, VerifyExit } from "../errors.ts";
import { decodeUtf8, readArtifact } from "../verify/files.ts";
import { readLedgerLines, TS_RE, type LedgerLine } from "../verify/strict.ts";
import { CHECKPOINT_FILE, jsonlName, LEDGER_FILE, sbomName, sigName } from "../audit/names.ts";
import { findSegmentRecords, recordsByOp, segmentPath, type SegmentRecord } from "../audit/archive-records.ts";
import { loadSegment } from "../audit/archive.ts";
import type { LedgerEntry } from "../audit/ledger.ts";

export interface LocalRecord {
  hostId: string;
  lines: LedgerLine[];
  leaves: Uint8Array[];
  checkpoint: { text: string; cp: Checkpoint } | null;
}

export interface OpArtifacts {
  jsonl: Buffer;
  sig: Buffer | null;
  sbom: Buffer | null;
}

/** The summary of an operation for fleet status: from its first and last events. */
export interface OpSummary {
  command: string | null;
  status: string | null;
  exit_code: number | null;
  op_ts: string | null;
  /** Keys announced by key.rotate events in this operation. */
  rotations: { key_id: string; public_key: string }[];
}

/** The host id of this root, only when it is stable (the root's machine-id,
 * or the id an earlier operation persisted): push must not invent one. */
function stableHostId(layout: Layout): string {
  // hostId() makes up a fresh random id when there is neither; two calls
  // then disagree, and that means no operation ever fixed one.
  const a = hostId(layout, false);
  if (a !== hostId(layout, false)) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no host id in ${layout.root} (no /etc/machine-id and no ${join(layout.stateDir, "host-id")}): nothing was recorded here to push`);
  return a;
}

export function readLocalRecord(layout: Layout): LocalRecord {
  const dir = layout.auditDir;
  const r = readArtifact(join(dir, LEDGER_FILE));
  if (!r.ok) {
    if (r.exit === VerifyExit.NOT_FOUND) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no ${LEDGER_FILE} in ${dir}: no operation was recorded here, nothing to push`);
    throw new PkgswitchError(VerifyExit.IO, r.message);
  }
  const text = decodeUtf8(r.bytes);
  if (!text) throw new PkgswitchError(VerifyExit.TAMPERED, `${join(dir, LEDGER_FILE)} is not valid UTF-8; run \`pkgswitch audit verify --all\` (nothing was pushed)`);
  const { lines, problems } = readLedgerLines(text.text);
  if (problems.length > 0) {
    const p = problems[0]!;
    throw new PkgswitchError(VerifyExit.TAMPERED, `${join(dir, LEDGER_FILE)} line ${p.line}: ${p.message}; run \`pkgswitch audit verify --all\` (nothing was pushed)`);
  }
  const host = stableHostId(layout);
  let checkpoint: LocalRecord["checkpoint"] = null;
  const c = readArtifact(join(dir, CHECKPOINT_FILE));
  if (c.ok) {
    const ctext = c.bytes.toString("utf8");
    try {
      const cp = parseCheckpoint(c.bytes);
      if (cp.origin !== `pkgswitch/${host}`) throw new PkgswitchError(VerifyExit.TAMPERED, `${join(dir, CHECKPOINT_FILE)} is for ${cp.origin}, but this host is ${host} (nothing was pushed)`);
      if (cp.size > BigInt(lines.length)) throw new PkgswitchError(VerifyExit.TAMPERED, `${join(dir, CHECKPOINT_FILE)} covers ${cp.size} operations but the ledger has ${lines.length}; run \`pkgswitch audit verify --all\` (nothing was pushed)`);
      checkpoint = { text: ctext, cp };
    } catch (e) {
      if (e instanceof NoteError) throw new PkgswitchError(VerifyExit.TAMPERED, `${join(dir, CHECKPOINT_FILE)}: ${e.message} (nothing was pushed)`);
      throw e;
    }
  } else if (c.exit === VerifyExit.IO) throw new PkgswitchError(VerifyExit.IO, c.message);
  return { hostId: host, lines, leaves: lines.map((l) => leafHash(Buffer.from(l.text))), checkpoint };
}

function readOptional(path: string): Buffer | null {
  const r = readArtifact(path);
  if (r.ok) return r.bytes;
  if (r.exit === VerifyExit.NOT_FOUND) return null;
  throw new PkgswitchError(VerifyExit.IO, r.message);
}

/** Reads operations' artifacts, as they are (push carries bytes; verifying
 * them is fleet verify's job): from the audit directory, or, for an
 * operation `audit archive` moved, from the segment its archive operation
 * recorded. A segment is trusted as `audit verify` trusts it: only through
 * an `archive.segment` event in an operation file whose SHA-256 is its
 * ledger line's, and only when its own SHA-256 is the recorded one; its
 * members are the original bytes, so the fleet holds what it would have
 * held had the push come before the archive. The records are found once
 * (at the first archived operation) and each segment is read once (ledger
 * order keeps a segment's operations together). A failure is a
 * PkgswitchError naming the file or segment: 3 an operation file missing
 * with no record of it, 8 its segment missing, 1 a segment that is not the
 * recorded one, 6 a file that cannot be read. */
export function artifactReader(dir: string, entries: readonly LedgerEntry[]): (op: string) => OpArtifacts {
  let recordOf: Map<string, SegmentRecord> | null = null;
  let open: { segment: string; files: Map<string, Uint8Array> } | null = null;
  return (op) => {
    const jsonl = readOptional(join(dir, jsonlName(op)));
    if (jsonl) return { jsonl, sig: readOptional(join(dir, sigName(op))), sbom: readOptional(join(dir, sbomName(op))) };
    recordOf ??= recordsByOp(findSegmentRecords(entries, (name) => {
      const r = readArtifact(join(dir, name));
      return r.ok ? r.bytes : null;
    }));
    const r = recordOf.get(op);
    if (!r) throw new PkgswitchError(VerifyExit.NOT_FOUND, `${join(dir, jsonlName(op))} is missing though the ledger lists it, and no archive operation records it in a segment; run \`pkgswitch audit verify --all\``);
    if (open?.segment !== r.segment) open = { segment: r.segment, files: segmentFiles(dir, r, op) };
    const files = open.files;
    const member = (name: string) => {
      const b = files.get(name);
      return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : null;
    };
    const archived = member(jsonlName(op));
    if (!archived) throw new PkgswitchError(VerifyExit.NOT_FOUND, `${jsonlName(op)} is not in ${segmentPath(dir, r.segment)} though archive operation ${r.archiveOp} records it there; run \`pkgswitch audit verify --all\``);
    return { jsonl: archived, sig: member(sigName(op)), sbom: member(sbomName(op)) };
  };
}

function segmentFiles(dir: string, r: SegmentRecord, op: string): Map<string, Uint8Array> {
  const l = loadSegment(dir, r);
  if (l.ok) return l.files;
  switch (l.problem) {
    case "missing":
      throw new PkgswitchError(VerifyExit.ARCHIVED, `operation ${op} is archived in ${l.path}, which is missing (recorded by archive operation ${r.archiveOp}): restore the segment from a backup and push again`);
    case "unreadable":
      throw new PkgswitchError(VerifyExit.IO, `cannot read ${l.path} (${l.detail}), where operation ${op} is archived`);
    case "altered":
    case "malformed":
      throw new PkgswitchError(VerifyExit.TAMPERED, `${l.path}, where operation ${op} is archived, is not ${l.problem === "altered" ? "the recorded segment" : "a readable segment"} (${l.detail}); nothing of it was sent — run \`pkgswitch audit verify --all\``);
  }
}

function parseLine(line: string | undefined): Record<string, unknown> | null {
  if (!line) return null;
  try {
    const v = JSON.parse(line);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The summary columns of an operation, from its JSONL (pure). Fleet
 * verify recomputes this from the stored JSONL and compares. */
export function summarize(jsonl: Uint8Array): OpSummary {
  const text = Buffer.from(jsonl).toString("utf8");
  const lines = text.split("\n").filter((l) => l !== "");
  const first = parseLine(lines[0]);
  const last = parseLine(lines[lines.length - 1]);
  const start = first?.event === "op.start" ? first : null;
  const end = last?.event === "op.end" ? last : null;
  const rotations: OpSummary["rotations"] = [];
  for (const l of lines) {
    if (!l.includes('"event":"key.rotate"')) continue;
    const e = parseLine(l);
    if (e?.event === "key.rotate" && typeof e.new_key_id === "string" && typeof e.new_public_key === "string") rotations.push({ key_id: e.new_key_id, public_key: e.new_public_key });
  }
  return {
    command: typeof start?.command === "string" ? start.command : null,
    status: typeof end?.status === "string" ? end.status : null,
    exit_code: Number.isSafeInteger(end?.exit_code) ? (end!.exit_code as number) : null,
    // Only a well-formed time: the column is a timestamp, and a damaged
    // record must still be pushable (fleet verify then reports it).
    op_ts: typeof start?.ts === "string" && TS_RE.test(start.ts) ? start.ts : null,
    rotations,
  };
}
