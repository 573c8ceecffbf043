/** The ledger: one JCS line per finalized operation, the leaves of the
 * RFC 9162 Merkle tree (design/formats.md "Ledger and checkpoints"). */
import { canonicalize } from "./jcs.ts";
import { GENESIS } from "./event.ts";

export type SignatureStatus = "signed" | "unsigned" | "failed";

export interface LedgerEntry {
  v: 1;
  seq: number;
  op: string;
  head: string;
  jsonl_sha256: string;
  signature: SignatureStatus;
  key_id: string | null;
  ts: string;
}

export function ledgerLine(e: LedgerEntry): string {
  return canonicalize(e) + "\n";
}

export class LedgerParseError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

const KEYS = ["head", "jsonl_sha256", "key_id", "op", "seq", "signature", "ts", "v"];

/** Parse ledger text strictly: every line must be exactly the JCS form of a
 * well-shaped entry, and `seq` must count from `firstSeq` (0 for a whole
 * ledger; the tip's size for lines appended after it). */
export function parseLedger(text: string, firstSeq = 0): LedgerEntry[] {
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new LedgerParseError(text.split("\n").length, "it is cut short: the ledger does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  return lines.map((line, i) => {
    let obj: LedgerEntry;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new LedgerParseError(i + 1, "not JSON");
    }
    if (typeof obj !== "object" || obj === null || Object.keys(obj).sort().join() !== KEYS.join()) {
      throw new LedgerParseError(i + 1, "unexpected fields");
    }
    if (canonicalize(obj) !== line) throw new LedgerParseError(i + 1, "not in canonical (JCS) form");
    if (obj.v !== 1 || obj.seq !== firstSeq + i) throw new LedgerParseError(i + 1, `seq ${obj.seq} where ${firstSeq + i} was expected`);
    return obj;
  });
}

/** The chain head that the next operation's first event links to. */
export function ledgerHead(entries: LedgerEntry[]): string {
  return entries.length === 0 ? GENESIS : entries[entries.length - 1]!.head;
}
