/** verify's compact ledger (src/verify/ledger-index.ts) against the plain
 * reading it replaced: readLedgerLines' entries and leafHash per line, and
 * PackedHashes against arrays in every Merkle function. */
import { describe, expect, test } from "bun:test";
import { consistencyProof, inclusionProof, leafHash, PackedHashes, rootHash } from "../../src/audit/merkle.ts";
import { ledgerLine, type LedgerEntry } from "../../src/audit/ledger.ts";
import { GENESIS } from "../../src/audit/event.ts";
import { LedgerIndex } from "../../src/verify/ledger-index.ts";
import { readLedgerLines } from "../../src/verify/strict.ts";

const hex = (b: Uint8Array | undefined) => Buffer.from(b!).toString("hex");

function entry(seq: number, op: string, signed = true): LedgerEntry {
  const h = (seq * 7919 + 1).toString(16).padStart(64, "0");
  return { v: 1, seq, op, head: `sha256:${h}`, jsonl_sha256: h, signature: signed ? "signed" : "unsigned", key_id: signed ? "0123456789ABCDEF" : null, ts: "2026-11-27T05:30:00.000Z" };
}
const op = (i: number) => `20261127T0530${String(i).padStart(2, "0")}Z-${i.toString(16).padStart(8, "0")}`;

function read(text: string) {
  const dups: [string, number, number][] = [];
  const r = LedgerIndex.read(Buffer.from(text), text, (o, line, first) => void dups.push([o, line, first]));
  return { ...r, dups };
}

describe("LedgerIndex", () => {
  // Clean lines, a repeated operation, a line that is not JSON, a line with
  // non-ASCII bytes (byte and character offsets differ after it), an
  // unsigned one, and a last line without its newline.
  const text = [
    ledgerLine(entry(0, op(0))),
    ledgerLine(entry(1, op(1))),
    "not json ü\n",
    ledgerLine(entry(3, op(1))),
    ledgerLine(entry(4, op(4), false)),
    ledgerLine(entry(5, op(5))).slice(0, -1),
  ].join("");

  test("entries, leaves and problems are those of the plain reading", () => {
    const plain = readLedgerLines(text);
    const { index, problems, stopped, dups } = read(text);
    expect(problems).toEqual(plain.problems);
    expect(stopped).toBe(plain.stopped);
    expect(index.length).toBe(plain.lines.length);
    for (const [i, l] of plain.lines.entries()) {
      expect(index.entry(i)).toEqual(l.entry);
      expect(hex(index.leaves.at(i))).toBe(hex(leafHash(Buffer.from(l.text))));
      expect(index.signed(i)).toBe(l.entry?.signature === "signed");
    }
    expect(index.entries()).toEqual(plain.lines.flatMap((l) => (l.entry ? [l.entry] : [])));
    expect(dups).toEqual([[op(1), 4, 2]]);
    expect([...index.firstLine]).toEqual([[op(0), 0], [op(1), 1], [op(4), 4], [op(5), 5]]);
  });

  test("a task links to the previous line's head, or to none after an unparsed line", () => {
    const { index } = read(text);
    expect(index.task(0)).toEqual({ entry: entry(0, op(0)), ledgerLine: 1, expectedPrev: GENESIS });
    expect(index.task(1).expectedPrev).toBe(entry(0, op(0)).head);
    expect(index.task(3).expectedPrev).toBeNull();
    expect(index.task(4)).toEqual({ entry: entry(4, op(4), false), ledgerLine: 5, expectedPrev: entry(3, op(1)).head });
  });

  test("an empty ledger", () => {
    const { index, problems } = read("");
    expect(index.length).toBe(0);
    expect(problems).toEqual([]);
    expect(hex(rootHash(index.leaves))).toBe(hex(rootHash([])));
  });
});

describe("PackedHashes", () => {
  const leaves = Array.from({ length: 37 }, (_, i) => leafHash(Buffer.from(`line ${i}`)));
  const packed = PackedHashes.alloc(leaves.length);
  leaves.forEach((l, i) => packed.into(i).set(l));

  test("the same roots and proofs as an array of hashes", () => {
    for (let n = 1; n <= leaves.length; n++) {
      expect(hex(rootHash(packed.slice(0, n)))).toBe(hex(rootHash(leaves.slice(0, n))));
      for (const i of [0, n >> 1, n - 1]) expect(inclusionProof(i, packed.slice(0, n)).map(hex)).toEqual(inclusionProof(i, leaves.slice(0, n)).map(hex));
      for (const m of [1, n >> 1 || 1, n]) expect(consistencyProof(m, packed.slice(0, n)).map(hex)).toEqual(consistencyProof(m, leaves.slice(0, n)).map(hex));
    }
  });

  test("at() out of range is undefined, like an array's", () => {
    expect(packed.at(leaves.length)).toBeUndefined();
    expect(packed.at(-1)).toBeUndefined();
    expect(packed.slice(5, 2).length).toBe(0);
  });
});
