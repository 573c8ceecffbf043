/** Is this host's history an extension of what the fleet already holds?
 * Pure: RFC 9162 consistency between the last checkpoint the fleet holds
 * for the host and the host's current tree, plus the ledger lines the fleet
 * holds beyond that checkpoint (pushed, but not yet covered by one). */
import { b64 } from "../encoding/base64.ts";
import { consistencyProof, rootHash, verifyConsistency } from "../audit/merkle.ts";

export interface HeldState {
  /** Ledger lines the fleet holds for the host (they are seq 0..count-1). */
  count: number;
  /** The largest checkpoint the fleet holds. */
  checkpoint: { size: number; root: Uint8Array } | null;
  /** The held ledger lines from checkpoint.size (or 0) on, by seq. */
  tail: Map<number, string>;
}

export interface LocalState {
  lines: readonly string[];
  leaves: readonly Uint8Array[];
  /** The host's current signed checkpoint. */
  checkpoint: { size: number; root: Uint8Array } | null;
}

export type HistoryVerdict =
  | { ok: true; proof: Uint8Array[]; proofFrom: number; proofTo: number }
  | { ok: false; kind: "rewrite" | "truncated"; proof: Uint8Array[]; proofTo: number; message: string };

/** Compare; on success, the consistency proof from the held checkpoint to
 * the host's (or, without one, to its whole ledger). */
export function compareHistory(held: HeldState, local: LocalState): HistoryVerdict {
  const n = local.lines.length;
  const m = held.checkpoint?.size ?? 0;
  const to = local.checkpoint && local.checkpoint.size >= m ? local.checkpoint.size : n;
  if (held.count > n || m > n) {
    return { ok: false, kind: "truncated", proof: [], proofTo: n, message: `the fleet holds ${Math.max(held.count, m)} operations of this host, its ledger now has ${n}: history was truncated` };
  }
  let proof: Uint8Array[] = [];
  if (held.checkpoint && m > 0) {
    const leaves = local.leaves.slice(0, to);
    proof = consistencyProof(m, leaves);
    const root2 = local.checkpoint && to === local.checkpoint.size ? local.checkpoint.root : rootHash(leaves);
    if (!verifyConsistency(m, to, held.checkpoint.root, root2, proof)) {
      return { ok: false, kind: "rewrite", proof, proofTo: to, message: `no consistency proof from the fleet's checkpoint (size ${m}, root ${b64(held.checkpoint.root)}) to this host's tree of size ${to}: history was rewritten` };
    }
  }
  for (const [seq, line] of held.tail) {
    if (local.lines[seq] !== line) return { ok: false, kind: "rewrite", proof, proofTo: to, message: `ledger line ${seq} differs from the one the fleet holds: history was rewritten` };
  }
  return { ok: true, proof, proofFrom: m, proofTo: to };
}

/** The first seq at which two ledgers differ (the shorter one's length when
 * one is a prefix of the other; -1 when equal). */
export function firstDifference(held: readonly string[], local: readonly string[]): number {
  const k = Math.min(held.length, local.length);
  for (let i = 0; i < k; i++) if (held[i] !== local[i]) return i;
  return held.length === local.length ? -1 : k;
}
