/** An operation's context and lifecycle: lock → recover crashed operations →
 * start the audit buffer → run the body → finalize (always, also on failure)
 * → release. Every command that changes the system runs through here, so
 * each leaves exactly one audit operation. */
import { lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { reserveSpace, writeProblem, type Reserve } from "../fsops/reserve.ts";
import { prepareAuditDir } from "../audit/store.ts";
import { statePath } from "./state.ts";
import type { Config } from "../config/config.ts";
import type { Layout } from "../config/paths.ts";
import { hostId } from "../config/hostid.ts";
import { Exit, PkgswitchError, type CommandExit } from "../errors.ts";
import { acquireLock } from "../fsops/lock.ts";
import { HashCache } from "../hashing/cache.ts";
import { OpBuffer, type OpStatus, type OpSummary, type SigningSetup } from "../audit/opbuffer.ts";
import { recoverInterrupted } from "../audit/recover.ts";
import { merkleRootOf } from "../audit/merkle.ts";
import { managerOfCommand, type CommandResult } from "../pkgmgr/exec.ts";
import { openBackend as openPackageBackend } from "../pkgmgr/factory.ts";
import type { PackageBackend } from "../pkgmgr/backend.ts";
import type { PackageInfo } from "../pkgmgr/types.ts";
import { buildSbom, serializeSbom } from "../attest/sbom.ts";
import { VERSION } from "../version.ts";

/** How an operation talks to the person running it (the CLI's Output
 * implements it): warnings, detail shown with -v, progress on long work.
 * The switch layer never imports the CLI. */
export interface Reporter {
  warn(message: string): void;
  detail(message: string): void;
  progress(label: string, done: number, total: number): void;
}

export interface Session {
  layout: Layout;
  config: Config;
  out: Reporter;
  dryRun: boolean;
  yes: boolean;
  argv: string[];
  /** Invoked by the package manager's hook: its lock is held by our caller. */
  hook?: boolean;
  /** Resolves how this run signs (src/attest/signing.ts), given the host id;
   * may load the signing code first (the CLI does: most commands never sign). */
  signing: (hostId: string) => SigningSetup | Promise<SigningSetup>;
}

/** What an operation body hands back for finalize. */
export interface OpOutcome {
  status: OpStatus;
  exitCode: CommandExit;
  counts?: Record<string, number>;
  packages?: PackageInfo[];
  /** Result document for --json / the human summary. */
  result?: unknown;
}

export interface OpContext {
  session: Session;
  op: OpBuffer;
  backend: PackageBackend;
  cache: HashCache;
  /** How this operation is signed (`audit archive` signs its segments too). */
  signing?: SigningSetup;
  /** Space set aside for state.json: release it just before a state write
   * that must not fail (the last one of an enable, a rollback's). */
  spare?: { state: Reserve; record: Reserve };
}

/** Bytes set aside before an operation for state.json (the new one is
 * written beside the old one). */
function spareBytes(path: string, times: number, base: number): number {
  return base + times * (lstatSync(path, { throwIfNoEntry: false })?.size ?? 0);
}

/** Make the audit and state dirs, and set space aside in each. */
function setAside(layout: Layout): { state: Reserve; record: Reserve } {
  prepareAuditDir(layout.auditDir);
  mkdirSync(layout.stateDir, { recursive: true, mode: 0o700 });
  // The ledger is appended in place (one line; src/audit/tip.ts), never
  // rewritten beside the old one: the record needs a constant 2 MiB, not
  // twice the ledger (which made every operation write and fsync 58 MiB of
  // zeros on a 100,000-operation record).
  const record = reserveSpace(layout.auditDir, 2 << 20, "the audit record");
  try {
    return { record, state: reserveSpace(layout.stateDir, spareBytes(statePath(layout.stateDir), 3, 1 << 20), "state.json") };
  } catch (e) {
    record.release();
    throw e;
  }
}

/** Open the package backend for the root (exit 10 when unsupported). */
export function openBackend(session: Session, observe: (r: CommandResult) => void): PackageBackend {
  return openPackageBackend({ root: session.layout.root, observe, readOnly: session.dryRun });
}

/** Where the ledger's tip is kept: beside the state, not among the artifacts. */
export const tipFileOf = (stateDir: string) => join(stateDir, "ledger-tip.json");

/** Run `body` as one audited operation. Returns the exit code and summary;
 * throws only PkgswitchErrors that happen before the operation started. */
export async function runOperation(
  session: Session,
  command: string,
  body: (ctx: OpContext) => Promise<OpOutcome>,
): Promise<{ outcome: OpOutcome; summary: OpSummary }> {
  const { layout, dryRun } = session;
  const pending: CommandResult[] = [];
  let op: OpBuffer | null = null;
  const observe = (r: CommandResult) => {
    if (op) recordCommand(op, r);
    else pending.push(r);
  };
  const backend = openBackend(session, observe);
  // While the package manager runs, the files we would switch may be
  // mid-unpack. Asked before our own lock too, so a refusal creates nothing.
  const refuseIfBusy = () => {
    const holder = dryRun || session.hook ? null : backend.lockHolder();
    if (holder) throw new PkgswitchError(Exit.LOCKED, `the package manager's lock is held (${holder}); try again when it finishes`);
  };
  refuseIfBusy();
  const lock = dryRun ? null : acquireLock(layout.lockFile, session.config.lockTimeoutMs);
  let spare: { state: Reserve; record: Reserve } | undefined;
  try {
    refuseIfBusy();
    const id = hostId(layout, !dryRun);
    const signing: SigningSetup = dryRun ? { mode: "off" } : await session.signing(id);
    if (!dryRun) {
      for (const rid of recoverInterrupted(layout.auditDir, signing, merkleRootOf, tipFileOf(layout.stateDir))) {
        session.out.warn(`finalized operation ${rid}, which was interrupted (see \`pkgswitch audit show ${rid}\`)`);
      }
    }
    // Before the operation starts: if the disk cannot take its record and
    // state, stop now (exit 70), not after the targets changed.
    spare = dryRun ? undefined : setAside(layout);
    op = OpBuffer.start({
      auditDir: layout.auditDir,
      command,
      argv: session.argv,
      env: process.env,
      root: layout.root,
      dryRun,
      toolVersion: VERSION,
      hostId: id,
      tipFile: tipFileOf(layout.stateDir),
      signing,
    });
    for (const r of pending.splice(0)) recordCommand(op, r);
    // Signed operations read only a cache saved under their own key (its
    // digests become signed evidence); see src/hashing/cache.ts.
    const cache = HashCache.load(join(layout.stateDir, "hash-cache.json"), { macKey: signing.mode === "key" ? (signing.signer.cacheKey ?? null) : null });
    if (cache.discarded) op.record("preflight.check", { check: "hash-cache", ok: true, note: `hash cache discarded: ${cache.discardReason}` });
    let outcome: OpOutcome;
    try {
      outcome = await body({ session, op, backend, cache, signing, ...(spare ? { spare } : {}) });
    } catch (e) {
      // A full or failing disk stopped the body part-way (enable rolls back
      // itself; what reaches here could not be): one line, exit 50.
      const full = e instanceof PkgswitchError ? null : writeProblem(e);
      const err = e instanceof PkgswitchError ? e : full ? new PkgswitchError(Exit.ROLLBACK_INCOMPLETE, `${(e as Error).message.split("\n")[0]}; the operation stopped part-way — free some space, run \`pkgswitch status\`, then the same command again (see docs/recovery.md)`) : null;
      op.record("error", { message: err?.message ?? (e as Error).message, exit_code: err?.exitCode ?? Exit.INTERNAL, ...(err ? {} : { stack: String((e as Error).stack ?? "").slice(0, 2000) }) });
      outcome = {
        status: err?.exitCode === Exit.ROLLED_BACK ? "rolled_back" : "failed",
        exitCode: err?.exitCode ?? Exit.INTERNAL,
        result: { error: err?.message ?? (e as Error).message },
      };
      finishRecorded(session, op, outcome, signing, id, spare);
      if (!dryRun) saveCache(session, cache);
      // A dry run keeps no record, so there is no op id to point at.
      throw new PkgswitchError(outcome.exitCode, err ? err.message : `internal error: ${(e as Error).message} (a bug; please report)`, dryRun ? undefined : op.opId);
    }
    const summary = finishRecorded(session, op, outcome, signing, id, spare);
    if (!dryRun) saveCache(session, cache);
    return { outcome, summary };
  } finally {
    spare?.state.release();
    spare?.record.release();
    lock?.release();
  }
}

/** The cache only saves time, and the operation is already recorded: a
 * cache that cannot be saved (a full disk, a directory planted at its name)
 * is a warning, never the operation's failure. */
function saveCache(session: Session, cache: HashCache): void {
  try {
    cache.save();
  } catch (e) {
    if (!writeProblem(e)) session.out.warn(`hash cache not saved (${(e as Error).message.split("\n")[0]}); the next operation hashes its files again`);
  }
}

/** finish, into the space set aside for it; if even that fails, one line:
 * the journal stays for the next run to finalize. */
function finishRecorded(session: Session, op: OpBuffer, outcome: OpOutcome, signing: SigningSetup, id: string, spare?: { state: Reserve; record: Reserve }): OpSummary {
  spare?.state.release();
  spare?.record.release();
  try {
    return finish(session, op, outcome, signing, id);
  } catch (e) {
    const full = writeProblem(e);
    if (!full) throw e;
    throw new PkgswitchError(outcome.exitCode === Exit.OK ? Exit.PERMISSION : outcome.exitCode, `the audit record of ${op.opId} could not be written (${full}); what was done is in its journal, which the next pkgswitch run finalizes — free some space, then run \`pkgswitch status\``, op.opId);
  }
}

function finish(session: Session, op: OpBuffer, outcome: OpOutcome, signing: SigningSetup, id: string): OpSummary {
  const status = session.dryRun ? "dry_run" : outcome.status;
  const sbom = outcome.packages && outcome.packages.length > 0
    ? Buffer.from(serializeSbom(buildSbom({ opId: op.opId, created: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), toolVersion: VERSION, hostId: id, packages: outcome.packages })))
    : undefined;
  const input = { status, exitCode: outcome.exitCode, signing, merkleRoot: merkleRootOf } as Parameters<OpBuffer["finalize"]>[0];
  if (outcome.counts) input.counts = outcome.counts;
  if (sbom) input.sbom = sbom;
  const summary = op.finalize(input);
  if (summary.signature === "failed") session.out.warn(`operation ${op.opId} was not signed: ${summary.signatureError}`);
  else if (summary.signatureError) session.out.warn(`operation ${op.opId}: ${summary.signatureError}`);
  return summary;
}

function recordCommand(op: OpBuffer, r: CommandResult): void {
  const fields: Record<string, unknown> = { manager: managerOfCommand(r.argv), args: r.argv, rc: r.rc, duration_ms: r.durationMs };
  if (r.signal) fields.signal = r.signal;
  if (r.rc !== 0 && r.stderr) fields.stderr = r.stderr.slice(-2000);
  op.record("pkg.query", fields);
}
