/** The ledger's tip: what appending the next operation needs — the ledger's
 * size in lines and bytes, its last line's digest, the chain head, the Merkle
 * frontier, and the checkpoint last written over it — kept in a small file
 * beside the state, so an operation costs the same on a record of 100,000
 * operations as on an empty one.
 *
 * The tip is a cache of the ledger, never trusted over it: it is bound to the
 * ledger by byte size and the digest of the last line (one stat, one read of
 * the tail). Lines appended after it (a crash between the ledger append and
 * the tip write) are read and folded in; a torn final fragment (a crash in
 * the middle of the append) is cut off; anything else — no tip, a hand edit,
 * a truncation — rebuilds it from the whole ledger, and the operation says so. */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { GENESIS } from "./event.ts";
import { appendLeaf, emptyFrontier, frontierRoot, wellFormed, type Frontier } from "./frontier.ts";
import { parseLedger, type LedgerEntry } from "./ledger.ts";
import { LEDGER_FILE } from "./names.ts";
import { readAuditText, readLedger } from "./store.ts";
import { READ_LIMIT, readBoundedText, readProblem } from "../config/bounded.ts";
import { Exit, PkgswitchError } from "../errors.ts";

export interface LedgerTip {
  /** Operations (lines) in the ledger. */
  size: number;
  /** The ledger's length in bytes. */
  bytes: number;
  /** SHA-256 of the last line (without its newline); null when empty. */
  lastLine: string | null;
  /** The chain head the next operation links to. */
  head: string;
  frontier: Frontier;
  /** The checkpoint this writer last signed over the ledger (size, root hex). */
  checkpoint: { size: number; root: string } | null;
  /** Operations started and not yet in the ledger: their journals are what
   * crash recovery looks for, without listing an audit dir of 100,000 files. */
  open: string[];
}

interface TipFile {
  v: 1;
  size: number;
  bytes: number;
  last_line: string | null;
  head: string;
  frontier: string[];
  checkpoint: { size: number; root: string } | null;
  open?: string[];
}

const TAIL_READ = 1 << 16;
const emptyRoot = () => new Uint8Array(createHash("sha256").digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export const emptyTip = (): LedgerTip => ({ size: 0, bytes: 0, lastLine: null, head: GENESIS, frontier: emptyFrontier(), checkpoint: null, open: [] });

export function tipRoot(t: LedgerTip): Uint8Array {
  return frontierRoot(t.frontier, emptyRoot);
}

function readTipFile(path: string): LedgerTip | null {
  try {
    const f = JSON.parse(readBoundedText(path, { max: READ_LIMIT.small, noFollow: true })) as TipFile;
    if (f.v !== 1 || !Array.isArray(f.frontier) || typeof f.head !== "string" || !Number.isSafeInteger(f.bytes)) return null;
    const frontier = { size: f.size, nodes: f.frontier.map((h) => new Uint8Array(Buffer.from(String(h), "hex"))) };
    if (!wellFormed(frontier)) return null;
    const open = Array.isArray(f.open) && f.open.every((o) => typeof o === "string") ? f.open : [];
    return { size: f.size, bytes: f.bytes, lastLine: f.last_line, head: f.head, frontier, checkpoint: f.checkpoint ?? null, open };
  } catch {
    return null; // absent or unreadable: rebuilt from the ledger
  }
}

/** Write the tip. As a cache of the ledger it is not worth an fsync, nor a
 * failed operation: a lost or stale tip is rebuilt by the next one. Only
 * the record of an operation's start (`durable`) is fsynced, and its
 * failure is the caller's: recovery must find every journal. */
export function writeTip(path: string, t: LedgerTip, durable = false): void {
  const f: TipFile = { v: 1, size: t.size, bytes: t.bytes, last_line: t.lastLine, head: t.head, frontier: t.frontier.nodes.map(hex), checkpoint: t.checkpoint, open: t.open };
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, JSON.stringify(f), 0o600, durable);
  } catch (e) {
    if (durable) throw e;
  }
}

/** Read `len` bytes at `pos` of an open file. */
function pread(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let n = 0;
  while (n < len) {
    const r = readSync(fd, buf, n, len - n, pos + n);
    if (r === 0) break;
    n += r;
  }
  return buf.subarray(0, n);
}

/** The last line of the first `end` bytes (which end with "\n"), without it. */
function lastLineBefore(fd: number, end: number): Buffer | null {
  if (end === 0) return null;
  const from = Math.max(0, end - TAIL_READ);
  const chunk = pread(fd, from, end - from);
  if (chunk[chunk.length - 1] !== 0x0a) return null;
  const start = chunk.lastIndexOf(0x0a, chunk.length - 2) + 1;
  if (start === 0 && from > 0) return null; // a line longer than the tail read
  return chunk.subarray(start, chunk.length - 1);
}

/** Fold complete ledger lines (strictly parsed, continuing the tip's seq)
 * into a tip; throws LedgerParseError when they do not continue it. */
function extend(t: LedgerTip, text: string): LedgerTip {
  const entries = parseLedger(text, t.size);
  let tip = t;
  for (const line of text.slice(0, -1).split("\n")) {
    const bytes = Buffer.from(line);
    tip = { ...tip, size: tip.size + 1, bytes: tip.bytes + bytes.length + 1, lastLine: sha256Hex(bytes), frontier: appendLeaf(tip.frontier, bytes) };
  }
  return { ...tip, head: entries[entries.length - 1]!.head };
}

/** Rebuild the tip from the whole ledger (strictly parsed). */
export function rebuildTip(auditDir: string): LedgerTip {
  // readLedger reports a corrupt ledger as the documented error.
  if (readLedger(auditDir).length === 0) return emptyTip();
  return extend(emptyTip(), readAuditText(join(auditDir, LEDGER_FILE), READ_LIMIT.ledger));
}

/** The current tip for `auditDir`, checked against the ledger; `rebuilt`
 * says why it had to be rebuilt from the whole ledger (null when it did not). */
export interface LoadedTip {
  tip: LedgerTip;
  /** Why it was rebuilt from the whole ledger, or null. */
  rebuilt: string | null;
  repaired: string | null;
  /** Whether its list of open operations can be trusted (a recorded tip
   * bound to the ledger); otherwise crash recovery lists the audit dir. */
  known: boolean;
}

export function loadTip(auditDir: string, tipFile: string | null): LoadedTip {
  const cached = tipFile ? readTipFile(tipFile) : null;
  const ledger = join(auditDir, LEDGER_FILE);
  let fd: number;
  try {
    // Our own file: never through a link, and only a regular file (a FIFO
    // or a device in its place would block or never end).
    fd = openSync(ledger, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      throw Object.assign(new Error(`${ledger} is not a regular file`), { code: "ENOTREG" });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new PkgswitchError(Exit.PERMISSION, `audit file ${ledger} ${readProblem(e)}; move it aside and run \`pkgswitch audit verify --all\` (nothing was changed)`);
    }
    if (cached && cached.size === 0) return { tip: cached, rebuilt: null, repaired: null, known: true };
    return { tip: emptyTip(), rebuilt: cached && cached.size > 0 ? "the ledger is missing" : null, repaired: null, known: false };
  }
  try {
    if (!cached) return { tip: rebuildTip(auditDir), rebuilt: tipFile ? "no ledger tip was recorded" : null, repaired: null, known: false };
    const size = fstatSync(fd).size;
    const last = lastLineBefore(fd, cached.bytes);
    const bound = size >= cached.bytes && (cached.bytes === 0 ? cached.size === 0 : last !== null && sha256Hex(last) === cached.lastLine);
    if (!bound) return { tip: rebuildTip(auditDir), rebuilt: "the ledger no longer matches its recorded tip (edited, truncated or replaced)", repaired: null, known: false };
    if (size === cached.bytes) return { tip: cached, rebuilt: null, repaired: null, known: true };
    // Bytes after the tip: lines a crash kept the tip from recording, and
    // perhaps a torn fragment of the append the crash interrupted.
    const extra = pread(fd, cached.bytes, size - cached.bytes);
    const cut = extra.lastIndexOf(0x0a) + 1;
    let repaired: string | null = null;
    if (cut < extra.length) {
      ftruncateSync(fd, cached.bytes + cut);
      fsyncSync(fd);
      repaired = `cut a torn final fragment of ${extra.length - cut} byte(s) an interrupted append left`;
    }
    if (cut === 0) return { tip: cached, rebuilt: null, repaired, known: true };
    try {
      return { tip: extend(cached, extra.subarray(0, cut).toString("utf8")), rebuilt: null, repaired, known: true };
    } catch {
      return { tip: rebuildTip(auditDir), rebuilt: "lines after the recorded tip do not continue the ledger", repaired, known: false };
    }
  } finally {
    closeSync(fd);
  }
}

/** Append one ledger line (durably) and return the new tip. */
export function appendToLedger(auditDir: string, tip: LedgerTip, entry: LedgerEntry, line: string): LedgerTip {
  // Never through a link (loadTip refused one; this closes the window since).
  const fd = openSync(join(auditDir, LEDGER_FILE), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const bytes = Buffer.from(line);
    let n = 0;
    while (n < bytes.length) n += writeSync(fd, bytes, n, bytes.length - n);
    fsyncSync(fd);
    const body = bytes.subarray(0, bytes.length - 1);
    return { ...tip, size: tip.size + 1, bytes: tip.bytes + bytes.length, lastLine: sha256Hex(body), head: entry.head, frontier: appendLeaf(tip.frontier, body), open: tip.open.filter((o) => o !== entry.op) };
  } finally {
    closeSync(fd);
  }
}
