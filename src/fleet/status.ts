/** `fleet status`: per host, what the evidence says — providers enabled,
 * the last operation and its result, unsigned and failed operations, when it
 * last pushed, open alarms. Reads the summary columns (fleet verify checks
 * them against the JSONL). */
import { requireSchema, type Db } from "./db.ts";

export interface HostStatus {
  host: string;
  operations: number;
  providers: string[];
  last_op: { seq: number; op: string; command: string | null; status: string | null; exit_code: number | null; ts: string | null } | null;
  unsigned: number;
  failed: number;
  last_push: string | null;
  silent_days: number | null;
  silent: boolean;
  open_alarms: number;
}

/** Fold enable/disable operations that succeeded into the set of enabled
 * providers (pure). `disable --all` clears it; flags are not providers. */
export function enabledProviders(ops: readonly { command: string | null; status: string | null }[]): string[] {
  const on = new Set<string>();
  for (const o of ops) {
    if (o.status !== "ok" || !o.command) continue;
    const [verb, ...args] = o.command.split(" ");
    const names = args.filter((a) => !a.startsWith("-"));
    if (verb === "enable") for (const n of names) on.add(n);
    else if (verb === "disable") {
      if (args.includes("--all")) on.clear();
      for (const n of names) on.delete(n);
    }
  }
  return [...on].sort();
}

export async function fleetStatus(db: Db, o: { silentDays: number; now?: Date }): Promise<HostStatus[]> {
  const sql = db.sql;
  await requireSchema(sql, db.target.display);
  const now = o.now ?? new Date();
  // "unsigned" by a text test on the ledger line (canonical JSON, so a
  // signed one holds exactly that text), not a ::jsonb cast: one row that
  // is not JSON (a host may insert anything) would fail the query, and the
  // status, for every host. fleet verify says what is wrong with the row.
  const rows = await sql<{ host_id: string; ops: string; unsigned: string; failed: string; last_push: Date | null; open_alarms: string; seq: string | null; op: string | null; command: string | null; status: string | null; exit_code: number | null; op_ts: Date | null }[]>`
    SELECT h.host_id,
      coalesce(s.ops, 0)::text AS ops, coalesce(s.unsigned, 0)::text AS unsigned, coalesce(s.failed, 0)::text AS failed, s.last_push,
      (SELECT count(*) FROM pkgswitch.alarms a WHERE a.host_id = h.host_id AND NOT EXISTS (SELECT FROM pkgswitch.alarm_acks k WHERE k.alarm_id = a.id))::text AS open_alarms,
      l.seq::text, l.op, l.command, l.status, l.exit_code, l.op_ts
    FROM (SELECT host_id FROM pkgswitch.hosts UNION SELECT host_id FROM pkgswitch.alarms) h
    LEFT JOIN LATERAL (
      SELECT count(*) AS ops,
        count(*) FILTER (WHERE position('"signature":"signed"' IN ledger_line) = 0) AS unsigned,
        count(*) FILTER (WHERE status IS NULL OR status NOT IN ('ok', 'dry_run')) AS failed,
        max(received_at) AS last_push
      FROM pkgswitch.operations o WHERE o.host_id = h.host_id) s ON true
    LEFT JOIN LATERAL (
      SELECT seq, op, command, status, exit_code, op_ts FROM pkgswitch.operations o
      WHERE o.host_id = h.host_id ORDER BY seq DESC LIMIT 1) l ON true
    ORDER BY h.host_id`;
  const switches = new Map<string, { command: string | null; status: string | null }[]>();
  for (const r of await sql<{ host_id: string; command: string | null; status: string | null }[]>`
      SELECT host_id, command, status FROM pkgswitch.operations
      WHERE status = 'ok' AND (command LIKE 'enable %' OR command LIKE 'disable %') ORDER BY host_id, seq`) {
    const list = switches.get(r.host_id) ?? [];
    list.push(r);
    switches.set(r.host_id, list);
  }
  return rows.map((r) => {
    // Silence is measured from the host's last operation (what it did), else its last push.
    const lastSeen = r.op_ts ?? r.last_push;
    const days = lastSeen ? Math.floor((now.getTime() - lastSeen.getTime()) / 86_400_000) : null;
    return {
      host: r.host_id,
      operations: Number(r.ops),
      providers: enabledProviders(switches.get(r.host_id) ?? []),
      last_op: r.seq === null ? null : { seq: Number(r.seq), op: r.op!, command: r.command, status: r.status, exit_code: r.exit_code, ts: r.op_ts?.toISOString() ?? null },
      unsigned: Number(r.unsigned),
      failed: Number(r.failed),
      last_push: r.last_push?.toISOString() ?? null,
      silent_days: days,
      silent: days === null || days > o.silentDays,
      open_alarms: Number(r.open_alarms),
    };
  });
}
