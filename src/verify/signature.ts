/** Signature checks for audit files: minisign verification plus the strict
 * form pkgswitch writes (untrusted comment `pkgswitch signature <op_id>`,
 * trusted comment `timestamp:<unix>\tfile:<basename>\thashed\top:<op_id>`,
 * key id as in the ledger).
 *
 * `verifyMinisign` is `verifySignature` (src/attest/minisign.ts) with the
 * BLAKE2b-512 prehash computed by node:crypto instead of @noble/hashes (about
 * 30x faster over a 35 KB audit file, which is what `verify --all` over
 * thousands of operations spends its time on). Same parser, same key
 * selection, same strict Ed25519 verification; tests/unit/verify.test.ts
 * checks that it returns what `verifySignature` returns. */
import { createHash } from "node:crypto";
import { blake2b } from "@noble/hashes/blake2.js";
import { verifyStrict } from "../attest/ed25519.ts";
import { keyIdHex, parseSignature, type ParsedSignature, type PublicKey, type VerifyResult } from "../attest/minisign.ts";
import { VerifyExit } from "../errors.ts";

const enc = new TextEncoder();

let nativeBlake: boolean | null = null;
/** BLAKE2b-512 of `bytes` (native when the runtime has it). */
export function blake2b512(bytes: Uint8Array): Uint8Array {
  if (nativeBlake === null) {
    try {
      nativeBlake = createHash("blake2b512").update("abc").digest("hex") === Buffer.from(blake2b(enc.encode("abc"), { dkLen: 64 })).toString("hex");
    } catch {
      nativeBlake = false;
    }
  }
  return nativeBlake ? new Uint8Array(createHash("blake2b512").update(bytes).digest()) : blake2b(bytes, { dkLen: 64 });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** Same contract and results as minisign.ts `verifySignature`. */
export function verifyMinisign(
  fileBytes: Uint8Array,
  sigText: string,
  trustedKeys: readonly PublicKey[],
  opts: { allowLegacy?: boolean; lenient?: boolean } = {},
): VerifyResult {
  const allowLegacy = opts.allowLegacy ?? false;
  const malformed = (e: unknown): VerifyResult => ({ ok: false, reason: "malformed", detail: (e as Error).message });
  let sig: ParsedSignature;
  try {
    sig = parseSignature(sigText, { lenient: true });
  } catch (e) {
    return malformed(e);
  }
  const keyId = keyIdHex(sig.keyId);
  const legacy = sig.algorithm === "Ed" || sig.trustedComment === undefined;
  const base = { keyId, trustedComment: sig.trustedComment, legacy };
  if (legacy && !allowLegacy) return { ok: false, reason: "legacy not allowed", ...base };
  if (!(opts.lenient || allowLegacy)) {
    try {
      parseSignature(sigText);
    } catch (e) {
      return malformed(e);
    }
  }
  const candidates = trustedKeys.filter((k) => equalBytes(k.keyId, sig.keyId));
  if (candidates.length === 0) return { ok: false, reason: "untrusted key", ...base };
  const message = sig.algorithm === "ED" ? blake2b512(fileBytes) : fileBytes;
  const signer = candidates.find((k) => verifyStrict(sig.signature, message, k.pk));
  if (!signer) return { ok: false, reason: "bad signature", ...base };
  if (sig.trustedComment !== undefined) {
    const tc = enc.encode(sig.trustedComment);
    const signed = new Uint8Array(64 + tc.length);
    signed.set(sig.signature, 0);
    signed.set(tc, 64);
    if (!verifyStrict(sig.globalSignature!, signed, signer.pk)) return { ok: false, reason: "bad trusted comment signature", ...base };
  }
  return { ok: true, ...base };
}

export interface SigFinding {
  exit: number;
  message: string;
}

const TRUSTED_RE = /^timestamp:(0|[1-9][0-9]{0,19})\tfile:([^\t]*)\thashed\top:([^\t]*)$/;
const TRUSTED_LEGACY_RE = /^timestamp:(0|[1-9][0-9]{0,19})\tfile:([^\t]*)(?:\thashed)?\top:([^\t]*)$/;

/**
 * Check an audit file's signature as pkgswitch writes it. `expectKeyId` is
 * the ledger's key_id (null when the caller has none, e.g. a bundle without
 * a ledger line). Returns the findings (empty = verified) and the signing
 * key id.
 *
 * Everything that means "this is not the signature pkgswitch wrote" is
 * tampering (1): a malformed file, a comment that does not name this file
 * and operation, a key id that differs from the ledger's, a legacy form
 * without --allow-legacy, a signature that does not verify. Only a
 * well-formed signature by a key outside the trusted set is 4.
 */
export function checkAuditSignature(
  fileBytes: Uint8Array,
  sigText: string,
  opId: string,
  fileName: string,
  trusted: readonly PublicKey[],
  opts: { allowLegacy: boolean; expectKeyId: string | null },
): { findings: SigFinding[]; keyId?: string } {
  const findings: SigFinding[] = [];
  const r = verifyMinisign(fileBytes, sigText, trusted, { allowLegacy: opts.allowLegacy });
  if (r.reason === "malformed") return { findings: [{ exit: VerifyExit.TAMPERED, message: `not a valid signature file: ${r.detail}` }] };
  // Form checks (the signature file is parsed by now).
  const untrusted = sigText.slice(0, sigText.indexOf("\n"));
  if (untrusted !== `untrusted comment: pkgswitch signature ${opId}`) {
    findings.push({ exit: VerifyExit.TAMPERED, message: `untrusted comment is ${JSON.stringify(untrusted)}, expected "untrusted comment: pkgswitch signature ${opId}"` });
  }
  if (r.trustedComment !== undefined) {
    const m = (r.legacy ? TRUSTED_LEGACY_RE : TRUSTED_RE).exec(r.trustedComment);
    if (!m) findings.push({ exit: VerifyExit.TAMPERED, message: `trusted comment ${JSON.stringify(r.trustedComment)} is not "timestamp:<unix>\\tfile:<name>\\thashed\\top:<op_id>"` });
    else {
      if (m[2] !== fileName) findings.push({ exit: VerifyExit.TAMPERED, message: `trusted comment names file ${JSON.stringify(m[2])}, not ${fileName}` });
      if (m[3] !== opId) findings.push({ exit: VerifyExit.TAMPERED, message: `trusted comment names op ${JSON.stringify(m[3])}, not ${opId}` });
    }
  }
  if (opts.expectKeyId !== null && r.keyId !== undefined && r.keyId !== opts.expectKeyId) {
    findings.push({ exit: VerifyExit.TAMPERED, message: `signed by key ${r.keyId}, but the ledger records key ${opts.expectKeyId}` });
  }
  if (!r.ok) {
    switch (r.reason) {
      case "legacy not allowed":
        findings.push({ exit: VerifyExit.TAMPERED, message: "legacy signature (Ed over the raw file, or no trusted comment): not the form pkgswitch writes; --allow-legacy accepts it" });
        break;
      case "untrusted key":
        // A key-id mismatch with the ledger is already reported as tampering.
        if (findings.length === 0) findings.push({ exit: VerifyExit.UNTRUSTED, message: `signed by key ${r.keyId}, which is not in the trusted set` });
        break;
      case "bad signature":
        findings.push({ exit: VerifyExit.TAMPERED, message: `signature by key ${r.keyId} does not match the file` });
        break;
      case "bad trusted comment signature":
        findings.push({ exit: VerifyExit.TAMPERED, message: `the trusted comment's signature does not verify (comment altered)` });
        break;
      default:
        findings.push({ exit: VerifyExit.TAMPERED, message: `signature rejected (${r.reason})` });
    }
  }
  const out: { findings: SigFinding[]; keyId?: string } = { findings };
  if (r.keyId !== undefined) out.keyId = r.keyId;
  return out;
}
