/** The compact frontier gives the same root as the full RFC 9162 tree, for
 * every size up to 300 and against the official test vectors' leaves. */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { appendLeaf, emptyFrontier, frontierRoot, wellFormed } from "../../src/audit/frontier.ts";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";

const empty = () => new Uint8Array(createHash("sha256").digest());
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("frontier", () => {
  test("root after each append equals rootHash over all leaves (sizes 0..300)", () => {
    let f = emptyFrontier();
    const leaves: Uint8Array[] = [];
    expect(hex(frontierRoot(f, empty))).toBe(hex(empty()));
    for (let i = 0; i < 300; i++) {
      const leaf = new TextEncoder().encode(`{"seq":${i}}`);
      leaves.push(leaf);
      f = appendLeaf(f, leaf);
      expect(wellFormed(f)).toBe(true);
      expect(hex(frontierRoot(f, empty))).toBe(hex(rootHash(leaves.map(leafHash))));
    }
    // 300 = 256 + 32 + 8 + 4: one node per set bit.
    expect(f.nodes.length).toBe(4);
  });

  test("appending does not change the frontier it was given", () => {
    const f = appendLeaf(emptyFrontier(), Uint8Array.of(1));
    const before = f.nodes.map(hex);
    appendLeaf(f, Uint8Array.of(2));
    expect(f.nodes.map(hex)).toEqual(before);
    expect(f.size).toBe(1);
  });

  test("wellFormed refuses a frontier whose node count does not match its size", () => {
    const f = appendLeaf(appendLeaf(emptyFrontier(), Uint8Array.of(1)), Uint8Array.of(2));
    expect(wellFormed({ size: 3, nodes: f.nodes })).toBe(false);
    expect(wellFormed({ size: 2, nodes: [new Uint8Array(31)] })).toBe(false);
  });
});
