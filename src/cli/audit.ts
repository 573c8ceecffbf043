/** `audit list` and `audit show`: reading the record (never writing it). */
import { READ_LIMIT, readBoundedText, readProblem, tooDeep } from "../config/bounded.ts";
import { join } from "node:path";
import { Exit, PkgswitchError, usageError, VerifyExit, type CommandExit } from "../errors.ts";
import { present } from "../config/access.ts";
import { readLedger } from "../audit/store.ts";
import { jsonlName } from "../audit/names.ts";
import { parseOpId, parseTimeText } from "../audit/opid.ts";
import type { AuditEvent } from "../audit/event.ts";
import type { CommandContext } from "./command.ts";
import { archive, readArchivedFile, segmentOf, type Selection } from "../audit/archive.ts";
import { segmentPath } from "../audit/archive-records.ts";
import { runOperation } from "../switch/session.ts";
import { loadSummaryText, markArchived, type OpSummaryLine } from "../audit/list-index.ts";
import { writeStdout } from "./output.ts";

/** Write lines in chunks (constant memory per chunk, output as it goes). */
function streamLines(lines: string[], tail: string): void {
  for (let i = 0; i < lines.length; i += 2000) writeStdout(lines.slice(i, i + 2000).join("\n") + "\n");
  if (tail) writeStdout(tail);
}

/** Read an operation's events (exit 3 when it does not exist); an archived
 * operation's are read from its segment (`audit archive`). */
export function readOpEvents(auditDir: string, opId: string): AuditEvent[] {
  let path = join(auditDir, jsonlName(opId));
  let text: string;
  if (!present(path)) {
    const seg = segmentOf(auditDir, readLedger(auditDir), opId);
    if (!seg) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no operation ${opId} in ${auditDir}`);
    path = `${segmentPath(auditDir, seg.segment)}:${jsonlName(opId)}`;
    text = Buffer.from(readArchivedFile(auditDir, seg, jsonlName(opId))).toString("utf8");
  } else {
    try {
      text = readBoundedText(path, { max: READ_LIMIT.record, noFollow: true });
    } catch (e) {
      throw new PkgswitchError(Exit.PERMISSION, `cannot read ${path}: it ${readProblem(e)}`);
    }
  }
  const verify = `run \`pkgswitch audit verify ${opId}\``;
  return text.split("\n").filter(Boolean).map((l, i) => {
    let e: unknown;
    try {
      if (tooDeep(l)) throw new Error("nested too deeply");
      e = JSON.parse(l);
    } catch {
      throw new PkgswitchError(VerifyExit.NOT_FOUND, `${path}: line ${i + 1} is not JSON; ${verify}`);
    }
    // Valid JSON of the wrong shape is as unreadable as a line that is not
    // JSON (same exit): what the listing below reads must be there.
    const bad = eventShapeProblem(e);
    if (bad) throw new PkgswitchError(VerifyExit.NOT_FOUND, `${path}: line ${i + 1} is not an audit event (${bad}); ${verify}`);
    return e as AuditEvent;
  });
}

/** Why `e` is not an event line (an object with a string `event` and `ts`
 * and an integer `seq`), or null. */
function eventShapeProblem(e: unknown): string | null {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return `${Array.isArray(e) ? "a list" : JSON.stringify(e)}, not an object`;
  const f = e as Record<string, unknown>;
  if (typeof f.event !== "string") return "its event is not a string";
  if (typeof f.ts !== "string") return "its ts is not a string";
  if (!Number.isSafeInteger(f.seq)) return "its seq is not an integer";
  return null;
}

/** `audit list [filters]`: from the list index (src/audit/list-index.ts, a
 * cache rebuilt from the record), filtered. --json streams one document
 * with one operation object per line; --jsonl one object per line, nothing
 * else (docs/formats.md). */
export async function cmdAuditList(ctx: CommandContext): Promise<CommandExit> {
  const v = ctx.parsed.values;
  const str = (k: string) => v[k] as string | undefined;
  const oneOf = (k: string, allowed: string[]) => {
    const x = str(k);
    if (x !== undefined && !allowed.includes(x)) throw usageError(`audit list --${k} ${JSON.stringify(x)}: expected one of ${allowed.join(", ")}`);
    return x;
  };
  const result = oneOf("result", ["ok", "failed", "rolled_back", "dry_run"]);
  const signature = oneOf("signature", ["signed", "unsigned", "failed"]);
  const since = str("since") !== undefined ? parseDate(str("since")!, "audit list --since").getTime() : -Infinity;
  // A bare date includes that whole day; a time is exclusive.
  const untilText = str("until");
  const until = untilText === undefined ? Infinity : parseDate(untilText, "audit list --until").getTime() + (/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(untilText) ? 86_400_000 : 0);
  const provider = str("provider");
  const command = str("command");
  const s = ctx.session();
  const text = loadSummaryText(s.layout.auditDir, s.layout.stateDir);
  const keep = (r: OpSummaryLine) => {
    if (provider !== undefined && !r.providers.includes(provider)) return false;
    if (command !== undefined && r.command !== command && !r.command.startsWith(`${command} `)) return false;
    if (result !== undefined && r.status !== result) return false;
    if (signature !== undefined && r.signature !== signature) return false;
    if (since !== -Infinity || until !== Infinity) {
      const t = Date.parse(r.ts);
      if (t < since || t >= until) return false;
    }
    return true;
  };
  // Each filter value must appear in a summary line before it is parsed:
  // most lines of a long record are rejected by a substring search.
  const needles = [provider, command !== undefined ? `"command":${JSON.stringify(command).slice(0, -1)}` : undefined, result, signature].filter((x): x is string => x !== undefined).map((x) => (x.startsWith('"command"') ? x : JSON.stringify(x)));
  const sinceIso = since === -Infinity ? null : new Date(since).toISOString();
  const lines: string[] = [];
  const rows: OpSummaryLine[] = [];
  let total = 0;
  for (let at = 0; at < text.length; ) {
    const nl = text.indexOf("\n", at);
    const line = text.slice(at, nl);
    at = nl + 1;
    total++;
    if (!needles.every((n) => line.includes(n))) continue;
    // ISO times of one format compare as strings: skip the early ones unparsed.
    if (sinceIso !== null) {
      const t = line.indexOf('"ts":"');
      if (t >= 0 && line.slice(t + 6, t + 30) < sinceIso) continue;
    }
    const r = JSON.parse(line) as OpSummaryLine;
    if (!keep(r)) continue;
    lines.push(line);
    if (!ctx.globals.json && v.jsonl !== true) rows.push(r);
  }
  if (v.jsonl === true) {
    streamLines(lines, "");
    return Exit.OK;
  }
  if (ctx.globals.json) {
    writeStdout(`{"audit_dir":${JSON.stringify(s.layout.auditDir)},"operations":[\n`);
    for (let i = 0; i < lines.length - 1; i++) lines[i] += ",";
    streamLines(lines, "]}\n");
    return Exit.OK;
  }
  if (rows.length === 0) ctx.out.line(total === 0 ? `no operations recorded in ${s.layout.auditDir}` : `no operation of the ${total} recorded matches`);
  for (const r of rows) {
    const st = r.status === "ok" ? ctx.out.paint("green", r.status) : r.status === "dry_run" ? r.status : ctx.out.paint("red", r.status);
    ctx.out.line(`${r.op}  ${st.padEnd(11)}  ${r.signature.padEnd(8)}  ${r.command}`);
  }
  return Exit.OK;
}

export async function cmdAuditShow(ctx: CommandContext): Promise<CommandExit> {
  if (ctx.args.length === 0) throw usageError("audit show: give an op id (see `pkgswitch audit list`)");
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
  return `${String(e.seq).padStart(4)} ${t} ${e.event.padEnd(16)} ${eventDetail(e, f)}`;
}

/** The event's fields, readably; an event whose fields are not of the types
 * its kind has (a hand-edited record) is shown as its raw fields instead of
 * failing half-way through the listing. */
function eventDetail(e: AuditEvent, f: Record<string, unknown>): string {
  try {
    return knownDetail(e, f);
  } catch {
    return rawFields(f);
  }
}

function rawFields(f: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => !["v", "op", "seq", "ts", "event", "prev", "hash"].includes(k))));
}

function knownDetail(e: AuditEvent, f: Record<string, unknown>): string {
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
      case "pkg.divert": return `${f.action} ${f.path} → ${f.diverted_to}${f.copy_removed === false ? ` (copy NOT removed: ${f.error})` : ""}${f.reason ? ` (${f.reason})` : ""}`;
      case "file.switch": return `${f.path} → ${f.link_target} (before ${String(f.before_sha256 ?? "-").slice(0, 12)}…, after ${String(f.after_sha256 ?? "-").slice(0, 12)}…)`;
      case "file.restore": return `${f.path} ${f.action}${f.reason ? ": " + f.reason : ""}${f.after_sha256 ? ` sha256 ${String(f.after_sha256).slice(0, 12)}… ${f.matches_original ? "matches original" : "DIFFERS from original"}` : ""}`;
      case "native.switch": return `${f.provider} (${f.mechanism}): ${f.from ?? "nothing"} → ${f.to}${(f.installed as string[]).length ? `; installed ${(f.installed as string[]).join(" ")}` : ""}${(f.removed as string[]).length ? `; removed ${(f.removed as string[]).join(" ")}` : ""}`;
      case "native.file": return `${f.path} ${f.before_link_target ?? f.before_kind} → ${f.after_link_target ?? f.after_kind} (before ${String(f.before_sha256 ?? "-").slice(0, 12)}…, after ${String(f.after_sha256 ?? "-").slice(0, 12)}…)`;
      case "smoke.test": return `${f.tested} tested, ${f.failed} failed${detail(((f.failures as Array<{ path: string; rc: number | null; signal: string | null; output?: string }> | undefined) ?? []).map((x) => `FAIL ${x.path}: ${x.signal ? `killed by ${x.signal}` : x.rc === null ? "did not run" : `exit ${x.rc}`}${x.output ? ` — ${cut(x.output.split("\n")[0]!, 200)}` : ""}`))}`;
      case "preflight.check": return `${f.check}${f.path ? " " + f.path : ""}${f.provider ? " " + f.provider : ""}: ${f.ok ? "ok" : f.problem ? `needs repair (${f.problem})` : "REFUSED"}${f.reason ? " — " + f.reason : ""}${f.note ? " — " + f.note : ""}`;
      case "hook.install": return f.skipped ? `${f.path} skipped: ${f.reason}` : `${f.path} sha256 ${String(f.sha256 ?? "-").slice(0, 12)}…${f.reason ? ` (${f.reason})` : ""}`;
      case "hook.remove": return `${f.path}${f.ok === false ? ` FAILED ${f.error}` : ""}${f.reason ? ` (${f.reason})` : ""}`;
      case "rollback.step": return `${f.path} ${f.action} ${f.ok ? "ok" : "FAILED " + (f.error ?? "")}`;
      case "error": return String(f.message);
      default: return rawFields(f);
  }
}

/** `audit archive --keep N | --before DATE`: move old operations' files into
 * signed segments (src/audit/archive.ts), as an operation of its own. */
export async function cmdAuditArchive(ctx: CommandContext): Promise<CommandExit> {
  const keep = ctx.parsed.values.keep as string | undefined;
  const before = ctx.parsed.values.before as string | undefined;
  if ((keep === undefined) === (before === undefined)) throw usageError("audit archive: give --keep N or --before DATE (one of them)");
  let sel: Selection;
  if (keep !== undefined) {
    if (!/^[0-9]{1,9}$/.test(keep)) throw usageError(`audit archive --keep ${JSON.stringify(keep)}: expected a number of operations to keep (0 or more)`);
    sel = { keep: Number(keep) };
  } else {
    const d = parseDate(before!, "audit archive --before");
    sel = { before: d };
  }
  const s = ctx.session();
  // A corrupt ledger refuses before the operation starts (as it does for
  // every operation whose tip check sees it): an edit the tip cannot see
  // (same length, same last line) would otherwise be found only under the
  // lock, after a failed archive operation had been appended to it. Read
  // again under the lock below: another operation may append meanwhile.
  readLedger(s.layout.auditDir);
  const what = keep !== undefined ? `--keep ${keep}` : `--before ${before}`;
  const { outcome, summary } = await runOperation(s, `audit archive ${what}`, async (c) => {
    const signer = c.signing?.mode === "key" ? c.signing.signer : null;
    const r = archive(s.layout.auditDir, readLedger(s.layout.auditDir), sel, c.op, signer, s.dryRun);
    return { status: "ok", exitCode: Exit.OK, counts: { archived: r.archived, kept: r.kept, segments: r.segments.length }, result: r };
  });
  const { archivedOps, ...r } = outcome.result as ReturnType<typeof archive>;
  if (!s.dryRun && archivedOps.length > 0) markArchived(s.layout.auditDir, s.layout.stateDir, archivedOps);
  ctx.out.json({ op: s.dryRun ? null : summary.opId, dry_run: s.dryRun, archive_dir: segmentPath(s.layout.auditDir, ""), ...r });
  for (const f of r.finished) ctx.out.line(`finished an interrupted archive: ${f.segment} (removed ${f.removed} file(s) it holds)`);
  for (const u of r.undone) ctx.out.line(`undid an interrupted archive: ${u} (no record named it; its files were all still in place)`);
  const verb = s.dryRun ? "would archive" : "archived";
  ctx.out.line(`${verb} ${r.archived} operation(s) into ${r.segments.length} segment(s) under ${segmentPath(s.layout.auditDir, "")}; ${r.kept} kept in place${s.dryRun ? "" : ` (operation ${summary.opId})`}`);
  return outcome.exitCode;
}

/** A date or time given on the command line (YYYY-MM-DD is midnight UTC);
 * one that names no real calendar day or time (2026-02-30, hour 25) is a
 * usage error, never the day `Date` would roll it over to. */
export function parseDate(text: string, where: string): Date {
  const t = parseTimeText(text);
  if ("problem" in t) throw usageError(`${where} ${JSON.stringify(text)}: ${t.problem === null ? "" : `not a valid date (${t.problem}); `}expected a date YYYY-MM-DD or an ISO 8601 time (2026-01-01T12:00:00Z)`);
  return new Date(t.ms);
}
