/** `audit list`'s index: one compact summary per ledger line (command,
 * result, providers, signature state, time), so that listing and filtering
 * 100,000 operations reads one small file instead of 100,000.
 *
 * It is a CACHE, never evidence: `audit verify` never reads it, and it is
 * rebuilt from the ledger and the operation files (or their archive
 * segments) whenever it does not match the ledger. It is bound to the
 * ledger by the byte length and SHA-256 of the ledger prefix it covers, so
 * any change to a covered line (not only a truncation) rebuilds it; lines
 * appended since are summarized and appended (so each operation's files are
 * read once, by the first `audit list` after it).
 *
 * File: <state dir>/audit-list-index.jsonl, line 1 a header
 * {"v":1,"ledger_bytes":N,"ledger_sha256":HEX}, then one summary per ledger
 * line in ledger order (docs/formats.md). Written atomically; a state dir
 * that cannot be written only costs the next run the same work. */
import { present } from "../config/access.ts";
import { readAuditText } from "./store.ts";
import { join } from "node:path";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { findSegmentRecords, type SegmentRecord } from "./archive-records.ts";
import { readSegmentFiles } from "./archive.ts";
import { parseLedger, type LedgerEntry } from "./ledger.ts";
import { jsonlName, LEDGER_FILE } from "./names.ts";
import { Exit, PkgswitchError } from "../errors.ts";

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
  v: 1;
  ledger_bytes: number;
  ledger_sha256: string;
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

/** The summaries of every ledger line, from the index when it matches the
 * ledger, else (re)built; saved back when `save` (best effort). */
export function loadSummaries(auditDir: string, stateDir: string, save = true): OpSummaryLine[] {
  const ledgerPath = join(auditDir, LEDGER_FILE);
  // Unreadable (not root): exit 70 naming the path, never "nothing recorded".
  const ledger = present(ledgerPath) ? Buffer.from(readAuditText(ledgerPath, READ_LIMIT.ledger)) : Buffer.alloc(0);
  const indexPath = join(stateDir, LIST_INDEX_FILE);
  let summaries: OpSummaryLine[] = [];
  let covered = 0;
  const cached = readIndex(indexPath);
  if (cached && cached.header.ledger_bytes <= ledger.length && sha256Hex(ledger.subarray(0, cached.header.ledger_bytes)) === cached.header.ledger_sha256 && cached.lines.length === countLines(ledger.subarray(0, cached.header.ledger_bytes))) {
    summaries = cached.lines;
    covered = cached.header.ledger_bytes;
  }
  if (covered === ledger.length && cached) return summaries;
  let fresh: LedgerEntry[];
  try {
    fresh = parseLedger(ledger.subarray(covered).toString("utf8"), summaries.length);
  } catch (e) {
    throw new PkgswitchError(Exit.INTERNAL, `ledger ${ledgerPath} is corrupt (${(e as Error).message}); run \`pkgswitch audit verify --all\``);
  }
  summaries.push(...summarizeEntries(auditDir, fresh));
  if (save) saveSummaries(stateDir, ledger, summaries);
  return summaries;
}

/** Write the index for `ledger` (best effort: it is only a cache). */
function saveSummaries(stateDir: string, ledger: Uint8Array, summaries: OpSummaryLine[]): void {
  const header: Header = { v: 1, ledger_bytes: ledger.length, ledger_sha256: sha256Hex(ledger) };
  try {
    writeFileAtomic(join(stateDir, LIST_INDEX_FILE), [JSON.stringify(header), ...summaries.map((s) => JSON.stringify(s))].join("\n") + "\n", 0o600, false);
  } catch {}
}

/** After `audit archive`: the summaries of `ops` say archived (the ledger
 * does not change when files move, so the index would not notice). */
export function markArchived(auditDir: string, stateDir: string, ops: readonly string[]): void {
  const moved = new Set(ops);
  const summaries = loadSummaries(auditDir, stateDir, false);
  for (const s of summaries) if (moved.has(s.op)) s.archived = true;
  const ledgerPath = join(auditDir, LEDGER_FILE);
  saveSummaries(stateDir, readBounded(ledgerPath, { max: READ_LIMIT.ledger, noFollow: true }), summaries);
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

function countLines(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function readIndex(path: string): { header: Header; lines: OpSummaryLine[] } | null {
  const bytes = readOr(path);
  if (!bytes) return null;
  try {
    const lines = bytes.toString("utf8").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    const header = JSON.parse(lines[0]!) as Header;
    if (header.v !== 1 || typeof header.ledger_bytes !== "number" || typeof header.ledger_sha256 !== "string") return null;
    const out = lines.slice(1).map((l) => JSON.parse(l) as OpSummaryLine);
    return out.every((s, i) => s.seq === i) ? { header, lines: out } : null;
  } catch {
    return null;
  }
}
