import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import {
  type BigIntStats,
  appendFileSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileChangedWhileHashingError, HashCache, hashCacheMacKey, type HashCacheOptions } from "../../src/hashing/cache.ts";
import { sha256Hex, sha256FileSync } from "../../src/hashing/hash.ts";

// Small racy window so tests only wait a little for files to become
// trustworthy; ctime cannot be back-dated, so waiting is the only way.
const WINDOW_MS = 20;
const settle = () => Bun.sleep(WINDOW_MS * 3);
const opts = (extra: HashCacheOptions = {}): HashCacheOptions => ({ racyWindowMs: WINDOW_MS, ...extra });
const OLD_MTIME = 1_600_000_000; // whole seconds: restorable exactly

let dir: string;
let cachePath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pkgswitch-hcache-"));
  mkdirSync(join(dir, "files"));
  mkdirSync(join(dir, "state"));
  cachePath = join(dir, "state", "hash-cache.json");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, "files", name);
  writeFileSync(p, content);
  return p;
}

describe("HashCache hits and misses", () => {
  test("hit on an unchanged file, returning the true digest", async () => {
    const p = file("a", "alpha");
    await settle();
    const cache = new HashCache(cachePath, opts());
    expect(cache.digest(p)).toBe(sha256Hex("alpha"));
    expect([cache.hits, cache.misses]).toEqual([0, 1]);
    expect(cache.digest(p)).toBe(sha256Hex("alpha"));
    expect(cache.digest(p)).toBe(sha256Hex("alpha"));
    expect([cache.hits, cache.misses]).toEqual([2, 1]);
    expect(cache.size).toBe(1);
  });

  test("a hit really comes from the cache (injected hash called once)", async () => {
    const p = file("a", "alpha");
    await settle();
    let calls = 0;
    const cache = new HashCache(cachePath, opts({ hashFile: (x) => (calls++, sha256FileSync(x)) }));
    cache.digest(p);
    cache.digest(p);
    cache.digest(p);
    expect(calls).toBe(1);
  });

  test("miss after same-size content change with mtime restored (ctime moved)", async () => {
    const p = file("a", "aaaa");
    utimesSync(p, OLD_MTIME, OLD_MTIME);
    await settle();
    const cache = new HashCache(cachePath, opts());
    expect(cache.digest(p)).toBe(sha256Hex("aaaa"));
    const before = lstatSync(p, { bigint: true });
    writeFileSync(p, "bbbb");
    utimesSync(p, OLD_MTIME, OLD_MTIME);
    const after = lstatSync(p, { bigint: true });
    // Only ctime tells the two versions apart.
    expect(after.size).toBe(before.size);
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ino).toBe(before.ino);
    expect(after.ctimeNs).not.toBe(before.ctimeNs);
    expect(cache.digest(p)).toBe(sha256Hex("bbbb"));
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
  });

  test("miss after a mode change", async () => {
    const p = file("a", "x");
    await settle();
    const cache = new HashCache(cachePath, opts());
    cache.digest(p);
    chmodSync(p, 0o755);
    await settle();
    cache.digest(p);
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
  });

  test("a replaced file (new inode, same name) is re-hashed", async () => {
    const p = file("a", "one");
    await settle();
    const cache = new HashCache(cachePath, opts());
    expect(cache.digest(p)).toBe(sha256Hex("one"));
    const q = file("a.new", "two");
    rmSync(p);
    writeFileSync(p, readFileSync(q));
    await settle();
    expect(cache.digest(p)).toBe(sha256Hex("two"));
    expect(cache.misses).toBe(2);
  });

  test("a freshly changed file is hashed but not cached (racy)", () => {
    const p = file("fresh", "new content");
    const cache = new HashCache(cachePath); // default 2 s window
    expect(cache.digest(p)).toBe(sha256Hex("new content"));
    expect(cache.digest(p)).toBe(sha256Hex("new content"));
    expect([cache.hits, cache.misses, cache.size]).toEqual([0, 2, 0]);
  });

  test("symlinks and directories are refused, not followed", () => {
    const p = file("t", "target");
    const link = join(dir, "files", "link");
    symlinkSync(p, link);
    const cache = new HashCache(cachePath, opts());
    expect(() => cache.digest(link)).toThrow(/not a regular file/);
    expect(() => cache.digest(join(dir, "files"))).toThrow(/not a regular file/);
    expect(cache.size).toBe(0);
  });
});

describe("HashCache operation memo (racy files, one operation only)", () => {
  // A clock 1 s ahead: every file just written is older than the memo window
  // (200 ms) but inside the racy window (2 s) — the freshly unpacked
  // multicall binary that 103 applet links resolve to.
  const aheadNs = () => BigInt(Date.now()) * 1_000_000n + 1_000_000_000n;

  test("a racy file is read once per operation, and never saved", () => {
    const p = file("multicall", "big binary");
    let reads = 0;
    const hashFile = (x: string) => (reads++, sha256FileSync(x));
    const cache = new HashCache(cachePath, { hashFile, clockNs: aheadNs });
    for (let i = 0; i < 5; i++) expect(cache.digest(p)).toBe(sha256Hex("big binary"));
    expect([reads, cache.misses, cache.memoHits, cache.size]).toEqual([1, 1, 4, 0]);
    cache.save();
    // The next operation does not inherit it: read again.
    const next = HashCache.load(cachePath, { hashFile, clockNs: aheadNs });
    expect(next.digest(p)).toBe(sha256Hex("big binary"));
    expect(reads).toBe(2);
  });

  test("a file changed in place (same size) right after it was hashed is caught", () => {
    // Real clock: the file is younger than the memo window, so nothing may
    // be remembered — a rewrite in the same timestamp tick leaves the stat
    // unchanged, and only a re-read can see it.
    const p = file("tick", "aaaa");
    const cache = new HashCache(cachePath);
    expect(cache.digest(p)).toBe(sha256Hex("aaaa"));
    writeFileSync(p, "bbbb");
    expect(cache.digest(p)).toBe(sha256Hex("bbbb"));
    expect([cache.memoHits, cache.misses]).toEqual([0, 2]);
  });

  test("a memoized file changed in place later in the operation is caught", async () => {
    const p = file("later", "aaaa");
    await Bun.sleep(300); // older than the memo window, younger than the racy one
    const cache = new HashCache(cachePath);
    expect(cache.digest(p)).toBe(sha256Hex("aaaa"));
    expect(cache.digest(p)).toBe(sha256Hex("aaaa"));
    expect([cache.memoHits, cache.misses, cache.size]).toEqual([1, 1, 0]);
    writeFileSync(p, "bbbb"); // same size, same inode: a new ctime tick
    expect(cache.digest(p)).toBe(sha256Hex("bbbb"));
    expect(cache.misses).toBe(2);
  });

  test("a memoized file replaced by rename (new inode) is caught", () => {
    const p = file("swap", "old!");
    const cache = new HashCache(cachePath, { clockNs: aheadNs });
    expect(cache.digest(p)).toBe(sha256Hex("old!"));
    const q = file("swap.new", "new!");
    renameSync(q, p);
    expect(cache.digest(p)).toBe(sha256Hex("new!"));
  });
});

describe("HashCache file changed while hashing", () => {
  test("a digest taken while the file changed is never stored", async () => {
    const p = file("m", "original");
    await settle();
    let calls = 0;
    const hashFile = (x: string) => {
      const d = sha256FileSync(x);
      // First read: the file is rewritten while "we are reading it".
      if (calls++ === 0) appendFileSync(x, " and more");
      return d;
    };
    // A clock far in the future makes every file old, so only the
    // stat-before/after rule can keep the torn digest out.
    const cache = new HashCache(cachePath, opts({ hashFile, clockNs: () => 10n ** 30n }));
    expect(cache.digest(p)).toBe(sha256Hex("original and more"));
    expect(calls).toBe(2); // re-read after the change was seen
    // What got cached (if anything) is the stable second read, never the first.
    expect(cache.digest(p)).toBe(sha256Hex("original and more"));
    expect(calls).toBe(2);
    expect(cache.hits).toBe(1);
  });

  test("a file that never holds still throws and caches nothing", async () => {
    const p = file("m", "x");
    await settle();
    let n = 0;
    const hashFile = (x: string) => {
      const d = sha256FileSync(x);
      appendFileSync(x, String(n++));
      return d;
    };
    const cache = new HashCache(cachePath, opts({ hashFile, clockNs: () => 10n ** 30n }));
    expect(() => cache.digest(p)).toThrow(FileChangedWhileHashingError);
    expect(cache.size).toBe(0);
  });
});

describe("HashCache bound and eviction", () => {
  test("never holds more than maxEntries; least recently used goes first", async () => {
    const paths = Array.from({ length: 8 }, (_, i) => file(`f${i}`, `content ${i}`));
    await settle();
    const cache = new HashCache(cachePath, opts({ maxEntries: 5 }));
    for (const p of paths.slice(0, 5)) cache.digest(p);
    expect(cache.size).toBe(5);
    cache.digest(paths[0]!); // f0 becomes most recent; f1 is now the oldest
    cache.digest(paths[5]!); // evicts f1
    cache.digest(paths[6]!); // evicts f2
    cache.digest(paths[7]!); // evicts f3
    expect(cache.size).toBe(5);
    const missesBefore = cache.misses;
    for (const i of [0, 4, 5, 6, 7]) cache.digest(paths[i]!);
    expect(cache.misses).toBe(missesBefore); // all five retained
    cache.digest(paths[1]!);
    expect(cache.misses).toBe(missesBefore + 1); // f1 was evicted
    expect(cache.size).toBe(5);
  });

  test("load keeps only the most recent maxEntries", async () => {
    const paths = Array.from({ length: 6 }, (_, i) => file(`f${i}`, `c${i}`));
    await settle();
    const big = new HashCache(cachePath, opts());
    for (const p of paths) big.digest(p);
    big.digest(paths[0]!); // most recent
    big.save();
    const small = HashCache.load(cachePath, opts({ maxEntries: 3 }));
    expect(small.size).toBe(3);
    for (const i of [0, 5, 4]) small.digest(paths[i]!);
    expect([small.hits, small.misses]).toEqual([3, 0]);
  });

  test("rejects a non-positive bound", () => {
    expect(() => new HashCache(cachePath, { maxEntries: 0 })).toThrow(RangeError);
  });
});

describe("HashCache persistence", () => {
  test("entries survive save/load across instances", async () => {
    const a = file("a", "alpha");
    const b = file("b", "beta");
    await settle();
    const first = new HashCache(cachePath, opts());
    first.digest(a);
    first.digest(b);
    first.save();
    const second = HashCache.load(cachePath, opts());
    expect(second.discarded).toBe(false);
    expect(second.size).toBe(2);
    expect(second.digest(a)).toBe(sha256Hex("alpha"));
    expect(second.digest(b)).toBe(sha256Hex("beta"));
    expect([second.hits, second.misses]).toEqual([2, 0]);
  });

  test("file is 0600, numbers are decimal strings, no temp files remain", async () => {
    const a = file("a", "alpha");
    await settle();
    const cache = new HashCache(cachePath, opts());
    cache.digest(a);
    cache.save();
    cache.save(); // overwrite in place
    expect(statSync(cachePath).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "state"))).toEqual(["hash-cache.json"]);
    const doc = JSON.parse(readFileSync(cachePath, "utf8"));
    expect(doc.v).toBe(1);
    expect(doc.saved_at_ns).toMatch(/^[1-9][0-9]*$/);
    const st = lstatSync(a, { bigint: true });
    expect(doc.entries).toEqual([
      [
        `${st.dev}`, `${st.ino}`, `${st.mode}`, `${st.uid}`, `${st.gid}`,
        `${st.size}`, `${st.mtimeNs}`, `${st.ctimeNs}`, sha256Hex("alpha"),
      ],
    ]);
    // The save moment is on the file system's clock, after the file's stamps.
    expect(BigInt(doc.saved_at_ns)).toBeGreaterThan(st.ctimeNs);
    expect(cache.savedAt).toBe(BigInt(doc.saved_at_ns));
  });

  test("save creates the state directory", async () => {
    const nested = join(dir, "state", "deeper", "cache.json");
    const cache = new HashCache(nested, opts());
    cache.save();
    expect(HashCache.load(nested).discarded).toBe(false);
  });

  test("missing file is an empty cache, not a discard", () => {
    const cache = HashCache.load(join(dir, "state", "none.json"));
    expect(cache.discarded).toBe(false);
    expect(cache.size).toBe(0);
  });
});

describe("HashCache racy entries from disk (git's rule)", () => {
  /** Save a real cache for `p`, then rewrite its digest and saved_at_ns. */
  async function forged(p: string, savedAt: (st: BigIntStats) => bigint) {
    await settle();
    const c = new HashCache(cachePath, opts());
    c.digest(p);
    c.save();
    const doc = JSON.parse(readFileSync(cachePath, "utf8"));
    doc.entries[0][8] = "f".repeat(64); // a digest no file has
    doc.saved_at_ns = `${savedAt(lstatSync(p, { bigint: true }))}`;
    writeFileSync(cachePath, JSON.stringify(doc), { mode: 0o600 });
  }

  test("control: a non-racy entry is trusted as stored", async () => {
    const p = file("r", "real");
    await forged(p, (st) => st.ctimeNs + 1n);
    const cache = HashCache.load(cachePath, opts());
    expect(cache.digest(p)).toBe("f".repeat(64)); // proves the stored digest is used
    expect(cache.hits).toBe(1);
  });

  test("entry whose mtime is not older than the save is re-hashed", async () => {
    const p = file("r", "real");
    await forged(p, (st) => st.mtimeNs); // equal: not strictly older
    const cache = HashCache.load(cachePath, opts());
    expect(cache.racyDropped).toBe(1);
    expect(cache.digest(p)).toBe(sha256Hex("real"));
    expect([cache.hits, cache.misses]).toEqual([0, 1]);
  });

  test("entry whose ctime is not older than the save is re-hashed", async () => {
    const p = file("r", "real");
    utimesSync(p, OLD_MTIME, OLD_MTIME); // mtime old, ctime recent
    await forged(p, (st) => st.ctimeNs);
    const cache = HashCache.load(cachePath, opts());
    expect(cache.racyDropped).toBe(1);
    expect(cache.digest(p)).toBe(sha256Hex("real"));
  });
});

describe("HashCache discards what it cannot trust", () => {
  const cases: Record<string, string> = {
    garbage: "this is not json {",
    truncated: '{"v":1,"saved_at_ns":"17","entries":[["1","2"',
    "wrong version": '{"v":2,"saved_at_ns":"17","entries":[]}',
    "no version": '{"saved_at_ns":"17","entries":[]}',
    array: "[]",
    "bad saved_at": '{"v":1,"saved_at_ns":17,"entries":[]}',
    "non-decimal field": `{"v":1,"saved_at_ns":"17","entries":[["0x1","2","3","4","5","6","7","8","${"a".repeat(64)}"]]}`,
    "empty field": `{"v":1,"saved_at_ns":"17","entries":[["","2","3","4","5","6","7","8","${"a".repeat(64)}"]]}`,
    "uppercase digest": `{"v":1,"saved_at_ns":"17","entries":[["1","2","3","4","5","6","7","8","${"A".repeat(64)}"]]}`,
    "short row": `{"v":1,"saved_at_ns":"17","entries":[["1","2","3","4","5","6","7","${"a".repeat(64)}"]]}`,
  };
  for (const [name, text] of Object.entries(cases)) {
    test(`${name}: discarded, empty, still usable`, async () => {
      writeFileSync(cachePath, text, { mode: 0o600 });
      const cache = HashCache.load(cachePath, opts());
      expect(cache.discarded).toBe(true);
      expect(cache.discardReason).toBeString();
      expect(cache.size).toBe(0);
      const p = file("a", "alpha");
      expect(cache.digest(p)).toBe(sha256Hex("alpha"));
      cache.save(); // replaces the corrupt file
      expect(HashCache.load(cachePath, opts()).discarded).toBe(false);
    });
  }

  test("a well-formed file writable by others is discarded", async () => {
    const p = file("a", "alpha");
    await settle();
    const c = new HashCache(cachePath, opts());
    c.digest(p);
    c.save();
    chmodSync(cachePath, 0o666);
    const cache = HashCache.load(cachePath, opts());
    expect(cache.discarded).toBe(true);
    expect(cache.discardReason).toMatch(/writable/);
    expect(cache.size).toBe(0);
  });
});

describe("HashCache authenticated form (a MAC under the signing key)", () => {
  const keyA = hashCacheMacKey(new Uint8Array(32).fill(1));
  const keyB = hashCacheMacKey(new Uint8Array(32).fill(2));

  /** A cache of one trusted entry for `p`, saved with `macKey`. */
  async function saved(p: string, macKey: Uint8Array | null): Promise<void> {
    await settle();
    const c = new HashCache(cachePath, opts({ macKey }));
    c.digest(p);
    c.save();
  }

  test("saved and loaded under the same key: the entries are used", async () => {
    const a = file("a", "alpha");
    await saved(a, keyA);
    const text = readFileSync(cachePath, "utf8");
    expect(text).toMatch(/^\{"mac":"hmac-sha256:[0-9a-f]{64}","v":1,"saved_at_ns":"[0-9]+","entries":\[/);
    const c = HashCache.load(cachePath, opts({ macKey: keyA }));
    expect(c.discarded).toBe(false);
    expect(c.digest(a)).toBe(sha256Hex("alpha"));
    expect([c.hits, c.misses]).toEqual([1, 0]);
  });

  test("a planted digest with a stat-matching entry is discarded, and the true digest is computed", async () => {
    const a = file("a", "alpha");
    await saved(a, keyA);
    // What a container's root can do: rewrite the entry's digest, keep every
    // stat field (and the old MAC, which it cannot recompute).
    const forged = readFileSync(cachePath, "utf8").replace(sha256Hex("alpha"), sha256Hex("something else"));
    writeFileSync(cachePath, forged, { mode: 0o600 });
    const c = HashCache.load(cachePath, opts({ macKey: keyA }));
    expect(c.discarded).toBe(true);
    expect(c.discardReason).toMatch(/not authenticated/);
    expect(c.digest(a)).toBe(sha256Hex("alpha"));
    expect([c.hits, c.misses]).toEqual([0, 1]);
    // Control: without a key (an unsigned setup) the same forged file is read as before.
    expect(HashCache.load(cachePath, opts()).digest(a)).toBe(sha256Hex("something else"));
  });

  test("a file saved without a key, or under another key, is not loaded by a keyed cache", async () => {
    const a = file("a", "alpha");
    await saved(a, null);
    expect(HashCache.load(cachePath, opts({ macKey: keyA })).discarded).toBe(true);
    await saved(a, keyB);
    expect(HashCache.load(cachePath, opts({ macKey: keyA })).discarded).toBe(true);
    expect(HashCache.load(cachePath, opts({ macKey: keyB })).discarded).toBe(false);
  });

  test("an authenticated file is read by an unkeyed cache (unsigned setups)", async () => {
    const a = file("a", "alpha");
    await saved(a, keyA);
    const c = HashCache.load(cachePath, opts());
    expect(c.discarded).toBe(false);
    expect(c.digest(a)).toBe(sha256Hex("alpha"));
    expect(c.hits).toBe(1);
  });

  test("a MAC head in front of other text is discarded, whatever follows", async () => {
    const a = file("a", "alpha");
    await saved(a, keyA);
    const text = readFileSync(cachePath, "utf8");
    for (const bad of [text.replace('",', '" ,'), text.slice(0, 40), text.replace("]}\n", '],"x":1}\n'), text.replace("hmac-sha256:", "hmac-sha512:")]) {
      writeFileSync(cachePath, bad, { mode: 0o600 });
      expect(HashCache.load(cachePath, opts({ macKey: keyA })).discarded).toBe(true);
    }
  });
});
