/** Streaming SHA-256 of files and bytes: the digests recorded as
 * `before_sha256` / `after_sha256` / `sha256` (64 lowercase hex, no prefix).
 *
 * Measured here (bench/hash.ts and scratch runs, page cache warm, ratios to
 * in-memory node:crypto SHA-256 of the same bytes):
 * - `readSync` loop into one reused 1 MiB buffer: ~0.85-0.9x; the fastest
 *   for small files (one or a few reads, no thread-pool hop).
 * - double-buffered async `fs.read`, 4 MiB chunks: ~0.95x on a 256 MiB
 *   file (the next read runs on the thread pool while this chunk hashes),
 *   but ~0.5x on 1 MiB files (a thread-pool round trip per chunk); 1 MiB
 *   chunks were ~0.8x, 8-16 MiB no better than 4.
 * - `createReadStream` / the runtime's own file stream: ~0.3-0.5x;
 *   reading the whole file into one buffer: ~0.35-0.55x (allocates it all).
 * So: `sha256FileSync` is the readSync loop, and `sha256File` uses it up to
 * a few MiB and the pipelined reader above that. */
import type { Hash } from "node:crypto";
import { nodeCrypto } from "../sys/index.ts";
import { closeSync, fstatSync, openSync, read, readSync } from "node:fs";

/** Chunk size of the synchronous reader. 1 MiB amortizes the syscall and
 * stays cache-friendly; larger buffers measured no faster. */
export const CHUNK_SIZE = 1 << 20;
/** Chunk size of the pipelined async reader (see the measurements above). */
const PIPE_CHUNK = 4 << 20;

/** Files up to this size are hashed synchronously even by `sha256File`:
 * a few page-cache reads take well under a millisecond, less than the
 * thread-pool hand-off an async read would cost. */
const SYNC_LIMIT = PIPE_CHUNK;

// One buffer for all synchronous hashing: the process is single-threaded and
// hashing never re-enters, so reuse avoids a 1 MiB allocation per file.
let sharedBuffer: Buffer | undefined;

/** In-memory strings and bytes: the one hex helper, in the runtime boundary. */
export { sha256Hex } from "../sys/index.ts";

/** SHA-256 of an open file descriptor's content from offset 0, read with
 * positional `readSync` calls (the descriptor's own offset is not used). */
export function sha256FdSync(fd: number): string {
  const buf = (sharedBuffer ??= Buffer.allocUnsafe(CHUNK_SIZE));
  const hash = nodeCrypto().createHash("sha256");
  let pos = 0;
  for (;;) {
    const n = readSync(fd, buf, 0, CHUNK_SIZE, pos);
    if (n === 0) break;
    // update() copies what it needs before returning, so the buffer can be
    // refilled at once; subarray only for the short last chunk.
    hash.update(n === CHUNK_SIZE ? buf : buf.subarray(0, n));
    pos += n;
  }
  return hash.digest("hex");
}

/** SHA-256 of the file at `path` (follows symlinks), synchronously. */
export function sha256FileSync(path: string): string {
  const fd = openSync(path, "r");
  try {
    return sha256FdSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Promise wrapper for `fs.read` at an explicit position. */
function readAt(fd: number, buf: Buffer, pos: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buf, 0, buf.length, pos, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/** Hash `fd` with two buffers: the next chunk is read on the thread pool
 * while the current one is being hashed, so I/O and hashing overlap. */
async function sha256FdPipelined(fd: number): Promise<string> {
  const bufs = [Buffer.allocUnsafe(PIPE_CHUNK), Buffer.allocUnsafe(PIPE_CHUNK)];
  const hash: Hash = nodeCrypto().createHash("sha256");
  let pos = 0;
  let which = 0;
  let pending = readAt(fd, bufs[0]!, 0);
  for (;;) {
    const n = await pending;
    if (n === 0) break;
    pos += n;
    const cur = bufs[which]!;
    which ^= 1;
    pending = readAt(fd, bufs[which]!, pos);
    hash.update(n === PIPE_CHUNK ? cur : cur.subarray(0, n));
  }
  return hash.digest("hex");
}

/** SHA-256 of the file at `path` (follows symlinks) as 64 lowercase hex.
 * Small files are hashed synchronously (fastest, see above); large ones
 * without blocking the event loop. */
export async function sha256File(path: string): Promise<string> {
  const fd = openSync(path, "r");
  try {
    if (fstatSync(fd).size <= SYNC_LIMIT) return sha256FdSync(fd);
    return await sha256FdPipelined(fd);
  } finally {
    closeSync(fd);
  }
}
