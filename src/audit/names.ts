/** The names of the files in an audit directory (docs/formats.md), for the
 * writer, the CLI and the verifier alike: one spelling of each. */

/** Hash-chained events of one operation. */
export const jsonlName = (op: string) => `audit-${op}.jsonl`;
/** minisign signature of the events file. */
export const sigName = (op: string) => `audit-${op}.jsonl.sig`;
/** SPDX SBOM of the packages an operation involved. */
export const sbomName = (op: string) => `audit-${op}-sbom.json`;
/** Journal of an operation still running (or interrupted by a crash). */
export const journalName = (op: string) => `.inprogress-${op}.jsonl`;
/** MAC of a running operation's journal (./journal-mac.ts). */
export const journalMacName = (op: string) => `.inprogress-${op}.mac`;
/** A journal recovery refused (not authenticated by the signing key), and its MAC file. */
export const rejectedJournalName = (op: string) => `.unauthenticated-${op}.jsonl`;
export const rejectedMacName = (op: string) => `.unauthenticated-${op}.mac`;
/** The op id a refused journal's file name stands for, or null. */
export function rejectedJournalOp(name: string): string | null {
  const m = /^\.unauthenticated-(.+)\.jsonl$/.exec(name);
  return m ? m[1]! : null;
}
/** The op id a journal file name stands for, or null for any other name. */
export function journalOp(name: string): string | null {
  const m = /^\.inprogress-(.+)\.jsonl$/.exec(name);
  return m ? m[1]! : null;
}
/** One line per operation, hash-linked. */
export const LEDGER_FILE = "ledger.jsonl";
/** Signed Merkle checkpoint over the ledger's lines. */
export const CHECKPOINT_FILE = "checkpoint";
/** Archive segments (`audit archive`): a subdirectory of the audit dir. */
export const ARCHIVE_DIR = "archive";
/** A segment: gzip-compressed ustar of the files of the operations it holds. */
export const segmentName = (firstOp: string, lastOp: string) => `${firstOp}..${lastOp}.tar.gz`;
/** minisign signature of a segment (`minisign -Vm <segment>` checks it). */
export const segmentSigName = (segment: string) => `${segment}.minisig`;
export const SEGMENT_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\.\.[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\.tar\.gz$/;
