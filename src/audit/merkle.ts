/**
 * RFC 9162 (Certificate Transparency v2) Merkle tree over SHA-256: the tree
 * over ledger lines whose root every checkpoint signs.
 *
 *   leaf hash = SHA-256(0x00 || leaf bytes)
 *   node hash = SHA-256(0x01 || left || right)
 *
 * The distinct prefixes keep a leaf from ever passing as an inner node
 * (second-preimage attacks on the tree shape). Proof generation follows the
 * recursive definitions of RFC 9162 2.1.3.1 and 2.1.4.1; verification follows
 * the iterative algorithms of 2.1.3.2 and 2.1.4.2 over bigint indexes, since
 * tree sizes are uint64 on the wire. Verifiers return false, never throw, for
 * any bad input (wrong hash length, index out of range, short or long proof).
 */
import { nodeCrypto } from "../sys/index.ts";
import { sha256Into } from "../sys/digest.ts";

export const HASH_BYTES = 32;

/** Leaf hashes in ledger order: an array, or PackedHashes (one buffer). */
export interface LeafHashList {
  readonly length: number;
  at(index: number): Uint8Array | undefined;
  slice(start?: number, end?: number): LeafHashList;
}

/** Many 32-byte hashes in one buffer: a large ledger's leaves without a
 * typed-array object (and its own allocation) per line. `at` returns a view. */
export class PackedHashes implements LeafHashList {
  constructor(private readonly bytes: Uint8Array, readonly length = bytes.length / HASH_BYTES) {}

  /** Room for `n` hashes, filled by `into`. */
  static alloc(n: number): PackedHashes {
    return new PackedHashes(new Uint8Array(n * HASH_BYTES));
  }

  /** The leaf hashes (SHA-256(0x00 || leaf), as `leafHash`) of `n` leaves,
   * each hashed from one reused scratch copy: no allocation per leaf. */
  static ofLeaves(n: number, leaf: (i: number) => Uint8Array): PackedHashes {
    const out = PackedHashes.alloc(n);
    let scratch = new Uint8Array(1024); // scratch[0] stays LEAF_PREFIX's 0x00
    for (let i = 0; i < n; i++) {
      const data = leaf(i);
      if (data.length + 1 > scratch.length) scratch = new Uint8Array(2 * (data.length + 1));
      scratch.set(data, 1);
      sha256Into(scratch.subarray(0, data.length + 1), out.into(i));
    }
    return out;
  }

  /** Where hash `i` is written (a view into the buffer). */
  into(i: number): Uint8Array {
    return this.bytes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  at(i: number): Uint8Array | undefined {
    return i >= 0 && i < this.length ? this.into(i) : undefined;
  }

  slice(start = 0, end = this.length): PackedHashes {
    const a = Math.max(0, Math.min(start, this.length));
    const b = Math.max(a, Math.min(end, this.length));
    return new PackedHashes(this.bytes.subarray(a * HASH_BYTES, b * HASH_BYTES), b - a);
  }
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = nodeCrypto().createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, data);
}

/** SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** Largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[lo:hi]). */
function subtreeRoot(leaves: LeafHashList, lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return leaves.at(lo)!;
  const k = splitPoint(n);
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi));
}

/** Root of the tree over raw leaves (ledger lines without their newline). */
export function merkleRootOf(leaves: Uint8Array[]): Uint8Array {
  return rootHash(leaves.map(leafHash));
}

/** Root hash of the tree over `leafHashes` (already leaf-hashed). The empty
 * tree's root is SHA-256(""). */
export function rootHash(leafHashes: LeafHashList): Uint8Array {
  if (leafHashes.length === 0) return sha256();
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

function checkIndex(name: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${name} ${v} out of range [0, ${max}]`);
  }
}

/** Audit path PATH(index, D[n]) for leaf `index` (RFC 9162 2.1.3.1). */
export function inclusionProof(index: number, leafHashes: LeafHashList): Uint8Array[] {
  checkIndex("leaf index", index, leafHashes.length - 1);
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = leafHashes.length;
  let m = index;
  // Descend towards the leaf; the sibling subtree at each level is a proof
  // element, emitted leaf-first, so collect then reverse.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      path.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      m -= k;
    }
  }
  return path.reverse();
}

/** Consistency proof PROOF(m, D[n]) that the first m leaves form a prefix of
 * the tree over all `leafHashes` (RFC 9162 2.1.4.1). Empty when m = n. */
export function consistencyProof(m: number, leafHashes: LeafHashList): Uint8Array[] {
  const n = leafHashes.length;
  if (m === n) return [];
  checkIndex("old tree size", m, n);
  if (m === 0) throw new RangeError("no consistency proof from the empty tree");
  // SUBPROOF(m, D[lo:hi], b), iteratively; elements come out root-first.
  const proof: Uint8Array[] = [];
  let lo = 0;
  let hi = n;
  let b = true;
  while (m !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m <= k) {
      proof.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      proof.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      m -= k;
      b = false;
    }
  }
  if (!b) proof.push(subtreeRoot(leafHashes, lo, hi));
  return proof.reverse();
}

function toBig(v: bigint | number): bigint | null {
  if (typeof v === "bigint") return v;
  return Number.isSafeInteger(v) ? BigInt(v) : null;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_BYTES;
}

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Verify that `leaf` (a leaf hash) is at `index` in the tree of `size`
 * leaves with root `root` (RFC 9162 2.1.3.2). */
export function verifyInclusion(
  index: bigint | number,
  size: bigint | number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[] | null,
  root: Uint8Array,
): boolean {
  const idx = toBig(index);
  const n = toBig(size);
  const path = proof ?? [];
  if (idx === null || n === null || idx < 0n || idx >= n) return false;
  if (!isHash(leaf) || !isHash(root) || !path.every(isHash)) return false;
  let fn = idx;
  let sn = n - 1n;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return false; // proof longer than the path
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      // On the right edge of an unbalanced tree, skip the levels where this
      // node has no sibling.
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalHash(r, root);
}

/**
 * Verify that the tree of `size1` leaves with `root1` is a prefix of the tree
 * of `size2` leaves with `root2` (RFC 9162 2.1.4.2). Equal sizes need an
 * empty proof and equal roots; size1 = 0 is always rejected (as the
 * transparency-dev "additional" vectors require).
 */
export function verifyConsistency(
  size1: bigint | number,
  size2: bigint | number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[] | null,
): boolean {
  const m = toBig(size1);
  const n = toBig(size2);
  const path = proof ?? [];
  // Nothing is consistent with the empty tree: a proof from size 0 proves
  // nothing, so it is refused rather than vacuously accepted.
  if (m === null || n === null || m <= 0n || m > n) return false;
  // Equal sizes: the trees are the same iff the roots are (proof must be empty).
  if (m === n) return path.length === 0 && equalHash(root1, root2);
  if (!isHash(root1) || !isHash(root2) || !path.every(isHash)) return false;
  if (path.length === 0) return false;

  // If size1 is a power of two, its root is itself the starting subtree.
  const isPow2 = (m & (m - 1n)) === 0n;
  const nodes = isPow2 ? [root1, ...path] : [...path];
  let fn = m - 1n;
  let sn = n - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalHash(fr, root1) && equalHash(sr, root2);
}
