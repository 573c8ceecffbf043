/** Strict reading's fast path (recognizer, in-place envelope readings, the
 * hash cut hashed from the file's bytes) against the reference path
 * (JSON.parse + canonicalize on every line), over generated operations and
 * many mutations of them: the two must give the same ParsedOp — the same
 * problems with the same messages, the same chain ends, SBOM and touched
 * paths — for every input. */
import { describe, expect, test } from "bun:test";
import { eventLine, GENESIS, sealEvent } from "../../src/audit/event.ts";
import { readOpEvents, readOpEventsReference } from "../../src/verify/strict.ts";

// mulberry32: every bit usable (an LCG's low bits cycle, which made some
// mutation combinations impossible).
let seed = 424242;
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return n <= 1 ? 0 : ((t ^ (t >>> 14)) >>> 0) % n;
};

const OP = "20260101T000000Z-0000000a";
const pieces = ["a", "hash", "\"", "\\", "\t", "\u0001", "é", "✓", "😀", "/usr/bin/ls", "sha256:", "0", "10", "", "op", "prev"];
const str = (ascii: boolean) => Array.from({ length: rnd(4) }, () => pieces[rnd(ascii ? 1 : pieces.length)]!).join("") || "x";

/** One operation's JSONL text, written by the real writer (sealEvent). */
function operation(events: number, ascii: boolean): string {
  let prev = GENESIS;
  const lines: string[] = [];
  for (let s = 0; s < events; s++) {
    const name = s === 0 ? "op.start" : s === events - 1 ? "op.end" : ["file.switch", "file.restore", "rollback.step", "pkg.query", "provenance"][rnd(5)]!;
    const fields: Record<string, unknown> =
      s === events - 1 && rnd(2) === 0
        ? { status: "ok", sbom: { file: `audit-${OP}-sbom.json`, sha256: "ab".repeat(32) } }
        : { path: `/usr/bin/${str(ascii)}`, action: str(ascii), ok: rnd(2) === 0, before_sha256: rnd(2) ? null : "cd".repeat(32), n: rnd(1000), nested: { hash: `sha256:${"1".repeat(64)}`, list: [1, str(ascii), null] } };
    const e = sealEvent(OP, s, `2026-01-01T00:00:0${s % 10}.${String(rnd(1000)).padStart(3, "0")}Z`, name, fields, prev);
    prev = e.hash;
    lines.push(eventLine(e));
  }
  return lines.join("");
}

const edits = ["0", "1", "9", "a", "f", "g", "A", "\"", "\\", ",", ":", "{", "}", "[", "]", " ", "\n", "-", ".", "e", "\u0000", "é", "\\u0041", "\\u001f", "\\n"];

/** A mutation of `text`: a character replaced, inserted or deleted, a line
 * deleted, duplicated or swapped, or an envelope value edited. */
function mutate(text: string): string {
  const lines = text.split("\n");
  switch (rnd(9)) {
    case 0: {
      const at = rnd(text.length);
      return text.slice(0, at) + edits[rnd(edits.length)] + text.slice(at + 1);
    }
    case 1: {
      const at = rnd(text.length + 1);
      return text.slice(0, at) + edits[rnd(edits.length)] + text.slice(at);
    }
    case 2: {
      const at = rnd(text.length);
      return text.slice(0, at) + text.slice(at + 1);
    }
    case 3:
      lines.splice(rnd(lines.length - 1), 1);
      return lines.join("\n");
    case 4: {
      const i = rnd(lines.length - 1);
      lines.splice(i, 0, lines[i]!);
      return lines.join("\n");
    }
    case 5: {
      if (lines.length < 3) return text;
      const i = rnd(lines.length - 2);
      [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
      return lines.join("\n");
    }
    default: {
      // An envelope value: one character of it, or the whole value.
      const key = ["v", "op", "seq", "ts", "prev", "hash", "event"][rnd(7)]!;
      const i = rnd(lines.length - 1);
      const at = lines[i]!.indexOf(`"${key}":`);
      if (at < 0) return text;
      const vs = at + key.length + 3;
      // Whole values, among them near misses of the right length or prefix.
      const values = ['"x"', "1", "2", "0", "-1", "01", "10", "11", "1.0", "null", "true", "[]", "{}", '""', `"${OP}"`, `"${OP}0"`, `"${OP.slice(0, -1)}"`, `"sha256:${"0".repeat(64)}"`, `"sha256:${"0".repeat(63)}"`, '"2026-01-01T00:00:00.000Z"', '"2026-01-01T00:00:00Z"', '"2026-01-01T00:00:00:000Z"', '"2026-01-01t00:00:00.000Z"', '"2026-01-01T00:00:0/.000Z"', "123456789012345678", "9007199254740991"];
      const end = (() => {
        const c = lines[i]![vs];
        if (c === '"') return lines[i]!.indexOf('"', vs + 1) + 1;
        let e = vs;
        while (e < lines[i]!.length && !",}".includes(lines[i]![e]!)) e++;
        return e;
      })();
      const line = lines[i]!;
      const p = vs + rnd(end - vs);
      switch (rnd(4)) {
        case 0: // the whole value
          lines[i] = line.slice(0, vs) + values[rnd(values.length)] + line.slice(end);
          break;
        case 1: // the value with its previous line's hash (a prev that links)
          lines[i] = line.slice(0, vs) + `"${/"hash":"([^"]*)"/.exec(lines[Math.max(0, i - 1)]!)?.[1] ?? ""}"` + line.slice(end);
          break;
        case 2: // a value's last character dropped or doubled
          lines[i] = rnd(2) ? line.slice(0, end - 2) + line.slice(end - 1) : line.slice(0, end - 1) + line[end - 2] + line.slice(end - 1);
          break;
        default: // one character replaced
          lines[i] = line.slice(0, p) + edits[rnd(edits.length)] + line.slice(p + 1);
      }
      return lines.join("\n");
    }
  }
}

/** The fast path as verify runs it (with the file's bytes when ASCII), and without bytes. */
function fastReadings(text: string, collect: boolean) {
  const bytes = Buffer.from(text);
  const ascii = bytes.length === text.length;
  return [readOpEvents(text, ascii, OP, collect, bytes), readOpEvents(text, ascii, OP, collect)];
}

describe("strict reading: fast path ≡ reference path", () => {
  test("clean generated operations: no problems on either path", () => {
    for (let k = 0; k < 40; k++) {
      const text = operation(2 + rnd(30), k % 2 === 0);
      const ref = readOpEventsReference(text, OP, true);
      expect(ref.problems).toEqual([]);
      for (const f of fastReadings(text, true)) expect(f).toEqual(ref);
    }
  });

  test("6,000 mutated operations (ASCII and not): identical results", () => {
    let differing = 0;
    for (let k = 0; k < 6000; k++) {
      let text = operation(2 + rnd(12), k % 3 !== 0);
      const n = 1 + rnd(3);
      for (let m = 0; m < n; m++) text = mutate(text);
      const collect = k % 2 === 0;
      const ref = readOpEventsReference(text, OP, collect);
      if (ref.problems.length > 0) differing++;
      for (const f of fastReadings(text, collect)) expect([text, f]).toEqual([text, ref]);
    }
    // The mutations must mostly be findings, or the comparison proves little.
    expect(differing).toBeGreaterThan(4000);
  });
});
