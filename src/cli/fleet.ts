/** The fleet ledger commands: `fleet init`, `audit push`, `fleet verify`,
 * `fleet status`, and the push a package-manager hook makes after
 * `relink --hook`. The database work is in src/fleet/. Exit codes are
 * `audit verify`'s (docs/exit-codes.md, "fleet"). */
import { Exit, PkgswitchError, usageError, VerifyExit, type CommandExit } from "../errors.ts";
import type { Db } from "../fleet/db.ts";
import type { PushResult } from "../fleet/push.ts";
import type { CommandContext } from "./command.ts";
import { writeStderr } from "./output.ts";

/** The fleet client, loaded when a fleet command or a hook push runs: it
 * brings the postgres driver and node:net/tls/stream, which would otherwise
 * add to the start-up of every command (relink runs after every package
 * transaction). The build splits dynamic imports into their own chunks. */
async function fleet() {
  const [db, init, push, status, verify] = await Promise.all([import("../fleet/db.ts"), import("../fleet/init.ts"), import("../fleet/push.ts"), import("../fleet/status.ts"), import("../fleet/verify.ts")]);
  return { ...db, ...init, ...push, ...status, ...verify };
}

const DEFAULT_HOOK_TIMEOUT_MS = 3000;

function dbUrl(ctx: CommandContext): { url: string; where: string } {
  const flag = ctx.parsed.values.db as string | undefined;
  if (flag !== undefined) return { url: flag, where: "--db" };
  const cfg = ctx.session().config.fleetDb;
  if (cfg !== undefined) return { url: cfg, where: `config ${ctx.layout().configFile} "fleetDb"` };
  throw usageError(`${ctx.parsed.positionals.slice(0, 2).join(" ")}: name the fleet database with --db postgres://USER@HOST:PORT/DATABASE (or "fleetDb" in the config)`);
}

function positiveInt(ctx: CommandContext, k: string): number | undefined {
  const v = ctx.parsed.values[k] as string | undefined;
  if (v === undefined) return undefined;
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw usageError(`--${k} ${JSON.stringify(v)}: expected a positive integer`);
  return Number(v);
}

/** --timeout MS, when given (the default is withDb's). */
function deadline(ctx: CommandContext): { deadlineMs?: number } {
  const ms = positiveInt(ctx, "timeout");
  return ms === undefined ? {} : { deadlineMs: ms };
}

/** Push with a deadline: past it, the connection is dropped (the server
 * rolls back the open batch) and the push fails with exit 6. --timeout (or
 * the hook's fleetPushTimeoutMs) bounds the whole push; without one, the
 * push gives up when the database has not answered for 30 s, counted from
 * its last committed batch (a first push of thousands of operations takes
 * minutes, and each batch it commits is kept). */
async function pushWithin(url: string, where: string, ctx: CommandContext, timeoutMs: number | undefined, batchOps?: number): Promise<PushResult> {
  const { openDb, push, dbError, DEFAULT_DEADLINE_MS, watchdog, connectTimeoutFor } = await fleet();
  const layout = ctx.layout();
  const ms = timeoutMs ?? DEFAULT_DEADLINE_MS;
  const db: Db = openDb(url, where, { connectTimeoutS: connectTimeoutFor(ms) });
  const what = timeoutMs !== undefined ? `did not finish within ${ms} ms` : `did not answer within ${ms} ms`;
  const dog = watchdog(ms, () => new PkgswitchError(VerifyExit.IO, `push to ${db.target.display} ${what}; nothing was changed here — the next push catches up`));
  dog.arm();
  try {
    const work = push(db, layout, { ...(batchOps !== undefined ? { batchOps } : {}), ...(timeoutMs === undefined ? { onBatch: dog.arm } : {}) });
    work.catch(() => {});
    return await Promise.race([work, dog.expired]);
  } catch (e) {
    throw dbError(e, db.target, "pushing");
  } finally {
    dog.stop();
    await db.sql.end({ timeout: 0 }).catch(() => {});
  }
}

function reportPush(ctx: CommandContext, r: PushResult): void {
  ctx.out.json(r);
  for (const w of r.warnings) ctx.out.warn(w);
  const cp = r.checkpoint === "sent" ? "; checkpoint sent" : r.checkpoint === "held" ? "; checkpoint already held" : "; no checkpoint (no signed operation yet)";
  ctx.out.line(r.sent === 0 && r.checkpoint !== "sent" ? `host ${r.host}: the fleet already holds all ${r.held} operation(s); nothing to push` : `host ${r.host}: pushed ${r.sent} operation(s) in ${r.batches} batch(es) (the fleet held ${r.held})${cp}${r.keys.length ? `; registered key(s) ${r.keys.join(", ")}` : ""}`);
}

/** After `relink --hook`: push, bounded by fleetPushTimeoutMs, never failing
 * the package transaction (an unreachable database only prints a line).
 * `wanted` says whether this hook run should push at all. */
export function withHookPush(run: (ctx: CommandContext) => Promise<CommandExit>, wanted: (ctx: CommandContext) => boolean): (ctx: CommandContext) => Promise<CommandExit> {
  return async (ctx) => {
    const code = await run(ctx);
    if (ctx.parsed.values.hook !== true || !wanted(ctx) || process.env.PKGSWITCH_IN_OPERATION) return code;
    try {
      const cfg = ctx.session().config;
      if (cfg.fleetDb === undefined) return code;
      await pushWithin(cfg.fleetDb, `config "fleetDb"`, ctx, cfg.fleetPushTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS);
    } catch (e) {
      writeStderr(`pkgswitch relink (hook): audit push skipped: ${(e as Error).message}\n`);
    }
    return code;
  };
}

export async function cmdFleetInit(ctx: CommandContext): Promise<CommandExit> {
  const { withDb, migrate } = await fleet();
  const { url, where } = dbUrl(ctx);
  const r = await withDb(url, where, "migrating the schema", async (db) => ({ ...(await migrate(db.sql)), db: db.target.display }), deadline(ctx));
  ctx.out.json(r);
  ctx.out.line(r.applied.length === 0 ? `fleet schema at version ${r.to} in ${r.db}; nothing to do` : `fleet schema migrated from version ${r.from} to ${r.to} in ${r.db}: ${r.applied.map((a) => `${a.version} (${a.name})`).join(", ")}`);
  return Exit.OK;
}

export async function cmdAuditPush(ctx: CommandContext): Promise<CommandExit> {
  const { url, where } = dbUrl(ctx);
  // A refusal (exit 1) is reported like any error: one line, and with --json the error document.
  reportPush(ctx, await pushWithin(url, where, ctx, positiveInt(ctx, "timeout"), positiveInt(ctx, "batch")));
  return Exit.OK;
}

export async function cmdFleetVerify(ctx: CommandContext): Promise<CommandExit> {
  const { withDb, fleetVerify, fleetExit, EXIT_MEANING } = await fleet();
  const { url, where } = dbUrl(ctx);
  const host = ctx.parsed.values.host as string | undefined;
  if (host !== undefined && !/^[0-9a-f]{32}$/.test(host)) throw usageError(`--host ${JSON.stringify(host)}: a host id is 32 lowercase hex digits (see \`pkgswitch fleet status\`)`);
  const reports = await withDb(url, where, "verifying", (db, alive) => fleetVerify(db, { host, allowUnsigned: ctx.parsed.values["allow-unsigned"] === true, alive }), deadline(ctx));
  const code = fleetExit(reports);
  ctx.out.json({ mode: "fleet", ok: code === VerifyExit.OK, exit_code: code, result: EXIT_MEANING[code], hosts: reports.map((r) => ({ host: r.host, ...r.report.toJSON() })) });
  ctx.out.line(`fleet verify: ${code === VerifyExit.OK ? ctx.out.paint("green", "OK") : ctx.out.paint("red", `FAILED (exit ${code}: ${EXIT_MEANING[code]})`)} — ${reports.length} host(s)`);
  for (const r of reports) {
    const lines = r.report.human((c, s) => ctx.out.paint(c, s));
    ctx.out.line(`host ${r.host}: ${lines[0]!.replace(/^audit verify: /, "")}`);
    for (const l of lines.slice(1)) ctx.out.line(`  ${l}`);
  }
  return code;
}

export async function cmdFleetStatus(ctx: CommandContext): Promise<CommandExit> {
  const { withDb, fleetStatus } = await fleet();
  const { url, where } = dbUrl(ctx);
  const silentDays = positiveInt(ctx, "silent-days") ?? 7;
  const hosts = await withDb(url, where, "reading the status", (db) => fleetStatus(db, { silentDays }), deadline(ctx));
  ctx.out.json({ silent_days: silentDays, hosts });
  if (hosts.length === 0) {
    ctx.out.line("no host has pushed yet");
    return Exit.OK;
  }
  const rows = hosts.map((h) => [
    h.host,
    h.providers.join(",") || "-",
    h.last_op ? `${h.last_op.command ?? "?"} → ${h.last_op.status ?? "unfinished"}` : "-",
    h.last_op?.ts ?? "-",
    String(h.operations),
    String(h.unsigned),
    String(h.failed),
    h.silent ? `silent ${h.silent_days ?? "?"}d` : "-",
    h.open_alarms ? ctx.out.paint("red", String(h.open_alarms)) : "0",
  ]);
  const head = ["HOST", "PROVIDERS", "LAST OPERATION", "AT", "OPS", "UNSIGNED", "FAILED", "SILENT", "ALARMS"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.replace(/\x1b\[[0-9;]*m/g, "").length)));
  for (const r of [head, ...rows]) ctx.out.line(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join("  "));
  return Exit.OK;
}
