/** Signature checks for audit files: minisign verification (src/attest/
 * minisign.ts, strict Ed25519, native BLAKE2b prehash) plus the strict form
 * pkgswitch writes (untrusted comment `pkgswitch signature <op_id>`, trusted
 * comment `timestamp:<unix>\tfile:<basename>\thashed\top:<op_id>`, key id
 * as in the ledger). */
import { verifySignature, type PublicKey } from "../attest/minisign.ts";
import { VerifyExit, type VerifyExitCode } from "../errors.ts";

export interface SigFinding {
  exit: VerifyExitCode;
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
  const r = verifySignature(fileBytes, sigText, trusted, { allowLegacy: opts.allowLegacy });
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
