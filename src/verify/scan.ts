/** A recognizer for canonical JSON lines, the fast path of strict reading.
 *
 * `scanCanonical(s, start, end, top)` returns true only if s[start, end) is
 * derivable from this grammar (no white space anywhere):
 *
 *     value   = object / array / string / integer / "true" / "false" / "null"
 *     object  = "{" [ member *( "," member ) ] "}"    keys strictly ascending
 *     member  = string ":" value                      (UTF-16 code units)
 *     array   = "[" [ value *( "," value ) ] "]"
 *     string  = DQUOTE *( unescaped / escape ) DQUOTE
 *     unescaped = any code point >= U+0020 except DQUOTE and "\"
 *     escape  = "\" ( DQUOTE / "\" / "b" / "f" / "n" / "r" / "t" )
 *             / "\u00" 2LOWERHEX   (a control character other than b f n r t)
 *     integer = "0" / [ "-" ] %x31-39 *DIGIT          (a safe integer, not -0)
 *
 * Claim: for such a line, canonicalize(JSON.parse(line)) === line. JSON.parse
 * yields, per object, own properties in text order with no duplicates (keys
 * are strictly ascending); canonicalize emits Object.keys(o).sort() — the
 * same order, since sorting an ascending list by code units leaves it as is
 * (integer-like keys, which JS reorders, are re-sorted by canonicalize to the
 * code-unit order they already have in the text); each string is emitted as
 * JSON.stringify emits it, which is exactly the `string` rule above
 * (ECMA-262 QuoteJSONString: short escapes for \b \t \n \f \r, \u00xx
 * lowercase for other controls, DQUOTE and "\" escaped, everything else raw;
 * lone surrogates cannot occur: the text is valid UTF-8 and has no \u
 * escape for them); a safe integer is emitted in the shortest decimal form,
 * which is the `integer` rule. So canonical JSON with integers only is exactly
 * this language, and anything the recognizer rejects is handed to the
 * reference check (JSON.parse + canonicalize) by the caller.
 *
 * It also records where the top-level members start and end, so that the
 * caller can read the envelope fields and cut out `hash` without parsing.
 *
 * Precondition (checked once per file by the caller): the text has no
 * control character other than "\n" — the grammar allows none inside
 * strings, and this lets strings without backslash be skipped with indexOf.
 */

/** Top-level members found by the recognizer, in text order: for member i,
 * the key is text[keyStart[i], keyEnd[i]) (unescaped), the member text is
 * [keyStart[i] - 1, end[i]) and its value [valueStart[i], end[i]). `escaped[i]`
 * is 1 for a string value containing an escape (slicing is not its value).
 * Preallocated and reused: scanning allocates nothing. */
export class TopMembers {
  count = 0;
  keyStart: number[] = [];
  keyEnd: number[] = [];
  valueStart: number[] = [];
  end: number[] = [];
  escaped: number[] = [];

  /** Index of the member whose key is `name`, or -1. */
  find(text: string, name: string): number {
    const len = name.length;
    for (let i = 0; i < this.count; i++) {
      const k = this.keyStart[i]!;
      if (this.keyEnd[i]! - k === len && text.startsWith(name, k)) return i;
    }
    return -1;
  }
}

const MAX_DEPTH = 64;
/** "No backslash ahead": past the end of any text (a 32-bit integer, not
 * Infinity, so the offsets stay integers for the JIT). */
export const NO_BACKSLASH = 0x7fffffff;
const MAX_SAFE_DIGITS = 15; // every 15-digit integer is safe

let s = "";
let pos = 0;
let lim = 0;
/** No backslash in [pos, lim): strings end at the next quote. */
let noBackslash = true;
let lastEscaped = false;


function isHexLower(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** At a quote; moves past the closing quote. */
function scanString(): boolean {
  const open = pos;
  if (noBackslash) {
    const q = s.indexOf('"', open + 1);
    if (q < 0 || q >= lim) return false;
    pos = q + 1;
    lastEscaped = false;
    return true;
  }
  let i = open + 1;
  let escaped = false;
  while (i < lim) {
    const c = s.charCodeAt(i);
    if (c === 34) {
      pos = i + 1;
      lastEscaped = escaped;
      return true;
    }
    if (c === 92) {
      escaped = true;
      const e = s.charCodeAt(i + 1);
      if (e === 34 || e === 92 || e === 98 || e === 102 || e === 110 || e === 114 || e === 116) {
        i += 2;
        continue;
      }
      if (e !== 117 || i + 5 >= lim) return false;
      // \u00xx, lowercase hex, a control character without a short form.
      if (s.charCodeAt(i + 2) !== 48 || s.charCodeAt(i + 3) !== 48) return false;
      const h1 = s.charCodeAt(i + 4);
      const h2 = s.charCodeAt(i + 5);
      if (!(h1 === 48 || h1 === 49) || !isHexLower(h2)) return false;
      const v = (h1 - 48) * 16 + (h2 <= 57 ? h2 - 48 : h2 - 87);
      if (v === 8 || v === 9 || v === 10 || v === 12 || v === 13) return false;
      i += 6;
      continue;
    }
    if (c < 32) return false;
    i++;
  }
  return false;
}

/** Where the key starting at `from` (after its quote) ends: the offset of
 * its closing quote, or -1 for a key with an escape or a control character
 * (the reference decides those). Keys are short, so a character loop beats
 * indexOf, whose call costs more than reading a dozen characters. */
function keyEnd(from: number): number {
  for (let i = from; i < lim; i++) {
    const c = s.charCodeAt(i);
    if (c === 34) return i;
    if (c === 92 || c < 32) return -1;
  }
  return -1;
}

function scanNumber(): boolean {
  const begin = pos;
  let i = pos;
  if (s.charCodeAt(i) === 45) i++;
  if (i >= lim) return false;
  const first = s.charCodeAt(i);
  if (first === 48) {
    if (i !== begin) return false; // -0
    pos = i + 1;
    const n = s.charCodeAt(pos);
    return !(n >= 48 && n <= 57);
  }
  if (first < 49 || first > 57) return false;
  i++;
  while (i < lim) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  const digits = i - begin - (s.charCodeAt(begin) === 45 ? 1 : 0);
  if (digits > MAX_SAFE_DIGITS && !Number.isSafeInteger(Number(s.slice(begin, i)))) return false;
  pos = i;
  return true;
}

function scanLiteral(word: string): boolean {
  if (!s.startsWith(word, pos) || pos + word.length > lim) return false;
  pos += word.length;
  return true;
}

/** Compare s[a0, a1) with s[b0, b1) by UTF-16 code units. */
function compareRanges(a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(a0 + i) - s.charCodeAt(b0 + i);
    if (d !== 0) return d;
  }
  return a1 - a0 - (b1 - b0);
}

function scanValue(depth: number): boolean {
  const c = s.charCodeAt(pos);
  if (c === 34) return scanString();
  if (c === 123) return scanObject(depth + 1);
  if (c === 91) return scanArray(depth + 1);
  if (c === 45 || (c >= 48 && c <= 57)) return scanNumber();
  if (c === 116) return scanLiteral("true");
  if (c === 102) return scanLiteral("false");
  if (c === 110) return scanLiteral("null");
  return false;
}

function scanArray(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  pos++; // [
  if (s.charCodeAt(pos) === 93) {
    pos++;
    return pos <= lim;
  }
  for (;;) {
    if (pos >= lim || !scanValue(depth)) return false;
    const c = s.charCodeAt(pos);
    pos++;
    if (c === 93) return pos <= lim;
    if (c !== 44) return false;
  }
}

/** Where scanObject records the top-level members (depth 0). A module
 * variable, not a parameter that is null below the top: an argument whose
 * type changes between calls makes the JIT's optimized code exit and be
 * recompiled again and again (BUN_JSC_printEachOSRExit showed it once per file). */
let top: TopMembers = new TopMembers();

function scanObject(depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  pos++; // {
  if (s.charCodeAt(pos) === 125) {
    pos++;
    return pos <= lim;
  }
  let prevStart = -1;
  let prevEnd = -1;
  for (;;) {
    if (pos >= lim || s.charCodeAt(pos) !== 34) return false;
    const k0 = pos + 1;
    const k1 = keyEnd(k0);
    // An escaped key would need decoding to compare: let the reference decide.
    if (k1 < 0) return false;
    pos = k1 + 1;
    if (prevStart >= 0 && compareRanges(prevStart, prevEnd, k0, k1) >= 0) return false;
    prevStart = k0;
    prevEnd = k1;
    if (s.charCodeAt(pos) !== 58) return false; // :
    pos++;
    if (pos >= lim) return false;
    const valueStart = pos;
    lastEscaped = false;
    if (!scanValue(depth)) return false;
    if (depth === 0) {
      const i = top.count++;
      top.keyStart[i] = k0;
      top.keyEnd[i] = k1;
      top.valueStart[i] = valueStart;
      top.end[i] = pos;
      top.escaped[i] = s.charCodeAt(valueStart) === 34 && lastEscaped ? 1 : 0;
    }
    const c = s.charCodeAt(pos);
    pos++;
    if (c === 125) return pos <= lim;
    if (c !== 44) return false;
  }
}

/** True if text[start, end) is canonical JSON (integers only) with an
 * object at the top; fills `top` with its members. See the module comment.
 * `nextBackslash`: offset of the first backslash at or after `start` (any
 * value >= `end`, e.g. NO_BACKSLASH, when there is none in the line), or
 * undefined to search. */
export function scanCanonical(text: string, start: number, end: number, members: TopMembers, nextBackslash?: number): boolean {
  members.count = 0;
  top = members;
  if (end <= start || text.charCodeAt(start) !== 123) return false;
  s = text;
  pos = start;
  lim = end;
  // Where the next backslash is decides whether strings can be skipped
  // with indexOf; a caller scanning many lines of one text passes it.
  let bs = nextBackslash ?? text.indexOf("\\", start);
  if (bs < start) {
    bs = text.indexOf("\\", start); // a stale hint, or none found (-1)
    if (bs < 0) bs = NO_BACKSLASH;
  }
  noBackslash = bs >= end;
  try {
    return scanObject(0) && pos === end;
  } finally {
    s = "";
  }
}

/** Control characters other than "\n" (never in canonical JSONL). */
export const CONTROL_RE = /[\u0000-\u0009\u000b-\u001f]/;
