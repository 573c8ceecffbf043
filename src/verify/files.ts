/** Reading artifacts for verification: never writes, and turns every error
 * into the exit class a playbook expects (missing → 3, anything else that
 * stops a read → 6). */
import { readdirSync } from "node:fs";
import { basename } from "node:path";
import { READ_LIMIT, readBounded } from "../config/bounded.ts";
import { VerifyExit } from "../errors.ts";

export type ReadResult =
  | { ok: true; bytes: Buffer }
  | { ok: false; exit: typeof VerifyExit.NOT_FOUND | typeof VerifyExit.IO; message: string };

/** Read a whole file: ENOENT is "not found", anything else "I/O" — also
 * a FIFO, a device or a directory in its place, or a file over its bound
 * (the ledger may be large; one operation's artifacts are not). */
export function readArtifact(path: string): ReadResult {
  try {
    return { ok: true, bytes: readBounded(path, { max: basename(path) === "ledger.jsonl" ? READ_LIMIT.ledger : READ_LIMIT.record }) };
  } catch (e) {
    return readError(e, path);
  }
}

export function readError(e: unknown, path: string): ReadResult & { ok: false } {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, exit: VerifyExit.NOT_FOUND, message: `missing: ${path}` };
  // A FIFO, device or directory in place of the file, or one over its bound.
  if (code === "ENOTREG" || code === "EFBIG") return { ok: false, exit: VerifyExit.IO, message: (e as Error).message };
  return { ok: false, exit: VerifyExit.IO, message: `cannot read ${path}: ${code || (e as Error).message}` };
}

/** Names in a directory, or the read error. */
export function listDir(dir: string): { ok: true; names: string[] } | (ReadResult & { ok: false }) {
  try {
    return { ok: true, names: readdirSync(dir) };
  } catch (e) {
    return readError(e, dir);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Bytes → string, or null if the bytes are not valid UTF-8. Fast path: a
 * replacing decode whose result contains no U+FFFD is valid (every invalid
 * sequence decodes to U+FFFD); only then is the strict decoder needed.
 * `ascii` is true when every byte is < 0x80 (then string offsets are byte
 * offsets): with no U+FFFD, a string as long as the byte count can only come
 * from one character per byte.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string; ascii: boolean } | null {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buf.toString("utf8");
  if (!text.includes("\uFFFD")) return { text, ascii: text.length === buf.length };
  try {
    return { text: decoder.decode(buf), ascii: false };
  } catch {
    return null;
  }
}

/** 1-based line of the first invalid UTF-8 sequence (for the report). */
export function firstBadUtf8Line(bytes: Uint8Array): number {
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return line;
}
