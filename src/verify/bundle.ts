/** Portable evidence for one operation (`audit export --op ID -o FILE`) and
 * its standalone verification (`audit verify --bundle FILE --pubkey KEY`),
 * which needs nothing but the bundle and the key the auditor trusts.
 *
 * Bundle (JSON, version 1):
 *
 *     { "format": "pkgswitch-audit-bundle", "version": 1, "op": "<op_id>",
 *       "files": { "jsonl": {"name", "text"}, "sig": {"name", "text"} | null,
 *                  "sbom": {"name", "text"} | null },
 *       "public_key": "<minisign public key text>" | null,
 *       "ledger": { "line": "<ledger line, no newline>",
 *                   "previous_line": "<line before it>" | null,
 *                   "previous_proof": ["<base64 hash>", …] | null },
 *       "inclusion_proof": { "leaf_index": n, "tree_size": N,
 *                            "hashes": ["<base64 hash>", …] },
 *       "checkpoint": "<signed checkpoint text>" | null }
 *
 * File texts are the artifacts' exact bytes (they are UTF-8; the export
 * refuses otherwise). The bundled public key is informational only: trust
 * comes from --pubkey (or the local trusted set), never from the bundle. The
 * previous ledger line and its proof let the verifier check the operation's
 * link to the one before it. */
import { join } from "node:path";
import { b64, decodeBase64Canonical } from "../encoding/base64.ts";
import { GENESIS } from "../audit/event.ts";
import { inclusionProof, leafHash, verifyInclusion } from "../audit/merkle.ts";
import { OP_ID_RE, parseOpId } from "../audit/opid.ts";
import { PkgswitchError, VerifyExit, type VerifyExitCode } from "../errors.ts";
import { parseCheckpoint } from "../audit/note.ts";
import { checkCheckpoint } from "./checkpoint.ts";
import { decodeUtf8, readArtifact, type ReadResult } from "./files.ts";
import { CHECKPOINT_FILE, jsonlName, LEDGER_FILE, sbomName, sigName } from "../audit/names.ts";
import { checkOperationFrom, type ArtifactSource } from "./operation.ts";
import { Report } from "./report.ts";
import { parseLedgerLine, readLedgerLines } from "./strict.ts";
import type { TrustSet } from "./trust.ts";
import { tooDeep } from "../config/bounded.ts";

export const BUNDLE_FORMAT = "pkgswitch-audit-bundle";
export const BUNDLE_VERSION = 1;

interface BundleFile {
  name: string;
  text: string;
}

export interface Bundle {
  format: typeof BUNDLE_FORMAT;
  version: number;
  op: string;
  files: { jsonl: BundleFile; sig: BundleFile | null; sbom: BundleFile | null };
  public_key: string | null;
  ledger: { line: string; previous_line: string | null; previous_proof: string[] | null };
  inclusion_proof: { leaf_index: number; tree_size: number; hashes: string[] };
  checkpoint: string | null;
}


function fail(code: VerifyExitCode, msg: string): never {
  throw new PkgswitchError(code, msg);
}

function textOf(r: ReadResult, what: string): string {
  if (!r.ok) fail(r.exit, `${what}: ${r.message}`);
  const t = decodeUtf8(r.bytes);
  if (!t) fail(VerifyExit.TAMPERED, `${what} is not valid UTF-8; run \`pkgswitch audit verify --op\` on it`);
  return t.text;
}

/**
 * Build the bundle for `opId` from the audit directory. `keys` supplies the
 * public key text for the signature's key id (from the trusted set). Throws
 * PkgswitchError: 2 bad op id, 3 unknown op or missing artifact, 6 I/O.
 * It does not verify (run `audit verify --op` for that); it packages.
 */
export function exportBundle(auditDir: string, opIdArg: string, trust: TrustSet): Bundle {
  const op = parseOpId(opIdArg);
  const ledgerText = textOf(readArtifact(join(auditDir, LEDGER_FILE)), LEDGER_FILE);
  const { lines } = readLedgerLines(ledgerText);
  const index = lines.findIndex((l) => l.entry?.op === op);
  if (index < 0) fail(VerifyExit.NOT_FOUND, `unknown operation ${op} (not in ${join(auditDir, LEDGER_FILE)})`);
  const entry = lines[index]!.entry!;
  const jsonl = { name: jsonlName(op), text: textOf(readArtifact(join(auditDir, jsonlName(op))), jsonlName(op)) };
  const sigRead = readArtifact(join(auditDir, sigName(op)));
  const sig = sigRead.ok ? { name: sigName(op), text: textOf(sigRead, sigName(op)) } : null;
  if (!sigRead.ok && (sigRead.exit === VerifyExit.IO || entry.signature === "signed")) fail(sigRead.exit, sigRead.message);
  const sbomRead = readArtifact(join(auditDir, sbomName(op)));
  if (!sbomRead.ok && sbomRead.exit === VerifyExit.IO) fail(sbomRead.exit, sbomRead.message);
  const sbom = sbomRead.ok ? { name: sbomName(op), text: textOf(sbomRead, sbomName(op)) } : null;
  const cpRead = readArtifact(join(auditDir, CHECKPOINT_FILE));
  if (!cpRead.ok && cpRead.exit === VerifyExit.IO) fail(cpRead.exit, cpRead.message);
  const checkpoint = cpRead.ok ? textOf(cpRead, CHECKPOINT_FILE) : null;
  let treeSize = lines.length;
  if (checkpoint !== null) {
    try {
      treeSize = Number(parseCheckpoint(checkpoint).size);
    } catch (e) {
      fail(VerifyExit.TAMPERED, `${CHECKPOINT_FILE}: ${(e as Error).message}`);
    }
  }
  if (treeSize > lines.length) fail(VerifyExit.TAMPERED, `the checkpoint covers ${treeSize} operations but the ledger has ${lines.length}; run \`pkgswitch audit verify --all\``);
  const leaves = lines.slice(0, treeSize).map((l) => leafHash(Buffer.from(l.text)));
  const covered = index < treeSize;
  const proof = covered ? inclusionProof(index, leaves).map(b64) : [];
  const prev = index > 0 ? lines[index - 1]! : null;
  const key = entry.key_id ? trust.keys.find((k) => k.id === entry.key_id) : undefined;
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    op,
    files: { jsonl, sig, sbom },
    public_key: key?.text ?? null,
    ledger: {
      line: lines[index]!.text,
      previous_line: prev ? prev.text : null,
      previous_proof: prev && index - 1 < treeSize ? inclusionProof(index - 1, leaves).map(b64) : null,
    },
    inclusion_proof: { leaf_index: index, tree_size: covered ? treeSize : 0, hashes: proof },
    checkpoint,
  };
}

export function serializeBundle(b: Bundle): string {
  return JSON.stringify(b, null, 2) + "\n";
}

function decodeProof(hashes: unknown): Uint8Array[] | null {
  if (!Array.isArray(hashes)) return null;
  const out: Uint8Array[] = [];
  for (const h of hashes) {
    const b = typeof h === "string" ? decodeBase64Canonical(h) : null;
    if (!b || b.length !== 32) return null;
    out.push(b);
  }
  return out;
}

const enc = new TextEncoder();

/** Verify a bundle on its own, with `trust` as the only trusted keys. */
export function verifyBundle(text: string, trust: TrustSet, opts: { allowUnsigned?: boolean; allowLegacy?: boolean } = {}): Report {
  const report = new Report();
  const where = { file: "bundle" };
  let b: Bundle;
  if (tooDeep(text)) {
    report.fail("bundle", VerifyExit.TAMPERED, "nested too deeply (not a bundle pkgswitch wrote)", where);
    return report;
  }
  try {
    b = JSON.parse(text);
  } catch {
    report.fail("bundle", VerifyExit.TAMPERED, "not JSON", where);
    return report;
  }
  if (!b || typeof b !== "object" || b.format !== BUNDLE_FORMAT) {
    report.fail("bundle", VerifyExit.TAMPERED, `not a ${BUNDLE_FORMAT}`, where);
    return report;
  }
  if (b.version !== BUNDLE_VERSION) {
    report.fail("bundle", VerifyExit.TAMPERED, `bundle version ${JSON.stringify(b.version)} is not supported (this pkgswitch reads version ${BUNDLE_VERSION})`, where);
    return report;
  }
  const shapeOk =
    typeof b.op === "string" && OP_ID_RE.test(b.op) &&
    b.files && typeof b.files === "object" && isFile(b.files.jsonl) && (b.files.sig === null || isFile(b.files.sig)) && (b.files.sbom === null || isFile(b.files.sbom)) &&
    b.ledger && typeof b.ledger.line === "string" && (b.ledger.previous_line === null || typeof b.ledger.previous_line === "string") &&
    b.inclusion_proof && Number.isSafeInteger(b.inclusion_proof.leaf_index) && b.inclusion_proof.leaf_index >= 0 && Number.isSafeInteger(b.inclusion_proof.tree_size) &&
    (b.checkpoint === null || typeof b.checkpoint === "string");
  if (!shapeOk) {
    report.fail("bundle", VerifyExit.TAMPERED, "malformed bundle (missing or mistyped fields)", where);
    return report;
  }
  const op = b.op;
  const index = b.inclusion_proof.leaf_index;

  // The ledger line (and the one before it, for the link).
  const parsed = parseLedgerLine(b.ledger.line, index);
  if (parsed.error !== undefined) report.fail("ledger", VerifyExit.TAMPERED, `ledger line: ${parsed.error}`, { ...where, op });
  if (!parsed.entry) return report;
  const entry = parsed.entry;
  if (entry.op !== op) {
    report.fail("ledger", VerifyExit.TAMPERED, `the ledger line is for ${entry.op}, the bundle for ${op}`, { ...where, op });
    return report;
  }
  let expectedPrev: string | null = index === 0 ? GENESIS : null;
  let prevLeaf: Uint8Array | null = null;
  if (index > 0 && b.ledger.previous_line !== null) {
    const p = parseLedgerLine(b.ledger.previous_line, index - 1);
    if (p.error !== undefined || !p.entry) report.fail("ledger", VerifyExit.TAMPERED, `previous ledger line: ${p.error}`, { ...where, op });
    else {
      expectedPrev = p.entry.head;
      prevLeaf = leafHash(enc.encode(b.ledger.previous_line));
    }
  } else if (index > 0) report.warn("op.link", "the bundle has no previous ledger line: the link to the previous operation is not checked", { ...where, op });

  // Each slot holds exactly its own file: a slot filled under another
  // slot's name (say the JSONL's, in the SBOM slot of an operation without
  // an SBOM) would otherwise stand in for that file, and the checks would
  // read that copy instead of the slot's own text.
  const files = new Map<string, BundleFile>();
  const slots = [["jsonl", b.files.jsonl, jsonlName(op)], ["sig", b.files.sig, sigName(op)], ["sbom", b.files.sbom, sbomName(op)]] as const;
  for (const [slot, f, name] of slots) {
    if (!f) continue;
    if (f.name === name) files.set(name, f);
    else report.fail("bundle", VerifyExit.TAMPERED, `files.${slot} is named ${JSON.stringify(f.name)}, not ${name} (not a bundle pkgswitch wrote for operation ${op})`, { ...where, op });
  }
  const src: ArtifactSource = {
    read: (name) => {
      const f = files.get(name);
      return f ? { ok: true, bytes: Buffer.from(f.text, "utf8") } : { ok: false, exit: VerifyExit.NOT_FOUND, message: `${name} is not in the bundle` };
    },
    exists: (name) => files.has(name),
    ledgerRef: (line) => (line === index + 1 ? "the bundle's ledger line" : "the bundle's previous ledger line"),
  };
  checkOperationFrom(src, { entry, ledgerLine: index + 1, expectedPrev }, trust.keys, { allowLegacy: opts.allowLegacy ?? false, allowUnsigned: opts.allowUnsigned ?? false, collectTouched: false }, report);

  // Inclusion under the signed checkpoint.
  if (b.checkpoint === null) {
    if (entry.signature === "signed") report.fail("checkpoint", VerifyExit.NOT_FOUND, "the bundle has no checkpoint", { ...where, op });
    else report.warn("checkpoint", "no checkpoint in the bundle (the operation is unsigned)", { ...where, op });
    return report;
  }
  const checked = checkCheckpoint(b.checkpoint, { file: "bundle checkpoint", op }, trust, report);
  if (!checked) return report;
  const cp = checked.cp;
  if (BigInt(index) >= cp.size && entry.signature !== "signed") {
    report.warn("merkle.inclusion", `the checkpoint covers ${cp.size} operations, not this unsigned one`, { ...where, op });
    return report;
  }
  if (BigInt(b.inclusion_proof.tree_size) !== cp.size) {
    report.fail("merkle.inclusion", VerifyExit.TAMPERED, `proof is for tree size ${b.inclusion_proof.tree_size}, the checkpoint signs size ${cp.size}`, { ...where, op });
    return report;
  }
  const proof = decodeProof(b.inclusion_proof.hashes);
  if (!proof || !verifyInclusion(index, cp.size, leafHash(enc.encode(b.ledger.line)), proof, cp.root)) {
    report.fail("merkle.inclusion", VerifyExit.TAMPERED, `the ledger line is not at index ${index} of the tree the checkpoint signs`, { ...where, op });
  } else {
    report.pass("merkle.inclusion");
    report.count("inclusion_proofs");
  }
  if (prevLeaf) {
    const pp = decodeProof(b.ledger.previous_proof);
    if (!pp || !verifyInclusion(index - 1, cp.size, prevLeaf, pp, cp.root)) {
      report.fail("merkle.inclusion", VerifyExit.TAMPERED, `the previous ledger line is not at index ${index - 1} of the signed tree`, { ...where, op });
    } else report.count("inclusion_proofs");
  }
  return report;
}

function isFile(f: unknown): f is BundleFile {
  return !!f && typeof f === "object" && typeof (f as BundleFile).name === "string" && typeof (f as BundleFile).text === "string";
}
