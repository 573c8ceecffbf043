/** Reading files a root's owner (or an attacker with the audit directory)
 * may have planted: only regular files, never blocking on a FIFO, never
 * more than a bound per kind of file, so `/dev/zero`, a FIFO or a 100 GB
 * file ends in a one-line error instead of a hang or an exhausted memory. */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

/** Upper bounds, in bytes, per kind of file (far above anything real). */
export const READ_LIMIT = {
  /** config.jsonc, drop-ins, keys, host-id, sidecars, checkpoints, signatures */
  small: 1 << 20,
  /** state.json, an operation's JSONL, its SBOM, the hash cache, a journal */
  record: 64 << 20,
  /** ledger.jsonl, a bundle (≈ 200,000 operations) */
  ledger: 64 << 20,
} as const;

/** Deepest JSON nesting any of our formats uses is < 10; a document deeper
 * than this is hostile (deep recursion in a parser or a walker). */
export const MAX_JSON_DEPTH = 64;

/** An error with the errno-like `code` callers already branch on:
 * ENOTREG (not a regular file), EFBIG (over the bound), or the open error. */
function fail(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

export interface ReadOptions {
  /** Bound in bytes (READ_LIMIT.*). */
  max: number;
  /** Refuse a symlink as the last component (ELOOP): for files of ours. */
  noFollow?: boolean;
}

/** Open a regular file for reading without following a link as its last
 * component and without blocking on a FIFO: the descriptor, or an error
 * (ELOOP, ENOTREG, the open error). For callers that read only part of it. */
export function openRegular(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isFile()) throw fail("ENOTREG", `${path} is not a regular file`);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Read a regular file whole, refusing anything else (FIFO, device,
 * directory, socket: ENOTREG) and anything longer than `max` (EFBIG). */
export function readBounded(path: string, opts: ReadOptions): Buffer {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0);
  const fd = openSync(path, flags);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail("ENOTREG", `${path} is not a regular file`);
    if (st.size > opts.max) throw fail("EFBIG", `${path} is larger than ${opts.max} bytes`);
    // The size may change while reading: read to EOF, but never past the bound.
    let buf = Buffer.allocUnsafe(Math.max(st.size + 1, 4096));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (buf.length > opts.max) throw fail("EFBIG", `${path} is larger than ${opts.max} bytes`);
        const next = Buffer.allocUnsafe(Math.min(buf.length * 2, opts.max + 1));
        buf.copy(next, 0, 0, len);
        buf = next;
      }
      const want = buf.length - len;
      const n = readSync(fd, buf, len, want, null);
      len += n;
      // A short read that ends exactly at the size fstat gave is the end of
      // the file: no second read to see EOF (one system call fewer per file;
      // verify --all reads three per operation). Files whose size says
      // nothing (/proc, sysfs: 0 or 4096) read on until read returns 0.
      if (n === 0 || (n < want && len === st.size)) break;
    }
    if (len > opts.max) throw fail("EFBIG", `${path} is larger than ${opts.max} bytes`);
    return buf.subarray(0, len);
  } finally {
    closeSync(fd);
  }
}

/** `readBounded` as UTF-8 text. */
export function readBoundedText(path: string, opts: ReadOptions): string {
  return readBounded(path, opts).toString("utf8");
}

/** Strings (to their closing quote, or the end), line and block comments:
 * what `tooDeep` skips. Unrolled (one step per escape, not per character). */
const SKIPPED = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"?|\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)/g;

/** Below this length `tooDeep` lets the regular-expression engine skip
 * strings and comments: on the small documents read at start-up (state.json,
 * the catalog, the config) that is several times faster than the loop, which
 * is still cold then; above it the loop, whose speed does not depend on the
 * shape of the text (a hostile ledger of escapes). Same answer either way
 * (tests/unit/bounded-depth.test.ts). */
const SHORT_TEXT = 1 << 20;

/** Is this (JSON or JSONC) text nested deeper than `max`? A linear scan
 * that skips strings and comments, run before any recursive parser or walk
 * sees the text. */
export function tooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  return text.length <= SHORT_TEXT ? bracketsTooDeep(text.replace(SKIPPED, "").replace(/[^{}[\]]+/g, ""), max) : tooDeepScan(text, max);
}

/** Depth of a text of brackets only. */
function bracketsTooDeep(brackets: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < brackets.length; i++) {
    const c = brackets.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else depth--;
  }
  return false;
}

/** `tooDeep` as one pass over the characters. */
export function tooDeepScan(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // string: skip to the closing quote, honouring escapes
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2f) {
      const e = text.indexOf("\n", i);
      i = e < 0 ? n : e;
    } else if (c === 0x2f && text.charCodeAt(i + 1) === 0x2a) {
      const e = text.indexOf("*/", i + 2);
      i = e < 0 ? n : e + 1;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Describe a read error in a few words (for one-line messages). */
export function readProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOTREG" || code === "EFBIG") return (e as Error).message.replace(/^.* is /, "is ");
  if (code === "ELOOP") return "is a symbolic link";
  if (code === "EISDIR") return "is a directory";
  return code ?? (e as Error).message;
}
