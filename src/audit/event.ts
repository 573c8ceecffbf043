/** The event record and its hash chain (design/formats.md "Events"). Pure. */
import { sha256Hex } from "../sys/index.ts";
import { canonicalize } from "./jcs.ts";

export const GENESIS = "sha256:" + "0".repeat(64);
export const MAX_LINE_BYTES = 16 * 1024;

export type EventFields = Record<string, unknown>;

export interface AuditEvent extends EventFields {
  v: 1;
  op: string;
  seq: number;
  ts: string;
  event: string;
  prev: string;
  hash: string;
}

/** Keys that carry file digests: the only values copied from file contents. */
export const DIGEST_KEYS = new Set(["before_sha256", "after_sha256", "sha256"]);
/** Envelope keys the chain itself owns; event fields may not set them. */
const ENVELOPE = new Set(["v", "op", "seq", "ts", "event", "prev", "hash"]);

/** Make a value JSON-safe under the event rules: integers only, bigints as
 * decimal strings, no undefined; non-integer numbers are a programming error. */
export function normalize(value: unknown, path = "$"): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`event field ${path} is not a safe integer: ${value}`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => normalize(v, `${path}[${i}]`));
  if (typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = normalize(v, `${path}.${k}`);
    }
    return out;
  }
  throw new TypeError(`event field ${path} has unsupported type ${typeof value}`);
}

/** `sha256:` + hex SHA-256 of the JCS bytes of `obj` (which has no `hash`). */
export function chainHash(obj: Record<string, unknown>): string {
  return "sha256:" + sha256Hex(canonicalize(obj));
}

/** Build and seal one event; pure. */
export function sealEvent(opId: string, seq: number, ts: string, event: string, fields: EventFields, prev: string): AuditEvent {
  for (const k of Object.keys(fields)) {
    if (ENVELOPE.has(k)) throw new TypeError(`event field "${k}" is reserved`);
  }
  const body = { v: 1, op: opId, seq, ts, event, ...(normalize(fields) as EventFields), prev };
  return { ...body, hash: chainHash(body) } as AuditEvent;
}

/** The JSONL line of an event (JCS form; `\n`-terminated). */
export function eventLine(e: AuditEvent): string {
  return canonicalize(e) + "\n";
}
