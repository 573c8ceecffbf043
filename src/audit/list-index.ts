/** `audit list`'s index: one compact summary per ledger line (command,
 * result, providers, signature state, time), so that listing and filtering
 * 100,000 operations reads one small file instead of 100,000.
 *
 * It is a CACHE, never evidence: `audit verify` never reads it, and it is
 * rebuilt from the ledger and the operation files (or their archive
 * segments) whenever it does not fit the ledger (length, first and last
 * covered line); lines appended since are summarized and appended (so each
 * operation's files are read once, by the first `audit list` after it).
 *
 * File: <state dir>/audit-list-index.jsonl, line 1 a header
 * {"v":2,"ledger_bytes":N,"lines":N,"first_sha256":HEX,"last_sha256":HEX},
 * then one summary per ledger line in ledger order (docs/formats.md). Written atomically; a state dir
 * that cannot be written only costs the next run the same work. */
import { closeSync, constants, lstatSync, openSync, readSync } from "node:fs";
import { present } from "../config/access.ts";
import { ledgerCorrupt, readAuditText } from "./store.ts";
import { join } from "node:path";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { findSegmentRecords, type SegmentRecord } from "./archive-records.ts";
import { readSegmentFiles } from "./archive.ts";
import { parseLedger, type LedgerEntry } from "./ledger.ts";
import { jsonlName, LEDGER_FILE } from "./names.ts";

export const LIST_INDEX_FILE = "audit-list-index.jsonl";

export interface OpSummaryLine {
  seq: number;
  op: string;
  ts: string;
  command: string;
  /** op.end's status ("ok", "failed", "rolled_back", "dry_run"), or "?" when unreadable. */
  status: string;
  exit_code: number | null;
  /** Providers the operation named (enable/disable arguments, events' `provider`). */
  providers: string[];
  signature: LedgerEntry["signature"];
  key_id: string | null;
  /** Its files are in an archive segment (`audit archive`). */
  archived: boolean;
}

interface Header {
  v: 2;
  /** Ledger bytes and lines the summaries cover. */
  ledger_bytes: number;
  lines: number;
  /** SHA-256 of the first and of the last covered ledger line. */
  first_sha256: string;
  last_sha256: string;
}

/** Summarize one operation's JSONL (tolerant: a cache of what is there). */
export function summarize(e: LedgerEntry, jsonl: Uint8Array | null, archived: boolean): OpSummaryLine {
  let command = "?";
  let status = "?";
  let exit: number | null = null;
  const providers = new Set<string>();
  if (jsonl) {
    const text = Buffer.from(jsonl.buffer, jsonl.byteOffset, jsonl.byteLength).toString("utf8");
    for (const line of text.split("\n")) {
      if (!line) continue;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line);
      } catch {
        continue;
      }
      if (typeof ev !== "object" || ev === null) continue; // `null`, `5`: nothing to summarize
      if (ev.event === "op.start" && typeof ev.command === "string") {
        command = ev.command;
        const [verb, ...args] = command.split(" ");
        if (verb === "enable" || verb === "disable") for (const a of args) if (!a.startsWith("-")) providers.add(a);
      }
      if (ev.event === "op.end") {
        if (typeof ev.status === "string") status = ev.status;
        if (typeof ev.exit_code === "number") exit = ev.exit_code;
      }
      if (typeof ev.provider === "string") providers.add(ev.provider);
    }
  }
  return { seq: e.seq, op: e.op, ts: e.ts, command, status, exit_code: exit, providers: [...providers].sort(), signature: e.signature, key_id: e.key_id, archived };
}

/** The summaries of every ledger line, one JSON object per line (the
 * index's body, as stored: `audit list` filters it without parsing every
 * line), from the index when it still fits the ledger, else brought up to
 * date (lines appended since) or rebuilt; saved back when `save` (best
 * effort). The index is bound to the ledger by the covered length and the
 * SHA-256 of the first and last covered lines, so that checking it reads
 * only the ledger's two ends: a ledger edited elsewhere is `audit verify`'s
 * to find, and the summaries are never evidence. */
export function loadSummaryText(auditDir: string, stateDir: string, save = true): string {
  const ledgerPath = join(auditDir, LEDGER_FILE);
  // Unreadable (not root): exit 70 naming the path, never "nothing recorded".
  if (!present(ledgerPath)) return "";
  const size = ledgerSize(ledgerPath);
  const indexPath = join(stateDir, LIST_INDEX_FILE);
  const cached = readIndex(indexPath);
  let body = "";
  let covered = 0;
  let lines = 0;
  if (cached && cached.header.ledger_bytes <= size && ends(ledgerPath, cached.header.ledger_bytes, cached.header.lines)?.join() === [cached.header.first_sha256, cached.header.last_sha256].join()) {
    body = cached.body;
    covered = cached.header.ledger_bytes;
    lines = cached.header.lines;
  }
  if (cached && covered === size && covered > 0) return body;
  let fresh: LedgerEntry[];
  try {
    fresh = parseLedger(readRange(ledgerPath, covered, size - covered).toString("utf8"), lines);
  } catch (e) {
    throw ledgerCorrupt(ledgerPath, e, lines + 1);
  }
  body += summarizeEntries(auditDir, fresh).map((x) => JSON.stringify(x) + "\n").join("");
  if (save && fresh.length > 0) saveIndex(stateDir, ledgerPath, size, lines + fresh.length, body);
  return body;
}

/** Every summary, parsed (for callers that need them all). */
export function loadSummaries(auditDir: string, stateDir: string, save = true): OpSummaryLine[] {
  return loadSummaryText(auditDir, stateDir, save).split("\n").filter(Boolean).map((l) => JSON.parse(l) as OpSummaryLine);
}

/** Write the index (best effort: it is only a cache). */
function saveIndex(stateDir: string, ledgerPath: string, bytes: number, lines: number, body: string): void {
  const e = ends(ledgerPath, bytes, lines);
  if (!e) return;
  const header: Header = { v: 2, ledger_bytes: bytes, lines, first_sha256: e[0], last_sha256: e[1] };
  try {
    writeFileAtomic(join(stateDir, LIST_INDEX_FILE), JSON.stringify(header) + "\n" + body, 0o600, false);
  } catch {}
}

/** After `audit archive`: the summaries of `ops` say archived (the ledger
 * does not change when files move, so the index would not notice). */
export function markArchived(auditDir: string, stateDir: string, ops: readonly string[]): void {
  const moved = new Set(ops);
  const summaries = loadSummaries(auditDir, stateDir);
  for (const x of summaries) if (moved.has(x.op)) x.archived = true;
  const ledgerPath = join(auditDir, LEDGER_FILE);
  if (summaries.length === 0) return;
  saveIndex(stateDir, ledgerPath, ledgerSize(ledgerPath), summaries.length, summaries.map((x) => JSON.stringify(x) + "\n").join(""));
}

/** The ledger's size; anything but a regular file of ours within its bound
 * stops here (exit 70, as reading it would). */
function ledgerSize(path: string): number {
  const st = lstatSync(path);
  if (!st.isFile() || st.size > READ_LIMIT.ledger) readAuditText(path, READ_LIMIT.ledger); // throws the one-line error
  return st.size;
}

/** SHA-256 of the first and of the last line of ledger[0, bytes) (which
 * must hold `lines` lines), or null when it does not look so. */
function ends(path: string, bytes: number, lines: number): [string, string] | null {
  if (bytes === 0 || lines === 0) return null;
  const head = readRange(path, 0, Math.min(bytes, 1 << 16));
  const nl = head.indexOf(10);
  if (nl < 0) return null;
  const from = Math.max(0, bytes - (1 << 16));
  const tail = readRange(path, from, bytes - from);
  if (tail[tail.length - 1] !== 10) return null;
  const prev = tail.lastIndexOf(10, tail.length - 2);
  if (prev < 0 && from > 0) return null;
  if (lines === 1 && nl + 1 !== bytes) return null;
  return [sha256Hex(head.subarray(0, nl)), sha256Hex(tail.subarray(prev + 1, tail.length - 1))];
}

function readRange(path: string, start: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  if (len === 0) return buf;
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let off = 0;
    while (off < len) {
      const n = readSync(fd, buf, off, len - off, start + off);
      if (n === 0) break;
      off += n;
    }
    return off === len ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function summarizeEntries(auditDir: string, entries: LedgerEntry[]): OpSummaryLine[] {
  let records: Map<string, SegmentRecord> | null = null;
  let allEntries: LedgerEntry[] | null = null;
  const segCache = new Map<string, Map<string, Uint8Array>>();
  return entries.map((e) => {
    const jsonl = readOr(join(auditDir, jsonlName(e.op)));
    if (jsonl) return summarize(e, jsonl, false);
    // Not in the directory: archived (read from its segment), or missing.
    if (!records) {
      allEntries ??= parseLedgerFile(auditDir);
      records = new Map();
      for (const r of findSegmentRecords(allEntries, (n) => readOr(join(auditDir, n)))) for (const op of r.ops) records.set(op, r);
    }
    const r = records.get(e.op);
    if (!r) return summarize(e, null, false);
    let files = segCache.get(r.segment);
    if (!files) {
      try {
        files = readSegmentFiles(auditDir, r);
      } catch {
        files = new Map(); // missing or damaged: listed without its details
      }
      segCache.clear(); // one segment at a time: ledger order visits each once
      segCache.set(r.segment, files);
    }
    return summarize(e, files.get(jsonlName(e.op)) ?? null, true);
  });
}

function parseLedgerFile(auditDir: string): LedgerEntry[] {
  try {
    return parseLedger(readBounded(join(auditDir, LEDGER_FILE), { max: READ_LIMIT.ledger, noFollow: true }).toString("utf8"));
  } catch {
    return [];
  }
}

function readOr(path: string): Buffer | null {
  try {
    return readBounded(path, { max: READ_LIMIT.record, noFollow: true });
  } catch {
    return null;
  }
}

const STR = String.raw`"[^"\\]*(?:\\.[^"\\]*)*"`;
const NUM = String.raw`-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`;
/** One summary line exactly as JSON.stringify writes an OpSummaryLine (its
 * key order): checking a line is one regular-expression match, not a parse. */
const SUMMARY_RE = new RegExp(
  String.raw`^\{"seq":(0|[1-9][0-9]{0,15}),"op":"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}","ts":${STR},"command":${STR},"status":${STR},` +
    String.raw`"exit_code":(?:${NUM}|null),"providers":\[(?:${STR}(?:,${STR})*)?\],"signature":"(?:signed|unsigned|failed)",` +
    String.raw`"key_id":(?:${STR}|null),"archived":(?:true|false)\}$`,
);

function readIndex(path: string): { header: Header; body: string } | null {
  const bytes = readOr(path);
  if (!bytes) return null;
  try {
    const text = bytes.toString("utf8");
    const nl = text.indexOf("\n");
    const header = JSON.parse(text.slice(0, nl)) as Header;
    if (header.v !== 2 || typeof header.ledger_bytes !== "number" || typeof header.lines !== "number") return null;
    const body = text.slice(nl + 1);
    // As many summaries as covered lines, newline-ended, each of the shape
    // summarize() writes and numbered in ledger order: the callers use the
    // lines as they are, so one edited by hand (an `op` that is a path, a
    // `command` that is null) makes the index stale, never a crash.
    if (body !== "" && !body.endsWith("\n")) return null;
    let n = 0;
    for (let at = 0, nl = body.indexOf("\n"); nl >= 0; at = nl + 1, nl = body.indexOf("\n", at), n++) {
      const m = SUMMARY_RE.exec(body.slice(at, nl));
      if (!m || Number(m[1]) !== n) return null;
    }
    return n === header.lines ? { header, body } : null;
  } catch {
    return null;
  }
}
