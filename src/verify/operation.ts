/** Verification of one operation's artifacts against its ledger entry:
 * JSONL (strict reading, chain, link to the previous operation, head),
 * jsonl_sha256, signature, SBOM digest. Reads files, never writes. Shared by
 * the in-process path and the worker threads of `verify --all`. */
import { jsonlName, sbomName, sigName } from "../audit/names.ts";
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { GENESIS } from "../audit/event.ts";
import type { LedgerEntry } from "../audit/ledger.ts";
import type { PublicKey } from "../attest/minisign.ts";
import { VerifyExit } from "../errors.ts";
import { decodeUtf8, firstBadUtf8Line, readArtifact, type ReadResult } from "./files.ts";
import type { Report } from "./report.ts";
import { checkAuditSignature } from "./signature.ts";
import { readOpEvents, sha256Hex, type TouchEvent } from "./strict.ts";


export interface OpTask {
  entry: LedgerEntry;
  /** 1-based ledger line of the entry. */
  ledgerLine: number;
  /** The previous ledger entry's head (GENESIS for seq 0); null when the
   * previous line did not parse (then the link is not checked here). */
  expectedPrev: string | null;
}

export interface OpCheckOptions {
  allowLegacy: boolean;
  allowUnsigned: boolean;
  /** Collect file.switch / file.restore / rollback.step (for --deep). */
  collectTouched: boolean;
}

export interface OpCheckResult {
  op: string;
  touched: TouchEvent[];
}

/** Where an operation's artifacts come from: the audit directory, or a bundle. */
export interface ArtifactSource {
  read(name: string): ReadResult;
  exists(name: string): boolean;
  /** How the ledger is named in messages ("ledger.jsonl line 4", "the bundle's ledger line"). */
  ledgerRef(line: number): string;
}

export function dirSource(dir: string): ArtifactSource {
  return {
    read: (name) => readArtifact(join(dir, name)),
    exists: (name) => exists(join(dir, name)),
    ledgerRef: (line) => `ledger.jsonl line ${line}`,
  };
}

/** Check one operation in an audit directory; findings go to `report`. */
export function checkOperation(dir: string, task: OpTask, trusted: readonly PublicKey[], opts: OpCheckOptions, report: Report): OpCheckResult {
  return checkOperationFrom(dirSource(dir), task, trusted, opts, report);
}

/** Check one operation from any source; findings go to `report`. */
export function checkOperationFrom(src: ArtifactSource, task: OpTask, trusted: readonly PublicKey[], opts: OpCheckOptions, report: Report): OpCheckResult {
  const { entry } = task;
  const op = entry.op;
  const name = jsonlName(op);
  const ledgerRef = src.ledgerRef(task.ledgerLine);
  const result: OpCheckResult = { op, touched: [] };
  report.count("operations");

  const read = src.read(name);
  if (!read.ok) {
    report.fail("artifact", read.exit, read.exit === VerifyExit.NOT_FOUND ? `operation file missing (listed in ${ledgerRef})` : read.message, { file: name, op });
    return result;
  }
  const bytes = read.bytes;

  // The file as a whole, against the ledger line.
  const digest = sha256Hex(bytes);
  if (digest !== entry.jsonl_sha256) report.fail("jsonl.digest", VerifyExit.TAMPERED, `SHA-256 ${digest} differs from jsonl_sha256 ${entry.jsonl_sha256} in ${ledgerRef}`, { file: name, op });
  else report.pass("jsonl.digest");

  // Its lines, strictly, and the chain inside it.
  const decoded = decodeUtf8(bytes);
  let sbomRef: { file: string; sha256: string } | null = null;
  let ended = false;
  if (!decoded) {
    report.fail("event", VerifyExit.TAMPERED, "not valid UTF-8", { file: name, line: firstBadUtf8Line(bytes), op });
  } else {
    const parsed = readOpEvents(decoded.text, decoded.ascii, op, opts.collectTouched, bytes);
    report.count("events", parsed.events);
    for (const p of parsed.problems) report.fail("event", VerifyExit.TAMPERED, p.message, { file: name, line: p.line, op });
    if (parsed.problems.length === 0) report.pass("event.chain");
    if (task.expectedPrev !== null && parsed.firstPrev !== null) {
      if (parsed.firstPrev !== task.expectedPrev) {
        const what = task.expectedPrev === GENESIS ? "the genesis hash (first operation)" : `the head of the previous operation (${src.ledgerRef(task.ledgerLine - 1)})`;
        report.fail("op.link", VerifyExit.TAMPERED, `seq 0 prev ${parsed.firstPrev} is not ${what}, ${task.expectedPrev}: operations were deleted, reordered or replaced`, { file: name, line: 1, op });
      } else report.pass("op.link");
    }
    if (parsed.lastHash !== null) {
      if (parsed.lastHash !== entry.head) report.fail("op.head", VerifyExit.TAMPERED, `last event hash ${parsed.lastHash} is not the head ${entry.head} in ${ledgerRef}`, { file: name, line: parsed.events, op });
      else report.pass("op.head");
    }
    sbomRef = parsed.sbom;
    ended = parsed.ended;
    result.touched = parsed.touched;
  }

  // Signature.
  const sname = sigName(op);
  if (entry.signature === "signed") {
    const s = src.read(sname);
    if (!s.ok) {
      report.fail("signature", s.exit, s.exit === VerifyExit.NOT_FOUND ? `signature file missing (${ledgerRef} says signed)` : s.message, { file: sname, op });
    } else {
      const text = decodeUtf8(s.bytes);
      if (!text) report.fail("signature", VerifyExit.TAMPERED, "not valid UTF-8", { file: sname, op });
      else {
        const r = checkAuditSignature(bytes, text.text, op, name, trusted, { allowLegacy: opts.allowLegacy, expectKeyId: entry.key_id });
        for (const f of r.findings) report.fail("signature", f.exit, f.message, { file: sname, op });
        if (r.findings.length === 0) report.pass("signature");
        report.count("signatures");
      }
    }
  } else {
    report.count("unsigned");
    if (!opts.allowUnsigned) report.fail("signature", VerifyExit.UNTRUSTED, `operation is ${entry.signature} (${ledgerRef}); --allow-unsigned accepts it`, { file: name, op });
    else report.pass("signature.unsigned-allowed");
    if (src.exists(sname)) report.warn("signature", `a signature file exists, but ${ledgerRef} says ${entry.signature}; it was not checked`, { file: sname, op });
  }

  // SBOM.
  const bname = sbomName(op);
  if (sbomRef) {
    if (sbomRef.file !== bname) report.fail("sbom", VerifyExit.TAMPERED, `op.end names SBOM ${JSON.stringify(sbomRef.file)}, expected ${bname}`, { file: name, op });
    const b = src.read(bname);
    if (!b.ok) report.fail("sbom", b.exit, b.exit === VerifyExit.NOT_FOUND ? `SBOM missing (op.end records its digest)` : b.message, { file: bname, op });
    else {
      report.count("sboms");
      const d = sha256Hex(b.bytes);
      if (d !== sbomRef.sha256) report.fail("sbom", VerifyExit.TAMPERED, `SHA-256 ${d} differs from ${sbomRef.sha256} recorded in op.end`, { file: bname, op });
      else {
        const problem = sbomProblem(b.bytes);
        if (problem) report.fail("sbom", VerifyExit.TAMPERED, problem, { file: bname, op });
        else report.pass("sbom");
      }
    }
  } else if (ended && src.exists(bname)) {
    report.fail("sbom", VerifyExit.TAMPERED, "SBOM present but op.end does not record it (not covered by the signature)", { file: bname, op });
  }
  return result;
}

/** An SBOM whose digest matched: it must still be the SPDX JSON we write. */
export function sbomProblem(bytes: Uint8Array): string | null {
  const text = decodeUtf8(bytes);
  if (!text) return "SBOM is not valid UTF-8";
  let doc: unknown;
  try {
    doc = JSON.parse(text.text);
  } catch {
    return "SBOM is not JSON";
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return "SBOM is not a JSON object";
  if ((doc as Record<string, unknown>).spdxVersion !== "SPDX-2.3") return "SBOM is not an SPDX 2.3 document (spdxVersion)";
  return null;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Check a batch of operations (one worker's share). */
export function checkOperations(dir: string, tasks: readonly OpTask[], trusted: readonly PublicKey[], opts: OpCheckOptions, report: Report): OpCheckResult[] {
  const src = dirSource(dir);
  return tasks.map((t) => checkOperationFrom(src, t, trusted, opts, report));
}
