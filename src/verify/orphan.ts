/** Whether an artifact the ledger does not list (an "orphan") is what a
 * crash leaves behind: the operation's files are written before its ledger
 * line (../audit/finalize.ts), so a crash in between leaves them beside the
 * operation's journal, which the next run finalizes. Only then is an orphan
 * a warning. A journal's mere presence explains nothing (an empty
 * `.inprogress-<op>.jsonl` costs nothing to plant): its content must be the
 * orphan's. The journal's MAC cannot be checked here (its key derives from
 * the secret key, which verify never reads), so content is what is compared,
 * byte for byte. Asked only for orphans, which a healthy record has none of. */
import { join } from "node:path";
import { journalName, jsonlName, sbomName, sigName } from "../audit/names.ts";
import { readArtifact } from "./files.ts";
import { sha256Hex } from "./strict.ts";

/** Whole lines of a file (latin1: byte-exact), or null when unreadable. A
 * final line without its newline (torn by the crash) is not whole. */
function wholeLines(dir: string, name: string): string[] | null {
  const r = readArtifact(join(dir, name));
  if (!r.ok) return null;
  const lines = r.bytes.toString("latin1").split("\n");
  lines.pop();
  return lines;
}

/** Does `op`'s journal explain the orphan `name` (its events file, the
 * signature over it, or its SBOM)? */
export function journalExplains(dir: string, op: string, name: string): boolean {
  const journal = wholeLines(dir, journalName(op));
  if (!journal || journal.length === 0) return false;
  if (name === jsonlName(op)) return eventsMatch(wholeLines(dir, name), journal);
  // The signature is written after the events file: explained with it.
  if (name === sigName(op)) return eventsMatch(wholeLines(dir, jsonlName(op)), journal);
  if (name === sbomName(op)) return sbomMatches(dir, op, journal);
  return false;
}

/** The events file holds the journal's events: the same lines (finalize),
 * or a prefix of them plus the `op.end` recovery adds (it drops what the
 * journal's MAC does not cover), or all of them plus those a full disk kept
 * out of the journal. Every line both have is the same, except that the
 * file's last line may be recovery's own. */
function eventsMatch(events: string[] | null, journal: string[]): boolean {
  if (!events || events.length === 0) return false;
  const n = Math.min(events.length, journal.length);
  for (let i = 0; i < n; i++) {
    if (events[i] !== journal[i] && !(i > 0 && i === events.length - 1)) return false;
  }
  return true;
}

/** The SBOM is written just before `op.end` names it (../audit/opbuffer.ts):
 * the journal's `op.end`, if it got that far, must name this SBOM's digest;
 * otherwise the journal must at least be this operation's. */
function sbomMatches(dir: string, op: string, journal: string[]): boolean {
  const sbom = readArtifact(join(dir, sbomName(op)));
  if (!sbom.ok) return false;
  let start: { event?: unknown; op?: unknown };
  try {
    start = JSON.parse(journal[0]!);
  } catch {
    return false;
  }
  if (start.event !== "op.start" || start.op !== op) return false;
  const endLine = journal.findLast((l) => l.includes('"event":"op.end"'));
  if (endLine === undefined) return true;
  try {
    const end = JSON.parse(endLine) as { sbom?: { sha256?: unknown } };
    return end.sbom?.sha256 === sha256Hex(sbom.bytes);
  } catch {
    return false;
  }
}
