import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { createHash } from "node:crypto";
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  PackedHashes,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "../../src/audit/merkle.ts";
import { VECTORS } from "../helpers/paths.ts";

const MERKLE = join(VECTORS, "merkle");
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith(".json") ? [path] : [];
  });
}

/** JSON.parse loses integers above 2^53 (e.g. 18446744073709551615): quote
 * every size/index before parsing and read them back as BigInt. */
function parseVector(path: string): Record<string, unknown> {
  const text = readFileSync(path, "utf8").replace(
    /("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(-?\d+)/g,
    '$1"$2"',
  );
  return JSON.parse(text) as Record<string, unknown>;
}
const proofOf = (v: unknown) => (v === null ? null : (v as string[]).map(b64));

const inclusionFiles = jsonFiles(join(MERKLE, "inclusion"));
const consistencyFiles = jsonFiles(join(MERKLE, "consistency"));

describe("transparency-dev vectors", () => {
  test("the vector set is complete and includes integers beyond 2^53", () => {
    expect(inclusionFiles.length + consistencyFiles.length).toBeGreaterThan(150);
    const big = [...inclusionFiles, ...consistencyFiles].filter((f) =>
      readFileSync(f, "utf8").includes("18446744073709551615"),
    );
    expect(big.length).toBeGreaterThan(0);
    expect(BigInt(parseVector(big[0]!).leafIdx as string)).toBe(18446744073709551615n);
  });

  for (const file of inclusionFiles) {
    const v = parseVector(file);
    test(`inclusion/${relative(join(MERKLE, "inclusion"), file)}: ${v.desc}`, () => {
      const ok = verifyInclusion(
        BigInt(v.leafIdx as string),
        BigInt(v.treeSize as string),
        b64(v.leafHash as string),
        proofOf(v.proof),
        b64(v.root as string),
      );
      expect(ok).toBe(!v.wantErr);
    });
  }

  for (const file of consistencyFiles) {
    const v = parseVector(file);
    test(`consistency/${relative(join(MERKLE, "consistency"), file)}: ${v.desc}`, () => {
      const ok = verifyConsistency(
        BigInt(v.size1 as string),
        BigInt(v.size2 as string),
        b64(v.root1 as string),
        b64(v.root2 as string),
        proofOf(v.proof),
      );
      expect(ok).toBe(!v.wantErr);
    });
  }

  test("both outcomes occur in the vectors (a verifier returning a constant would fail)", () => {
    const wants = [...inclusionFiles, ...consistencyFiles].map((f) => parseVector(f).wantErr);
    expect(wants.filter((w) => w === true).length).toBeGreaterThan(50);
    expect(wants.filter((w) => w === false).length).toBeGreaterThan(10);
  });
});

// RFC 9162 / RFC 6962 reference leaves (vectors/README.md).
const REFERENCE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
  .map((h) => new Uint8Array(Buffer.from(h, "hex")));

describe("reference tree", () => {
  test("empty tree is SHA-256 of the empty string", () => {
    expect(hex(rootHash([]))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  test("the 8-leaf reference root", () => {
    expect(hex(rootHash(REFERENCE_LEAVES.map(leafHash)))).toBe(
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    );
  });

  test("leaf and node hashes use the 0x00 / 0x01 domain prefixes", () => {
    const sha = (b: number[]) => new Uint8Array(createHash("sha256").update(Uint8Array.from(b)).digest());
    expect(leafHash(Uint8Array.of(7))).toEqual(sha([0, 7]));
    const l = leafHash(Uint8Array.of(1));
    const r = leafHash(Uint8Array.of(2));
    expect(nodeHash(l, r)).toEqual(sha([1, ...l, ...r]));
    expect(rootHash([l, r])).toEqual(nodeHash(l, r));
    expect(rootHash([l])).toEqual(l);
  });
});

describe("generated proofs round-trip", () => {
  const leaves = Array.from({ length: 33 }, (_, i) => leafHash(new TextEncoder().encode(`ledger line ${i}`)));
  const roots = Array.from({ length: 34 }, (_, n) => rootHash(leaves.slice(0, n)));

  test("inclusion for every (index, size) up to 33, and only for the right leaf, index and size", () => {
    let checked = 0;
    for (let n = 1; n <= 33; n++) {
      const tree = leaves.slice(0, n);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, tree);
        expect(verifyInclusion(i, n, tree[i]!, proof, roots[n]!)).toBe(true);
        expect(verifyInclusion(BigInt(i), BigInt(n), tree[i]!, proof, roots[n]!)).toBe(true);
        // Wrong leaf, index or root, or a truncated/extended proof, fail. (A
        // proof does not by itself bind the tree size: e.g. leaf 0's path in a
        // tree of 3 also "verifies" for size 4 against the size-3 root. The
        // size is authenticated by the signed checkpoint that carries it.)
        expect(verifyInclusion(i, n, tree[(i + 1) % n]!, proof, roots[n]!)).toBe(n === 1 ? true : false);
        if (n > 1) expect(verifyInclusion((i + 1) % n, n, tree[i]!, proof, roots[n]!)).toBe(false);
        expect(verifyInclusion(i, i, tree[i]!, proof, roots[n]!)).toBe(false);
        expect(verifyInclusion(-1, n, tree[i]!, proof, roots[n]!)).toBe(false);
        expect(verifyInclusion(i, n, tree[i]!, proof, roots[n === 1 ? 2 : n - 1]!)).toBe(false);
        if (proof.length) expect(verifyInclusion(i, n, tree[i]!, proof.slice(1), roots[n]!)).toBe(false);
        expect(verifyInclusion(i, n, tree[i]!, [...proof, roots[0]!], roots[n]!)).toBe(false);
        checked++;
      }
      expect(verifyInclusion(n, n, tree[0]!, [], roots[n]!)).toBe(false);
    }
    expect(checked).toBe((33 * 34) / 2);
  });

  test("consistency for every (m, n) up to 33, and only for the right sizes and roots", () => {
    let checked = 0;
    for (let n = 1; n <= 33; n++) {
      const tree = leaves.slice(0, n);
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, tree);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof)).toBe(true);
        expect(verifyConsistency(BigInt(m), BigInt(n), roots[m]!, roots[n]!, proof)).toBe(true);
        if (m < n) {
          expect(proof.length).toBeGreaterThan(0);
          expect(verifyConsistency(m, n, roots[n]!, roots[m]!, proof)).toBe(false);
          expect(verifyConsistency(m, n, roots[m - 1]!, roots[n]!, proof)).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, roots[n - 1]!, proof)).toBe(false);
          expect(verifyConsistency(n, m, roots[m]!, roots[n]!, proof)).toBe(false);
          expect(verifyConsistency(0, n, roots[0]!, roots[n]!, proof)).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof.slice(0, -1))).toBe(false);
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, [...proof, roots[1]!])).toBe(false);
          const flipped = proof.map((h) => h.slice());
          flipped[0]![0]! ^= 1;
          expect(verifyConsistency(m, n, roots[m]!, roots[n]!, flipped)).toBe(false);
        } else {
          expect(proof).toEqual([]);
        }
        checked++;
      }
    }
    expect(checked).toBe((33 * 34) / 2);
    expect(() => consistencyProof(0, leaves)).toThrow(RangeError);
    expect(() => consistencyProof(34, leaves)).toThrow(RangeError);
    expect(() => inclusionProof(33, leaves)).toThrow(RangeError);
  });

  test("inclusion proofs of the reference tree match the vectors' happy path", () => {
    const v = parseVector(join(MERKLE, "inclusion/1/happy-path.json"));
    const tree = REFERENCE_LEAVES.map(leafHash);
    const i = Number(v.leafIdx);
    expect(BigInt(v.treeSize as string)).toBe(8n);
    expect(inclusionProof(i, tree).map((h) => Buffer.from(h).toString("base64"))).toEqual(v.proof as string[]);
    const c = parseVector(join(MERKLE, "consistency/1/happy-path.json"));
    expect(
      consistencyProof(Number(c.size1), tree).map((h) => Buffer.from(h).toString("base64")),
    ).toEqual(c.proof as string[]);
  });
});

describe("PackedHashes.ofLeaves", () => {
  test("each packed hash is leafHash of its leaf, across the scratch buffer's growth", () => {
    // Sizes around the first scratch size (1024 with the prefix byte), empty
    // leaves, and a long one after a short one (the scratch is reused).
    const sizes = [0, 1, 300, 1022, 1023, 1024, 5000, 7, 0, 70_000, 12];
    const leaves = sizes.map((n, k) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + k * 7) & 0xff));
    const packed = PackedHashes.ofLeaves(leaves.length, (i) => leaves[i]!);
    expect(packed.length).toBe(leaves.length);
    for (let i = 0; i < leaves.length; i++) expect(Buffer.from(packed.at(i)!).toString("hex")).toBe(Buffer.from(leafHash(leaves[i]!)).toString("hex"));
    expect(Buffer.from(rootHash(packed)).toString("hex")).toBe(Buffer.from(rootHash(leaves.map(leafHash))).toString("hex"));
  });
});
