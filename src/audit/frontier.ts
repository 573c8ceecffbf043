/** The compact frontier of an RFC 9162 Merkle tree: the roots of the perfect
 * subtrees along its right edge (O(log n) hashes), which is all an append
 * needs. Appending a leaf and computing the root cost O(log n), so writing
 * the n-th operation no longer re-reads and re-hashes the n-1 before it.
 * Pure; the same tree as merkle.ts (tested against rootHash). */
import { leafHash, nodeHash } from "./merkle.ts";

export interface Frontier {
  /** Leaves in the tree. */
  size: number;
  /** Perfect-subtree roots, left to right; their sizes are the powers of two
   * in `size`'s binary form, largest first. */
  nodes: Uint8Array[];
}

export const emptyFrontier = (): Frontier => ({ size: 0, nodes: [] });

/** The frontier with one more leaf (the leaf's bytes, not its hash). */
export function appendLeaf(f: Frontier, leaf: Uint8Array): Frontier {
  const nodes = [...f.nodes];
  let node = leafHash(leaf);
  // Each trailing 1 bit of the old size is a subtree of the same size as the
  // one being carried: merge them, like a binary counter's carry.
  for (let s = f.size; s & 1; s >>>= 1) node = nodeHash(nodes.pop()!, node);
  nodes.push(node);
  return { size: f.size + 1, nodes };
}

/** The tree's root (MTH of RFC 9162); the empty tree's is SHA-256(""). */
export function frontierRoot(f: Frontier, emptyRoot: () => Uint8Array): Uint8Array {
  if (f.nodes.length === 0) return emptyRoot();
  let acc = f.nodes[f.nodes.length - 1]!;
  for (let i = f.nodes.length - 2; i >= 0; i--) acc = nodeHash(f.nodes[i]!, acc);
  return acc;
}

/** Whether `nodes` has the shape `size` implies (one node per set bit). */
export function wellFormed(f: Frontier): boolean {
  let bits = 0;
  for (let s = f.size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
  return Number.isSafeInteger(f.size) && f.size >= 0 && f.nodes.length === bits && f.nodes.every((n) => n.length === 32);
}
