import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { publicKeyFromSeed } from "../../src/attest/ed25519.ts";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";
import { checkpointBody, NoteError, parseCheckpoint, parseNote } from "../../src/audit/note.ts";
import { keyHash, signNote, verifyNote } from "../../src/attest/notesig.ts";

const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));

describe("Go sumdb/note reference example (golang.org/x/mod/sumdb/note docs)", () => {
  // skey "PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01 || seed)>",
  // vkey "PeterNeumann+c74f20a3+<base64(0x01 || pk)>".
  const seed = b64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz").subarray(1);
  const pk = b64("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").subarray(1);
  const text =
    "If you think cryptography is the answer to your problem,\n" + "then you don't know what your problem is.\n";
  const note =
    text +
    "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

  test("key hash is c74f20a3", () => {
    expect(publicKeyFromSeed(seed)).toEqual(pk);
    expect(Buffer.from(keyHash("PeterNeumann", pk)).toString("hex")).toBe("c74f20a3");
  });

  test("signNote reproduces the reference note byte for byte, and it verifies", () => {
    expect(signNote(text, "PeterNeumann", seed, pk)).toBe(note);
    expect(verifyNote(note, "PeterNeumann", pk)).toBe(true);
    expect(verifyNote(note.replace("cryptography", "cryptographY"), "PeterNeumann", pk)).toBe(false);
    expect(verifyNote(note, "PeterNeumann2", pk)).toBe(false);
    expect(verifyNote(note, "PeterNeumann", publicKeyFromSeed(new Uint8Array(32)))).toBe(false);
  });
});

describe("checkpoints", () => {
  const seed = new Uint8Array(randomBytes(32));
  const pk = publicKeyFromSeed(seed);
  const name = "pkgswitch-0123456789ABCDEF";
  const root = rootHash([0, 1, 2].map((i) => leafHash(Uint8Array.of(i))));
  const origin = "pkgswitch/5c2e0a3b9f7d4e1a8b6c0d2f4e6a8c0b";
  const body = checkpointBody(origin, 3n, root);
  const signed = signNote(body, name, seed, pk);

  test("checkpointBody and the signed note have the documented shape", () => {
    expect(body).toBe(`${origin}\n3\n${Buffer.from(root).toString("base64")}\n`);
    expect(checkpointBody(origin, 3, root)).toBe(body);
    const lines = signed.split("\n");
    expect(lines.slice(0, 4)).toEqual([origin, "3", Buffer.from(root).toString("base64"), ""]);
    expect(lines[4]!.startsWith(`\u2014 ${name} `)).toBe(true);
    expect(lines[5]).toBe("");
    const blob = b64(lines[4]!.split(" ")[2]!);
    expect(blob.length).toBe(68);
    const expectedHash = createHash("sha256")
      .update(Buffer.concat([Buffer.from(name), Buffer.from([0x0a, 0x01]), pk]))
      .digest()
      .subarray(0, 4);
    expect(Buffer.from(blob.subarray(0, 4)).equals(expectedHash)).toBe(true);
  });

  test("round-trip: parse returns what was signed, verify accepts it", () => {
    const cp = parseCheckpoint(signed);
    expect(cp.origin).toBe(origin);
    expect(cp.size).toBe(3n);
    expect(cp.root).toEqual(root);
    expect(cp.body).toBe(body);
    expect(cp.signatures.length).toBe(1);
    expect(cp.signatures[0]!.name).toBe(name);
    expect(cp.signatures[0]!.keyHash).toEqual(keyHash(name, pk));
    expect(cp.signatures[0]!.sig.length).toBe(64);
    expect(verifyNote(signed, name, pk)).toBe(true);
    expect(parseCheckpoint(new TextEncoder().encode(signed))).toEqual(cp);
    expect(verifyNote(new TextEncoder().encode(signed), name, pk)).toBe(true);
  });

  test("sizes up to 2^64-1 round-trip; beyond and non-canonical forms do not", () => {
    const max = (1n << 64n) - 1n;
    const big = signNote(checkpointBody(origin, max, root), name, seed, pk);
    expect(parseCheckpoint(big).size).toBe(max);
    expect(parseCheckpoint(signNote(checkpointBody(origin, 0, rootHash([])), name, seed, pk)).size).toBe(0n);
    expect(() => checkpointBody(origin, max + 1n, root)).toThrow(RangeError);
    expect(() => checkpointBody(origin, -1, root)).toThrow(RangeError);
    // Validly signed notes whose size line is not in canonical form.
    for (const size of ["03", "+3", "3.0", " 3", "0x3", "18446744073709551616"]) {
      const note = signNote(`${origin}\n${size}\n${Buffer.from(root).toString("base64")}\n`, name, seed, pk);
      expect(verifyNote(note, name, pk)).toBe(true);
      expect(() => parseCheckpoint(note)).toThrow(NoteError);
    }
  });

  test("every single-byte change makes parse or verify fail", () => {
    const bytes = new TextEncoder().encode(signed);
    let parseFailures = 0;
    let verifyFailures = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const delta of [1, 0x20, 0x80]) {
        const edited = bytes.slice();
        edited[i] = (edited[i]! + delta) & 0xff;
        let parsed = true;
        try {
          parseCheckpoint(edited);
        } catch (e) {
          expect(e).toBeInstanceOf(NoteError);
          parsed = false;
        }
        const verified = verifyNote(edited, name, pk);
        expect(parsed && verified).toBe(false);
        if (!parsed) parseFailures++;
        else verifyFailures++;
      }
    }
    // Both kinds occur: the checks are not all done by one layer.
    expect(parseFailures).toBeGreaterThan(0);
    expect(verifyFailures).toBeGreaterThan(0);
  });

  test("truncation, extra lines and line-ending changes are rejected", () => {
    for (const bad of [
      signed.slice(0, -1),
      signed + "\n",
      signed.replaceAll("\n", "\r\n"),
      signed.replace("\n\n", "\n"),
      signed.replace("\n\n", "\nextension line\n\n"),
      "\n" + signed,
      body,
      signed.replace("\u2014", "-"),
      signed.replace("\u2014 ", "\u2014  "),
    ]) {
      expect(() => parseCheckpoint(bad)).toThrow(NoteError);
      expect(verifyNote(bad, name, pk)).toBe(false);
    }
  });

  test("notes may carry other signers; the matching one decides", () => {
    const otherSeed = new Uint8Array(randomBytes(32));
    const otherPk = publicKeyFromSeed(otherSeed);
    const cosigned = signed + signNote(body, "witness.example", otherSeed, otherPk).slice(body.length + 1);
    expect(parseNote(cosigned).signatures.map((s) => s.name)).toEqual([name, "witness.example"]);
    expect(verifyNote(cosigned, name, pk)).toBe(true);
    expect(verifyNote(cosigned, "witness.example", otherPk)).toBe(true);
    expect(verifyNote(cosigned, "witness.example", pk)).toBe(false);
  });

  test("signNote refuses text and names that could not be parsed back", () => {
    expect(() => signNote("no newline", name, seed, pk)).toThrow(NoteError);
    expect(() => signNote("a\n\nb\n", name, seed, pk)).toThrow(NoteError);
    expect(() => signNote("tab\there\n", name, seed, pk)).toThrow(NoteError);
    expect(() => signNote(body, "two words", seed, pk)).toThrow(NoteError);
    expect(() => signNote(body, "a+b", seed, pk)).toThrow(NoteError);
    expect(() => signNote(body, "", seed, pk)).toThrow(NoteError);
    expect(() => checkpointBody("", 1, root)).toThrow(NoteError);
    expect(() => checkpointBody("a\nb", 1, root)).toThrow(NoteError);
    expect(() => checkpointBody(origin, 1, root.subarray(1))).toThrow(TypeError);
  });
});
