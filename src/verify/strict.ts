/** Strict reading (design/formats.md "Strict reading"): every JSONL and
 * ledger line must be exactly the JCS form of its object, so any edited byte
 * is reported, not only bytes a hash happens to cover.
 *
 * The hot path of `audit verify --all` is here: per event line, one native
 * JSON.parse, one native JSON.stringify, a key-order walk and one SHA-256.
 * Both shortcuts below are exact, not heuristics (each falls back to the
 * reference computation whenever its precondition does not hold):
 *
 * 1. Canonical check. The reference is `canonicalize(JSON.parse(line)) ===
 *    line`. The `canonicalize` package serializes strings, numbers and
 *    literals with JSON.stringify and orders keys by `Object.keys(o).sort()`
 *    (UTF-16 code units); the only other difference is that it rejects lone
 *    surrogates, which JSON.stringify escapes. JSON.stringify emits members
 *    in `Object.keys` order. Hence: if the line has no `\ud` escape (no lone
 *    surrogate can come from it: the text itself is valid UTF-8), and
 *    JSON.stringify(obj) === line, and every object's `Object.keys` is
 *    strictly ascending, then canonicalize(obj) === line. Whenever that test
 *    fails (non-canonical line, or a false negative such as integer-like keys,
 *    which JS orders numerically), the reference decides.
 *
 * 2. Chain hash. The reference is SHA-256(canonicalize(obj without hash)).
 *    A JCS object is "{" + its members (each `"key":value`, serialized from
 *    its key and value alone), in sorted order, joined by "," + "}".
 *    Removing one member therefore removes exactly its text and one adjacent
 *    comma, and changes nothing else. With the line canonical and `hash` a
 *    plain `sha256:<hex>` string, the top-level member text is exactly
 *    `"hash":"sha256:<hex>"`; if that text occurs exactly once in the line,
 *    that occurrence is the top-level member (a nested object could hold the
 *    same text, so more than one occurrence falls back to the reference).
 */
import { sha256Hex } from "../sys/index.ts";
import { sha256Into } from "../sys/digest.ts";

export { sha256Hex };
import { canonicalize } from "../audit/jcs.ts";
import { MAX_LINE_BYTES } from "../audit/event.ts";
import type { LedgerEntry } from "../audit/ledger.ts";
import { OP_ID_RE } from "../audit/opid.ts";
import { CONTROL_RE, NO_BACKSLASH, scanCanonical, TopMembers } from "./scan.ts";
import { tooDeep } from "../config/bounded.ts";

export const CHAIN_RE = /^sha256:[0-9a-f]{64}$/;
export const HEX64_RE = /^[0-9a-f]{64}$/;
export const TS_RE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;
export const KEYID_RE = /^[0-9A-F]{16}$/;


/** True if every object in `v` has strictly ascending keys and every number
 * is a safe integer (formats.md: integers only). */
function sortedIntegral(v: unknown): boolean {
  if (typeof v === "number") return Number.isSafeInteger(v);
  if (v === null || typeof v !== "object") return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!sortedIntegral(v[i])) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  let prev: string | null = null;
  for (const k in o) {
    if (prev !== null && !(prev < k)) return false;
    prev = k;
    if (!sortedIntegral(o[k])) return false;
  }
  return true;
}

/** Any non-integer number anywhere in `v`. */
function allIntegers(v: unknown): boolean {
  if (typeof v === "number") return Number.isSafeInteger(v);
  if (v === null || typeof v !== "object") return true;
  for (const x of Array.isArray(v) ? v : Object.values(v as object)) if (!allIntegers(x)) return false;
  return true;
}

/** The fast test of (1): true means canonical (and integers only); false
 * means "ask the reference". */
function fastCanonical(line: string, obj: unknown): boolean {
  return !line.includes("\\ud") && !line.includes("\\uD") && JSON.stringify(obj) === line && sortedIntegral(obj);
}

/** Is `line` exactly the JCS form of `obj` (= JSON.parse(line))? See (1). */
export function isCanonical(line: string, obj: unknown): boolean {
  return fastCanonical(line, obj) || isCanonicalReference(line, obj);
}

/** Canonical and integers only (events): null, or what is wrong. */
export function eventFormProblem(line: string, obj: unknown): string | null {
  if (fastCanonical(line, obj)) return null;
  if (!isCanonicalReference(line, obj)) return "not in canonical (JCS) form";
  if (!allIntegers(obj)) return "a number is not a safe integer (events hold integers only)";
  return null;
}

/** Reference form of (1), for tests. */
export function isCanonicalReference(line: string, obj: unknown): boolean {
  try {
    return canonicalize(obj) === line;
  } catch {
    return false;
  }
}

/** JCS text of `obj` without its `hash` member, given the canonical `line`
 * of `obj` (whose `hash` matches CHAIN_RE). See (2). */
export function bodyWithoutHash(line: string, obj: Record<string, unknown>): string {
  const member = `"hash":"${obj.hash as string}"`;
  const at = line.indexOf(member);
  if (at > 0 && line.indexOf(member, at + 1) === -1) {
    const end = at + member.length;
    if (line.charCodeAt(at - 1) === 44 /* , */) return line.slice(0, at - 1) + line.slice(end);
    if (line.charCodeAt(end) === 44) return line.slice(0, at) + line.slice(end + 1);
    return line.slice(0, at) + line.slice(end);
  }
  const { hash: _drop, ...rest } = obj;
  return canonicalize(rest);
}

// --- events ------------------------------------------------------------------

export interface LineProblem {
  line: number;
  message: string;
}

/** What file.switch / file.restore / rollback.step events say about a path
 * (for --deep). */
export interface TouchEvent {
  seq: number;
  event: "file.switch" | "file.restore" | "rollback.step";
  path: string;
  action?: string;
  ok?: boolean;
  before_kind?: string | null;
  before_sha256?: string | null;
  after_kind?: string | null;
  after_sha256?: string | null;
  link_target?: string | null;
}

export interface ParsedOp {
  events: number;
  /** prev of seq 0 (when line 1 parsed). */
  firstPrev: string | null;
  /** hash of the last event, as written (when the last line parsed). */
  lastHash: string | null;
  /** op.end's `sbom` field, when present. */
  sbom: { file: string; sha256: string } | null;
  /** op.end present and well-formed. */
  ended: boolean;
  touched: TouchEvent[];
  problems: LineProblem[];
}

const MAX_PROBLEMS = 50;

// The line being read, as module state (the hot loop allocates nothing per
// line on the fast path): its envelope fields, and either the text its hash
// covers (reference path) or the two ranges of the line that make it up.
let eV: unknown, eOp: unknown, eSeq: unknown, eEvent: unknown, ePrev: unknown, eHash: unknown;
/** ts is a string matching TS_RE. */
let eTsOk = false;
let cutA0 = 0, cutA1 = 0, cutB0 = 0, cutB1 = 0;
/** Offset of the hash value's first character (its opening quote + 1). */
let hashValueAt = 0;
let hasCut = false;
let slowBody: string | null = null;
let slowObj: Record<string, unknown> | null = null;

const top = new TopMembers();

function fieldValue(text: string, m: number): unknown {
  const vs = top.valueStart[m]!;
  const ve = top.end[m]!;
  const c = text.charCodeAt(vs);
  if (c === 34 && top.escaped[m] === 0) return text.slice(vs + 1, ve - 1);
  if (c === 45 || (c >= 48 && c <= 57)) return Number(text.slice(vs, ve));
  return JSON.parse(text.slice(vs, ve));
}

// In-place readings of the envelope values the fast path sees on almost
// every line: each answers only when the value is exactly what a well-formed
// line holds, and otherwise the caller takes fieldValue, so a deviating line
// is described from the same value as on the reference path.

/** A plain unescaped string value of exactly `want` (no slice). */
function isStringValue(text: string, m: number, want: string): boolean {
  const vs = top.valueStart[m]!;
  return top.escaped[m] === 0 && top.end[m]! - vs === want.length + 2 && text.charCodeAt(vs) === 34 && text.startsWith(want, vs + 1);
}

/** A non-negative integer of at most 15 digits, read in place; -1 for any
 * other value (the recognizer has checked its form: no leading zero). */
function smallIntValue(text: string, m: number): number {
  const vs = top.valueStart[m]!;
  const ve = top.end[m]!;
  if (ve - vs > 15) return -1;
  let n = 0;
  for (let i = vs; i < ve; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Digit positions of TS_RE's 24 characters (the others are fixed). */
const TS_SHAPE = "0000-00-00T00:00:00.000Z";

/** The value is a string matching TS_RE, checked in place. */
function tsValueOk(text: string, m: number): boolean {
  const vs = top.valueStart[m]!;
  if (top.escaped[m] !== 0 || top.end[m]! - vs !== 26 || text.charCodeAt(vs) !== 34) {
    const v = fieldValue(text, m);
    return typeof v === "string" && TS_RE.test(v);
  }
  for (let i = 0; i < 24; i++) {
    const c = text.charCodeAt(vs + 1 + i);
    const want = TS_SHAPE.charCodeAt(i);
    if (want === 48 ? c < 48 || c > 57 : c !== want) return false;
  }
  return true;
}

/** The current line's object (parsed on demand on the fast path). */
function objOf(text: string, start: number, end: number): Record<string, unknown> {
  return slowObj ?? (slowObj = JSON.parse(text.slice(start, end)) as Record<string, unknown>);
}

/** text[at, at + word.length) is `word` (the caller knows the key's length
 * and first character): a character loop, since startsWith at an offset is
 * a call that costs more than the few comparisons (bench/README.md). */
function keyIs(text: string, at: number, word: string): boolean {
  for (let i = 1; i < word.length; i++) if (text.charCodeAt(at + i) !== word.charCodeAt(i)) return false;
  return true;
}

/** Fast path: true if the recognizer accepted the line (so it is
 * canonical); the envelope and the hash cut are then in the module state. */
function readFast(text: string, start: number, end: number, nextBackslash: number, opId: string, prevHash: string): boolean {
  if (!scanCanonical(text, start, end, top, nextBackslash)) return false;
  eV = eOp = eSeq = eEvent = ePrev = eHash = undefined;
  eTsOk = false;
  hasCut = false;
  slowBody = null;
  slowObj = null;
  let hashAt = -1;
  // One pass over the members, picking out the envelope keys by length and
  // text (keys are unescaped, so the text is the key; compared by char
  // codes, keyIs: most keys are not ours).
  for (let m = 0; m < top.count; m++) {
    const ks = top.keyStart[m]!;
    const c0 = text.charCodeAt(ks);
    switch (top.keyEnd[m]! - ks) {
      case 1:
        if (c0 === 118 /* v */) eV = top.end[m]! - top.valueStart[m]! === 1 && text.charCodeAt(top.valueStart[m]!) === 49 ? 1 : fieldValue(text, m);
        break;
      case 2:
        if (c0 === 111 /* o */ && text.charCodeAt(ks + 1) === 112 /* p */) eOp = isStringValue(text, m, opId) ? opId : fieldValue(text, m);
        else if (c0 === 116 /* t */ && text.charCodeAt(ks + 1) === 115 /* s */) eTsOk = tsValueOk(text, m);
        break;
      case 3:
        if (c0 === 115 /* s */ && keyIs(text, ks, "seq")) {
          const n = smallIntValue(text, m);
          eSeq = n >= 0 ? n : fieldValue(text, m);
        }
        break;
      case 4:
        if (c0 === 104 /* h */ && keyIs(text, ks, "hash")) (eHash = fieldValue(text, m)), (hashAt = m);
        else if (c0 === 112 /* p */ && keyIs(text, ks, "prev")) ePrev = prevHash !== "" && isStringValue(text, m, prevHash) ? prevHash : fieldValue(text, m);
        break;
      case 5:
        if (c0 === 101 /* e */ && keyIs(text, ks, "event")) eEvent = fieldValue(text, m);
        break;
    }
  }
  if (hashAt >= 0 && typeof eHash === "string" && top.escaped[hashAt] === 0) {
    // Cut the member and one adjacent comma (module comment, (2)); the
    // recognizer located it, so no uniqueness search is needed, and the
    // member text is the key and value as they are (no escape in either).
    const ms = top.keyStart[hashAt]! - 1;
    const me = top.end[hashAt]!;
    hasCut = true;
    hashValueAt = top.valueStart[hashAt]! + 1;
    cutA0 = start;
    cutB1 = end;
    if (text.charCodeAt(ms - 1) === 44) (cutA1 = ms - 1), (cutB0 = me);
    else if (text.charCodeAt(me) === 44) (cutA1 = ms), (cutB0 = me + 1);
    else (cutA1 = ms), (cutB0 = me);
  }
  return true;
}

let scratch = Buffer.allocUnsafe(2 * MAX_LINE_BYTES);
const digest = new Uint8Array(32);
/** Lowercase hex digit codes of each byte value: [hi, lo] at 2b, 2b + 1. */
const HEX_CODES = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const h = b.toString(16).padStart(2, "0");
  HEX_CODES[2 * b] = h.charCodeAt(0);
  HEX_CODES[2 * b + 1] = h.charCodeAt(1);
}

/** scratch[0, n) for each n seen (up to VIEW_MAX): a line's hash cut is
 * hashed through a view made once per length, not one per line. */
let views: Buffer[] = [];
const VIEW_MAX = 4096;

/** The hash cut's bytes: bytes[cutA0, cutA1) ++ bytes[cutB0, cutB1). */
function cutBytes(bytes: Buffer): Buffer {
  const n1 = cutA1 - cutA0;
  const n = n1 + cutB1 - cutB0;
  if (n > scratch.length) (scratch = Buffer.allocUnsafe(n)), (views = []);
  bytes.copy(scratch, 0, cutA0, cutA1);
  bytes.copy(scratch, n1, cutB0, cutB1);
  if (n > VIEW_MAX) return scratch.subarray(0, n);
  return views[n] ?? (views[n] = scratch.subarray(0, n));
}

/** SHA-256 hex of the hash cut. */
function hashCut(bytes: Buffer): string {
  return sha256Hex(cutBytes(bytes));
}

/** True if `hash` is exactly "sha256:" + the lowercase hex SHA-256 of the
 * hash cut: the digest goes into a fixed buffer and is compared digit by
 * digit with the line's bytes of `hash` (at hashValueAt; the text is ASCII,
 * so they are its characters), so a matching line builds no hex string (the
 * common case; a mismatch is then described by hashCut). */
function cutMatches(bytes: Buffer, hash: string): boolean {
  if (hash.length !== 71 || !hash.startsWith("sha256:")) return false;
  sha256Into(cutBytes(bytes), digest);
  const at = hashValueAt + 7;
  for (let i = 0; i < 32; i++) {
    const b = digest[i]! << 1;
    if (bytes[at + 2 * i] !== HEX_CODES[b] || bytes[at + 2 * i + 1] !== HEX_CODES[b + 1]) return false;
  }
  return true;
}

/** Reference path: JSON.parse + canonicalize. Returns null, or a problem. */
function readSlow(line: string): string | null {
  let obj: Record<string, unknown>;
  // Before any recursive parse or walk: a 100k-deep line is a finding, not a crash.
  if (tooDeep(line)) return "nested too deeply (not a line pkgswitch wrote)";
  try {
    obj = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return "not a JSON object";
  const formProblem = eventFormProblem(line, obj);
  if (formProblem) return formProblem;
  eV = obj.v;
  eOp = obj.op;
  eSeq = obj.seq;
  eTsOk = typeof obj.ts === "string" && TS_RE.test(obj.ts);
  eEvent = obj.event;
  ePrev = obj.prev;
  eHash = obj.hash;
  hasCut = false;
  slowObj = obj;
  slowBody = typeof obj.hash === "string" && CHAIN_RE.test(obj.hash) ? bodyWithoutHash(line, obj) : null;
  return null;
}

/**
 * Read one operation's JSONL strictly and check its internal chain. `text`
 * is the decoded file; `ascii` says string offsets equal byte offsets.
 * `expectedPrev` (the previous ledger head, or GENESIS) is checked by the
 * caller against `firstPrev`, so a broken link is reported once, as a link.
 */
export function readOpEvents(text: string, ascii: boolean, opId: string, collectTouched: boolean, bytes?: Uint8Array): ParsedOp {
  return readOp(text, ascii, opId, collectTouched, bytes, true);
}

/** readOpEvents by the reference path alone (JSON.parse and canonicalize
 * for every line, no recognizer, no in-place readings): what the fast path
 * is tested against. */
export function readOpEventsReference(text: string, opId: string, collectTouched: boolean): ParsedOp {
  return readOp(text, false, opId, collectTouched, undefined, false);
}

function readOp(text: string, ascii: boolean, opId: string, collectTouched: boolean, bytes: Uint8Array | undefined, fast: boolean): ParsedOp {
  // With the file's bytes and an ASCII text, offsets are byte offsets: hash
  // the two ranges straight from the bytes.
  const raw = ascii && bytes && bytes.length === text.length ? (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) : null;
  const out: ParsedOp = { events: 0, firstPrev: null, lastHash: null, sbom: null, ended: false, touched: [], problems: [] };
  const problem = (line: number, message: string) => {
    if (out.problems.length < MAX_PROBLEMS) out.problems.push({ line, message });
  };
  if (text.length === 0) {
    problem(1, "file is empty (an operation has at least op.start and op.end)");
    return out;
  }
  const fastOk = fast && !CONTROL_RE.test(text);
  let nextBackslash = -1;
  let prevHash: string | null = null;
  let prevOk = false;
  const len = text.length;
  let i = -1;
  for (let start = 0; start < len; ) {
    i++;
    let end = text.indexOf("\n", start);
    const next = end + 1;
    if (end < 0) {
      end = len;
      problem(i + 1, "last line does not end with a newline");
    }
    const last = end + 1 >= len;
    const lineStart = start;
    start = end < len ? next : len;
    const n = i + 1;
    const lineBytes = (ascii ? end - lineStart : Buffer.byteLength(text.slice(lineStart, end))) + 1;
    if (lineBytes > MAX_LINE_BYTES) problem(n, `line is ${lineBytes} bytes; at most ${MAX_LINE_BYTES} are allowed`);
    if (fastOk && nextBackslash < lineStart) {
      nextBackslash = text.indexOf("\\", lineStart);
      if (nextBackslash < 0) nextBackslash = NO_BACKSLASH;
    }
    if (!(fastOk && readFast(text, lineStart, end, nextBackslash, opId, prevHash ?? ""))) {
      const p = readSlow(text.slice(lineStart, end));
      if (p !== null) {
        problem(n, p);
        prevOk = false;
        continue;
      }
    }
    const hash = eHash;
    const prev = ePrev;
    let bad = false;
    if (eV !== 1) (problem(n, `v is ${JSON.stringify(eV)}, expected 1`), (bad = true));
    if (eOp !== opId) (problem(n, `op is ${JSON.stringify(eOp)}, expected ${opId} (the file name)`), (bad = true));
    if (eSeq !== i) (problem(n, `seq is ${JSON.stringify(eSeq)}, expected ${i}`), (bad = true));
    if (!eTsOk) (problem(n, "ts is not an RFC 3339 UTC time with milliseconds"), (bad = true));
    if (typeof eEvent !== "string" || eEvent === "") (problem(n, "event name missing"), (bad = true));
    // A prev equal to the previous line's (checked) hash is well-formed.
    if (!(prevOk && prev === prevHash) && (typeof prev !== "string" || !CHAIN_RE.test(prev))) (problem(n, "prev is not sha256:<64 hex>"), (bad = true));
    if (typeof hash !== "string" || (slowBody === null && !hasCut)) {
      problem(n, "hash is not sha256:<64 hex>");
      prevOk = false;
      continue;
    }
    // A hash equal to the computed one is well-formed; otherwise say which.
    // Fast path: compare the digest with the line's hex in place (the same
    // equality as below, without building the computed string).
    const same = hasCut && raw !== null && cutMatches(raw, hash);
    const computed = same ? hash : "sha256:" + (!hasCut ? sha256Hex(slowBody!) : raw !== null ? hashCut(raw) : sha256Hex(text.slice(cutA0, cutA1) + text.slice(cutB0, cutB1)));
    if (computed !== hash) {
      if (!CHAIN_RE.test(hash)) {
        problem(n, "hash is not sha256:<64 hex>");
        prevOk = false;
        continue;
      }
      problem(n, `hash mismatch: the line says ${hash}, its content hashes to ${computed}`);
      bad = true;
    }
    const event = eEvent;
    if (i === 0) {
      if (typeof prev === "string") out.firstPrev = prev;
      if (event !== "op.start") problem(n, `first event is ${JSON.stringify(event)}, expected op.start`);
    } else {
      if (event === "op.start") problem(n, "op.start after the first line");
      if (prevOk && prev !== prevHash) problem(n, `prev ${String(prev)} does not match the hash of line ${n - 1} (${prevHash})`);
    }
    if (last) {
      out.lastHash = hash;
      if (event !== "op.end") problem(n, `last event is ${JSON.stringify(event)}, expected op.end`);
      else {
        out.ended = true;
        const obj = objOf(text, lineStart, end);
        if (obj.sbom !== undefined) {
          const sb = obj.sbom as Record<string, unknown> | null;
          if (sb && typeof sb === "object" && typeof sb.file === "string" && typeof sb.sha256 === "string" && HEX64_RE.test(sb.sha256) && Object.keys(sb).length === 2) {
            out.sbom = { file: sb.file, sha256: sb.sha256 };
          } else problem(n, "op.end sbom is not {file, sha256: <64 hex>}");
        }
      }
    } else if (event === "op.end") problem(n, "op.end before the last line");
    if (collectTouched && (event === "file.switch" || event === "file.restore" || event === "rollback.step")) {
      const obj = objOf(text, lineStart, end);
      if (typeof obj.path === "string") {
        const t: TouchEvent = { seq: i, event, path: obj.path };
        for (const k of ["action", "before_kind", "before_sha256", "after_kind", "after_sha256", "link_target"] as const) {
          if (typeof obj[k] === "string" || obj[k] === null) (t as unknown as Record<string, unknown>)[k] = obj[k];
        }
        if (typeof obj.ok === "boolean") t.ok = obj.ok;
        out.touched.push(t);
      }
    }
    prevHash = hash;
    prevOk = !bad;
  }
  out.events = i + 1;
  return out;
}

// --- ledger ------------------------------------------------------------------

const LEDGER_KEYS = "head,jsonl_sha256,key_id,op,seq,signature,ts,v";

/** One ledger line (without its "\n"), strictly: JCS form, exactly the
 * documented fields with well-formed values, `seq` equal to its index.
 * Same rules as parseLedger, plus value shapes. A line that is well-formed
 * but at the wrong index (deleted or reordered lines) still yields its
 * entry, with the error, so its operation can be checked too. */
export function parseLedgerLine(line: string, index: number): { entry: LedgerEntry | null; error?: string } {
  let obj: LedgerEntry;
  if (tooDeep(line)) return { entry: null, error: "nested too deeply (not a line pkgswitch wrote)" };
  try {
    obj = JSON.parse(line);
  } catch {
    return { entry: null, error: "not JSON" };
  }
  const bad = (error: string) => ({ entry: null, error });
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return bad("not a JSON object");
  if (Object.keys(obj).sort().join() !== LEDGER_KEYS) return bad(`unexpected fields (expected ${LEDGER_KEYS})`);
  if (!isCanonical(line, obj)) return bad("not in canonical (JCS) form");
  if (obj.v !== 1) return bad(`v is ${JSON.stringify(obj.v)}, expected 1`);
  if (!Number.isSafeInteger(obj.seq) || obj.seq < 0) return bad(`seq ${JSON.stringify(obj.seq)} is not an index`);
  if (typeof obj.op !== "string" || !OP_ID_RE.test(obj.op)) return bad(`op ${JSON.stringify(obj.op)} is not an op id`);
  if (typeof obj.head !== "string" || !CHAIN_RE.test(obj.head)) return bad("head is not sha256:<64 hex>");
  if (typeof obj.jsonl_sha256 !== "string" || !HEX64_RE.test(obj.jsonl_sha256)) return bad("jsonl_sha256 is not 64 hex digits");
  if (obj.signature !== "signed" && obj.signature !== "unsigned" && obj.signature !== "failed") return bad(`signature ${JSON.stringify(obj.signature)} is not signed|unsigned|failed`);
  if (obj.signature === "signed" ? typeof obj.key_id !== "string" || !KEYID_RE.test(obj.key_id) : obj.key_id !== null) {
    return bad(obj.signature === "signed" ? "key_id is not 16 uppercase hex digits" : "key_id must be null when not signed");
  }
  if (typeof obj.ts !== "string" || !TS_RE.test(obj.ts)) return bad("ts is not an RFC 3339 UTC time with milliseconds");
  if (obj.seq !== index) return { entry: obj, error: `seq ${obj.seq} where ${index} was expected: lines were deleted, inserted or reordered` };
  return { entry: obj };
}

export interface LedgerLine {
  /** 1-based line number. */
  line: number;
  /** The line without "\n" (leaf data). */
  text: string;
  entry: LedgerEntry | null;
  error?: string;
}

/** Invalid ledger lines read before giving up on a ledger: enough to see
 * what happened, and a bound on the work a hostile file (millions of empty
 * lines) can cause. */
export const MAX_LEDGER_PROBLEMS = 1000;

/** Split ledger text into lines and parse each strictly; a trailing
 * fragment without "\n" is reported as such (and still a leaf). After
 * MAX_LEDGER_PROBLEMS invalid lines it stops (`stopped`: the lines are then
 * only a prefix of the ledger). */
export function readLedgerLines(text: string): { lines: LedgerLine[]; problems: LineProblem[]; stopped?: boolean } {
  const lines: LedgerLine[] = [];
  const r = scanLedgerLines(text, (l) => void lines.push(l));
  return { lines, ...r };
}

/** readLedgerLines one line at a time: `visit` sees each line as it is
 * parsed, so a caller can keep less than every line (verify --all over a
 * large ledger keeps a compact index, not 100,000 objects). */
export function scanLedgerLines(text: string, visit: (l: LedgerLine) => void): { problems: LineProblem[]; stopped?: boolean } {
  const problems: LineProblem[] = [];
  if (text === "") return { problems };
  let start = 0;
  for (let i = 0; start < text.length; i++) {
    const nl = text.indexOf("\n", start);
    const t = nl < 0 ? text.slice(start) : text.slice(start, nl);
    if (nl < 0) problems.push({ line: i + 1, message: "ledger does not end with a newline" });
    start = nl < 0 ? text.length : nl + 1;
    const r = parseLedgerLine(t, i);
    if (r.error !== undefined) {
      problems.push({ line: i + 1, message: r.error });
      visit({ line: i + 1, text: t, entry: r.entry, error: r.error });
      if (problems.length >= MAX_LEDGER_PROBLEMS && start < text.length) {
        problems.push({ line: i + 1, message: `stopped reading after ${problems.length} invalid lines (the ledger is not one pkgswitch wrote)` });
        return { problems, stopped: true };
      }
    } else visit({ line: i + 1, text: t, entry: r.entry });
  }
  return { problems };
}
