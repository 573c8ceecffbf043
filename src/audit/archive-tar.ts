/** The archive segment's container: POSIX ustar, gzip-compressed (RFC 1952),
 * written and read with runtime APIs only (node:zlib), so that any tar can
 * list and extract a segment (`tar -tzf`, `gzip -t`) without pkgswitch.
 *
 * Only what a segment holds is supported: regular files with short names
 * (the audit file names, < 100 bytes), mode 0600, owner 0, a fixed mtime.
 * Reading is strict: every header's checksum, magic and type, no duplicate
 * or unexpected names, and a bounded decompressed size (a gzip bomb stops at
 * the bound). */
import { gunzipSync, gzipSync } from "node:zlib";

const BLOCK = 512;

export interface TarMember {
  name: string;
  bytes: Uint8Array;
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  // len-1 octal digits, zero-padded, then NUL (POSIX ustar numeric field).
  buf.write(value.toString(8).padStart(len - 1, "0") + "\0", off, len, "ascii");
}

function header(name: string, size: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 99 || !/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`tar member name ${JSON.stringify(name)} not supported`);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, "ascii");
  octal(h, 100, 8, 0o600);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h.write("0", 156, 1, "ascii"); // regular file
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  h.write("root", 265, 32, "ascii");
  h.write("root", 297, 32, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

/** A ustar stream of `members` (in order), ended by two zero blocks. */
export function tarBytes(members: readonly TarMember[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(header(m.name, m.bytes.length, mtime), Buffer.from(m.bytes));
    const pad = (BLOCK - (m.bytes.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  return Buffer.concat(parts);
}

/** gzip(ustar(members)): the segment file's bytes. */
export function packSegment(members: readonly TarMember[], mtime: number): Buffer {
  return gzipSync(tarBytes(members, mtime), { level: 6 });
}

export class SegmentFormatError extends Error {}

function field(h: Buffer, off: number, len: number): string {
  const s = h.subarray(off, off + len).toString("latin1");
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
}

function num(h: Buffer, off: number, len: number, what: string): number {
  const s = field(h, off, len).trim();
  if (!/^[0-7]+$/.test(s)) throw new SegmentFormatError(`${what} field is not octal`);
  return parseInt(s, 8);
}

/** Read a segment: gunzip (at most `maxBytes` out), then every member in
 * order. Throws SegmentFormatError for anything that is not a segment as we
 * write them. */
export function unpackSegment(gz: Uint8Array, maxBytes: number): TarMember[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(gz, { maxOutputLength: maxBytes });
  } catch (e) {
    throw new SegmentFormatError(`not a gzip stream within ${maxBytes} bytes (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const out: TarMember[] = [];
  const seen = new Set<string>();
  let off = 0;
  for (;;) {
    if (off + BLOCK > tar.length) throw new SegmentFormatError("tar stream ends without its end-of-archive blocks");
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const where = `tar header at byte ${off}`;
    const stored = num(h, 148, 8, `${where}: checksum`);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw new SegmentFormatError(`${where}: checksum mismatch`);
    if (field(h, 257, 6) !== "ustar") throw new SegmentFormatError(`${where}: not ustar`);
    const type = String.fromCharCode(h[156]!);
    if (type !== "0" && type !== "\0") throw new SegmentFormatError(`${where}: not a regular file (type ${JSON.stringify(type)})`);
    const name = field(h, 0, 100);
    if (field(h, 345, 155) !== "" || !/^[A-Za-z0-9._-]+$/.test(name)) throw new SegmentFormatError(`${where}: unexpected member name ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new SegmentFormatError(`${where}: ${name} appears twice`);
    seen.add(name);
    const size = num(h, 124, 12, `${where}: size`);
    const start = off + BLOCK;
    if (start + size > tar.length) throw new SegmentFormatError(`${name}: truncated`);
    out.push({ name, bytes: tar.subarray(start, start + size) });
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
