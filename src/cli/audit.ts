/** `audit list` and `audit show`: reading the record (never writing it). */
import { READ_LIMIT, readBoundedText, readProblem, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit, PkgswitchError, usageError, VerifyExit, type CommandExit } from "../errors.ts";
import { present } from "../config/access.ts";
import { readLedger } from "../audit/store.ts";
import { jsonlName } from "../audit/names.ts";
import { parseOpId } from "../audit/opid.ts";
import type { AuditEvent } from "../audit/event.ts";
import type { CommandContext } from "./command.ts";

/** Read an operation's events (exit 3 when it does not exist). */
export function readOpEvents(auditDir: string, opId: string): AuditEvent[] {
  const path = join(auditDir, jsonlName(opId));
  if (!present(path)) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no operation ${opId} in ${auditDir}`);
  let text: string;
  try {
    text = readBoundedText(path, { max: READ_LIMIT.record, noFollow: true });
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot read ${path}: it ${readProblem(e)}`);
  }
  return text.split("\n").filter(Boolean).map((l, i) => {
    try {
      if (tooDeep(l)) throw new Error("nested too deeply");
      return JSON.parse(l) as AuditEvent;
    } catch {
      throw new PkgswitchError(VerifyExit.NOT_FOUND, `${path}: line ${i + 1} is not JSON`);
    }
  });
}

export async function cmdAuditList(ctx: CommandContext): Promise<CommandExit> {
  const s = ctx.session();
  const ledger = readLedger(s.layout.auditDir);
  const rows = ledger.map((e) => {
    let command = "?";
    let status = "?";
    try {
      const ev = readOpEvents(s.layout.auditDir, e.op);
      command = String(ev[0]?.command ?? "?");
      status = String(ev[ev.length - 1]?.status ?? "?");
    } catch {}
    return { seq: e.seq, op: e.op, ts: e.ts, command, status, signature: e.signature, key_id: e.key_id };
  });
  ctx.out.json({ audit_dir: s.layout.auditDir, operations: rows });
  if (rows.length === 0) ctx.out.line(`no operations recorded in ${s.layout.auditDir}`);
  for (const r of rows) {
    const st = r.status === "ok" ? ctx.out.paint("green", r.status) : r.status === "dry_run" ? r.status : ctx.out.paint("red", r.status);
    ctx.out.line(`${r.op}  ${st.padEnd(11)}  ${r.signature.padEnd(8)}  ${r.command}`);
  }
  return Exit.OK;
}

export async function cmdAuditShow(ctx: CommandContext): Promise<CommandExit> {
  if (ctx.args.length !== 1) throw usageError("audit show: give exactly one op id (see `pkgswitch audit list`)");
  const opId = parseOpId(ctx.args[0]!);
  const s = ctx.session();
  const events = readOpEvents(s.layout.auditDir, opId);
  ctx.out.json({ op: opId, events });
  for (const e of events) ctx.out.line(describeEvent(e));
  return Exit.OK;
}

/** `text`, or its first `max` characters and a mark saying how much was
 * left out: a path cut silently reads as another path (`/bin/l`). */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more character${text.length - max === 1 ? "" : "s"}; --json has all)`;
}

/** Indented lines under an event's line (failures, stderr). */
const detail = (lines: string[]) => lines.map((l) => `\n${" ".repeat(22)}${l}`).join("");

/** One readable line per event (plus indented details for failures). */
export function describeEvent(e: AuditEvent): string {
  const f = e as Record<string, unknown>;
  const t = e.ts.slice(11, 23);
  const rest = (() => {
    switch (e.event) {
      case "op.start": return `${f.command} (root ${f.root}${f.dry_run ? ", dry run" : ""}, pkgswitch ${f.tool_version})`;
      case "op.end": return `status ${f.status}, exit ${f.exit_code}, ${f.duration_ms} ms ${JSON.stringify(f.counts)}`;
      case "pkg.query": return `${cut((f.args as string[]).join(" "), 400)} → rc ${f.rc} (${f.duration_ms} ms)${f.stderr ? detail(String(f.stderr).trimEnd().split("\n").slice(-3).map((l) => `stderr: ${l}`)) : ""}`;
      case "pkg.install": case "pkg.remove": return `${(f.packages as string[]).join(" ")}${f.version ? " " + f.version : ""}`;
      case "provenance": return f.package
        ? `${f.package} ${f.version_before ?? "(none)"} → ${f.version_after ?? "(removed)"} [${f.source_repo}]${f.foreign ? " FOREIGN" : ""}`
        : `${f.path} ← ${f.owner ?? "no owner"} ${f.version ?? ""} [${f.source_repo}]${f.foreign ? " FOREIGN" : ""}`;
      case "file.backup": return `${f.path} → ${f.backup} (${f.method ?? f.reason}) sha256 ${String(f.sha256 ?? "-").slice(0, 16)}…`;
      case "pkg.file": return `${f.package} ${f.path} ${String(f.before_sha256 ?? "-").slice(0, 12)}… → ${String(f.after_sha256 ?? "-").slice(0, 12)}…`;
      case "pkg.divert": return `${f.action} ${f.path} → ${f.diverted_to}${f.reason ? ` (${f.reason})` : ""}`;
      case "file.switch": return `${f.path} → ${f.link_target} (before ${String(f.before_sha256 ?? "-").slice(0, 12)}…, after ${String(f.after_sha256 ?? "-").slice(0, 12)}…)`;
      case "file.restore": return `${f.path} ${f.action}${f.reason ? ": " + f.reason : ""}${f.after_sha256 ? ` sha256 ${String(f.after_sha256).slice(0, 12)}… ${f.matches_original ? "matches original" : "DIFFERS from original"}` : ""}`;
      case "smoke.test": return `${f.tested} tested, ${f.failed} failed${detail(((f.failures as Array<{ path: string; rc: number | null; signal: string | null; output?: string }> | undefined) ?? []).map((x) => `FAIL ${x.path}: ${x.signal ? `killed by ${x.signal}` : x.rc === null ? "did not run" : `exit ${x.rc}`}${x.output ? ` — ${cut(x.output.split("\n")[0]!, 200)}` : ""}`))}`;
      case "preflight.check": return `${f.check}${f.path ? " " + f.path : ""}${f.provider ? " " + f.provider : ""}: ${f.ok ? "ok" : f.problem ? `needs repair (${f.problem})` : "REFUSED"}${f.reason ? " — " + f.reason : ""}${f.note ? " — " + f.note : ""}`;
      case "rollback.step": return `${f.path} ${f.action} ${f.ok ? "ok" : "FAILED " + (f.error ?? "")}`;
      case "error": return String(f.message);
      default: return JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => !["v", "op", "seq", "ts", "event", "prev", "hash"].includes(k))));
    }
  })();
  return `${String(e.seq).padStart(4)} ${t} ${e.event.padEnd(16)} ${rest}`;
}
