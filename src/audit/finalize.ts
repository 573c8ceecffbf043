/** Finalizing an operation on disk: its events file, signature, ledger line
 * and checkpoint, written in an order that a crash between any two steps
 * leaves finishable (src/audit/recover.ts finishes it). */
import type { CommandExit } from "../errors.ts";
import { existsSync, unlinkSync } from "node:fs";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import { ledgerLine, type LedgerEntry, type SignatureStatus } from "./ledger.ts";
import { CHECKPOINT_FILE, journalMacName, jsonlName, LEDGER_FILE, sbomName, sigName } from "./names.ts";
import { parseCheckpoint } from "./note.ts";
import { appendLeaf } from "./frontier.ts";
import { readAuditText } from "./store.ts";
import { appendToLedger, emptyTip, tipRoot, writeTip, type LedgerTip } from "./tip.ts";

/** Signs finalized artifacts; provided by src/attest when a key is configured. */
export interface Signer {
  /** KEYID (16 uppercase hex). */
  keyId: string;
  /** minisign signature text for a file. */
  signFile(bytes: Uint8Array, opId: string, fileName: string): string;
  /** Signed checkpoint note for the ledger's Merkle tree. */
  checkpoint(treeSize: number, rootHash: Uint8Array): string;
  /** Key of the journal MACs (./journal-mac.ts journalMacKey of the secret
   * seed). Without it a running operation's journal is not authenticated,
   * and recovery under this signer finalizes no journal. */
  journalKey?: Uint8Array;
  /** Key of the hash cache's MAC (src/hashing/cache.ts hashCacheMacKey of
   * the seed). Without it the cache is read and saved unauthenticated. */
  cacheKey?: Uint8Array;
}

export type SigningSetup =
  | { mode: "off" }
  | { mode: "key"; signer: Signer }
  | { mode: "failed"; reason: string };

export type OpStatus = "ok" | "failed" | "rolled_back" | "dry_run";

export interface FinalizeInput {
  status: OpStatus;
  exitCode: CommandExit;
  counts?: Record<string, number>;
  /** Serialized SBOM bytes, written as audit-<op>-sbom.json. */
  sbom?: Uint8Array;
  signing: SigningSetup;
  /** Merkle root over ledger leaves (from src/audit/merkle), for checking a
   * checkpoint this writer did not sign against the whole ledger. */
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
  /** The ledger's tip (./tip.ts) and where it is kept (null: not kept). */
  ledgerTip: { tip: LedgerTip; file: string | null },
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

  const entry: LedgerEntry = {
    v: 1,
    seq: ledgerTip.tip.size,
    op: opId,
    head,
    jsonl_sha256: sha256Hex(jsonl),
    signature,
    key_id: keyId,
    ts: new Date().toISOString(),
  };
  // One appended line and O(log n) hashes: the ledger is never re-read here.
  let tip = appendToLedger(dir, ledgerTip.tip, entry, ledgerLine(entry));
  files.push(join(dir, LEDGER_FILE));

  if (input.signing.mode === "key") {
    const mismatch = checkpointBehind(dir, ledgerTip.tip, input.merkleRoot);
    if (mismatch) {
      // Re-signing over a ledger that lost or changed lines would launder the
      // tampering; leave the old checkpoint for `audit verify` to report.
      signatureError ??= `checkpoint not updated: ${mismatch} — run \`pkgswitch audit verify --all\``;
    } else {
      try {
        const root = tipRoot(tip);
        writeFileAtomic(join(dir, CHECKPOINT_FILE), input.signing.signer.checkpoint(tip.size, root));
        files.push(join(dir, CHECKPOINT_FILE));
        tip = { ...tip, checkpoint: { size: tip.size, root: Buffer.from(root).toString("hex") } };
      } catch (e) {
        signatureError ??= `checkpoint: ${(e as Error).message}`;
      }
    }
  }
  if (ledgerTip.file) writeTip(ledgerTip.file, tip);
  ledgerTip.tip = tip;
  closeJournal();
  // Its MAC first: a journal left without one is in the ledger by now, and
  // recovery removes such a journal before it looks for a MAC.
  const mac = join(dir, journalMacName(opId));
  if (journal && existsSync(mac)) unlinkSync(mac);
  if (journal && existsSync(journal)) unlinkSync(journal);
  const summary: OpSummary = { opId, status: input.status, files, signature, ledgerSeq: entry.seq };
  if (signatureError) summary.signatureError = signatureError;
  return summary;
}

/** Why the checkpoint on disk does not cover a prefix of the ledger as `tip`
 * (before this append) knew it, or null when it does. The usual case costs
 * nothing: the checkpoint is the one this writer last signed over the tip.
 * Any other checkpoint is checked against the whole ledger, as before. */
export function checkpointBehind(dir: string, tip: LedgerTip, merkleRoot?: FinalizeInput["merkleRoot"]): string | null {
  const cp = readCheckpointHead(dir);
  if (cp === null) return null;
  if (cp !== "unparsable" && tip.checkpoint && cp.size === tip.checkpoint.size && Buffer.from(cp.root).toString("hex") === tip.checkpoint.root) return null;
  if (cp !== "unparsable" && cp.size === tip.size && equalBytes(cp.root, tipRoot(tip))) return null;
  const text = existsSync(join(dir, LEDGER_FILE)) ? readAuditText(join(dir, LEDGER_FILE), READ_LIMIT.ledger) : "";
  const leaves = text.split("\n").filter(Boolean).slice(0, tip.size).map((l) => Buffer.from(l));
  return checkpointMismatch(dir, leaves, merkleRoot ?? ((ls) => tipRoot(ls.reduce((t, l) => ({ ...t, frontier: appendLeaf(t.frontier, l) }), emptyTip()))));
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
