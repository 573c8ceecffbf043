/** The audit record's pure core: sealed events and their hash chain
 * (src/audit/event.ts), the strict ledger reader (src/audit/ledger.ts) and
 * op ids (src/audit/opid.ts). Hashes are recomputed here independently:
 * hand-written canonical JSON and node:crypto. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chainHash, eventLine, GENESIS, normalize, sealEvent } from "../../src/audit/event.ts";
import { LedgerParseError, ledgerHead, ledgerLine, parseLedger, type LedgerEntry } from "../../src/audit/ledger.ts";
import { calendarProblem, newOpId, OP_ID_RE, opIdProblem, parseOpId, parseTimeText } from "../../src/audit/opid.ts";
import { Exit, PkgswitchError } from "../../src/errors.ts";

const sha = (s: string) => "sha256:" + createHash("sha256").update(s, "utf8").digest("hex");
const OP = "20261127T053000Z-3fa9c2d1";
const TS = "2026-11-27T05:30:00.123Z";

describe("sealEvent", () => {
  test("hash = sha256 of the JCS bytes of the event without hash (hand-written canonical form)", () => {
    const e = sealEvent(OP, 0, TS, "op.start", { command: "enable", b: 1, a: "x" }, GENESIS);
    const canonical = `{"a":"x","b":1,"command":"enable","event":"op.start","op":"${OP}","prev":"${GENESIS}","seq":0,"ts":"${TS}","v":1}`;
    expect(e.hash).toBe(sha(canonical));
    expect(e.hash).toBe("sha256:" + createHash("sha256").update(Buffer.from(canonical)).digest("hex"));
    expect(e.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    // the line is the canonical form including the hash, \n-terminated
    expect(eventLine(e)).toBe(canonical.replace(`"event":"op.start",`, `"event":"op.start","hash":"${e.hash}",`) + "\n");
  });

  test("eventLine is the JCS form with hash in key order, newline-terminated", () => {
    const e = sealEvent(OP, 3, TS, "file.switch", { target: "/usr/bin/ls" }, GENESIS);
    const line = eventLine(e);
    expect(line.endsWith("\n")).toBe(true);
    expect(line.indexOf("\n")).toBe(line.length - 1);
    expect(line).toBe(`{"event":"file.switch","hash":"${e.hash}","op":"${OP}","prev":"${GENESIS}","seq":3,"target":"/usr/bin/ls","ts":"${TS}","v":1}\n`);
    const { hash, ...body } = JSON.parse(line);
    expect(hash).toBe(chainHash(body));
  });

  test("non-ASCII text hashes over its UTF-8 bytes, unescaped (JCS)", () => {
    const e = sealEvent(OP, 0, TS, "note", { text: "grüße ✓" }, GENESIS);
    expect(e.hash).toBe(sha(`{"event":"note","op":"${OP}","prev":"${GENESIS}","seq":0,"text":"grüße ✓","ts":"${TS}","v":1}`));
  });

  test("every field is covered: changing any of them changes the hash", () => {
    const base = sealEvent(OP, 1, TS, "x", { path: "/a" }, GENESIS);
    const variants = [
      sealEvent("20261127T053000Z-3fa9c2d2", 1, TS, "x", { path: "/a" }, GENESIS),
      sealEvent(OP, 2, TS, "x", { path: "/a" }, GENESIS),
      sealEvent(OP, 1, "2026-11-27T05:30:00.124Z", "x", { path: "/a" }, GENESIS),
      sealEvent(OP, 1, TS, "y", { path: "/a" }, GENESIS),
      sealEvent(OP, 1, TS, "x", { path: "/b" }, GENESIS),
      sealEvent(OP, 1, TS, "x", { path: "/a", extra: null }, GENESIS),
      sealEvent(OP, 1, TS, "x", { path: "/a" }, "sha256:" + "1".repeat(64)),
    ];
    const hashes = new Set([base.hash, ...variants.map((v) => v.hash)]);
    expect(hashes.size).toBe(variants.length + 1);
  });

  test("prev chaining: each event's prev is the previous hash, and the hash depends on it", () => {
    const e0 = sealEvent(OP, 0, TS, "op.start", {}, GENESIS);
    const e1 = sealEvent(OP, 1, TS, "step", { n: 1 }, e0.hash);
    const e2 = sealEvent(OP, 2, TS, "op.end", { status: "ok" }, e1.hash);
    expect(e0.prev).toBe(GENESIS);
    expect(e1.prev).toBe(e0.hash);
    expect(e2.prev).toBe(e1.hash);
    for (const e of [e0, e1, e2]) {
      const { hash, ...rest } = e;
      expect(hash).toBe(chainHash(rest));
    }
    expect(GENESIS).toBe("sha256:" + "0".repeat(64));
  });

  test("envelope field names are reserved", () => {
    for (const k of ["v", "op", "seq", "ts", "event", "prev", "hash"]) {
      expect(() => sealEvent(OP, 0, TS, "x", { [k]: "spoof" }, GENESIS)).toThrow(new RegExp(`"${k}" is reserved`));
    }
    // nested keys of the same name are ordinary data
    expect(() => sealEvent(OP, 0, TS, "x", { detail: { hash: "h", seq: 1 } }, GENESIS)).not.toThrow();
  });

  test("floats, NaN, Infinity and unsafe integers are rejected, also nested", () => {
    for (const bad of [1.5, 0.1, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53)]) {
      expect(() => sealEvent(OP, 0, TS, "x", { n: bad }, GENESIS)).toThrow(TypeError);
    }
    expect(() => sealEvent(OP, 0, TS, "x", { a: { b: [1, 2.5] } }, GENESIS)).toThrow(/\$\.a\.b\[1\] is not a safe integer/);
    expect(() => sealEvent(OP, 0, TS, "x", { n: 2 ** 53 - 1 }, GENESIS)).not.toThrow();
  });

  test("bigints become decimal strings (inode, device, mtime in ns)", () => {
    const e = sealEvent(OP, 0, TS, "x", { ino: 18446744073709551615n, mtime_ns: 1732685400123456789n, small: 5n, neg: -3n }, GENESIS);
    expect(e.ino).toBe("18446744073709551615");
    expect(e.mtime_ns).toBe("1732685400123456789");
    expect(e.small).toBe("5");
    expect(e.neg).toBe("-3");
    expect(eventLine(e)).toContain('"ino":"18446744073709551615"');
  });

  test("undefined fields are dropped (as if absent)", () => {
    const a = sealEvent(OP, 0, TS, "x", { a: 1, b: undefined }, GENESIS);
    const b = sealEvent(OP, 0, TS, "x", { a: 1 }, GENESIS);
    expect("b" in a).toBe(false);
    expect(a.hash).toBe(b.hash);
  });
});

describe("normalize", () => {
  test("scalars, arrays, nested objects", () => {
    expect(normalize(null)).toBeNull();
    expect(normalize("s")).toBe("s");
    expect(normalize(true)).toBe(true);
    expect(normalize(0)).toBe(0);
    expect(normalize(-42)).toBe(-42);
    expect(normalize(12345678901234567890n)).toBe("12345678901234567890");
    expect(normalize({ a: [1, { b: 2n, c: undefined }], d: "x" })).toEqual({ a: [1, { b: "2" }], d: "x" });
  });

  test("unsupported types throw with the path", () => {
    expect(() => normalize({ f: () => 1 })).toThrow(/\$\.f has unsupported type function/);
    expect(() => normalize({ s: Symbol("x") })).toThrow(/unsupported type symbol/);
    expect(() => normalize([1, undefined])).toThrow(/\$\[1\] has unsupported type undefined/);
    expect(() => normalize(0.5, "$.x")).toThrow(/\$\.x is not a safe integer: 0\.5/);
  });
});

// ---- ledger ---------------------------------------------------------------

const entry = (seq: number, over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  v: 1,
  seq,
  op: OP,
  head: "sha256:" + String(seq).repeat(64).slice(0, 64),
  jsonl_sha256: "ab".repeat(32),
  signature: "unsigned",
  key_id: null,
  ts: TS,
  ...over,
});

function parseError(text: string): LedgerParseError {
  try {
    parseLedger(text);
  } catch (e) {
    expect(e).toBeInstanceOf(LedgerParseError);
    return e as LedgerParseError;
  }
  throw new Error("parseLedger accepted the text");
}

describe("ledgerLine / parseLedger", () => {
  test("ledgerLine is the JCS form (sorted keys, no spaces), newline-terminated", () => {
    const e = entry(0, { signature: "signed", key_id: "0123456789ABCDEF" });
    expect(ledgerLine(e)).toBe(
      `{"head":"${e.head}","jsonl_sha256":"${e.jsonl_sha256}","key_id":"0123456789ABCDEF","op":"${OP}","seq":0,"signature":"signed","ts":"${TS}","v":1}\n`,
    );
  });

  test("round trip; the empty ledger", () => {
    const entries = [entry(0), entry(1, { signature: "failed" }), entry(2, { signature: "signed", key_id: "ABCDEF0123456789" })];
    expect(parseLedger(entries.map(ledgerLine).join(""))).toEqual(entries);
    expect(parseLedger("")).toEqual([]);
  });

  test("a non-canonical line is rejected (key order, spaces, escapes)", () => {
    const good = ledgerLine(entry(0)).slice(0, -1);
    const obj = JSON.parse(good);
    const variants = [
      JSON.stringify(entry(0)), // declaration order (v, seq, op, …), not sorted
      JSON.stringify(obj, null, 1).replace(/\n/g, ""), // spaces after ':'
      good.replace('"unsigned"', '"\\u0075nsigned"'), // same value, escaped
      good.replace('"seq":0', '"seq":0.0'),
      " " + good,
    ];
    for (const v of variants) {
      expect(v).not.toBe(good);
      expect(JSON.parse(v)).toEqual(obj);
      const e = parseError(v + "\n");
      expect(e.line).toBe(1);
      expect(e.message).toBe("not in canonical (JCS) form");
    }
  });

  test("wrong seq (gap, repeat, start at 1) names the line", () => {
    const e1 = parseError(ledgerLine(entry(0)) + ledgerLine(entry(2)));
    expect(e1.line).toBe(2);
    expect(e1.message).toBe("seq 2 where 1 was expected");
    expect(parseError(ledgerLine(entry(0)) + ledgerLine(entry(0))).line).toBe(2);
    expect(parseError(ledgerLine(entry(1))).message).toBe("seq 1 where 0 was expected");
  });

  test("v other than 1 is rejected", () => {
    expect(parseError(ledgerLine({ ...entry(0), v: 2 } as unknown as LedgerEntry)).line).toBe(1);
  });

  test("missing final newline", () => {
    const e = parseError(ledgerLine(entry(0)) + ledgerLine(entry(1)).slice(0, -1));
    expect(e.message).toBe("it is cut short: the ledger does not end with a newline");
    expect(e.line).toBe(2);
  });

  test("extra field, missing field", () => {
    const extra = parseError(ledgerLine({ ...entry(0), extra: 1 } as unknown as LedgerEntry));
    expect(extra.message).toBe("unexpected fields");
    const { ts: _ts, ...noTs } = entry(0);
    expect(parseError(ledgerLine(noTs as LedgerEntry)).message).toBe("unexpected fields");
  });

  test("not JSON, a blank line, a JSON array or null", () => {
    expect(parseError("{nope\n").message).toBe("not JSON");
    const blank = parseError(ledgerLine(entry(0)) + "\n");
    expect(blank.line).toBe(2);
    expect(parseError("[1]\n").message).toBe("unexpected fields");
    expect(parseError("null\n").message).toBe("unexpected fields");
    expect(parseError("\n").line).toBe(1);
  });

  test("CRLF line endings are rejected", () => {
    expect(parseError(ledgerLine(entry(0)).replace("\n", "\r\n")).line).toBe(1);
  });
});

describe("ledgerHead", () => {
  test("GENESIS for no entries, else the last entry's head", () => {
    expect(ledgerHead([])).toBe(GENESIS);
    expect(ledgerHead([entry(0), entry(1, { head: "sha256:" + "f".repeat(64) })])).toBe("sha256:" + "f".repeat(64));
  });
});

// ---- op ids ---------------------------------------------------------------

describe("op ids", () => {
  test("newOpId matches the documented form and encodes the UTC second", () => {
    const re = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/;
    for (let i = 0; i < 50; i++) expect(newOpId()).toMatch(re);
    const id = newOpId(new Date("2026-11-27T05:30:00.999Z"));
    expect(id).toMatch(/^20261127T053000Z-[0-9a-f]{8}$/);
    expect(parseOpId(id)).toBe(id);
    expect(OP_ID_RE.source).toBe(re.source);
  });

  test("ids are random within a second and sort by time", () => {
    const d = new Date("2026-01-02T03:04:05Z");
    const ids = new Set(Array.from({ length: 100 }, () => newOpId(d)));
    expect(ids.size).toBe(100);
    const a = newOpId(new Date("2026-12-31T23:59:59Z"));
    const b = newOpId(new Date("2027-01-01T00:00:00Z"));
    expect(a < b).toBe(true);
  });

  test("parseOpId refuses anything else as a usage error (never a path)", () => {
    const bad = [
      "../../etc/passwd",
      "20261127T053000Z-3FA9C2D1", // uppercase hex
      "20261127T053000Z-3fa9c2d", // short
      "20261127T053000Z-3fa9c2d12",
      "20261127T053000-3fa9c2d1", // no Z
      "20261127t053000Z-3fa9c2d1",
      "2026-11-27T05:30:00Z-3fa9c2d1",
      "20261127T053000Z-3fa9c2d1\n",
      " 20261127T053000Z-3fa9c2d1",
      "20261127T053000Z-3fa9c2d1/../x",
      "audit-20261127T053000Z-3fa9c2d1",
      "20261127T053000Z-3fa9c2g1",
      "",
    ];
    for (const s of bad) {
      let err: unknown;
      try {
        parseOpId(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PkgswitchError);
      expect((err as PkgswitchError).exitCode).toBe(Exit.USAGE);
      expect((err as PkgswitchError).message).toContain("bad op id");
    }
    expect(parseOpId(OP)).toBe(OP);
  });

  test("an op id of the right form whose time does not exist is refused, saying which part", () => {
    const bad: [string, string][] = [
      ["20261301T000000Z-12345678", "there is no month 13"],
      ["20260001T000000Z-12345678", "there is no month 0"],
      ["20260132T000000Z-12345678", "there is no day 32 in January 2026"],
      ["20260100T000000Z-12345678", "there is no day 0 in January 2026"],
      ["20260230T000000Z-12345678", "there is no day 30 in February 2026"],
      ["20260229T000000Z-12345678", "there is no day 29 in February 2026"],
      ["21000229T000000Z-12345678", "there is no day 29 in February 2100"],
      ["20260431T000000Z-12345678", "there is no day 31 in April 2026"],
      ["20260101T250000Z-12345678", "there is no hour 25"],
      ["20260101T240000Z-12345678", "there is no hour 24"],
      ["20260101T006000Z-12345678", "there is no minute 60"],
      ["20260101T000060Z-12345678", "there is no second 60"],
    ];
    for (const [id, why] of bad) {
      expect(opIdProblem(id), id).toBe(why);
      expect(() => parseOpId(id), id).toThrow(`bad op id "${id}": not a valid operation id (${why}); an op id is YYYYMMDDTHHMMSSZ-xxxxxxxx`);
    }
    for (const id of ["20240229T235959Z-00000000", "20000229T000000Z-ffffffff", "20261231T235959Z-3fa9c2d1", newOpId(new Date("2028-02-29T12:00:00Z"))]) {
      expect(opIdProblem(id), id).toBeNull();
      expect(parseOpId(id)).toBe(id);
    }
  });

  test("calendarProblem: month lengths and leap years (the Gregorian rule)", () => {
    const lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (let m = 1; m <= 12; m++) {
      expect(calendarProblem(2026, m, lengths[m - 1]!)).toBeNull();
      expect(calendarProblem(2026, m, lengths[m - 1]! + 1)).not.toBeNull();
    }
    for (const [y, leap] of [[2024, true], [2026, false], [2000, true], [1900, false], [2100, false], [2400, true]] as const) {
      expect(calendarProblem(y, 2, 29) === null, String(y)).toBe(leap);
    }
    expect(calendarProblem(2026, 1, 1, 23, 59, 59)).toBeNull();
  });

  test("parseTimeText: dates and ISO times; impossible ones say why, other text is not a time", () => {
    expect(parseTimeText("2026-02-28")).toEqual({ ms: Date.UTC(2026, 1, 28) });
    expect(parseTimeText("2024-02-29")).toEqual({ ms: Date.UTC(2024, 1, 29) });
    expect(parseTimeText("2026-01-01T12:00:00Z")).toEqual({ ms: Date.UTC(2026, 0, 1, 12) });
    expect(parseTimeText("2026-01-01T12:00:00.250+01:00")).toEqual({ ms: Date.UTC(2026, 0, 1, 11, 0, 0, 250) });
    expect(parseTimeText("2026-01-01T12:00Z")).toEqual({ ms: Date.UTC(2026, 0, 1, 12) });
    for (const [text, why] of [
      ["2026-02-30", "there is no day 30 in February 2026"],
      ["2026-13-01", "there is no month 13"],
      ["2026-04-31T00:00:00Z", "there is no day 31 in April 2026"],
      ["2026-01-01T25:00:00Z", "there is no hour 25"],
      ["2026-01-01T12:61Z", "there is no minute 61"],
      ["2026-01-01T12:00:00+24:00", "there is no UTC offset +24:00"],
    ] as const) expect(parseTimeText(text), text).toEqual({ problem: why });
    // ISO 8601's end of day: exactly 24:00:00 (a fraction of zeros), the next day's midnight.
    for (const text of ["2026-01-01T24:00:00Z", "2026-01-01T24:00Z", "2026-01-01T24:00:00.000Z"]) expect(parseTimeText(text), text).toEqual({ ms: Date.UTC(2026, 0, 2) });
    expect(parseTimeText("2026-12-31T24:00:00+02:00")).toEqual({ ms: Date.UTC(2026, 11, 31, 22) });
    expect(parseTimeText("2024-02-28T24:00:00Z")).toEqual({ ms: Date.UTC(2024, 1, 29) });
    expect(parseTimeText("2026-01-01T24:00:00")).toEqual({ ms: new Date(2026, 0, 2).getTime() }); // local time, as Date.parse reads it
    for (const text of ["2026-01-01T24:00:01Z", "2026-01-01T24:01Z", "2026-01-01T24:00:00.001Z"]) {
      expect(parseTimeText(text), text).toEqual({ problem: "hour 24 is only 24:00:00, the end of the day" });
    }
    expect(parseTimeText("2026-02-30T24:00:00Z")).toEqual({ problem: "there is no day 30 in February 2026" });
    expect(opIdProblem("20260101T240000Z-0badc0de")).toBe("there is no hour 24");
    for (const text of ["", "yesterday", "2026-1-1", "2026-01-01T", "20260101", "2026-01-01 12:00:00", "2026-01-01T12:00:00Zjunk", "-5"]) {
      expect(parseTimeText(text), text).toEqual({ problem: null });
    }
  });
});
