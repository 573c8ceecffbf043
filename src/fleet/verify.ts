/** `fleet verify`: re-verify every host from the database alone, with the
 * same checks and exit codes as `audit verify --all` (src/verify/ does the
 * checking; this module only reads rows and feeds them to it):
 *
 * - each operation: strict JSONL, chain, link to the previous operation,
 *   head, jsonl_sha256, signature with the keys the host had at that seq
 *   (host_keys: a key counts after the operation that announced it), SBOM
 *   digest; the summary columns fleet status shows must match the JSONL;
 * - the ledger: one line per seq, 0.., each strictly canonical;
 * - every checkpoint the host ever pushed: signature, origin, the Merkle
 *   root of the held ledger lines of that size, consistency with the
 *   previous one (recomputed, and the proof stored with it re-checked);
 * - alarms: an unacknowledged one fails the host (exit 1). */
import { GENESIS } from "../audit/event.ts";
import { consistencyProof, leafHash, rootHash, verifyConsistency } from "../audit/merkle.ts";
import { keyIdHex, parsePublicKeyBase64 } from "../attest/minisign.ts";
import { b64 } from "../encoding/base64.ts";
import { PkgswitchError, VerifyExit, type VerifyExitCode } from "../errors.ts";
import { checkCheckpoint } from "../verify/checkpoint.ts";
import type { ReadResult } from "../verify/files.ts";
import { jsonlName, sbomName, sigName } from "../audit/names.ts";
import { checkOperationFrom, type ArtifactSource } from "../verify/operation.ts";
import { EXIT_MEANING, Report } from "../verify/report.ts";
import { parseLedgerLine } from "../verify/strict.ts";
import type { TrustedKey, TrustSet } from "../verify/trust.ts";
import { requireSchema, type Db } from "./db.ts";
import { summarize } from "./local.ts";

export interface FleetVerifyOptions {
  host?: string;
  allowUnsigned?: boolean;
  /** Rows fetched per round trip. */
  batch?: number;
  /** Called whenever the database has answered: a deadline counts from the
   * last answer, so a large fleet is not cut off while rows keep coming. */
  alive?: () => void;
}

export interface HostReport {
  host: string;
  report: Report;
}

interface KeyRow {
  key_id: string;
  public_key: string;
  from_seq: string;
  announced_by: string | null;
}

interface OpRow {
  seq: string;
  op: string;
  ledger_line: string;
  jsonl: Buffer;
  sig: Buffer | null;
  sbom: Buffer | null;
  command: string | null;
  status: string | null;
  exit_code: number | null;
  op_ts: string | null;
}

function trustedKeys(host: string, rows: KeyRow[], report: Report): (TrustedKey & { from: number; announcedBy: string | null })[] {
  const out: (TrustedKey & { from: number; announcedBy: string | null })[] = [];
  for (const r of rows) {
    try {
      const k = parsePublicKeyBase64(r.public_key);
      if (keyIdHex(k.keyId) !== r.key_id) throw new Error(`the key's id is ${keyIdHex(k.keyId)}`);
      out.push({ ...k, id: r.key_id, file: `host_keys(${host}, ${r.key_id})`, text: r.public_key, from: Number(r.from_seq), announcedBy: r.announced_by });
    } catch (e) {
      report.fail("keys", VerifyExit.TAMPERED, `key ${r.key_id} is not a valid minisign public key: ${(e as Error).message}`, { file: `host_keys(${host})` });
    }
  }
  return out;
}

/** Stored proofs are their 32-byte hashes concatenated. */
function splitHashes(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 32 <= b.length; i += 32) out.push(b.slice(i, i + 32));
  return out;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? null : String(v));

async function verifyHost(db: Db, host: string, o: FleetVerifyOptions): Promise<Report> {
  const sql = db.sql;
  const report = new Report();
  const keys = trustedKeys(host, await sql<KeyRow[]>`SELECT key_id, public_key, from_seq::text, announced_by FROM pkgswitch.host_keys k WHERE host_id = ${host} ORDER BY k.from_seq, k.key_id`, report);
  // Any host may insert host_keys rows for any host (one shared role), so a
  // row says nothing by itself. A key is trusted only if it is the host's
  // first key — the one unannounced key, which must be the key of the host's
  // first signed operation, registered from that seq — or announced by a
  // key.rotate event (checked below). Decided at the first signed operation.
  const rotations = new Map<string, { seq: number; public_key: string; signedBy: string | null }>();
  let firstKey: string | null | undefined;
  const decideFirstKey = (signed: { seq: number; keyId: string | null } | null) => {
    if (firstKey !== undefined) return;
    firstKey = null;
    for (const k of keys) {
      if (k.announcedBy !== null) continue;
      if (firstKey === null && signed && k.id === signed.keyId && k.from === signed.seq) {
        firstKey = k.id;
        report.pass("keys.first");
      } else report.fail("keys", VerifyExit.TAMPERED, `key ${k.id} is registered from seq ${k.from} with no announcement, but only the key of the host's first signed operation (${signed ? `key ${signed.keyId ?? "?"} at seq ${signed.seq}` : "there is none"}) is taken on first use; any other key needs a key.rotate event signed by the previous key`, { file: `host_keys(${host})` });
    }
  };
  // An announced key: only once the key.rotate event announcing it, with
  // its public key, was seen at its from_seq, signed by another key.
  const announced = (k: (typeof keys)[number]) => {
    const rot = rotations.get(k.id);
    return rot !== undefined && rot.seq === k.from && rot.public_key === k.text && rot.signedBy !== k.id;
  };
  const accepted = (k: (typeof keys)[number]) => (k.announcedBy === null ? k.id === firstKey : announced(k));
  // An operation: the first key from its first signed operation on; an
  // announced key only after the operation announcing it, which the previous
  // key must sign (else a key could announce itself). A checkpoint of size n
  // comes after operation n-1, so one covering the announcement may already
  // be signed by the new key.
  const trustAt = (seq: number): TrustedKey[] => keys.filter((k) => accepted(k) && (k.announcedBy === null ? k.from <= seq : k.from < seq));
  const trustForCheckpoint = (size: number): TrustedKey[] => keys.filter((k) => accepted(k) && k.from <= size - 1);
  const where = (seq: number, op?: string) => ({ file: `fleet:${host}`, line: seq, ...(op ? { op } : {}) });
  const leaves: Uint8Array[] = [];
  let prevHead: string | null = GENESIS;
  let expect = 0;

  for await (const rows of sql<OpRow[]>`SELECT seq::text, op, ledger_line, jsonl, sig, sbom, command, status, exit_code, op_ts FROM pkgswitch.operations o WHERE host_id = ${host} ORDER BY o.seq`.cursor(o.batch ?? 200)) {
    o.alive?.();
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq !== expect) {
        report.fail("ledger", VerifyExit.TAMPERED, `seq ${seq} follows seq ${expect - 1}: operations ${expect}..${seq - 1} are missing from the fleet ledger`, where(seq, r.op));
        prevHead = null;
      }
      expect = seq + 1;
      leaves.push(leafHash(Buffer.from(r.ledger_line)));
      report.count("ledger_lines");
      const parsed = parseLedgerLine(r.ledger_line, seq);
      if (parsed.error !== undefined || !parsed.entry) {
        report.fail("ledger", VerifyExit.TAMPERED, `ledger line: ${parsed.error}`, where(seq, r.op));
        prevHead = null;
        continue;
      }
      const entry = parsed.entry;
      if (entry.signature === "signed") decideFirstKey({ seq, keyId: entry.key_id });
      if (entry.op !== r.op) report.fail("ledger", VerifyExit.TAMPERED, `the row is for operation ${r.op} but its ledger line names ${entry.op}`, where(seq, r.op));
      const files: Record<string, Buffer | null> = { [jsonlName(entry.op)]: r.jsonl, [sigName(entry.op)]: r.sig, [sbomName(entry.op)]: r.sbom };
      const src: ArtifactSource = {
        read: (name): ReadResult => (files[name] ? { ok: true, bytes: files[name]! } : { ok: false, exit: VerifyExit.NOT_FOUND, message: `${name} was not pushed` }),
        exists: (name) => files[name] !== null && files[name] !== undefined,
        ledgerRef: (line) => `the fleet ledger of ${host} at seq ${line - 1}`,
      };
      checkOperationFrom(src, { entry, ledgerLine: seq + 1, expectedPrev: prevHead }, trustAt(seq), { allowLegacy: false, allowUnsigned: o.allowUnsigned ?? false, collectTouched: false }, report);
      prevHead = entry.head;

      // The summary columns must say what the evidence says.
      const s = summarize(r.jsonl);
      const cols = { command: r.command, status: r.status, exit_code: r.exit_code, op_ts: iso(r.op_ts) };
      const want = { command: s.command, status: s.status, exit_code: s.exit_code, op_ts: s.op_ts };
      const bad = (Object.keys(want) as (keyof typeof want)[]).filter((k) => cols[k] !== want[k]);
      if (bad.length) report.fail("summary", VerifyExit.TAMPERED, `the summary column(s) ${bad.join(", ")} disagree with the operation's events (${bad.map((k) => `${JSON.stringify(cols[k])} vs ${JSON.stringify(want[k])}`).join("; ")})`, where(seq, r.op));
      else report.pass("summary");
      for (const rot of s.rotations) if (!rotations.has(rot.key_id)) rotations.set(rot.key_id, { seq, public_key: rot.public_key, signedBy: entry.key_id });
    }
  }

  decideFirstKey(null);
  // Keys after the first must have been announced where host_keys says.
  for (const k of keys) {
    if (k.announcedBy === null) continue;
    const rot = rotations.get(k.id);
    if (!rot || rot.seq !== k.from || rot.public_key !== k.text) report.fail("keys", VerifyExit.TAMPERED, `key ${k.id} is registered from seq ${k.from} (announced by ${k.announcedBy}), but no key.rotate event there announces it`, { file: `host_keys(${host})` });
    else if (rot.signedBy === k.id) report.fail("keys", VerifyExit.TAMPERED, `key ${k.id} is announced by an operation it signs itself (${k.announcedBy} at seq ${k.from}); an announcement must be signed by the previous key`, { file: `host_keys(${host})` });
    else report.pass("keys.rotation");
  }

  // Every checkpoint, in order of size.
  const trust: TrustSet = { keys, source: `the keys the fleet holds for ${host}`, problems: [] };
  let prev: { size: number; root: Uint8Array } | null = null;
  const cps = await sql<{ size: string; root: Buffer; note: string; proof_from: string | null; proof: Buffer | null }[]>`SELECT size::text, root, note, proof_from::text, proof FROM pkgswitch.checkpoints c WHERE host_id = ${host} ORDER BY c.size, c.received_at`;
  const rootsBySize = new Map<number, Uint8Array>();
  for (const c of cps) {
    const size = Number(c.size);
    const w = { file: `fleet:${host} checkpoint ${size}` };
    report.count("checkpoints");
    const checked = checkCheckpoint(c.note, w, { ...trust, keys: size > 0 ? trustForCheckpoint(size) : [] }, report);
    if (!checked) continue;
    const { cp } = checked;
    if (cp.origin !== `pkgswitch/${host}`) report.fail("checkpoint", VerifyExit.TAMPERED, `origin ${cp.origin} is not pkgswitch/${host}`, w);
    if (Number(cp.size) !== size || b64(cp.root) !== b64(c.root)) report.fail("checkpoint", VerifyExit.TAMPERED, "the size/root columns disagree with the signed note", w);
    if (size > leaves.length) {
      report.fail("merkle.root", VerifyExit.TAMPERED, `covers ${size} operations; the fleet holds ${leaves.length}`, w);
      continue;
    }
    const root = rootHash(leaves.slice(0, size));
    if (b64(root) !== b64(cp.root)) {
      report.fail("merkle.root", VerifyExit.TAMPERED, `the first ${size} held ledger lines hash to ${b64(root)}, the checkpoint signs ${b64(cp.root)}`, w);
      continue;
    }
    report.pass("merkle.root");
    rootsBySize.set(size, cp.root);
    if (prev && prev.size > 0) {
      const proof = consistencyProof(prev.size, leaves.slice(0, size));
      if (!verifyConsistency(prev.size, size, prev.root, cp.root, proof)) report.fail("consistency", VerifyExit.TAMPERED, `not consistent with the checkpoint of size ${prev.size}`, w);
      else {
        report.pass("consistency");
        report.count("consistency_proofs");
      }
    }
    if (c.proof_from !== null && c.proof) {
      const from = Number(c.proof_from);
      const fromRoot = rootsBySize.get(from);
      if (!fromRoot) report.fail("consistency", VerifyExit.TAMPERED, `its stored proof starts from a checkpoint of size ${from} the fleet does not hold`, w);
      else if (!verifyConsistency(from, size, fromRoot, cp.root, splitHashes(c.proof))) report.fail("consistency", VerifyExit.TAMPERED, `the consistency proof stored with it (from size ${from}) does not verify`, w);
      else report.pass("consistency.stored-proof");
    }
    prev = { size, root: cp.root };
  }
  if (prev) report.count("checkpoint_size", prev.size);
  const covered = prev?.size ?? 0;
  if (covered < leaves.length) report.warn("checkpoint", `${leaves.length - covered} operation(s) after the last checkpoint (size ${covered}) are not covered by one yet`, { file: `fleet:${host}` });

  for (const a of await sql<{ id: string; kind: string; first_bad_seq: string | null; message: string; created_at: Date; acked: boolean }[]>`SELECT a.id::text, a.kind, a.first_bad_seq::text, a.message, a.created_at, (k.alarm_id IS NOT NULL) AS acked FROM pkgswitch.alarms a LEFT JOIN pkgswitch.alarm_acks k ON k.alarm_id = a.id WHERE a.host_id = ${host} ORDER BY a.id`) {
    const msg = `alarm #${a.id} (${a.kind}, ${a.created_at.toISOString()}): ${a.message}${a.first_bad_seq !== null ? `; first differing seq ${a.first_bad_seq}` : ""}`;
    if (a.acked) report.warn("alarm", `${msg} (acknowledged)`, { file: `fleet:${host}` });
    else report.fail("alarm", VerifyExit.TAMPERED, msg, { file: `fleet:${host}` });
  }
  return report;
}

export async function fleetVerify(db: Db, o: FleetVerifyOptions): Promise<HostReport[]> {
  await requireSchema(db.sql, db.target.display);
  const hosts = (await db.sql<{ host_id: string }[]>`SELECT host_id FROM pkgswitch.hosts UNION SELECT host_id FROM pkgswitch.alarms ORDER BY host_id`).map((r) => r.host_id);
  const chosen = o.host === undefined ? hosts : hosts.filter((h) => h === o.host);
  if (o.host !== undefined && chosen.length === 0) throw new PkgswitchError(VerifyExit.NOT_FOUND, `the fleet database holds nothing for host ${o.host} (see \`pkgswitch fleet status\`)`);
  const out: HostReport[] = [];
  for (const host of chosen) {
    o.alive?.();
    out.push({ host, report: await verifyHost(db, host, o) });
  }
  return out;
}

/** The fleet's exit code: the host reports' codes, by the same precedence. */
export function fleetExit(reports: HostReport[]): VerifyExitCode {
  const all = new Report();
  for (const r of reports) all.merge(r.report.data());
  return all.exitCode;
}

export { EXIT_MEANING };
