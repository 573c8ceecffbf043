/** Checkpoint checks: strict C2SP parse, pkgswitch's origin and key name,
 * signature by a trusted key; Merkle consistency between two checkpoints. */
import { consistencyProof, rootHash, verifyConsistency, type LeafHashList } from "../audit/merkle.ts";
import { b64 } from "../encoding/base64.ts";
import { NoteError, parseCheckpoint, type Checkpoint } from "../audit/note.ts";
import { verifyNote } from "../attest/notesig.ts";
import { VerifyExit } from "../errors.ts";
import type { Report, Where } from "./report.ts";
import { keyById, type TrustSet } from "./trust.ts";

export const ORIGIN_RE = /^pkgswitch\/\S+$/;
export const KEY_NAME_RE = /^pkgswitch-([0-9A-F]{16})$/;

export interface CheckedCheckpoint {
  cp: Checkpoint;
  /** KEYID named by the signature line (when well-formed). */
  keyId: string | null;
  /** Signature verified with a trusted key. */
  verified: boolean;
  /** Parsed and well-formed (independently of trust). */
  wellFormed: boolean;
}

/**
 * Parse and verify a checkpoint. `label` names it in the report (the
 * file). Returns null when it does not parse. `expectKeyId`, when given,
 * is the key the ledger says signed the operation that wrote it.
 */
export function checkCheckpoint(
  bytes: Uint8Array | string,
  where: Where,
  trust: TrustSet,
  report: Report,
  what = "checkpoint",
): CheckedCheckpoint | null {
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(bytes);
  } catch (e) {
    report.fail(what, VerifyExit.TAMPERED, `not a valid checkpoint: ${e instanceof NoteError ? e.message : (e as Error).message}`, where);
    return null;
  }
  let wellFormed = true;
  if (!ORIGIN_RE.test(cp.origin)) {
    report.fail(what, VerifyExit.TAMPERED, `origin ${JSON.stringify(cp.origin)} is not pkgswitch/<host id>`, where);
    wellFormed = false;
  }
  if (cp.signatures.length !== 1) {
    report.fail(what, VerifyExit.TAMPERED, `${cp.signatures.length} signature lines; pkgswitch writes exactly one`, where);
    return { cp, keyId: null, verified: false, wellFormed: false };
  }
  const name = cp.signatures[0]!.name;
  const m = KEY_NAME_RE.exec(name);
  if (!m) {
    report.fail(what, VerifyExit.TAMPERED, `key name ${JSON.stringify(name)} is not pkgswitch-<KEYID>`, where);
    return { cp, keyId: null, verified: false, wellFormed: false };
  }
  const keyId = m[1]!;
  const key = keyById(trust, keyId);
  if (!key) {
    // A signature that does not even match the named key's hash is tampering
    // whatever the trust; otherwise it is a trust problem.
    report.fail(what, VerifyExit.UNTRUSTED, `signed by key ${keyId}, which is not in the trusted set (${trust.source})`, where);
    return { cp, keyId, verified: false, wellFormed };
  }
  if (!verifyNote(bytes, name, key.pk)) {
    report.fail(what, VerifyExit.TAMPERED, `signature by key ${keyId} does not verify`, where);
    return { cp, keyId, verified: false, wellFormed };
  }
  report.pass(`${what}.signature`);
  return { cp, keyId, verified: wellFormed, wellFormed };
}


function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * An earlier checkpoint against the current log: the log only grew.
 * `leafHashes` are the leaf hashes of every ledger line; `current` is the
 * current signed checkpoint when it verified (the consistency proof then
 * targets it), else the ledger itself is the target.
 */
export function checkConsistency(
  old: Checkpoint,
  where: Where,
  leafHashes: LeafHashList,
  current: Checkpoint | null,
  report: Report,
): void {
  const n = leafHashes.length;
  const size1 = Number(old.size);
  if (current && current.origin !== old.origin) {
    report.fail("consistency", VerifyExit.TAMPERED, `saved checkpoint is for ${JSON.stringify(old.origin)}, this log is ${JSON.stringify(current.origin)}`, where);
    return;
  }
  if (old.size > BigInt(n)) {
    report.fail("consistency", VerifyExit.TAMPERED, `the saved checkpoint covers ${old.size} operations but the ledger has only ${n}: the log was truncated`, where);
    return;
  }
  if (size1 === 0) {
    report.pass("consistency");
    return;
  }
  const prefixRoot = rootHash(leafHashes.slice(0, size1));
  if (!equal(prefixRoot, old.root)) {
    report.fail("consistency", VerifyExit.TAMPERED, `the first ${size1} ledger lines hash to ${b64(prefixRoot)}, not to the saved root ${b64(old.root)}: history was rewritten`, where);
    return;
  }
  // Also as a proof, the way an auditor holding only the two checkpoints
  // would check it (RFC 9162 2.1.4).
  const target = current && current.size >= old.size && current.size <= BigInt(n) ? current : null;
  const size2 = target ? Number(target.size) : n;
  const root2 = target ? target.root : rootHash(leafHashes);
  const proof = consistencyProof(size1, leafHashes.slice(0, size2));
  if (!verifyConsistency(size1, size2, old.root, root2, proof)) {
    report.fail("consistency", VerifyExit.TAMPERED, `consistency proof from size ${size1} to ${size2} does not verify`, where);
    return;
  }
  report.count("consistency_proofs");
  report.pass("consistency");
}
