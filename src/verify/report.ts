/** The verification report: every check that failed (with file, line and op
 * id), a count of every check that passed, warnings, and the one exit code a
 * playbook branches on (design/formats.md "audit verify exit codes").
 *
 * Exit-code precedence when several kinds of problem are found at once:
 *
 *     6 I/O  >  1 tampered  >  3 not found  >  8 archived, not checked  >  4 untrusted/unsigned  >  5 live drift
 *
 * An I/O or permission error comes first because it means part of the record
 * could not be examined at all: what was not read may hide anything, so the
 * operator must fix access and re-run before acting on the rest. Among real
 * findings, tampering outranks a missing artifact (a deletion is usually
 * tampering too, and other evidence already proves it), which outranks a
 * trust problem (authentic-looking but not by a key you trust), which
 * outranks drift of live files; a missing archive segment (8) sits after a
 * missing artifact: the operations it held are known only not to be checked (the record is sound; the system changed
 * since). Every finding is listed in the report regardless of the code. */
import { VerifyExit, type VerifyExitCode } from "../errors.ts";

export type VerifyCode = VerifyExitCode;

/** Highest precedence first. */
export const EXIT_PRECEDENCE: readonly VerifyCode[] = [VerifyExit.IO, VerifyExit.TAMPERED, VerifyExit.NOT_FOUND, VerifyExit.ARCHIVED, VerifyExit.UNTRUSTED, VerifyExit.LIVE_DRIFT];

export const EXIT_MEANING: Record<VerifyCode, string> = {
  [VerifyExit.OK]: "verified",
  [VerifyExit.TAMPERED]: "tampered or invalid",
  [VerifyExit.USAGE]: "usage error",
  [VerifyExit.NOT_FOUND]: "not found",
  [VerifyExit.UNTRUSTED]: "unsigned or untrusted",
  [VerifyExit.LIVE_DRIFT]: "live files differ from the record",
  [VerifyExit.IO]: "I/O or permission error",
  [VerifyExit.INTERNAL]: "internal error: no verdict",
  [VerifyExit.ARCHIVED]: "archived, not checked (segment missing)",
};

export interface Check {
  /** Check name, e.g. "event.chain", "signature", "merkle.root". */
  check: string;
  ok: boolean;
  /** Exit code class of a failure (0 for passes and warnings). */
  exit: VerifyCode;
  /** File the finding is about (basename inside the audit dir, or a path). */
  file?: string;
  /** 1-based line in `file`. */
  line?: number;
  op?: string;
  message: string;
}

export interface Where {
  file?: string;
  line?: number;
  op?: string;
}

/** At most this many failures are kept per (file, check); the rest are
 * counted, so one mangled file cannot flood the report. */
const MAX_PER_FILE_CHECK = 20;

export class Report {
  readonly failures: Check[] = [];
  readonly warnings: Check[] = [];
  /** Passed checks by name. */
  readonly passed = new Map<string, number>();
  /** What was examined: operations, events, signatures, … */
  readonly counts: Record<string, number> = {};
  /** Failures not listed (beyond MAX_PER_FILE_CHECK) by check name. */
  readonly suppressed = new Map<string, number>();
  private readonly perKey = new Map<string, number>();
  /** Phase timings in ms (for --json and the benchmark). */
  readonly timings: Record<string, number> = {};

  pass(check: string, n = 1): void {
    this.passed.set(check, (this.passed.get(check) ?? 0) + n);
  }

  fail(check: string, exit: VerifyCode, message: string, where: Where = {}): void {
    const key = `${where.file ?? ""}\0${check}`;
    const n = (this.perKey.get(key) ?? 0) + 1;
    this.perKey.set(key, n);
    // Keep the count of every failure for the exit code, but list only the first few.
    if (n > MAX_PER_FILE_CHECK) {
      this.suppressed.set(check, (this.suppressed.get(check) ?? 0) + 1);
      return;
    }
    this.failures.push({ check, ok: false, exit, ...clean(where), message });
  }

  warn(check: string, message: string, where: Where = {}): void {
    this.warnings.push({ check, ok: true, exit: VerifyExit.OK, ...clean(where), message });
  }

  count(what: string, n = 1): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  /** Fold in a report made elsewhere (a worker's share). */
  merge(other: ReportData): void {
    for (const f of other.failures) this.fail(f.check, f.exit, f.message, f);
    for (const w of other.warnings) this.warnings.push(w);
    for (const [k, v] of other.passed) this.pass(k, v);
    for (const [k, v] of Object.entries(other.counts)) this.count(k, v);
    for (const [k, v] of other.suppressed) this.suppressed.set(k, (this.suppressed.get(k) ?? 0) + v);
  }

  get ok(): boolean {
    return this.failures.length === 0;
  }

  /** The exit code, by the precedence documented above. */
  get exitCode(): VerifyCode {
    for (const code of EXIT_PRECEDENCE) if (this.failures.some((f) => f.exit === code)) return code;
    return this.failures.length > 0 ? VerifyExit.TAMPERED : VerifyExit.OK;
  }

  /** Failures with the given exit class. */
  withExit(code: VerifyCode): Check[] {
    return this.failures.filter((f) => f.exit === code);
  }

  data(): ReportData {
    return { failures: this.failures, warnings: this.warnings, passed: [...this.passed], counts: this.counts, suppressed: [...this.suppressed] };
  }

  /** The structured report (`--json`). */
  toJSON(): Record<string, unknown> {
    const code = this.exitCode;
    return {
      ok: code === VerifyExit.OK,
      exit_code: code,
      result: EXIT_MEANING[code],
      counts: this.counts,
      checks: [
        ...this.failures,
        ...[...this.passed].sort().map(([check, n]) => ({ check, ok: true, exit: VerifyExit.OK, message: `${n} passed` })),
      ],
      warnings: this.warnings,
      suppressed: Object.fromEntries(this.suppressed),
    };
  }

  /** The short operator report: verdict, what was checked, what failed and where. */
  human(paint: (c: "red" | "green" | "yellow" | "dim" | "bold", s: string) => string = (_c, s) => s): string[] {
    const code = this.exitCode;
    const lines: string[] = [];
    const verdict = code === VerifyExit.OK ? paint("green", "OK") : paint("red", `FAILED (exit ${code}: ${EXIT_MEANING[code]})`);
    lines.push(`audit verify: ${verdict}`);
    const c = this.counts;
    const parts: string[] = [];
    const add = (k: string, label: string) => {
      if (c[k] !== undefined) parts.push(`${c[k]} ${label}`);
    };
    add("operations", "operation(s)");
    add("events", "event(s)");
    add("signatures", "signature(s)");
    add("unsigned", "unsigned");
    add("sboms", "SBOM(s)");
    add("archived_operations", "archived operation(s)");
    add("segments", "segment(s)");
    add("archived_not_checked", "archived, NOT checked");
    add("ledger_lines", "ledger line(s)");
    add("checkpoint_size", "= checkpoint tree size");
    add("inclusion_proofs", "inclusion proof(s)");
    add("consistency_proofs", "consistency proof(s)");
    add("deep_targets", "live target(s)");
    if (parts.length) lines.push(`checked: ${parts.join(", ")}`);
    for (const f of this.failures) lines.push(`  ${paint("red", "FAIL")} ${describe(f)}`);
    for (const [check, n] of this.suppressed) lines.push(`  ${paint("red", "FAIL")} ${check}: ${n} more failure(s) not listed`);
    for (const w of this.warnings) lines.push(`  ${paint("yellow", "warn")} ${describe(w)}`);
    if (code !== VerifyExit.OK) lines.push(paint("dim", nextStep(code)));
    return lines;
  }
}

export interface ReportData {
  failures: Check[];
  warnings: Check[];
  passed: [string, number][];
  counts: Record<string, number>;
  suppressed: [string, number][];
}

function clean(w: Where): Where {
  const out: Where = {};
  if (w.file !== undefined) out.file = w.file;
  if (w.line !== undefined) out.line = w.line;
  if (w.op !== undefined) out.op = w.op;
  return out;
}

function describe(c: Check): string {
  const where = c.file ? `${c.file}${c.line !== undefined ? `:${c.line}` : ""}` : "";
  const op = c.op ? ` [op ${c.op}]` : "";
  return `${c.check}${where ? ` ${where}` : ""}${op}: ${c.message}`;
}

function nextStep(code: number): string {
  switch (code) {
    case 1: return "the record was altered or damaged: keep a copy of the audit directory as evidence and see the audit playbook (docs/)";
    case 3: return "an artifact or operation is missing: check the op id (`pkgswitch audit list`) and the audit directory";
    case 4: return "unsigned, or signed by a key not in the trusted set: pass the right key with --pubkey, or --allow-unsigned if unsigned operations are expected";
    case 8: return "archived operations were not checked because their segment is missing: restore it under <audit dir>/archive/ (or accept that with --allow-missing-archive)";
    case 5: return "the record verifies, but live files no longer match it: `pkgswitch status` shows the drift";
    case 6: return "could not read part of the record: run as root (the audit directory is 0700) and re-run";
    default: return "";
  }
}
