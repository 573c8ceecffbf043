/** The ledger as verify holds it, compactly: its bytes once, each line's
 * byte range, a status byte and its leaf hash packed in one buffer, and the
 * first line of each operation. An entry is parsed again from its bytes
 * when asked for (the line was strictly checked once, on reading).
 *
 * Why: `verify --all` over 100,000 operations kept every line as a string,
 * a parsed entry and a 32-byte typed array of its own (~1.5 KiB a line with
 * their garbage), the largest share of its peak RSS (bench/README.md). */
import type { LedgerEntry } from "../audit/ledger.ts";
import { PackedHashes } from "../audit/merkle.ts";
import { collectGarbage } from "../sys/index.ts";
import { GENESIS } from "../audit/event.ts";
import type { OpTask } from "./operation.ts";
import { scanLedgerLines, type LineProblem } from "./strict.ts";

/** Lines between collection hints while reading; below this many lines a
 * ledger's garbage does not matter (verify skips its collections too). */
export const COLLECT_EVERY = 4096;

const HAS_ENTRY = 1;
const SIGNED = 2;

export class LedgerIndex {
  /** Number of lines (parsed or not). */
  readonly length: number;
  /** Leaf hash of every line (the tree is over the bytes, parsed or not). */
  readonly leaves: PackedHashes;
  /** Each operation's first line (0-based), in ledger order. */
  readonly firstLine: ReadonlyMap<string, number>;

  private constructor(
    private readonly bytes: Uint8Array,
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    private readonly flags: Uint8Array,
    firstLine: Map<string, number>,
    leaves: PackedHashes,
  ) {
    this.length = flags.length;
    this.firstLine = firstLine;
    this.leaves = leaves;
  }

  static readonly empty = new LedgerIndex(new Uint8Array(0), new Float64Array(0), new Float64Array(0), new Uint8Array(0), new Map(), PackedHashes.alloc(0));

  /** Parse `text` (the UTF-8 decoding of `bytes`) strictly, line by line.
   * `dup` is called for an operation listed again (with the 1-based lines).
   * A `stopped` read keeps the lines read so far and their leaves: a
   * checkpoint over a prefix of them can still be checked (`audit
   * checkpoint`; the junk may be after what it covers). */
  static read(bytes: Uint8Array, text: string, dup: (op: string, line: number, first: number) => void): { index: LedgerIndex; problems: LineProblem[]; stopped?: boolean } {
    // Lines split at the same "\n" bytes as the text's characters.
    let n = 0;
    for (let p = 0; p < bytes.length; n++) {
      const nl = bytes.indexOf(0x0a, p);
      p = nl < 0 ? bytes.length : nl + 1;
    }
    const starts = new Float64Array(n);
    const ends = new Float64Array(n);
    for (let i = 0, p = 0; i < n; i++) {
      const nl = bytes.indexOf(0x0a, p);
      starts[i] = p;
      ends[i] = nl < 0 ? bytes.length : nl;
      p = nl < 0 ? bytes.length : nl + 1;
    }
    const flags = new Uint8Array(n);
    const firstLine = new Map<string, number>();
    let count = 0;
    const r = scanLedgerLines(text, (l) => {
      const i = l.line - 1;
      count = l.line;
      // Each line leaves ~2 KiB of garbage (parse, canonical check) that
      // the collector would otherwise let pile up to over 100 MiB.
      if (l.line % COLLECT_EVERY === 0) collectGarbage(false);
      if (!l.entry) return;
      flags[i] = HAS_ENTRY | (l.entry.signature === "signed" ? SIGNED : 0);
      const first = firstLine.get(l.entry.op);
      if (first !== undefined) dup(l.entry.op, l.line, first + 1);
      else firstLine.set(l.entry.op, i);
    });
    if (r.stopped) {
      const leaves = PackedHashes.ofLeaves(count, (i) => bytes.subarray(starts[i]!, ends[i]!));
      return { index: new LedgerIndex(bytes, starts.subarray(0, count), ends.subarray(0, count), flags.subarray(0, count), firstLine, leaves), ...r };
    }
    const leaves = PackedHashes.ofLeaves(n, (i) => bytes.subarray(starts[i]!, ends[i]!));
    return { index: new LedgerIndex(bytes, starts, ends, flags, firstLine, leaves), ...r };
  }

  /** The last entry parsed: tasks in ledger order need each line twice
   * (as the operation, then as the next one's previous head). */
  private last: { i: number; entry: LedgerEntry } | null = null;

  /** The line's entry (null when it did not parse). */
  entry(i: number): LedgerEntry | null {
    if (!(this.flags[i]! & HAS_ENTRY)) return null;
    if (this.last?.i === i) return this.last.entry;
    const entry = JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.starts[i]!, this.ends[i]! - this.starts[i]!).toString("utf8")) as LedgerEntry;
    this.last = { i, entry };
    return entry;
  }

  /** Every parsed entry, in ledger order (unparsed lines skipped). */
  entries(): LedgerEntry[] {
    const out: LedgerEntry[] = [];
    for (let i = 0; i < this.length; i++) if (this.flags[i]! & HAS_ENTRY) out.push(this.entry(i)!);
    return out;
  }

  signed(i: number): boolean {
    return (this.flags[i]! & SIGNED) !== 0;
  }

  /** The check of the operation on line `i`: its entry, and the head the
   * previous line links it to (null when that line did not parse). */
  task(i: number): OpTask {
    const prev = i === 0 ? GENESIS : (this.entry(i - 1)?.head ?? null);
    return { entry: this.entry(i)!, ledgerLine: i + 1, expectedPrev: prev };
  }
}
