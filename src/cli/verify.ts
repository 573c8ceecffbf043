/** `audit verify`, `audit checkpoint`, `audit export`: checking the record
 * offline. Verification failures are results, not errors: the command
 * returns the documented verify exit code (design/formats.md) after printing
 * the report; only usage errors (2) and export/checkpoint failures throw. */
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { Exit, PkgswitchError, usageError, VerifyExit, type CommandExit } from "../errors.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { parseOpId } from "../audit/opid.ts";
import { runOperation } from "../switch/session.ts";
import { exportBundle, serializeBundle, verifyBundle } from "../verify/bundle.ts";
import { readArtifact } from "../verify/files.ts";
import { EXIT_MEANING, type Check, type Report } from "../verify/report.ts";
import { defaultTrust, trustFromFiles, type TrustSet } from "../verify/trust.ts";
import { CHECKPOINT_FILE, jsonlName, LEDGER_FILE } from "../audit/names.ts";
import { segmentOf } from "../audit/archive.ts";
import { LedgerCorrupt, readLedger } from "../audit/store.ts";
import { verifyAll, verifyCheckpoint, verifyOp } from "../verify/verify.ts";
import type { Command, CommandContext } from "./command.ts";
import { writeStdout } from "./output.ts";
import { SPECS } from "./specs.ts";
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";

const str = (ctx: CommandContext, k: string) => ctx.parsed.values[k] as string | undefined;
const flag = (ctx: CommandContext, k: string) => ctx.parsed.values[k] === true;

function trustFor(ctx: CommandContext): TrustSet {
  const given = ctx.parsed.values.pubkey as string[] | undefined;
  return given && given.length > 0 ? trustFromFiles(given) : defaultTrust(ctx.layout().keyDir);
}

function printReport(ctx: CommandContext, report: Report, header: Record<string, unknown>): void {
  ctx.out.json({ ...header, ...report.toJSON() });
  for (const l of report.human((c, s) => ctx.out.paint(c, s))) ctx.out.line(l);
}

/** `audit verify` itself; `run` maps a crash to exit 7. */
async function runVerify(ctx: CommandContext): Promise<CommandExit> {
  const op = str(ctx, "op");
  const bundle = str(ctx, "bundle");
  const since = str(ctx, "since-checkpoint");
  const all = flag(ctx, "all");
  if (op !== undefined && all) throw usageError("audit verify: give --op ID or --all, not both");
  if (bundle !== undefined && (op !== undefined || all || since !== undefined || flag(ctx, "deep"))) {
    throw usageError("audit verify --bundle verifies the bundle alone; it does not combine with --op, --all, --since-checkpoint or --deep");
  }
  if (op !== undefined) parseOpId(op);
  if (since !== undefined && !existsSync(since)) throw usageError(`--since-checkpoint ${since}: no such file`);
  const trust = trustFor(ctx);
  const opts = { allowUnsigned: flag(ctx, "allow-unsigned"), allowLegacy: flag(ctx, "allow-legacy"), allowMissingArchive: flag(ctx, "allow-missing-archive") };

  let report: Report;
  let header: Record<string, unknown>;
  if (bundle !== undefined) {
    let text: string;
    try {
      text = readBoundedText(bundle, { max: READ_LIMIT.ledger });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw usageError(`--bundle ${bundle}: no such file`);
      throw new PkgswitchError(VerifyExit.IO, `cannot read ${bundle}: ${code ?? (e as Error).message}`);
    }
    report = verifyBundle(text, trust, opts);
    header = { mode: "bundle", bundle, trusted_keys: trust.keys.map((k) => k.id) };
  } else {
    const layout = ctx.layout();
    const base = { auditDir: layout.auditDir, root: layout.root, trust, ...opts, deep: flag(ctx, "deep"), ...(since !== undefined ? { sinceCheckpoint: since } : {}) };
    if (op !== undefined) {
      report = verifyOp(op, base);
      header = { mode: "op", op };
    } else {
      report = await verifyAll(base);
      header = { mode: "all" };
    }
    header = { ...header, audit_dir: layout.auditDir, trusted_keys: trust.keys.map((k) => k.id) };
  }
  const code = report.exitCode;
  if (flag(ctx, "record")) {
    try {
      await recordVerification(ctx, header, report);
    } catch (e) {
      // The verification stands; say so before the error line.
      printReport(ctx, report, header);
      throw e;
    }
  }
  printReport(ctx, report, header);
  return code;
}

export async function cmdAuditVerify(ctx: CommandContext): Promise<CommandExit> {
  try {
    return await runVerify(ctx);
  } catch (e) {
    if (e instanceof PkgswitchError) throw e;
    // A crash must not read as a verdict: 1 means "tampered".
    throw new PkgswitchError(VerifyExit.INTERNAL, `internal error (a bug, please report; no verdict was reached): ${(e as Error).message}`);
  }
}

export async function cmdAuditCheckpoint(ctx: CommandContext): Promise<CommandExit> {
  const dir = ctx.layout().auditDir;
  const path = join(dir, CHECKPOINT_FILE);
  const r = readArtifact(path);
  if (!r.ok) {
    if (r.exit === VerifyExit.NOT_FOUND) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no checkpoint at ${path} (it is written after each signed operation)`);
    throw new PkgswitchError(VerifyExit.IO, r.message);
  }
  // What is printed is copied off the host as evidence: the bytes read once,
  // checked as `audit verify` checks the current checkpoint (its exit codes
  // and their precedence: Report.exitCode), printed only when they pass.
  const trust = trustFor(ctx);
  const { report, checked, signatureChecked } = verifyCheckpoint(dir, r.bytes, trust);
  const code = report.exitCode;
  if (code !== VerifyExit.OK) throw new PkgswitchError(code, refusal(dir, path, report.withExit(code)[0]!, trust));
  for (const w of report.warnings.filter((x) => x.check === "keys")) ctx.out.warn(`${w.file}: ${w.message}`);
  // Bad ledger lines that leave the checkpoint sound: the first one (the
  // rest are verify's to list).
  const later = report.warnings.filter((w) => w.file === LEDGER_FILE && w.line !== undefined);
  if (later.length > 0) ctx.out.warn(`${join(dir, LEDGER_FILE)} line ${later[0]!.line}: ${later[0]!.message}${later.length > 1 ? "; more bad lines follow" : ""}; the checkpoint is printed — run \`pkgswitch audit verify --all\` to check the whole record`);
  if (!signatureChecked) ctx.out.warn(`checkpoint ${path}: signature by ${checked?.keyId ?? "?"} not checked: no trusted key (${trust.source}); its form, tree size and root were checked against the ledger — to check the signature too, give the signer's public key: \`pkgswitch audit checkpoint --pubkey FILE\``);
  const text = r.bytes.toString("utf8");
  if (ctx.globals.json) {
    const cp = checked!.cp;
    ctx.out.json({ file: path, checkpoint: text, origin: cp.origin, size: Number(cp.size), root: Buffer.from(cp.root).toString("base64"), signers: cp.signatures.map((s) => s.name), key_id: checked!.keyId, signature: signatureChecked ? "verified" : "not checked" });
  } else writeStdout(text);
  return Exit.OK;
}

/** The one line of a refused checkpoint: the file at fault (the checkpoint,
 * a ledger line, a trusted key file) and what is wrong with it. */
function refusal(dir: string, path: string, f: Check, trust: TrustSet): string {
  const next = `run \`pkgswitch audit verify --all\``;
  // A signer not trusted because a key file could not be used: say which.
  const keyFile = f.exit === VerifyExit.UNTRUSTED && trust.problems.length > 0 ? `: ${trust.problems[0]!.file}: ${trust.problems[0]!.message}` : "";
  if (f.file === undefined || f.file === CHECKPOINT_FILE) return `checkpoint ${path}: ${f.message}${keyFile}; not printed — ${next}`;
  const file = isAbsolute(f.file) ? f.file : join(dir, f.file);
  const what = f.message.includes(file) ? f.message : `${file}${f.line !== undefined ? ` line ${f.line}` : ""}: ${f.message}`;
  return `${what}; checkpoint ${path} not printed — ${next}`;
}

export async function cmdAuditExport(ctx: CommandContext): Promise<CommandExit> {
  const op = str(ctx, "op");
  const out = str(ctx, "output");
  if (op === undefined || out === undefined) throw usageError("audit export: give --op ID and -o FILE");
  const opId = parseOpId(op);
  const dir = ctx.layout().auditDir;
  if (!existsSync(join(dir, jsonlName(opId)))) {
    let ledger;
    try {
      ledger = readLedger(dir);
    } catch (e) {
      // In `audit verify`'s codes a damaged record is invalid (1), not 70.
      if (e instanceof LedgerCorrupt) throw new PkgswitchError(VerifyExit.TAMPERED, e.message);
      throw e;
    }
    const seg = segmentOf(dir, ledger, opId);
    if (seg) throw new PkgswitchError(VerifyExit.NOT_FOUND, `operation ${opId} is archived in ${join(dir, "archive", seg.segment)}; exporting an archived operation is not supported (\`audit verify --op ${opId}\` checks it from the segment)`);
  }
  const bundle = exportBundle(ctx.layout().auditDir, opId, trustFor(ctx));
  const text = serializeBundle(bundle);
  if (out === "-") {
    writeStdout(text);
    return Exit.OK;
  }
  if (ctx.globals.dryRun) {
    ctx.out.line(`would write the bundle of ${opId} to ${out}`);
    return Exit.OK;
  }
  try {
    writeFileAtomic(out, text, 0o600);
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot write ${out}: ${(e as Error).message}`);
  }
  ctx.out.json({ op: opId, file: out, bytes: Buffer.byteLength(text), signed: bundle.files.sig !== null, checkpoint: bundle.checkpoint !== null });
  ctx.out.line(`wrote ${out} (operation ${opId}${bundle.files.sig ? "" : ", unsigned"}${bundle.checkpoint ? "" : ", no checkpoint"})`);
  ctx.out.line(ctx.out.paint("dim", `verify with: pkgswitch audit verify --bundle ${out} --pubkey signing.pub`));
  return Exit.OK;
}

/** The commands of this file (the table, ./commands.ts, loads them on demand). */
export const verifyCommands: Command[] = [
  { ...SPECS["audit verify"], run: cmdAuditVerify },
  { ...SPECS["audit checkpoint"], run: cmdAuditCheckpoint },
  { ...SPECS["audit export"], run: cmdAuditExport },
];

/** --record: the verification becomes an operation of its own (lock,
 * signed JSONL, ledger line, new checkpoint). Runs after the checks, so
 * what was verified is the record as it was before this entry. */
async function recordVerification(ctx: CommandContext, header: Record<string, unknown>, report: Report): Promise<void> {
  const code = report.exitCode;
  const session = ctx.session();
  const { summary } = await runOperation(session, "audit verify", async ({ op }) => {
    op.record("audit.verify", {
      mode: String(header.mode),
      ...(header.op ? { target_op: String(header.op) } : {}),
      exit_code: code,
      result: EXIT_MEANING[code] ?? "",
      counts: report.counts,
      failures: report.failures.slice(0, 20).map((f) => ({ check: f.check, exit: f.exit, file: f.file ?? null, line: f.line ?? null, op: f.op ?? null, message: f.message })),
      failure_count: report.failures.length,
      trusted_keys: (header.trusted_keys as string[] | undefined) ?? [],
    });
    return { status: code === VerifyExit.OK ? "ok" : "failed", exitCode: code, counts: { failures: report.failures.length } };
  });
  header.recorded_op = summary.opId;
  if (!session.dryRun) ctx.out.detail(`recorded as operation ${summary.opId}`);
}
