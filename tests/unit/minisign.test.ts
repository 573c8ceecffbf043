import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blake2b } from "@noble/hashes/blake2.js";
import { scrypt } from "@noble/hashes/scrypt.js";
import {
  formatPublicKey,
  formatSecretKey,
  generateSecretKey,
  keyIdHex,
  MinisignError,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  scryptParams,
  type SecretKey,
  signPrehashed,
  verifySignature,
} from "../../src/attest/minisign.ts";

// Real minisign interop is the point of these tests: if the binary is
// missing, they fail (see the first test), they are never skipped.
const MINISIGN = "minisign";
const SLOW = 180_000; // scrypt at minisign's default cost: ~1 GiB, seconds per run

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "pkgswitch-minisign-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function minisign(args: string[], input = "") {
  const r = spawnSync(MINISIGN, args, { cwd: dir, input, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}`, error: r.error };
}
const p = (name: string) => join(dir, name);
const read = (name: string) => readFileSync(p(name), "utf8");
const bytes = (s: string) => new TextEncoder().encode(s);
const b64decode = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
let counter = 0;
/** Fresh unencrypted key pair from `minisign -G -W`. */
function minisignKeyPair(): { pub: string; key: string } {
  const n = counter++;
  const r = minisign(["-G", "-W", "-p", `k${n}.pub`, "-s", `k${n}.key`]);
  expect(r.status).toBe(0);
  return { pub: `k${n}.pub`, key: `k${n}.key` };
}

test("minisign 0.11 is installed (interop tests below depend on it)", () => {
  const r = minisign(["-v"]);
  expect(r.error).toBeUndefined();
  expect(r.out).toContain("minisign 0.11");
});

describe("key ids and public keys", () => {
  test("keyIdHex reads the 8 bytes little-endian, 16 uppercase digits", () => {
    expect(keyIdHex(Uint8Array.of(0xbc, 0xc3, 0x29, 0x36, 0xf2, 0xe8, 0x55, 0x6b))).toBe("6B55E8F23629C3BC");
    expect(keyIdHex(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0))).toBe("0000000000000001");
    expect(keyIdHex(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0x0a))).toBe("0A00000000000000");
    expect(() => keyIdHex(new Uint8Array(7))).toThrow();
  });

  test("formatPublicKey / parsePublicKey round-trip, tolerant of CRLF only in line endings", () => {
    const k = generateSecretKey();
    const text = formatPublicKey(k.pk, k.keyId);
    expect(text).toBe(k.publicKeyText);
    expect(text).toMatch(/^untrusted comment: minisign public key [0-9A-F]{16}\n[A-Za-z0-9+/]{56}\n$/);
    expect(parsePublicKey(text)).toEqual({ keyId: k.keyId, pk: k.pk });
    expect(parsePublicKey(text.replaceAll("\n", "\r\n"))).toEqual({ keyId: k.keyId, pk: k.pk });
    expect(() => parsePublicKey(text + "extra\n")).toThrow(MinisignError);
    expect(() => parsePublicKey(text.replace("untrusted", "trusted"))).toThrow(MinisignError);
  });

  test("parsePublicKey rejects a comment naming another key id, and a non-Ed key", () => {
    const k = generateSecretKey();
    const [comment, line] = k.publicKeyText.split("\n") as [string, string];
    const other = keyIdHex(k.keyId) === "0000000000000001" ? "2" : "1";
    expect(() => parsePublicKey(`untrusted comment: minisign public key ${other}\n${line}\n`)).toThrow(/key id/);
    const raw = b64decode(line);
    raw[1] = "D".charCodeAt(0);
    expect(() => parsePublicKey(`${comment}\n${Buffer.from(raw).toString("base64")}\n`)).toThrow(/algorithm/);
  });

  test("files written by minisign -G parse, including key ids with leading zeros", () => {
    // minisign prints the key id with %PRIX64 (no padding). Generate keys
    // until one has a leading zero digit (1 in 16 per key).
    let short: { text: string; hex: string } | undefined;
    for (let i = 0; i < 400 && !short; i++) {
      const { pub } = minisignKeyPair();
      const text = read(pub);
      const key = parsePublicKey(text);
      const hex = keyIdHex(key.keyId);
      const unpadded = hex.replace(/^0+(?=.)/, "");
      const [comment, line] = text.split("\n");
      expect(comment).toBe(`untrusted comment: minisign public key ${unpadded}`);
      // Ours differs from minisign's only by the zero padding.
      expect(formatPublicKey(key.pk, key.keyId)).toBe(`untrusted comment: minisign public key ${hex}\n${line}\n`);
      if (unpadded !== hex) short = { text, hex };
    }
    expect(short).toBeDefined();
    expect(short!.hex).toMatch(/^0/);
  }, SLOW);
});

describe("secret keys", () => {
  test("generateSecretKey matches the layout of minisign -G -W, with the checksum filled in", () => {
    const { key } = minisignKeyPair();
    const theirs = read(key).split("\n");
    const ours = generateSecretKey().secretKeyText.split("\n");
    expect(ours.length).toBe(theirs.length);
    expect(ours[0]).toBe(theirs[0]!); // the "encrypted secret key" comment, even unencrypted
    expect(ours[2]).toBe("");
    const a = b64decode(ours[1]!);
    const b = b64decode(theirs[1]!);
    expect(a.length).toBe(158);
    expect(b.length).toBe(158);
    // "Ed", KDF 00 00, "B2", zero salt, zero opslimit and memlimit.
    expect(Buffer.from(a.subarray(0, 54)).toString("hex")).toBe(Buffer.from(b.subarray(0, 54)).toString("hex"));
    expect(Buffer.from(a.subarray(0, 6)).toString("latin1")).toBe("Ed\0\0B2");
    expect(a.subarray(6, 54).every((x) => x === 0)).toBe(true);
    // minisign 0.11 leaves the checksum of an unencrypted key all zero; we
    // write the real one (BLAKE2b-256 of "Ed" || key id || sk), which covers
    // the key id, as minisign -C -W leaves it.
    expect(b.subarray(126).every((x) => x === 0)).toBe(true);
    expect(Buffer.from(a.subarray(126)).toString("hex")).toBe(Buffer.from(blake2b(new Uint8Array([...bytes("Ed"), ...a.subarray(54, 126)]), { dkLen: 32 })).toString("hex"));
  });

  test("keys from minisign -G -W load, and minisign signs with keys we generate", () => {
    const { pub, key } = minisignKeyPair();
    const loaded = parseSecretKey(read(key));
    expect(parsePublicKey(read(pub))).toEqual({ keyId: loaded.keyId, pk: loaded.pk });

    const ours = generateSecretKey();
    writeFileSync(p("ours.key"), ours.secretKeyText);
    writeFileSync(p("ours.pub"), ours.publicKeyText);
    writeFileSync(p("data.bin"), "data\n");
    const r = minisign(["-S", "-s", "ours.key", "-m", "data.bin", "-x", "data.bin.sig", "-t", "made by minisign"]);
    expect(r.status).toBe(0);
    expect(minisign(["-V", "-p", "ours.pub", "-m", "data.bin", "-x", "data.bin.sig"]).status).toBe(0);
    const v = verifySignature(bytes("data\n"), read("data.bin.sig"), [ours]);
    expect(v).toMatchObject({ ok: true, trustedComment: "made by minisign", keyId: keyIdHex(ours.keyId) });
  });

  test("an unencrypted key with a damaged seed, public half or checksum is refused", () => {
    const k = generateSecretKey();
    const [comment, line] = k.secretKeyText.split("\n") as [string, string];
    const raw = b64decode(line);
    const withRaw = (f: (r: Uint8Array) => void) => {
      const r = raw.slice();
      f(r);
      return `${comment}\n${Buffer.from(r).toString("base64")}\n`;
    };
    const zeroChk = (r: Uint8Array) => r.fill(0, 126);
    const fixChk = (r: Uint8Array) => r.set(blake2b(new Uint8Array([...bytes("Ed"), ...r.subarray(54, 126)]), { dkLen: 32 }), 126);
    expect(parseSecretKey(withRaw(() => {}))).toEqual({ keyId: k.keyId, seed: k.seed, pk: k.pk, idUnchecked: false });
    expect(parseSecretKey(withRaw(zeroChk))).toEqual({ keyId: k.keyId, seed: k.seed, pk: k.pk, idUnchecked: true });
    // With its checksum, any damaged byte of key id, seed or public half.
    for (const at of [54, 61, 70, 120]) expect(() => parseSecretKey(withRaw((r) => (r[at]! ^= 1)))).toThrow(/checksum mismatch/);
    // Seed and public half that do not belong together, whatever the checksum.
    expect(() => parseSecretKey(withRaw((r) => ((r[70]! ^= 1), zeroChk(r))))).toThrow(/public half does not match/);
    expect(() => parseSecretKey(withRaw((r) => ((r[120]! ^= 1), fixChk(r))))).toThrow(/public half does not match/);
    // A non-zero checksum is checked; the right one is accepted.
    expect(() => parseSecretKey(withRaw((r) => (zeroChk(r), (r[130] = 1))))).toThrow(/checksum mismatch/);
    expect(parseSecretKey(withRaw((r) => ((r[54]! ^= 1), fixChk(r)))).keyId).not.toEqual(k.keyId);
    expect(() => parseSecretKey(withRaw((r) => (r[2] = 0x41)))).toThrow(/key derivation/);
    expect(() => parseSecretKey(withRaw((r) => (r[4] = 0x41)))).toThrow(/checksum algorithm/);
    expect(() => parseSecretKey(`${comment}\n${line.slice(4)}\n`)).toThrow(MinisignError);
    // Damage is flagged as such (no passphrase helps).
    try {
      parseSecretKey(withRaw((r) => (r[54]! ^= 1)));
    } catch (e) {
      expect((e as MinisignError).corrupt).toBe(true);
    }
  });

  test("a zero checksum is accepted only as minisign -G -W writes it (zero salt and limits)", () => {
    const { key } = minisignKeyPair();
    const text = read(key);
    const [comment, line] = text.split("\n") as [string, string];
    const raw = b64decode(line);
    expect(raw.subarray(126).every((x) => x === 0)).toBe(true);
    expect(parseSecretKey(text).idUnchecked).toBe(true);
    expect(parseSecretKey(text).pk).toEqual(parsePublicKey(read(key.replace(/\.key$/, ".pub"))).pk);
    for (const at of [6, 37, 38, 46, 53]) {
      const r = raw.slice();
      r[at]! ^= 1;
      expect(() => parseSecretKey(`${comment}\n${Buffer.from(r).toString("base64")}\n`)).toThrow(/checksum mismatch/);
    }
    // The key id of such a key is covered by nothing in the file (signing.ts
    // checks it against the public key beside it).
    const r = raw.slice();
    r[54]! ^= 1;
    expect(parseSecretKey(`${comment}\n${Buffer.from(r).toString("base64")}\n`).keyId).toEqual(r.slice(54, 62));
    expect(parseSecretKey(generateSecretKey().secretKeyText).idUnchecked).toBe(false);
  });

  test("minisign -C -W (passphrase removed) leaves the real checksum, with salt and limits: accepted", () => {
    const n = counter++;
    expect(minisign(["-G", "-p", `e${n}.pub`, "-s", `e${n}.key`], "pw\npw\n").status).toBe(0);
    expect(minisign(["-C", "-W", "-s", `e${n}.key`], "pw\n").status).toBe(0);
    const text = read(`e${n}.key`);
    const raw = b64decode(text.split("\n")[1]!);
    expect(Buffer.from(raw.subarray(2, 4)).toString("hex")).toBe("0000");
    expect(raw.subarray(6, 54).some((x) => x !== 0)).toBe(true);
    expect(raw.subarray(126).some((x) => x !== 0)).toBe(true);
    expect(parseSecretKey(text).idUnchecked).toBe(false);
    expect(parseSecretKey(text).keyId).toEqual(parsePublicKey(read(`e${n}.pub`)).keyId);
  }, SLOW);

  test("scryptParams follows libsodium's pickparams", () => {
    // minisign -G: OPSLIMIT_SENSITIVE / MEMLIMIT_SENSITIVE.
    expect(scryptParams(33554432n, 1073741824n)).toEqual({ N: 2 ** 20, r: 8, p: 1 });
    // libsodium's INTERACTIVE limits are documented as N=2^14, r=8, p=1.
    expect(scryptParams(524288n, 16777216n)).toEqual({ N: 2 ** 14, r: 8, p: 1 });
    // opslimit below memlimit/32 takes the other branch: N from opslimit.
    expect(scryptParams(1048576n, 1073741824n)).toEqual({ N: 2 ** 15, r: 8, p: 1 });
    // opslimit is raised to at least 32768.
    expect(scryptParams(0n, 0n)).toEqual(scryptParams(32768n, 0n));
  });

  /** An "Sc" key as minisign lays it out, with chosen (cheap) limits. */
  function encryptKey(k: SecretKey, pw: string, ops: bigint, mem: bigint): string {
    const raw = new Uint8Array(158);
    raw.set(bytes("EdScB2"), 0);
    const salt = crypto.getRandomValues(new Uint8Array(32));
    raw.set(salt, 6);
    const view = new DataView(raw.buffer);
    view.setBigUint64(38, ops, true);
    view.setBigUint64(46, mem, true);
    raw.set(k.keyId, 54);
    raw.set(k.seed, 62);
    raw.set(k.pk, 94);
    raw.set(blake2b(new Uint8Array([...bytes("Ed"), ...raw.subarray(54, 126)]), { dkLen: 32 }), 126);
    const stream = scrypt(bytes(pw), salt, { ...scryptParams(ops, mem), dkLen: 104 });
    for (let i = 0; i < 104; i++) raw[54 + i]! ^= stream[i]!;
    return `${["untrusted comment:", "minisign", "encrypted", "secret key"].join(" ")}\n${Buffer.from(raw).toString("base64")}\n`;
  }

  test("minisign agrees with our scrypt parameters on both pickparams branches", () => {
    for (const [ops, mem] of [
      [524288n, 16777216n],
      [1048576n, 1073741824n],
    ] as const) {
      const k = generateSecretKey();
      const text = encryptKey(k, "s3cret", ops, mem);
      expect(parseSecretKey(text, () => "s3cret")).toEqual({ keyId: k.keyId, seed: k.seed, pk: k.pk, idUnchecked: false });
      expect(() => parseSecretKey(text, () => "s3creT")).toThrow(
        "wrong passphrase or corrupt key (checksum mismatch)",
      );
      writeFileSync(p("cheap.key"), text);
      writeFileSync(p("cheap.pub"), k.publicKeyText);
      writeFileSync(p("cheap.txt"), "cheap\n");
      // minisign derives its own (N, r, p) from the stored limits: it can only
      // decrypt this key if libsodium picks the same parameters we did.
      const r = minisign(["-S", "-s", "cheap.key", "-m", "cheap.txt", "-x", "cheap.sig"], "s3cret\n");
      expect(r.out).not.toContain("Wrong password");
      expect(r.status).toBe(0);
      expect(verifySignature(bytes("cheap\n"), read("cheap.sig"), [k]).ok).toBe(true);
    }
  }, SLOW);

  test("an encrypted key from minisign -G loads with the passphrase, and only with it", () => {
    const gen = minisign(["-G", "-p", "enc.pub", "-s", "enc.key"], "pw\npw\n");
    expect(gen.status).toBe(0);
    const text = read("enc.key");
    const raw = b64decode(text.split("\n")[1]!);
    expect(Buffer.from(raw.subarray(0, 6)).toString("latin1")).toBe("EdScB2");
    const view = new DataView(raw.buffer, raw.byteOffset);
    expect(view.getBigUint64(38, true)).toBe(33554432n); // opslimit 2^25
    expect(view.getBigUint64(46, true)).toBe(1073741824n); // memlimit 2^30

    const pub = parsePublicKey(read("enc.pub"));
    // The key id is inside the encrypted part: before decryption it is noise.
    expect(Buffer.from(raw.subarray(54, 62)).equals(Buffer.from(pub.keyId))).toBe(false);
    let asked = 0;
    const key = parseSecretKey(text, () => (asked++, "pw"));
    expect(asked).toBe(1);
    expect({ keyId: key.keyId, pk: key.pk }).toEqual(pub);

    expect(() => parseSecretKey(text, () => "wrong")).toThrow("wrong passphrase or corrupt key (checksum mismatch)");
    expect(() => parseSecretKey(text)).toThrow(/passphrase is required/);
    expect(() => parseSecretKey(text, () => undefined)).toThrow(/passphrase is required/);

    // Ours signs, minisign verifies.
    writeFileSync(p("enc.txt"), "encrypted key\n");
    writeFileSync(
      p("enc.txt.sig"),
      signPrehashed(bytes("encrypted key\n"), key, { untrustedComment: "u", trustedComment: "t" }),
    );
    expect(minisign(["-V", "-p", "enc.pub", "-m", "enc.txt", "-x", "enc.txt.sig"]).status).toBe(0);
  }, SLOW);
});

describe("signatures", () => {
  const file = bytes("line one\nline two\n");
  let key: SecretKey;
  let pubFile: string;
  let keyFile: string;
  beforeAll(() => {
    const pair = minisignKeyPair();
    pubFile = pair.pub;
    keyFile = pair.key;
    key = parseSecretKey(read(keyFile));
    writeFileSync(p("audit-x.jsonl"), file);
  });
  const opts = {
    untrustedComment: "pkgswitch signature op-1",
    trustedComment: "timestamp:1700000000\tfile:audit-x.jsonl\thashed\top:op-1",
  };

  test("signPrehashed writes the 4-line ED format, and minisign -V accepts it", () => {
    const sig = signPrehashed(file, key, opts);
    const lines = sig.split("\n");
    expect(lines.length).toBe(5);
    expect(lines[0]).toBe("untrusted comment: pkgswitch signature op-1");
    expect(Buffer.from(b64decode(lines[1]!).subarray(0, 10)).equals(Buffer.from([..."ED"].map((c) => c.charCodeAt(0)).concat([...key.keyId])))).toBe(true);
    expect(lines[2]).toBe(`trusted comment: ${opts.trustedComment}`);
    expect(lines[4]).toBe("");
    writeFileSync(p("audit-x.jsonl.sig"), sig);
    const r = minisign(["-V", "-p", pubFile, "-m", "audit-x.jsonl", "-x", "audit-x.jsonl.sig"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain(`Trusted comment: ${opts.trustedComment}`);

    writeFileSync(p("audit-y.jsonl"), "line one\nline twO\n");
    const bad = minisign(["-V", "-p", pubFile, "-m", "audit-y.jsonl", "-x", "audit-x.jsonl.sig"]);
    expect(bad.status).not.toBe(0);

    expect(verifySignature(file, sig, [key])).toEqual({
      ok: true,
      keyId: keyIdHex(key.keyId),
      trustedComment: opts.trustedComment,
      legacy: false,
    });
  });

  test("minisign -S output verifies with ours; failures say why", () => {
    const r = minisign(["-S", "-s", keyFile, "-m", "audit-x.jsonl", "-x", "by-minisign.sig", "-t", "hello trusted"]);
    expect(r.status).toBe(0);
    const sig = read("by-minisign.sig");
    expect(parseSignature(sig).algorithm).toBe("ED"); // minisign's own output is strict-form too
    expect(verifySignature(file, sig, [key])).toMatchObject({ ok: true, trustedComment: "hello trusted" });

    const stranger = generateSecretKey();
    expect(verifySignature(file, sig, [stranger])).toMatchObject({ ok: false, reason: "untrusted key" });
    expect(verifySignature(file, sig, [])).toMatchObject({ ok: false, reason: "untrusted key" });
    // Same key id, different key: an impostor, not merely unknown.
    expect(verifySignature(file, sig, [{ keyId: key.keyId, pk: stranger.pk }])).toMatchObject({
      ok: false,
      reason: "bad signature",
    });
    expect(verifySignature(bytes("line one\n"), sig, [stranger, key])).toMatchObject({
      ok: false,
      reason: "bad signature",
    });
    const edited = sig.replace("hello trusted", "hello trustee");
    expect(verifySignature(file, edited, [key])).toMatchObject({
      ok: false,
      reason: "bad trusted comment signature",
    });
    expect(verifySignature(file, "garbage\n", [key])).toMatchObject({ ok: false, reason: "malformed" });
  });

  test("legacy Ed signatures (minisign -l) need allowLegacy", () => {
    const r = minisign(["-S", "-l", "-s", keyFile, "-m", "audit-x.jsonl", "-x", "legacy.sig"]);
    expect(r.status).toBe(0);
    const sig = read("legacy.sig");
    expect(parseSignature(sig).algorithm).toBe("Ed");
    expect(verifySignature(file, sig, [key])).toMatchObject({ ok: false, reason: "legacy not allowed" });
    expect(verifySignature(file, sig, [key], { allowLegacy: true })).toMatchObject({ ok: true, legacy: true });
    expect(verifySignature(bytes("x"), sig, [key], { allowLegacy: true })).toMatchObject({
      ok: false,
      reason: "bad signature",
    });
  });

  test("strict parsing accepts only the exact form we write; lenient accepts line-ending variants", () => {
    const sig = signPrehashed(file, key, opts);
    expect(parseSignature(sig).trustedComment).toBe(opts.trustedComment);
    for (const variant of [
      sig.replaceAll("\n", "\r\n"),
      sig.slice(0, -1),
      sig + "\n",
      sig + "extra\n",
      "\n" + sig,
      sig.replace("untrusted comment: ", "untrusted comment:"),
      sig.replace("trusted comment: timestamp", "Trusted comment: timestamp"),
    ]) {
      expect(() => parseSignature(variant)).toThrow(MinisignError);
      expect(verifySignature(file, variant, [key])).toMatchObject({ ok: false, reason: "malformed" });
    }
    for (const variant of [sig.replaceAll("\n", "\r\n"), sig.slice(0, -1)]) {
      expect(parseSignature(variant, { lenient: true }).trustedComment).toBe(opts.trustedComment);
      expect(verifySignature(file, variant, [key], { lenient: true }).ok).toBe(true);
    }
  });

  test("base64 must be canonical: non-zero padding bits are rejected even though they decode", () => {
    const sig = signPrehashed(file, key, opts);
    const lines = sig.split("\n");
    // 64 bytes -> 88 chars ending "==": the char before carries 4 unused bits.
    const g = lines[3]!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const c = g[g.length - 3]!;
    const twin = alphabet[alphabet.indexOf(c) ^ 1]!;
    const alt = g.slice(0, -3) + twin + "==";
    expect(Buffer.from(alt, "base64").equals(Buffer.from(g, "base64"))).toBe(true);
    const altSig = [lines[0], lines[1], lines[2], alt, ""].join("\n");
    expect(() => parseSignature(altSig)).toThrow(/non-canonical/);
    expect(() => parseSignature(altSig, { lenient: true })).toThrow(/non-canonical/);
  });

  test("every single-byte edit of the signature file is caught or changes the untrusted comment", () => {
    const sig = signPrehashed(file, key, opts);
    const original = parseSignature(sig).untrustedComment;
    let detected = 0;
    let commentOnly = 0;
    for (let i = 0; i < sig.length; i++) {
      for (const ch of ["A", "x", "/", "\n", " "]) {
        if (sig[i] === ch) continue;
        const edited = sig.slice(0, i) + ch + sig.slice(i + 1);
        const v = verifySignature(file, edited, [key]);
        if (!v.ok) {
          detected++;
          continue;
        }
        // Only the untrusted comment is unsigned; audit verify compares it to
        // the expected "pkgswitch signature <op_id>".
        expect(parseSignature(edited).untrustedComment).not.toBe(original);
        commentOnly++;
      }
    }
    expect(detected).toBeGreaterThan(sig.length * 4);
    expect(commentOnly).toBeGreaterThan(0);
  });

  test("every single-byte edit of the signed file is caught", () => {
    const sig = signPrehashed(file, key, opts);
    for (let i = 0; i < file.length; i++) {
      const edited = file.slice();
      edited[i]! ^= 0x20;
      expect(verifySignature(edited, sig, [key])).toMatchObject({ ok: false, reason: "bad signature" });
    }
    expect(verifySignature(new Uint8Array([...file, 0x0a]), sig, [key]).ok).toBe(false);
  });

  test("comments that minisign could not read back are refused", () => {
    expect(() => signPrehashed(file, key, { ...opts, trustedComment: "a\nb" })).toThrow(MinisignError);
    expect(() => signPrehashed(file, key, { ...opts, untrustedComment: "a\rb" })).toThrow(MinisignError);
    expect(() => signPrehashed(file, key, { ...opts, trustedComment: "x".repeat(9000) })).toThrow(/too long/);
    expect(() => signPrehashed(file, key, { ...opts, untrustedComment: "x".repeat(1100) })).toThrow(/too long/);
    const long = signPrehashed(file, key, { ...opts, trustedComment: "x".repeat(8000) });
    writeFileSync(p("long.sig"), long);
    expect(minisign(["-V", "-p", pubFile, "-m", "audit-x.jsonl", "-x", "long.sig"]).status).toBe(0);
    expect(verifySignature(file, long, [key]).ok).toBe(true);
  });

  test("formatSecretKey output is what generateSecretKey writes and loads back", () => {
    const k = generateSecretKey();
    expect(formatSecretKey(k)).toBe(k.secretKeyText);
    expect(parseSecretKey(k.secretKeyText)).toEqual({ keyId: k.keyId, seed: k.seed, pk: k.pk, idUnchecked: false });
  });
});
