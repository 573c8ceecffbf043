/** The operation buffer: the one sink through which every step of an
 * operation reaches its audit file (startOp → record → finalize).
 *
 * While the operation runs, sealed events are appended to a journal
 * (`.inprogress-<op>.jsonl`) so a SIGKILL leaves evidence behind; finalize
 * writes the real artifacts atomically, links the operation into the ledger,
 * rewrites the checkpoint, and drops the journal. A dry run keeps everything
 * in memory and writes nothing. */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { nodeCrypto } from "../lazy.ts";
import { join } from "node:path";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { present } from "../config/access.ts";
import { isSecretName, maskArgv, maskEnv, maskText } from "./mask.ts";
import { DIGEST_KEYS, eventLine, GENESIS, MAX_LINE_BYTES, sealEvent, type AuditEvent, type EventFields } from "./event.ts";
import { ledgerHead, ledgerLine, parseLedger, type LedgerEntry, type SignatureStatus } from "./ledger.ts";
import { newOpId } from "./opid.ts";

/** Signs finalized artifacts; provided by src/attest when a key is configured. */
export interface Signer {
  /** KEYID (16 uppercase hex). */
  keyId: string;
  /** minisign signature text for a file. */
  signFile(bytes: Uint8Array, opId: string, fileName: string): string;
  /** Signed checkpoint note for the ledger's Merkle tree. */
  checkpoint(treeSize: number, rootHash: Uint8Array): string;
}

export type SigningSetup =
  | { mode: "off" }
  | { mode: "key"; signer: Signer }
  | { mode: "failed"; reason: string };

export interface OpStartInfo {
  auditDir: string;
  command: string;
  argv: string[];
  env: Record<string, string | undefined>;
  root: string;
  dryRun: boolean;
  toolVersion: string;
  hostId: string;
}

export type OpStatus = "ok" | "failed" | "rolled_back" | "dry_run";

export interface FinalizeInput {
  status: OpStatus;
  exitCode: number;
  counts?: Record<string, number>;
  /** Serialized SBOM bytes, written as audit-<op>-sbom.json. */
  sbom?: Uint8Array;
  signing: SigningSetup;
  /** Merkle root over ledger leaves (from src/audit/merkle). */
  merkleRoot?: (leaves: Uint8Array[]) => Uint8Array;
}

export interface OpSummary {
  opId: string;
  status: OpStatus;
  files: string[];
  signature: SignatureStatus;
  signatureError?: string;
  ledgerSeq: number;
}

const ENV_KEEP = /^(PKGSWITCH_|LANG$|LC_ALL$|PATH$|SUDO_USER$|USER$|DEBIAN_FRONTEND$)/;

/** The environment worth recording: pkgswitch's own and locale variables, and
 * every variable whose name says secret (masked, so its fingerprint is on
 * record and its value is not). */
export function recordableEnv(env: Record<string, string | undefined>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v !== undefined && (ENV_KEEP.test(k) || isSecretName(k))) picked[k] = v;
  }
  return maskEnv(picked);
}

/** Mask every free-form string in an event; digest fields pass untouched. */
function maskFields(value: unknown, key = ""): unknown {
  if (typeof value === "string") return DIGEST_KEYS.has(key) ? value : maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskFields(v, key));
  if (value && typeof value === "object" && typeof value !== "bigint") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskFields(v, k);
    return out;
  }
  return value;
}

const MAX_ARRAY = 200;

/** Largest string anywhere in a value: [container, key, length]. */
function longestString(value: unknown): [Record<string, unknown> | unknown[], string | number, number] | null {
  let best: [Record<string, unknown> | unknown[], string | number, number] | null = null;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (typeof x === "string" ? consider(v, i, x) : walk(x)));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) typeof x === "string" ? consider(v as Record<string, unknown>, k, x) : walk(x);
  };
  const consider = (c: Record<string, unknown> | unknown[], k: string | number, x: string) => {
    if (!best || x.length > best[2]) best = [c, k, x.length];
  };
  walk(value);
  return best;
}

/** Shrink free-form fields until the sealed line fits MAX_LINE_BYTES (UTF-8):
 * long arrays are cut, then the longest string anywhere is halved, and as a
 * last resort the fields are replaced by a note of their size. Digests,
 * being short, survive. */
export function fitFields(fields: EventFields, measure: (f: EventFields) => number): EventFields {
  if (measure(fields) <= MAX_LINE_BYTES) return fields;
  const f = structuredClone(fields) as EventFields;
  const cut = (v: unknown): unknown => {
    if (Array.isArray(v)) return (v.length > MAX_ARRAY ? [...v.slice(0, MAX_ARRAY), `…[${v.length - MAX_ARRAY} more truncated]`] : v).map(cut);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cut(x)]));
    return v;
  };
  let g = cut(f) as EventFields;
  for (let i = 0; i < 64 && measure(g) > MAX_LINE_BYTES; i++) {
    const hit = longestString(g);
    if (!hit || hit[2] < 64) break;
    const [container, key] = hit;
    const str = (container as Record<string | number, string>)[key]!;
    (container as Record<string | number, unknown>)[key] = str.slice(0, Math.floor(str.length / 2)) + "…[truncated]";
  }
  if (measure(g) > MAX_LINE_BYTES) g = { truncated: true, original_bytes: measure(fields) };
  return g;
}

export class OpBuffer {
  readonly opId: string;
  readonly events: AuditEvent[] = [];
  /** The JSONL lines of `events`, as sealed (canonicalized once). */
  private readonly lines: string[] = [];
  private prev: string;
  private journal: string | null = null;
  private journalFd: number | null = null;
  private readonly t0 = performance.now();

  private constructor(readonly info: OpStartInfo, opId: string, prev: string) {
    this.opId = opId;
    this.prev = prev;
  }

  /** Start an operation (caller holds the operation lock). Checks the audit
   * directory is usable before anything else happens. */
  static start(info: OpStartInfo, startFields: EventFields = {}): OpBuffer {
    const opId = newOpId();
    let prev = GENESIS;
    if (!info.dryRun) {
      prepareAuditDir(info.auditDir);
      prev = ledgerHead(readLedger(info.auditDir));
    }
    const op = new OpBuffer(info, opId, prev);
    if (!info.dryRun) op.openJournal();
    op.record("op.start", {
      command: info.command,
      argv: maskArgv(info.argv),
      env: recordableEnv(info.env),
      tool_version: info.toolVersion,
      root: info.root,
      dry_run: info.dryRun,
      uid: process.getuid?.() ?? -1,
      host_id: info.hostId,
      ...startFields,
    });
    return op;
  }

  private openJournal(): void {
    this.journal = join(this.info.auditDir, `.inprogress-${this.opId}.jsonl`);
    try {
      this.journalFd = openSync(this.journal, "wx", 0o600);
    } catch (e) {
      throw auditIoError(this.info.auditDir, e);
    }
  }

  /** Record one event; it is sealed into the chain at once. */
  record(event: string, fields: EventFields = {}): AuditEvent {
    const masked = maskFields(fields) as EventFields;
    const ts = new Date().toISOString();
    const seq = this.events.length;
    const seal = (f: EventFields) => sealEvent(this.opId, seq, ts, event, f, this.prev);
    // Seal once; only an over-long line pays for shrinking and resealing.
    let e = seal(masked);
    let line = eventLine(e);
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) {
      e = seal(fitFields(masked, (f) => Buffer.byteLength(eventLine(seal(f)))));
      line = eventLine(e);
    }
    this.events.push(e);
    this.lines.push(line);
    this.prev = e.hash;
    if (this.journalFd !== null) writeSync(this.journalFd, line);
    return e;
  }

  /** Make the journal durable (call before changing the system). */
  flush(): void {
    if (this.journalFd !== null) fsyncSync(this.journalFd);
  }

  get durationMs(): number {
    return Math.round(performance.now() - this.t0);
  }

  /** Write the operation's artifacts and link it into the ledger. */
  finalize(input: FinalizeInput): OpSummary {
    const dir = this.info.auditDir;
    const sbomName = `audit-${this.opId}-sbom.json`;
    const endFields: EventFields = { status: input.status, exit_code: input.exitCode, duration_ms: this.durationMs, counts: input.counts ?? {} };
    if (input.sbom) endFields.sbom = { file: sbomName, sha256: nodeCrypto().createHash("sha256").update(input.sbom).digest("hex") };
    // The SBOM is on disk before the journal names it in op.end, so a crash
    // in between never leaves a recovered operation pointing at nothing.
    if (input.sbom && !this.info.dryRun) writeFileAtomic(join(dir, sbomName), input.sbom);
    this.record("op.end", endFields);
    if (this.info.dryRun) return { opId: this.opId, status: input.status, files: [], signature: "unsigned", ledgerSeq: -1 };
    return writeArtifacts(dir, this.opId, this.lines, this.prev, input, this.journal, () => {
      if (this.journalFd !== null) closeSync(this.journalFd);
      this.journalFd = null;
    });
  }
}

/** Artifacts, ledger line, checkpoint; then the journal goes. Ordered so a
 * crash between steps is finished by `recoverInterrupted`. */
function writeArtifacts(
  dir: string,
  opId: string,
  /** The operation's JSONL lines, and the hash of its last event. */
  lines: string[],
  head: string,
  input: FinalizeInput,
  journal: string | null,
  closeJournal: () => void,
): OpSummary {
  const files: string[] = [];
  const jsonlName = `audit-${opId}.jsonl`;
  const jsonl = Buffer.from(lines.join(""));
  if (input.sbom) files.push(join(dir, `audit-${opId}-sbom.json`)); // written by finalize
  writeFileAtomic(join(dir, jsonlName), jsonl);
  files.push(join(dir, jsonlName));

  let signature: SignatureStatus = "unsigned";
  let keyId: string | null = null;
  let signatureError: string | undefined;
  if (input.signing.mode === "key") {
    try {
      const sig = input.signing.signer.signFile(jsonl, opId, jsonlName);
      writeFileAtomic(join(dir, `${jsonlName}.sig`), sig);
      files.push(join(dir, `${jsonlName}.sig`));
      signature = "signed";
      keyId = input.signing.signer.keyId;
    } catch (e) {
      signature = "failed";
      signatureError = (e as Error).message;
    }
  } else if (input.signing.mode === "failed") {
    signature = "failed";
    signatureError = input.signing.reason;
  }

  const ledger = readLedger(dir);
  const entry: LedgerEntry = {
    v: 1,
    seq: ledger.length,
    op: opId,
    head,
    jsonl_sha256: nodeCrypto().createHash("sha256").update(jsonl).digest("hex"),
    signature,
    key_id: keyId,
    ts: new Date().toISOString(),
  };
  ledger.push(entry);
  const ledgerLines = ledger.map(ledgerLine);
  writeFileAtomic(join(dir, "ledger.jsonl"), ledgerLines.join(""));
  files.push(join(dir, "ledger.jsonl"));

  if (input.signing.mode === "key" && input.merkleRoot) {
    const leaves = ledgerLines.map((l) => Buffer.from(l.slice(0, -1)));
    const mismatch = checkpointMismatch(dir, leaves.slice(0, -1), input.merkleRoot);
    if (mismatch) {
      // Re-signing over a ledger that lost or changed lines would launder the
      // tampering; leave the old checkpoint for `audit verify` to report.
      signatureError ??= `checkpoint not updated: ${mismatch} — run \`pkgswitch audit verify --all\``;
    } else {
      try {
        writeFileAtomic(join(dir, "checkpoint"), input.signing.signer.checkpoint(ledger.length, input.merkleRoot(leaves)));
        files.push(join(dir, "checkpoint"));
      } catch (e) {
        signatureError ??= `checkpoint: ${(e as Error).message}`;
      }
    }
  }
  closeJournal();
  if (journal && existsSync(journal)) unlinkSync(journal);
  const summary: OpSummary = { opId, status: input.status, files, signature, ledgerSeq: entry.seq };
  if (signatureError) summary.signatureError = signatureError;
  return summary;
}

function auditIoError(dir: string, e: unknown): PkgswitchError {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return new PkgswitchError(Exit.PERMISSION, `audit directory ${dir} is not writable (${code || (e as Error).message}); nothing was changed`);
}

/** Create the audit dir (0700) and prove it is writable before any change. */
export function prepareAuditDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.probe-${process.pid}`);
    const fd = openSync(probe, "w", 0o600);
    closeSync(fd);
    unlinkSync(probe);
  } catch (e) {
    throw auditIoError(dir, e);
  }
}

/** Read and strictly parse the ledger (empty when absent). */
export function readLedger(dir: string): LedgerEntry[] {
  const path = join(dir, "ledger.jsonl");
  if (!present(path)) return [];
  try {
    return parseLedger(readFileSync(path, "utf8"));
  } catch (e) {
    throw new PkgswitchError(Exit.INTERNAL, `ledger ${path} is corrupt (${(e as Error).message}); run \`pkgswitch audit verify --all\``);
  }
}

/** Finish operations a crash left behind (their journals), before a new one
 * starts: the events written so far, plus an `op.end` saying it was
 * interrupted. Caller holds the operation lock. Returns the recovered ids. */
export function recoverInterrupted(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"]): string[] {
  if (!existsSync(dir)) return [];
  const recovered: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = /^\.inprogress-(.+)\.jsonl$/.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const text = readFileSync(path, "utf8");
    const events: AuditEvent[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line));
      } catch {
        break; // torn final line from the crash
      }
    }
    const opId = m[1]!;
    if (events.length === 0 || readLedger(dir).some((e) => e.op === opId)) {
      unlinkSync(path);
      continue;
    }
    const last = events[events.length - 1]!;
    if (last.event !== "op.end") {
      const started = Date.parse(events[0]!.ts);
      events.push(sealEvent(opId, events.length, new Date().toISOString(), "op.end", {
        status: "failed",
        exit_code: Exit.INTERNAL,
        duration_ms: Math.max(0, Date.now() - started),
        counts: {},
        interrupted: true,
        note: "operation was interrupted (process killed); finalized by the next pkgswitch run",
      }, last.hash));
    }
    writeArtifacts(dir, opId, events.map(eventLine), events[events.length - 1]!.hash, { status: "failed", exitCode: Exit.INTERNAL, signing, merkleRoot }, path, () => {});
    recovered.push(opId);
  }
  catchUpCheckpoint(dir, signing, merkleRoot);
  return recovered;
}

/** Why the current checkpoint does not cover a prefix of `leaves` (the
 * ledger as it is now), or null when it does (or there is none yet). The
 * checkpoint's signature is `audit verify`'s business; this only refuses to
 * extend a tree whose signed past no longer matches the ledger. */
export function checkpointMismatch(dir: string, leaves: Uint8Array[], merkleRoot: NonNullable<FinalizeInput["merkleRoot"]>): string | null {
  const path = join(dir, "checkpoint");
  if (!existsSync(path)) return null;
  const [, sizeLine, rootLine] = readFileSync(path, "utf8").split("\n");
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size) || size < 0) return "the checkpoint does not parse";
  if (size > leaves.length) return `the checkpoint covers ${size} operations but the ledger has ${leaves.length}`;
  if (Buffer.from(merkleRoot(leaves.slice(0, size))).toString("base64") !== rootLine) return `the ledger's first ${size} lines no longer match the checkpoint's root`;
  return null;
}

/** A crash between the ledger write and the checkpoint write leaves the
 * checkpoint behind: re-sign it over the whole ledger, if what it signed is
 * still the ledger's prefix. */
function catchUpCheckpoint(dir: string, signing: SigningSetup, merkleRoot?: FinalizeInput["merkleRoot"]): void {
  if (signing.mode !== "key" || !merkleRoot) return;
  const ledgerPath = join(dir, "ledger.jsonl");
  if (!existsSync(ledgerPath)) return;
  const leaves = readFileSync(ledgerPath, "utf8").split("\n").filter(Boolean).map((l) => Buffer.from(l));
  const size = existsSync(join(dir, "checkpoint")) ? Number(readFileSync(join(dir, "checkpoint"), "utf8").split("\n")[1]) : 0;
  if (size === leaves.length || checkpointMismatch(dir, leaves, merkleRoot)) return;
  writeFileAtomic(join(dir, "checkpoint"), signing.signer.checkpoint(leaves.length, merkleRoot(leaves)));
}


