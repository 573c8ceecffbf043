/** Finalizing an operation on disk: its events file, signature, ledger line
 * and checkpoint, written in an order that a crash between any two steps
 * leaves finishable (src/audit/recover.ts finishes it). */
import { existsSync, unlinkSync } from "node:fs";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { ledgerLine, type LedgerEntry, type SignatureStatus } from "./ledger.ts";
import { CHECKPOINT_FILE, jsonlName, LEDGER_FILE, sbomName, sigName } from "./names.ts";
import { parseCheckpoint } from "./note.ts";
import { readLedger } from "./store.ts";

/** Signs finalized artifacts; provided by src/attest when a key is configured. */
export interface Signer {
  /** KEYID (16 uppercase hex). */
  keyId: string;
  /** minisign signature text for a file. */
  signFile(bytes: Uint8Array, opId: string, fileName: string): string;
  /** Signed checkpoint note for the ledger's Merkle tree. */
  checkpoint(treeSize: number, rootHash: Uint8Array): string;
}

export type SigningSetup =
  | { mode: "off" }
  | { mode: "key"; signer: Signer }
  | { mode: "failed"; reason: string };

export type OpStatus = "ok" | "failed" | "rolled_back" | "dry_run";

export interface FinalizeInput {
  status: OpStatus;
  exitCode: number;
  counts?: Record<string, number>;
  /** Serialized SBOM bytes, written as audit-<op>-sbom.json. */
  sbom?: Uint8Array;
  signing: SigningSetup;
  /** Merkle root over ledger leaves (from src/audit/merkle). */
  merkleRoot?: (leaves: Uint8Array[]) => Uint8Array;
}

export interface OpSummary {
  opId: string;
  status: OpStatus;
  files: string[];
  signature: SignatureStatus;
  signatureError?: string;
  ledgerSeq: number;
}

/** Artifacts, ledger line, checkpoint; then the journal goes. Ordered so a
 * crash between steps is finished by `recoverInterrupted`. */
export function writeArtifacts(
  dir: string,
  opId: string,
  /** The operation's JSONL lines, and the hash of its last event. */
  lines: string[],
  head: string,
  input: FinalizeInput,
  journal: string | null,
  closeJournal: () => void,
): OpSummary {
  const files: string[] = [];
  const jsonlFile = jsonlName(opId);
  const jsonl = Buffer.from(lines.join(""));
  if (input.sbom) files.push(join(dir, sbomName(opId))); // written by finalize
  writeFileAtomic(join(dir, jsonlFile), jsonl);
  files.push(join(dir, jsonlFile));

  let signature: SignatureStatus = "unsigned";
  let keyId: string | null = null;
  let signatureError: string | undefined;
  if (input.signing.mode === "key") {
    try {
      const sig = input.signing.signer.signFile(jsonl, opId, jsonlFile);
      writeFileAtomic(join(dir, sigName(opId)), sig);
      files.push(join(dir, sigName(opId)));
      signature = "signed";
      keyId = input.signing.signer.keyId;
    } catch (e) {
      signature = "failed";
      signatureError = (e as Error).message;
    }
  } else if (input.signing.mode === "failed") {
    signature = "failed";
    signatureError = input.signing.reason;
  }

  const ledger = readLedger(dir);
  const entry: LedgerEntry = {
    v: 1,
    seq: ledger.length,
    op: opId,
    head,
    jsonl_sha256: sha256Hex(jsonl),
    signature,
    key_id: keyId,
    ts: new Date().toISOString(),
  };
  ledger.push(entry);
  const ledgerLines = ledger.map(ledgerLine);
  writeFileAtomic(join(dir, LEDGER_FILE), ledgerLines.join(""));
  files.push(join(dir, LEDGER_FILE));

  if (input.signing.mode === "key" && input.merkleRoot) {
    const leaves = ledgerLines.map((l) => Buffer.from(l.slice(0, -1)));
    const mismatch = checkpointMismatch(dir, leaves.slice(0, -1), input.merkleRoot);
    if (mismatch) {
      // Re-signing over a ledger that lost or changed lines would launder the
      // tampering; leave the old checkpoint for `audit verify` to report.
      signatureError ??= `checkpoint not updated: ${mismatch} — run \`pkgswitch audit verify --all\``;
    } else {
      try {
        writeFileAtomic(join(dir, CHECKPOINT_FILE), input.signing.signer.checkpoint(ledger.length, input.merkleRoot(leaves)));
        files.push(join(dir, CHECKPOINT_FILE));
      } catch (e) {
        signatureError ??= `checkpoint: ${(e as Error).message}`;
      }
    }
  }
  closeJournal();
  if (journal && existsSync(journal)) unlinkSync(journal);
  const summary: OpSummary = { opId, status: input.status, files, signature, ledgerSeq: entry.seq };
  if (signatureError) summary.signatureError = signatureError;
  return summary;
}

/** Why the current checkpoint does not cover a prefix of `leaves` (the
 * ledger as it is now), or null when it does (or there is none yet). The
 * checkpoint's signature is `audit verify`'s business; this only refuses to
 * extend a tree whose signed past no longer matches the ledger. */
export function checkpointMismatch(dir: string, leaves: Uint8Array[], merkleRoot: NonNullable<FinalizeInput["merkleRoot"]>): string | null {
  const cp = readCheckpointHead(dir);
  if (cp === null) return null;
  if (cp === "unparsable") return "the checkpoint does not parse";
  const size = cp.size;
  if (size > leaves.length) return `the checkpoint covers ${size} operations but the ledger has ${leaves.length}`;
  if (!equalBytes(merkleRoot(leaves.slice(0, size)), cp.root)) return `the ledger's first ${size} lines no longer match the checkpoint's root`;
  return null;
}

/** Size and root of the checkpoint in `dir`: null when there is none,
 * "unparsable" when it is not a checkpoint (parsed strictly, signatures
 * aside: those are `audit verify`'s business). */
export function readCheckpointHead(dir: string): { size: number; root: Uint8Array } | "unparsable" | null {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return null;
  try {
    const cp = parseCheckpoint(readBounded(path, { max: READ_LIMIT.small, noFollow: true }));
    return cp.size > BigInt(Number.MAX_SAFE_INTEGER) ? "unparsable" : { size: Number(cp.size), root: cp.root };
  } catch {
    return "unparsable";
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
