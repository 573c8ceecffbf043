/** Streaming SHA-256 of files and bytes: the digests recorded as
 * `before_sha256` / `after_sha256` / `sha256` (64 lowercase hex, no prefix).
 *
 * Measured on the target machine (bench/hash.ts, page cache warm): a
 * synchronous `readSync` loop into one reused 1 MiB buffer feeding
 * node:crypto reaches ~0.9x of in-memory SHA-256; `createReadStream` and
 * `Bun.file().stream()` reach ~0.4-0.6x, `Bun.file().arrayBuffer()` ~0.5-0.7x
 * (it allocates the whole file), and double-buffered async `fs.read` ties
 * with `readSync` on large files but loses ~40% on small ones (thread-pool
 * round trip per chunk). So the sync loop is the core, and the async API only
 * goes asynchronous where that costs nothing: files larger than a few chunks. */
import { createHash, type Hash } from "node:crypto";
import { closeSync, fstatSync, openSync, read, readSync } from "node:fs";

/** Read chunk size. 1 MiB amortizes the syscall and stays cache-friendly;
 * larger buffers measured no faster. */
export const CHUNK_SIZE = 1 << 20;

/** Files up to this size are hashed synchronously even by `sha256File`:
 * a few page-cache reads take well under a millisecond, less than the
 * thread-pool hand-off an async read would cost. */
const SYNC_LIMIT = 4 * CHUNK_SIZE;

// One buffer for all synchronous hashing: the process is single-threaded and
// hashing never re-enters, so reuse avoids a 1 MiB allocation per file.
let sharedBuffer: Buffer | undefined;

/** SHA-256 of `bytes` as 64 lowercase hex digits. */
export function sha256Bytes(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** SHA-256 of an open file descriptor's content from offset 0, read with
 * positional `readSync` calls (the descriptor's own offset is not used). */
export function sha256FdSync(fd: number): string {
  const buf = (sharedBuffer ??= Buffer.allocUnsafe(CHUNK_SIZE));
  const hash = createHash("sha256");
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
  const bufs = [Buffer.allocUnsafe(CHUNK_SIZE), Buffer.allocUnsafe(CHUNK_SIZE)];
  const hash: Hash = createHash("sha256");
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
    hash.update(n === CHUNK_SIZE ? cur : cur.subarray(0, n));
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
