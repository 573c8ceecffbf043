/** `audit push`: send the fleet what it lacks of this host's record, in
 * ledger order, in batches (one round trip per batch), each batch one
 * transaction; then the host's checkpoint with the consistency proof from
 * the last one the fleet held.
 *
 * Idempotent and resumable: the fleet's primary key is (host, seq), rows
 * are inserted with ON CONFLICT DO NOTHING, and every push starts from what
 * the fleet holds, so a push killed at any point leaves whole batches, and
 * the next push carries on from there.
 *
 * Archived operations (`audit archive`) are read from their segments
 * (./local.ts); a missing or altered segment stops the push at its first
 * operation, after sending everything before it.
 *
 * Refused, with an alarm row, when the host's history is not an extension
 * of what the fleet holds (./history.ts): nothing of it is sent. The
 * database makes the same check on every checkpoint itself (schema.ts,
 * checkpoint_guard), so a modified client cannot slip one past it. */
import { createHash } from "node:crypto";
import type { Layout } from "../config/paths.ts";
import { PkgswitchError, VerifyExit } from "../errors.ts";
import { defaultTrust } from "../verify/trust.ts";
import { requireSchema, type Db, type Sql } from "./db.ts";
import { compareHistory, firstDifference, type HeldState } from "./history.ts";
import { artifactReader, readLocalRecord, summarize, type LocalRecord, type OpArtifacts } from "./local.ts";

export interface PushOptions {
  /** Operations per round trip. */
  batchOps?: number;
  /** Bytes of artifacts per round trip (a batch is cut at whichever comes first). */
  batchBytes?: number;
  /** Called after each committed batch (tests kill the process here). */
  onBatch?: (sent: number, total: number) => void;
}

export interface PushResult {
  host: string;
  /** Operations the fleet held before / holds now. */
  held: number;
  sent: number;
  batches: number;
  checkpoint: "sent" | "held" | "none";
  keys: string[];
  warnings: string[];
}

export interface RewriteAlarm {
  id: number;
  host: string;
  kind: string;
  first_bad_seq: number;
  message: string;
}

/** A refused push: exit 1 (as `audit verify` for tampering). */
export class PushRefused extends PkgswitchError {
  constructor(readonly alarm: RewriteAlarm) {
    super(VerifyExit.TAMPERED, `push refused: host ${alarm.host}: ${alarm.message}; first differing seq ${alarm.first_bad_seq}; alarm #${alarm.id} recorded in the fleet database (see docs/fleet.md, "A rewrite alarm")`);
  }
}

const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest();

async function heldState(sql: Sql, host: string): Promise<HeldState & { keys: Set<string> }> {
  const [c] = await sql<{ n: string; max: string | null }[]>`SELECT count(*)::text AS n, max(seq)::text AS max FROM pkgswitch.operations WHERE host_id = ${host}`;
  const count = Number(c!.n);
  if (c!.max !== null && Number(c!.max) !== count - 1) throw new PkgswitchError(VerifyExit.TAMPERED, `the fleet holds ${count} operations of host ${host} but their seqs run to ${c!.max}: run \`pkgswitch fleet verify --host ${host}\``);
  const cps = await sql<{ size: string; root: Buffer }[]>`SELECT size::text, root FROM pkgswitch.checkpoints c WHERE host_id = ${host} ORDER BY c.size DESC, c.received_at DESC LIMIT 1`;
  const checkpoint = cps[0] ? { size: Number(cps[0].size), root: new Uint8Array(cps[0].root) } : null;
  const tail = new Map<number, string>();
  for (const r of await sql<{ seq: string; ledger_line: string }[]>`SELECT seq::text, ledger_line FROM pkgswitch.operations o WHERE host_id = ${host} AND seq >= ${checkpoint?.size ?? 0} ORDER BY o.seq`) tail.set(Number(r.seq), r.ledger_line);
  const keys = new Set((await sql<{ key_id: string }[]>`SELECT key_id FROM pkgswitch.host_keys WHERE host_id = ${host}`).map((r) => r.key_id));
  return { count, checkpoint, tail, keys };
}

async function recordAlarm(sql: Sql, local: LocalRecord, held: HeldState, kind: string, message: string, proof: Uint8Array[]): Promise<RewriteAlarm> {
  const host = local.hostId;
  const heldLines = (await sql<{ ledger_line: string }[]>`SELECT ledger_line FROM pkgswitch.operations WHERE host_id = ${host} ORDER BY seq`).map((r) => r.ledger_line);
  const first = firstDifference(heldLines, local.lines.map((l) => l.text));
  // Equal lines but an inconsistent checkpoint: the held checkpoint itself is the first thing that differs.
  const firstBad = first >= 0 ? first : Math.min(held.checkpoint?.size ?? 0, local.lines.length);
  const cp = local.checkpoint;
  const [row] = await sql<{ id: string }[]>`INSERT INTO pkgswitch.alarms
      (host_id, kind, first_bad_seq, held_size, held_root, pushed_size, pushed_root, pushed_note, proof, message)
    VALUES (${host}, ${kind}, ${firstBad}, ${held.checkpoint?.size ?? null}, ${held.checkpoint ? Buffer.from(held.checkpoint.root) : null},
      ${cp ? Number(cp.cp.size) : local.lines.length}, ${cp ? Buffer.from(cp.cp.root) : null}, ${cp?.text ?? null}, ${Buffer.concat(proof)}, ${message})
    RETURNING id::text`;
  return { id: Number(row!.id), host, kind, first_bad_seq: firstBad, message };
}

/** Keys to register: on first contact, the key of the host's first signed
 * operation (taken on first use, from the host's key directory); after
 * that, only keys announced by key.rotate events, from that operation on. */
function initialKey(local: LocalRecord, layout: Layout, warnings: string[]): { key_id: string; public_key: string; from_seq: number } | null {
  const first = local.lines.find((l) => l.entry?.signature === "signed");
  if (!first?.entry?.key_id) return null;
  const trust = defaultTrust(layout.keyDir);
  const k = trust.keys.find((t) => t.id === first.entry!.key_id);
  if (!k) {
    warnings.push(`the public key ${first.entry.key_id} that signed operation ${first.entry.op} is not in ${layout.keyDir}; fleet verify will report this host's signatures as untrusted until it is registered`);
    return null;
  }
  return { key_id: k.id, public_key: k.text.split("\n")[1]!.trim(), from_seq: first.entry.seq };
}

export async function push(db: Db, layout: Layout, o: PushOptions = {}): Promise<PushResult> {
  const sql = db.sql;
  const batchOps = o.batchOps ?? 500;
  const batchBytes = o.batchBytes ?? 16 << 20;
  const local = readLocalRecord(layout);
  const host = local.hostId;
  await requireSchema(sql, db.target.display);
  const held = await heldState(sql, host);
  const result: PushResult = { host, held: held.count, sent: 0, batches: 0, checkpoint: "none", keys: [], warnings: [] };

  const verdict = compareHistory(held, {
    lines: local.lines.map((l) => l.text),
    leaves: local.leaves,
    checkpoint: local.checkpoint ? { size: Number(local.checkpoint.cp.size), root: local.checkpoint.cp.root } : null,
  });
  if (!verdict.ok) throw new PushRefused(await recordAlarm(sql, local, held, verdict.kind, verdict.message, verdict.proof));

  await sql`INSERT INTO pkgswitch.hosts (host_id) VALUES (${host}) ON CONFLICT DO NOTHING`;
  const newKeys: { host_id: string; key_id: string; public_key: string; from_seq: number; announced_by: string | null }[] = [];
  if (held.keys.size === 0) {
    const k = initialKey(local, layout, result.warnings);
    if (k) newKeys.push({ host_id: host, ...k, announced_by: null });
  }

  // Operations the fleet lacks, in order, batch by batch. One whose files
  // cannot be read (an archive segment missing or altered, a file gone) ends
  // the push: what was read before it is sent first, so the next push
  // starts at that very operation.
  const read = artifactReader(layout.auditDir, local.lines.map((l) => l.entry!));
  let seq = held.count;
  let stop: PkgswitchError | null = null;
  while (seq < local.lines.length && !stop) {
    const rows: Record<string, unknown>[] = [];
    let bytes = 0;
    while (seq < local.lines.length && rows.length < batchOps && (rows.length === 0 || bytes < batchBytes)) {
      const line = local.lines[seq]!;
      const entry = line.entry!;
      let a: OpArtifacts;
      try {
        a = read(entry.op);
      } catch (e) {
        if (!(e instanceof PkgswitchError)) throw e;
        stop = e;
        break;
      }
      const s = summarize(a.jsonl);
      for (const r of s.rotations) {
        if (!held.keys.has(r.key_id) && !newKeys.some((k) => k.key_id === r.key_id)) newKeys.push({ host_id: host, key_id: r.key_id, public_key: r.public_key, from_seq: seq, announced_by: entry.op });
      }
      rows.push({ host_id: host, seq, op: entry.op, ledger_line: line.text, jsonl: a.jsonl, sig: a.sig, sbom: a.sbom, command: s.command, status: s.status, exit_code: s.exit_code, op_ts: s.op_ts });
      bytes += a.jsonl.length + (a.sig?.length ?? 0) + (a.sbom?.length ?? 0);
      seq++;
    }
    if (rows.length === 0) break;
    await sql.begin(async (tx) => {
      await tx`INSERT INTO pkgswitch.operations ${tx(rows as never, "host_id", "seq", "op", "ledger_line", "jsonl", "sig", "sbom", "command", "status", "exit_code", "op_ts")} ON CONFLICT DO NOTHING`;
      const keys = newKeys.filter((k) => k.from_seq < seq);
      if (keys.length) await tx`INSERT INTO pkgswitch.host_keys ${tx(keys as never, "host_id", "key_id", "public_key", "from_seq", "announced_by")} ON CONFLICT DO NOTHING`;
    });
    for (const k of newKeys.filter((k) => k.from_seq < seq && !held.keys.has(k.key_id))) {
      held.keys.add(k.key_id);
      result.keys.push(k.key_id);
    }
    result.sent += rows.length;
    result.batches++;
    o.onBatch?.(seq, local.lines.length);
  }
  // No checkpoint then: it covers operations the fleet does not hold.
  if (stop) throw new PkgswitchError(stop.exitCode, `audit push stopped at seq ${seq} of host ${host}: ${stop.message} (this push sent ${result.sent} operation(s); the fleet holds the ${seq} before it, where the next push starts)`);
  // A first push of a host whose operations are all held already (an
  // earlier push was killed before its keys went in).
  const pending = newKeys.filter((k) => !held.keys.has(k.key_id));
  if (pending.length) {
    await sql`INSERT INTO pkgswitch.host_keys ${sql(pending as never, "host_id", "key_id", "public_key", "from_seq", "announced_by")} ON CONFLICT DO NOTHING`;
    result.keys.push(...pending.map((k) => k.key_id));
  }

  // The checkpoint, unless the fleet already holds this very note.
  if (local.checkpoint) {
    const { text, cp } = local.checkpoint;
    const noteHash = sha256(text);
    const [have] = await sql<{ n: string }[]>`SELECT count(*)::text AS n FROM pkgswitch.checkpoints WHERE host_id = ${host} AND note_sha256 = ${noteHash}`;
    if (Number(have!.n) > 0) result.checkpoint = "held";
    else {
      const from = verdict.proofFrom > 0 && verdict.proofTo === Number(cp.size) ? verdict.proofFrom : null;
      const proof = from !== null ? Buffer.concat(verdict.proof) : null;
      const inserted = await sql`INSERT INTO pkgswitch.checkpoints (host_id, size, root, note, note_sha256, proof_from, proof)
        VALUES (${host}, ${Number(cp.size)}, ${Buffer.from(cp.root)}, ${text}, ${noteHash}, ${from}, ${proof}) ON CONFLICT DO NOTHING`;
      if (inserted.count === 0) {
        // Either a concurrent push stored it, or the database's guard refused it (and recorded an alarm).
        const [again] = await sql<{ n: string }[]>`SELECT count(*)::text AS n FROM pkgswitch.checkpoints WHERE host_id = ${host} AND note_sha256 = ${noteHash}`;
        if (Number(again!.n) === 0) {
          const [a] = await sql<{ id: string; message: string }[]>`SELECT a.id::text, a.message FROM pkgswitch.alarms a WHERE a.host_id = ${host} ORDER BY a.id DESC LIMIT 1`;
          throw new PushRefused({ id: Number(a?.id ?? 0), host, kind: "checkpoint-mismatch", first_bad_seq: Number(cp.size) - 1, message: a?.message ?? "the database refused the checkpoint" });
        }
        result.checkpoint = "held";
      } else result.checkpoint = "sent";
    }
  }
  return result;
}
