/** The stat-keyed digest cache (architecture.md "Hash cache"): lets a later
 * run skip re-hashing files whose inode metadata proves they are unchanged.
 *
 * Trust rules, all required for a cached digest to be used:
 * - same (dev, ino) key, and mode, uid, gid, size, mtime_ns, ctime_ns from a
 *   bigint lstat all equal. ctime is the guard that cannot be forged from
 *   user space: restoring mtime with utimes() still moves ctime.
 * - not racy (git's racy-git rule): an entry read from disk is dropped unless
 *   its mtime and ctime are strictly older than the moment the cache file was
 *   written. Otherwise a write landing in the same timestamp tick as the one
 *   recorded would leave every stat field equal while the content differs.
 *   The save moment is taken from the file system's own clock (the temp
 *   file's mtime), the same clock that stamps the files being hashed.
 * - the same rule applied when an entry is created: a digest is not kept
 *   when the file's mtime/ctime is within `racyWindowMs` of the hash start
 *   (that window covers the kernel's coarse timestamp tick and coarse-grained
 *   file systems), so a change between hashing and the next save, in the
 *   same tick as the recorded mtime, cannot hide either.
 * - the stat did not change while the file was being read (stat before and
 *   after); otherwise the digest may mix old and new content.
 *
 * Racy digests and the operation memo. A digest too fresh for the file (the
 * racy rule above) is still kept, in memory only, for the life of this
 * object — one operation (session.ts loads one per operation) — and only when
 * the file's mtime and ctime were at least `memoWindowMs` older than the
 * moment its read began. Why that is safe while saving it is not: a write can
 * hide from a stat comparison only by landing in the same timestamp tick as
 * the stamp already recorded. Linux's native file systems stamp with the
 * kernel's coarse clock, one tick being a jiffy (at most 10 ms); stamps older
 * than the read's start by more than a tick mean that tick was over before
 * the read, so any later write, even in place and of the same size, gets a
 * newer ctime and misses the memo (so does a replacement by rename: a new
 * inode, or a reused inode number with a new ctime). A file changed within
 * the window is re-hashed on every call, as before. What the memo does not
 * cover, on purpose: file systems with a coarser stamp than the window (FAT's
 * 2 s), which no replaced command lives on — the persistent rule keeps its
 * 2 s for them. The saved file never holds a memo entry, so the next
 * operation hashes such a file again. This is what lets one enable hash the
 * freshly unpacked 23 MB multicall binary once, not once per applet link.
 *
 * Bounded: at most `maxEntries`, least recently used evicted first. A Map's
 * insertion order is the LRU order (a hit moves the entry to the end), and
 * the file keeps that order so recency survives restarts.
 *
 * File format (JSON, mode 0600, written atomically):
 *   {"v":1,"saved_at_ns":"<ns>","entries":[[dev,ino,mode,uid,gid,size,
 *    mtime_ns,ctime_ns,sha256hex],...]}
 * with every number a decimal string (they exceed 2^53), oldest entry first.
 *
 * Authenticated form (since 0.4.2). Owner and mode checks cannot tell this
 * process from another root: a container's root can write a root's state
 * directory, plant an entry that matches a file's stat with any digest, and
 * have the operator's signed record carry it as `before_sha256`. So an
 * operation that signs passes a key derived from the signing key
 * (`macKey`), saves the file as `{"mac":"hmac-sha256:<hex>",` followed by
 * the members above (the MAC covers the plain form's exact bytes), and loads
 * only a file whose MAC verifies under that key; anything else is discarded
 * and every file is hashed again. Unsigned operations have nothing to key a
 * MAC with and read either form, as before. */
import { randomBytes } from "../sys/index.ts";
import {
  type BigIntStats,
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { sha256FileSync } from "./hash.ts";
import { derivedMacKey, hmacHex, macEquals } from "./mac.ts";
import { READ_LIMIT, readBoundedText, tooDeep } from "../config/bounded.ts";

/** On-disk format version; any other value is discarded on load. */
export const HASH_CACHE_VERSION = 1;
export const DEFAULT_MAX_ENTRIES = 100_000;
/** Default racy window: 2 s is the coarsest timestamp granularity of a Linux
 * file system in use (FAT) and far above the kernel's coarse-clock tick
 * (1-10 ms), so mtimes within it may still be re-stamped identically. */
export const DEFAULT_RACY_WINDOW_MS = 2_000;
/** Default memo window (see "the operation memo" above): twenty times the
 * longest jiffy (HZ=100), so clock reads rounded to the millisecond, a
 * coarse clock lagging by a tick, or a process descheduled between writing a
 * file and hashing it cannot matter. */
export const DEFAULT_MEMO_WINDOW_MS = 200;
/** Context of the cache's MAC key (./mac.ts). */
const MAC_CONTEXT = "pkgswitch hash cache mac v1";
/** The authenticated form's head: `{"mac":"hmac-sha256:` + 64 hex + `",`. */
const MAC_HEAD = '{"mac":"hmac-sha256:';
const MAC_HEAD_LENGTH = MAC_HEAD.length + 64 + 2;

/** The cache's MAC key for a signing seed. */
export const hashCacheMacKey = (seed: Uint8Array): Uint8Array => derivedMacKey(MAC_CONTEXT, seed);

/** The plain form inside an authenticated file whose MAC verifies under
 * `key`, or null. */
function authenticatedBody(text: string, key: Uint8Array): string | null {
  if (!text.startsWith(MAC_HEAD) || text.slice(MAC_HEAD_LENGTH - 2, MAC_HEAD_LENGTH) !== '",') return null;
  const body = `{${text.slice(MAC_HEAD_LENGTH)}`;
  return macEquals(text.slice(MAC_HEAD.length, MAC_HEAD_LENGTH - 2), hmacHex(key, body)) ? body : null;
}

/** Attempts to get a stable read of a file that keeps changing. */
const MAX_HASH_ATTEMPTS = 3;

export interface HashCacheOptions {
  /** Upper bound on entries (default 100,000). */
  maxEntries?: number;
  /** Files changed less than this long before hashing are not cached. */
  racyWindowMs?: number;
  /** Files changed less than this long before hashing are not memoized for
   * the rest of the operation either (default 200 ms). */
  memoWindowMs?: number;
  /** Hash function (default `sha256FileSync`); tests inject one to change
   * the file mid-hash. Must return 64 lowercase hex. */
  hashFile?: (path: string) => string;
  /** Wall clock in ns since the epoch (default `Date.now()`); for tests. */
  clockNs?: () => bigint;
  /** MAC key (`hashCacheMacKey` of the signing seed): when set, only a file
   * saved under the same key is loaded, and `save()` authenticates. */
  macKey?: Uint8Array | null;
}

/** Thrown when a file kept changing during every hashing attempt: there is
 * no digest that describes any one state of it. */
export class FileChangedWhileHashingError extends Error {
  constructor(readonly path: string) {
    super(`file changed while it was being hashed (${MAX_HASH_ATTEMPTS} attempts): ${path}`);
    this.name = "FileChangedWhileHashingError";
  }
}

interface Entry {
  dev: bigint;
  ino: bigint;
  mode: bigint;
  uid: bigint;
  gid: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  digest: string;
}

const BIGINT = { bigint: true } as const;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** Every field the trust rule compares, in one place. */
function sameStat(e: Entry | BigIntStats, st: BigIntStats): boolean {
  return (
    e.ino === st.ino &&
    e.dev === st.dev &&
    e.mtimeNs === st.mtimeNs &&
    e.ctimeNs === st.ctimeNs &&
    e.size === st.size &&
    e.mode === st.mode &&
    e.uid === st.uid &&
    e.gid === st.gid
  );
}

/** Map key: dev and ino together name one file. Both are u64, so one
 * 128-bit bigint holds them; measured cheaper than a "dev:ino" string. */
const keyOf = (dev: bigint, ino: bigint): bigint => (dev << 64n) | ino;

const wallClockNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** Stat-keyed SHA-256 cache. `digest(path)` is the only hashing entry point;
 * `save()` persists it. Not safe for concurrent writers: callers hold the
 * operation lock. */
export class HashCache {
  /** Digests served from the cache. */
  hits = 0;
  /** Digests computed by reading the file. */
  misses = 0;
  /** True when `load` found a file and threw it away (corrupt, unreadable,
   * wrong version, unsafe permissions); `discardReason` says why. */
  discarded = false;
  discardReason: string | undefined;
  /** Entries dropped on load because they were racy. */
  racyDropped = 0;
  /** Digests served from the operation memo (racy files, never saved). */
  memoHits = 0;

  private readonly entries = new Map<bigint, Entry>();
  /** Racy digests for this operation only (see the file comment); bounded
   * like `entries`, never written by `save()`. */
  private readonly memo = new Map<bigint, Entry>();
  /** File-system time of the last save (ns); 0 before the first. */
  private savedAtNs = 0n;
  private readonly maxEntries: number;
  private readonly racyWindowNs: bigint;
  private readonly memoWindowNs: bigint;
  private readonly hashFile: (path: string) => string;
  private readonly clockNs: () => bigint;
  private readonly macKey: Uint8Array | null;

  /** An empty cache that `save()`s to `path` (the state dir's cache file). */
  constructor(
    readonly path: string,
    options: HashCacheOptions = {},
  ) {
    const max = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxEntries must be a positive integer: ${max}`);
    this.maxEntries = max;
    this.racyWindowNs = BigInt(Math.max(0, Math.trunc(options.racyWindowMs ?? DEFAULT_RACY_WINDOW_MS))) * 1_000_000n;
    this.memoWindowNs = BigInt(Math.max(0, Math.trunc(options.memoWindowMs ?? DEFAULT_MEMO_WINDOW_MS))) * 1_000_000n;
    this.hashFile = options.hashFile ?? sha256FileSync;
    this.clockNs = options.clockNs ?? wallClockNs;
    this.macKey = options.macKey ?? null;
  }

  /** Load the cache at `path`. A missing file gives an empty cache; a file
   * that cannot be trusted gives an empty cache with `discarded` set (never
   * an error: the cache only saves time, it must never stop an operation). */
  static load(path: string, options: HashCacheOptions = {}): HashCache {
    const cache = new HashCache(path, options);
    let text: string;
    try {
      const st = lstatSync(path);
      if (!st.isFile()) return cache.discard("not a regular file");
      // Digests here become audit evidence: a cache others can write could
      // plant a digest for any file.
      const euid = process.geteuid?.();
      if ((st.mode & 0o022) !== 0 || (euid !== undefined && st.uid !== euid)) {
        return cache.discard("writable by another user");
      }
      text = readBoundedText(path, { max: READ_LIMIT.record, noFollow: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return cache;
      return cache.discard(`unreadable: ${(err as Error).message}`);
    }
    const body = cache.macKey ? authenticatedBody(text, cache.macKey) : text;
    if (body === null) return cache.discard("not authenticated by this signing key (saved without it, under another key, or altered)");
    const reason = cache.parse(body);
    return reason === undefined ? cache : cache.discard(reason);
  }

  private discard(reason: string): HashCache {
    this.entries.clear();
    this.savedAtNs = 0n;
    this.racyDropped = 0;
    this.discarded = true;
    this.discardReason = reason;
    return this;
  }

  /** Fill from file text; returns why it is unusable, or undefined. All or
   * nothing: one bad entry means the file is not what we wrote. */
  private parse(text: string): string | undefined {
    let doc: unknown;
    if (tooDeep(text)) return "nested too deeply";
    try {
      doc = JSON.parse(text);
    } catch {
      return "not valid JSON";
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "not a JSON object";
    const { v, saved_at_ns: savedAt, entries } = doc as Record<string, unknown>;
    if (v !== HASH_CACHE_VERSION) return `unsupported version ${JSON.stringify(v)}`;
    if (typeof savedAt !== "string" || !DECIMAL.test(savedAt)) return "bad saved_at_ns";
    if (!Array.isArray(entries)) return "entries is not an array";
    const savedAtNs = BigInt(savedAt);
    const parsed: Entry[] = [];
    for (const row of entries) {
      if (!Array.isArray(row) || row.length !== 9) return "malformed entry";
      for (let i = 0; i < 8; i++) {
        if (typeof row[i] !== "string" || !DECIMAL.test(row[i])) return "malformed entry";
      }
      if (typeof row[8] !== "string" || !HEX64.test(row[8])) return "malformed digest";
      const [dev, ino, mode, uid, gid, size, mtimeNs, ctimeNs] = (row as string[]).slice(0, 8).map(BigInt) as bigint[];
      parsed.push({ dev: dev!, ino: ino!, mode: mode!, uid: uid!, gid: gid!, size: size!, mtimeNs: mtimeNs!, ctimeNs: ctimeNs!, digest: row[8] });
    }
    this.savedAtNs = savedAtNs;
    // Keep the most recent entries if the bound shrank since the save.
    for (const e of parsed.slice(Math.max(0, parsed.length - this.maxEntries))) {
      // Racy-git: a stamp not strictly older than the save may be shared by
      // a later write of different content. Such an entry can never become
      // trustworthy (its stat is fixed), so drop it now.
      if (e.mtimeNs >= savedAtNs || e.ctimeNs >= savedAtNs) {
        this.racyDropped++;
        continue;
      }
      this.entries.set(keyOf(e.dev, e.ino), e);
    }
    return undefined;
  }

  /** Number of cached digests. */
  get size(): number {
    return this.entries.size;
  }

  /** SHA-256 (64 lowercase hex) of the regular file at `path`, from the
   * cache when its stat proves it unchanged, else by reading it. Symlinks
   * are not followed: a link has no content digest here (throws). */
  digest(path: string): string {
    // Hit path kept lean: one lstat, one key, a Map lookup, eight bigint
    // compares and an O(1) LRU move. The bigint lstat is most of the cost.
    const st = lstatSync(path, BIGINT);
    const key = keyOf(st.dev, st.ino);
    const e = this.entries.get(key);
    if (e !== undefined && sameStat(e, st)) {
      this.entries.delete(key); // move to the most-recent end
      this.entries.set(key, e);
      this.hits++;
      return e.digest;
    }
    if (e !== undefined) this.entries.delete(key); // stale: the file changed
    const m = this.memo.get(key);
    if (m !== undefined && sameStat(m, st)) {
      this.memoHits++;
      return m.digest;
    }
    return this.hashAndRemember(path, st, key);
  }

  private hashAndRemember(path: string, before: BigIntStats, key: bigint): string {
    let st = before;
    for (let attempt = 0; attempt < MAX_HASH_ATTEMPTS; attempt++) {
      if (!st.isFile()) throw new Error(`not a regular file, cannot hash: ${path}`);
      const startNs = this.clockNs();
      const digest = this.hashFile(path);
      this.misses++;
      const after = lstatSync(path, BIGINT);
      if (!sameStat(st, after)) {
        st = after; // changed mid-read: the digest may mix two versions
        continue;
      }
      // Changed too recently to trust a later run's stat comparison: not
      // saved; kept for this operation when older than the memo window, else
      // (changed within a tick or so of the read) not remembered at all.
      const older = (windowNs: bigint) => st.mtimeNs < startNs - windowNs && st.ctimeNs < startNs - windowNs;
      if (older(this.racyWindowNs)) this.remember(this.entries, key, st, digest);
      else if (older(this.memoWindowNs)) this.remember(this.memo, key, st, digest);
      return digest;
    }
    throw new FileChangedWhileHashingError(path);
  }

  private remember(into: Map<bigint, Entry>, key: bigint, st: BigIntStats, digest: string): void {
    into.set(key, {
      dev: st.dev,
      ino: st.ino,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      mtimeNs: st.mtimeNs,
      ctimeNs: st.ctimeNs,
      digest,
    });
    if (into.size > this.maxEntries) {
      // The first key in insertion order is the least recently used.
      const oldest = into.keys().next().value as bigint;
      into.delete(oldest);
    }
  }

  /** Write the cache to `path` atomically (temp file, fsync, rename, fsync
   * the directory): a crash leaves the old file or the new, never half. */
  save(): void {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const fd = openSync(tmp, "wx", 0o600);
    let open = true;
    try {
      fchmodSync(fd, 0o600); // exact mode whatever the umask
      // The save moment on the file system's clock: creation stamped the
      // temp file. Taking it before writing errs on the safe (older) side.
      const savedAtNs = fstatSync(fd, BIGINT).mtimeNs;
      const rows: string[] = [];
      for (const e of this.entries.values()) {
        rows.push(
          JSON.stringify([
            `${e.dev}`, `${e.ino}`, `${e.mode}`, `${e.uid}`, `${e.gid}`,
            `${e.size}`, `${e.mtimeNs}`, `${e.ctimeNs}`, e.digest,
          ]),
        );
      }
      const plain =
        `{"v":${HASH_CACHE_VERSION},"saved_at_ns":"${savedAtNs}","entries":[` +
        (rows.length ? `\n${rows.join(",\n")}\n` : "") +
        "]}\n";
      const text = this.macKey ? `${MAC_HEAD}${hmacHex(this.macKey, plain)}",${plain.slice(1)}` : plain;
      const bytes = Buffer.from(text, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      open = false;
      closeSync(fd);
      renameSync(tmp, this.path);
      this.savedAtNs = savedAtNs;
    } catch (err) {
      if (open) closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd); // make the rename itself durable
    } finally {
      closeSync(dfd);
    }
  }

  /** File-system time (ns) of the last save or of the loaded file; 0n if never saved. */
  get savedAt(): bigint {
    return this.savedAtNs;
  }
}
