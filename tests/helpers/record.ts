/** A long, valid, signed audit record made quickly (for retention and list
 * tests, and bench/): N operations written with the real writer pieces
 * (sealEvent, ledger lines, the root's own signing key, a signed
 * checkpoint), so that `audit verify --all` passes on it and the next real
 * operation appends to it. Commands, providers, results and dates vary in a
 * fixed pattern, so filters have something to find. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventLine, GENESIS, sealEvent } from "../../src/audit/event.ts";
import { ledgerLine, type LedgerEntry } from "../../src/audit/ledger.ts";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { loadSecretKey, signerFor } from "../../src/attest/signing.ts";
import { sha256Hex } from "../../src/verify/strict.ts";

const PROVIDERS = ["coreutils", "findutils", "diffutils", "sudo-rs"];

/** What operation i is, in the fixed pattern. */
export function shapeOf(i: number): { command: string; provider: string | null; status: "ok" | "failed" | "rolled_back"; signed: boolean } {
  const provider = PROVIDERS[i % PROVIDERS.length]!;
  const kind = i % 3;
  const command = kind === 0 ? `enable ${provider}` : kind === 1 ? `disable ${provider}` : "hooks install --apt";
  const status = i % 7 === 3 ? "failed" : i % 11 === 5 ? "rolled_back" : "ok";
  return { command, provider: kind === 2 ? null : provider, status, signed: i % 13 !== 4 };
}

/** Operation i's time: one every `stepMs` from `startMs`. */
export const timeOf = (i: number, startMs: number, stepMs: number) => new Date(startMs + i * stepMs);

/** Write `n` operations into <root>/var/lib/pkgswitch/audit (which must be
 * empty), signed with <root>/etc/pkgswitch/keys/signing.key (make it first
 * with `pkgswitch keys generate`). `allSigned` signs every one,
 * `noneSigned` none (faster, for listing benchmarks). */
export function makeRecord(root: string, n: number, opts: { startMs?: number; stepMs?: number; allSigned?: boolean; noneSigned?: boolean } = {}): { ops: string[] } {
  const startMs = opts.startMs ?? Date.UTC(2025, 6, 1);
  const stepMs = opts.stepMs ?? 3_600_000;
  const signer = signerFor(loadSecretKey(join(root, "etc/pkgswitch/keys/signing.key"), {}), "pkgswitch/test-record");
  const audit = join(root, "var/lib/pkgswitch/audit");
  mkdirSync(audit, { recursive: true, mode: 0o700 });
  const ledger: string[] = [];
  const ops: string[] = [];
  let head = GENESIS;
  for (let i = 0; i < n; i++) {
    const when = timeOf(i, startMs, stepMs);
    const ts = when.toISOString();
    const op = `${ts.slice(0, 19).replace(/[-:]/g, "")}Z-${(i * 2654435761 >>> 0).toString(16).padStart(8, "0")}`;
    const sh = shapeOf(i);
    const signed = !opts.noneSigned && (opts.allSigned || sh.signed);
    const fields: [string, Record<string, unknown>][] = [
      ["op.start", { command: sh.command, argv: ["pkgswitch", ...sh.command.split(" ")], env: {}, tool_version: "0.3.0", root: "/", dry_run: false, uid: 0, host_id: "0123456789abcdef0123456789abcdef" }],
      ...(sh.provider ? [["preflight.check", { check: "owner", path: "/usr/bin/ls", provider: sh.provider, ok: true }] as [string, Record<string, unknown>]] : []),
      ["op.end", { status: sh.status, exit_code: sh.status === "ok" ? 0 : sh.status === "failed" ? 20 : 40, duration_ms: 10, counts: {} }],
    ];
    let prev = head;
    const lines = fields.map(([name, f], s) => {
      const e = sealEvent(op, s, ts, name, f, prev);
      prev = e.hash;
      return eventLine(e);
    });
    const jsonl = Buffer.from(lines.join(""));
    const name = `audit-${op}.jsonl`;
    writeFileSync(join(audit, name), jsonl, { mode: 0o600 });
    if (signed) writeFileSync(join(audit, `${name}.sig`), signer.signFile(jsonl, op, name), { mode: 0o600 });
    const entry: LedgerEntry = { v: 1, seq: i, op, head: prev, jsonl_sha256: sha256Hex(jsonl), signature: signed ? "signed" : "unsigned", key_id: signed ? signer.keyId : null, ts };
    ledger.push(ledgerLine(entry));
    ops.push(op);
    head = prev;
  }
  writeFileSync(join(audit, "ledger.jsonl"), ledger.join(""), { mode: 0o600 });
  writeFileSync(join(audit, "checkpoint"), signer.checkpoint(ledger.length, merkleRootOf(ledger.map((l) => Buffer.from(l.slice(0, -1))))), { mode: 0o600 });
  return { ops };
}
