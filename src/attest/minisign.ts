/**
 * minisign keys and signatures, byte-compatible with minisign 0.11, so an
 * operator's existing `minisign -G` key signs our audit files and
 * `minisign -Vm FILE -x FILE.sig -p key.pub` verifies them.
 *
 * Formats (all binary blobs are standard, padded base64 on one line):
 *
 *   public key   untrusted comment: minisign public key <KEYID>
 *                base64("Ed" || key_id[8] || pk[32])
 *
 *   secret key   comment line "minisign encrypted secret key" (prefixed as above)
 *                base64(sig_alg "Ed" || kdf_alg "Sc"|00 00 || chk_alg "B2" ||
 *                       kdf_salt[32] || opslimit u64le || memlimit u64le ||
 *                       key_id[8] || sk[64] = seed || pk || checksum[32])
 *                With "Sc" the last 104 bytes (key_id, sk, checksum) are XORed
 *                with scrypt(passphrase, salt); checksum =
 *                BLAKE2b-256("Ed" || key_id || sk) (all zero in an unencrypted
 *                key from minisign -G -W: see parseSecretKey).
 *
 *   signature    untrusted comment: <text>
 *                base64("ED" || key_id[8] || Ed25519(BLAKE2b-512(file)))
 *                trusted comment: <text>
 *                base64(Ed25519(signature || trusted comment text))
 *
 * "Ed" instead of "ED" is the legacy algorithm: Ed25519 over the raw file.
 * OpenBSD signify writes it as a 2-line file without trusted comment.
 *
 * This module is pure: text and bytes in, text and bytes out.
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { scrypt } from "@noble/hashes/scrypt.js";
import { nodeCrypto, randomBytes } from "../sys/index.ts";
import { b64, decodeBase64 } from "../encoding/base64.ts";
import { blake2b512 } from "./blake2.ts";
import { publicKeyFromSeed, sign, verifyStrict } from "./ed25519.ts";

/** A malformed key or signature file, or a key that cannot be unlocked.
 * `corrupt`: a secret key whose bytes contradict each other (damaged, not
 * merely locked): no passphrase will make it usable. */
export class MinisignError extends Error {
  constructor(
    message: string,
    readonly corrupt = false,
  ) {
    super(message);
    this.name = "MinisignError";
  }
}

export interface PublicKey {
  /** 8 key-id bytes as stored (little-endian number). */
  keyId: Uint8Array;
  /** 32-byte Ed25519 public key. */
  pk: Uint8Array;
}

export interface SecretKey extends PublicKey {
  /** 32-byte Ed25519 seed (the first half of libsodium's 64-byte sk). */
  seed: Uint8Array;
}

/** A secret key as read from its file. */
export interface ParsedSecretKey extends SecretKey {
  /** Nothing in the file protects its key id: an unencrypted key with the
   * all-zero checksum of `minisign -G -W` (see parseSecretKey). */
  idUnchecked: boolean;
}

export interface GeneratedKey extends SecretKey {
  secretKeyText: string;
  publicKeyText: string;
}

const enc = new TextEncoder();
const UNTRUSTED_PREFIX = "untrusted comment: ";
const TRUSTED_PREFIX = "trusted comment: ";
const SIGALG = "Ed";
const SIGALG_HASHED = "ED";
/** The comment minisign -G writes on every secret key, encrypted or not. */
const SECRET_KEY_COMMENT = "minisign encrypted secret key";
const PUBLIC_KEY_COMMENT = "minisign public key";

// minisign reads each line with fgets() into fixed buffers (COMMENTMAXBYTES =
// 1024, TRUSTEDCOMMENTMAXBYTES = 8192): a longer line would be split and the
// file misread, so we neither write nor accept one.
const UNTRUSTED_LINE_MAX = 1023;
const TRUSTED_LINE_MAX = 8191;

const SECRET_KEY_BYTES = 158;
const ENCRYPTED_OFFSET = 54; // sig_alg 2, kdf_alg 2, chk_alg 2, salt 32, ops 8, mem 8
const ENCRYPTED_BYTES = 104; // key_id 8, sk 64, checksum 32

// --- helpers -----------------------------------------------------------------

/** Canonical base64 only (./base64.ts): every blob has exactly one text form. */
function decodeBase64Strict(s: string, what: string): Uint8Array {
  const r = decodeBase64(s);
  if (typeof r === "string") throw new MinisignError(`${what}: ${r}`);
  return r;
}
const ascii = (b: Uint8Array) => String.fromCharCode(...b);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function checkLen(b: Uint8Array, n: number, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) throw new TypeError(`${what} must be ${n} bytes`);
}

/** Lines of a small key file: tolerate CRLF and a missing final newline
 * (operators paste keys), but nothing beyond the expected lines. */
function keyFileLines(text: string, what: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length !== 2) throw new MinisignError(`${what}: expected 2 lines, found ${lines.length}`);
  if (!lines[0]!.startsWith(UNTRUSTED_PREFIX)) {
    throw new MinisignError(`${what}: first line must start with "${UNTRUSTED_PREFIX}"`);
  }
  return lines;
}

function checkCommentText(text: string, what: string, maxLineBytes: number, prefix: string): void {
  if (/[\r\n\0]/.test(text)) throw new MinisignError(`${what} must be one line without NUL`);
  if (enc.encode(prefix + text).length + 1 > maxLineBytes) {
    throw new MinisignError(`${what} is too long for minisign (line limit ${maxLineBytes} bytes)`);
  }
}

// --- key ids and public keys ---------------------------------------------------

/** KEYID text: the 8 bytes as a little-endian integer, 16 uppercase hex
 * digits, zero-padded (minisign prints the same number without padding). */
export function keyIdHex(id8: Uint8Array): string {
  checkLen(id8, 8, "key id");
  return Buffer.from(id8).reverse().toString("hex").toUpperCase();
}

/** Public key file text, as minisign -G writes it but with the key id padded. */
export function formatPublicKey(pk: Uint8Array, keyId: Uint8Array): string {
  checkLen(pk, 32, "public key");
  return (
    `${UNTRUSTED_PREFIX}${PUBLIC_KEY_COMMENT} ${keyIdHex(keyId)}\n` +
    `${b64(concat(enc.encode(SIGALG), keyId, pk))}\n`
  );
}

/** Decode the base64 line of a public key (what `minisign -P` takes). */
export function parsePublicKeyBase64(line: string): PublicKey {
  const raw = decodeBase64Strict(line, "public key");
  if (raw.length !== 42) throw new MinisignError(`public key: expected 42 bytes, got ${raw.length}`);
  if (ascii(raw.subarray(0, 2)) !== SIGALG) throw new MinisignError("public key: unsupported algorithm");
  return { keyId: raw.slice(2, 10), pk: raw.slice(10, 42) };
}

/**
 * Parse a public key file: ours, `minisign -G`'s (key id without leading
 * zeros) or signify's (any untrusted comment). If the comment names a minisign
 * key id, it must be the key's own: a mismatch means mixed-up files.
 */
export function parsePublicKey(text: string): PublicKey {
  const [comment, line] = keyFileLines(text, "public key");
  const key = parsePublicKeyBase64(line!);
  const named = /^minisign public key ([0-9A-Fa-f]{1,16})$/.exec(comment!.slice(UNTRUSTED_PREFIX.length));
  if (named && BigInt("0x" + named[1]) !== BigInt("0x" + keyIdHex(key.keyId))) {
    throw new MinisignError(
      `public key: comment names key id ${named[1]} but the key is ${keyIdHex(key.keyId)}`,
    );
  }
  return key;
}

// --- secret keys ---------------------------------------------------------------

function secretKeyChecksum(keyId: Uint8Array, sk64: Uint8Array): Uint8Array {
  return blake2b(concat(enc.encode(SIGALG), keyId, sk64), { dkLen: 32 });
}

/**
 * Unencrypted secret key file text, laid out as `minisign -G -W` (0.11)
 * writes it — same comment ("encrypted" included), KDF algorithm 00 00, zero
 * salt and limits — but with the checksum filled in, as `minisign -C -W`
 * (removing a passphrase) leaves it: minisign never checks the checksum of an
 * unencrypted key, so stock minisign signs with it alike, and here it guards
 * the key id, which nothing else in the file does (since 0.4.3; before, the
 * checksum was left zero as -G -W leaves it).
 */
export function formatSecretKey(secret: SecretKey): string {
  checkLen(secret.seed, 32, "seed");
  checkLen(secret.pk, 32, "public key");
  checkLen(secret.keyId, 8, "key id");
  const raw = new Uint8Array(SECRET_KEY_BYTES);
  raw.set(enc.encode(SIGALG), 0);
  // kdf_alg [2..4) stays 00 00
  raw.set(enc.encode("B2"), 4);
  // salt, opslimit, memlimit stay zero
  raw.set(secret.keyId, ENCRYPTED_OFFSET);
  raw.set(secret.seed, ENCRYPTED_OFFSET + 8);
  raw.set(secret.pk, ENCRYPTED_OFFSET + 40);
  raw.set(secretKeyChecksum(secret.keyId, raw.subarray(ENCRYPTED_OFFSET + 8, ENCRYPTED_OFFSET + 72)), ENCRYPTED_OFFSET + 72);
  return `${UNTRUSTED_PREFIX}${SECRET_KEY_COMMENT}\n${b64(raw)}\n`;
}

/** A new random key pair (unencrypted secret key text plus public key text). */
export function generateSecretKey(): GeneratedKey {
  const seed = new Uint8Array(randomBytes(32));
  const keyId = new Uint8Array(randomBytes(8));
  const pk = publicKeyFromSeed(seed);
  const secret = { keyId, seed, pk };
  return { ...secret, secretKeyText: formatSecretKey(secret), publicKeyText: formatPublicKey(pk, keyId) };
}

/**
 * libsodium's pickparams(): how crypto_pwhash_scryptsalsa208sha256 turns
 * (opslimit, memlimit) into scrypt's (N, r, p). minisign -G stores
 * OPSLIMIT_SENSITIVE = 2^25 and MEMLIMIT_SENSITIVE = 2^30, i.e. N = 2^20,
 * r = 8, p = 1 (1 GiB, several seconds).
 */
export function scryptParams(opslimit: bigint, memlimit: bigint): { N: number; r: number; p: number } {
  const ops = opslimit < 32768n ? 32768n : opslimit;
  const r = 8n;
  let nLog2 = 1n;
  let p: bigint;
  if (ops < memlimit / 32n) {
    p = 1n;
    const maxN = ops / (r * 4n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
  } else {
    const maxN = memlimit / (r * 128n);
    for (nLog2 = 1n; nLog2 < 63n; nLog2++) if (1n << nLog2 > maxN / 2n) break;
    let maxrp = ops / 4n / (1n << nLog2);
    if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
    p = maxrp / r;
  }
  return { N: Number(1n << nLog2), r: Number(r), p: Number(p) };
}

// A key file is input we did not write: refuse parameters beyond what
// minisign itself uses, instead of allocating or computing without bound.
const SCRYPT_MAX_MEM = 1024 ** 3 + 2 * 1024; // 128 * r * (N + p + 1) for N = 2^20, r = 8, p = 1
const SCRYPT_MAX_WORK = 2 ** 21; // N * p: twice minisign's

/** scrypt keystream for an encrypted secret key. The native scrypt costs
 * about half the CPU of @noble/hashes' at minisign's default cost (N=2^20,
 * 1 GiB) before every signed operation; noble is the fallback where the
 * runtime has none (same function; the encrypted-key tests check it against
 * keys made by stock minisign). */
function scryptStream(pw: Uint8Array, salt: Uint8Array, o: { N: number; r: number; p: number; dkLen: number }): Uint8Array {
  let native: Buffer | null = null;
  try {
    native = nodeCrypto().scryptSync(pw, salt, o.dkLen, { N: o.N, r: o.r, p: o.p, maxmem: SCRYPT_MAX_MEM + 2 ** 20 });
  } catch {
    native = null;
  }
  return native ? new Uint8Array(native) : scrypt(pw, salt, { ...o, maxmem: SCRYPT_MAX_MEM });
}

/**
 * Load a minisign secret key file, unencrypted (KDF 00 00) or scrypt-encrypted
 * ("Sc"). `getPassphrase` is called only for an encrypted key.
 */
export function parseSecretKey(text: string, getPassphrase?: () => string | undefined): ParsedSecretKey {
  const [, line] = keyFileLines(text, "secret key");
  const raw = decodeBase64Strict(line!, "secret key");
  if (raw.length !== SECRET_KEY_BYTES) {
    throw new MinisignError(`secret key: expected ${SECRET_KEY_BYTES} bytes, got ${raw.length}`);
  }
  if (ascii(raw.subarray(0, 2)) !== SIGALG) throw new MinisignError("secret key: unsupported signature algorithm");
  if (ascii(raw.subarray(4, 6)) !== "B2") throw new MinisignError("secret key: unsupported checksum algorithm");
  const kdf = raw.subarray(2, 4);
  const secret = raw.slice(ENCRYPTED_OFFSET);
  const encrypted = ascii(kdf) === "Sc";
  if (encrypted) {
    const passphrase = getPassphrase?.();
    if (passphrase === undefined) throw new MinisignError("secret key is encrypted: a passphrase is required");
    const view = new DataView(raw.buffer, raw.byteOffset);
    const { N, r, p } = scryptParams(view.getBigUint64(38, true), view.getBigUint64(46, true));
    if (128 * r * (N + p + 1) > SCRYPT_MAX_MEM || N * p > SCRYPT_MAX_WORK) {
      throw new MinisignError(`secret key: scrypt parameters N=${N} r=${r} p=${p} exceed minisign's`);
    }
    const stream = scryptStream(enc.encode(passphrase), raw.subarray(6, 38), { N, r, p, dkLen: ENCRYPTED_BYTES });
    for (let i = 0; i < ENCRYPTED_BYTES; i++) secret[i]! ^= stream[i]!;
  } else if (kdf[0] !== 0 || kdf[1] !== 0) {
    throw new MinisignError("secret key: unsupported key derivation function");
  }
  const keyId = secret.slice(0, 8);
  const sk = secret.subarray(8, 72);
  const stored = secret.subarray(72, 104);
  // An all-zero checksum is legitimate in exactly one case: an unencrypted
  // key as `minisign -G -W` writes it. Its generate() zeroes the whole
  // struct and computes the checksum only in encrypt_key(), which -W skips;
  // seckey_load() checks it only in decrypt_key(), i.e. for "Sc" keys
  // (jedisct1/minisign src/minisign.c, tags 0.11 and 0.12; /usr/bin/minisign
  // 0.11 -G -W here writes 32 zero bytes, tests/unit/minisign.test.ts). Such
  // a key also has a zero salt and zero limits — `minisign -C -W` keeps the
  // salt and limits of the encrypted key but its valid checksum too — so a
  // zero checksum with anything else there is damage, not minisign. Every
  // other checksum must be right: it covers the key id, which a zero one
  // leaves unprotected (loadSecretKey then checks the id against the public
  // key beside the file).
  const minisignW = !encrypted && stored.every((b) => b === 0) && raw.subarray(6, ENCRYPTED_OFFSET).every((b) => b === 0);
  if (!minisignW && !equalBytes(secretKeyChecksum(keyId, sk), stored)) {
    if (encrypted) throw new MinisignError("wrong passphrase or corrupt key (checksum mismatch)");
    throw new MinisignError("corrupt secret key (checksum mismatch: the key id or the key was altered)", true);
  }
  const seed = sk.slice(0, 32);
  const pk = sk.slice(32, 64);
  if (!equalBytes(publicKeyFromSeed(seed), pk)) {
    throw new MinisignError("corrupt secret key (public half does not match the seed)", true);
  }
  return { keyId, seed, pk, idUnchecked: minisignW };
}

// --- signatures ------------------------------------------------------------------

export interface ParsedSignature {
  /** Text after "untrusted comment: ". */
  untrustedComment: string;
  /** "ED": prehashed (BLAKE2b-512); "Ed": legacy, over the raw file. */
  algorithm: "ED" | "Ed";
  keyId: Uint8Array;
  signature: Uint8Array;
  /** Text after "trusted comment: "; absent only in lenient 2-line files. */
  trustedComment?: string;
  globalSignature?: Uint8Array;
}

/**
 * Signature file text for `fileBytes`, in the prehashed ("ED") form minisign
 * -S writes by default. Comments are the texts after the prefixes and must be
 * single lines.
 */
export function signPrehashed(
  fileBytes: Uint8Array,
  secret: SecretKey,
  opts: { untrustedComment: string; trustedComment: string },
): string {
  checkLen(secret.keyId, 8, "key id");
  checkCommentText(opts.untrustedComment, "untrusted comment", UNTRUSTED_LINE_MAX, UNTRUSTED_PREFIX);
  checkCommentText(opts.trustedComment, "trusted comment", TRUSTED_LINE_MAX, TRUSTED_PREFIX);
  const signature = sign(blake2b512(fileBytes), secret.seed);
  const globalSignature = sign(concat(signature, enc.encode(opts.trustedComment)), secret.seed);
  return (
    `${UNTRUSTED_PREFIX}${opts.untrustedComment}\n` +
    `${b64(concat(enc.encode(SIGALG_HASHED), secret.keyId, signature))}\n` +
    `${TRUSTED_PREFIX}${opts.trustedComment}\n` +
    `${b64(globalSignature)}\n`
  );
}

/**
 * Parse a signature file.
 *
 * Strict (default): exactly four lines, each ending in "\n", no "\r", as
 * `signPrehashed` writes them (minisign -S output also has this form).
 * Lenient: also CRLF or a missing final newline, and 2-line signify files
 * (legacy "Ed" with no trusted comment). Base64 must be canonical either way,
 * as minisign requires.
 */
export function parseSignature(text: string, opts: { lenient?: boolean } = {}): ParsedSignature {
  let lines: string[];
  if (opts.lenient) {
    lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
    if (lines[lines.length - 1] === "") lines.pop();
    if (lines.length !== 2 && lines.length !== 4) {
      throw new MinisignError(`signature: expected 2 or 4 lines, found ${lines.length}`);
    }
  } else {
    if (!text.endsWith("\n")) throw new MinisignError("signature: last line does not end with a newline");
    lines = text.slice(0, -1).split("\n");
    if (lines.length !== 4) throw new MinisignError(`signature: expected 4 lines, found ${lines.length}`);
  }
  if (lines.some((l) => /[\r\0]/.test(l))) throw new MinisignError("signature: stray carriage return or NUL");

  const [first, sigLine, third, globalLine] = lines as [string, string, string?, string?];
  if (!first.startsWith(UNTRUSTED_PREFIX)) {
    throw new MinisignError(`signature: first line must start with "${UNTRUSTED_PREFIX}"`);
  }
  if (enc.encode(first).length + 1 > UNTRUSTED_LINE_MAX) throw new MinisignError("signature: untrusted comment too long");
  const raw = decodeBase64Strict(sigLine, "signature");
  if (raw.length !== 74) throw new MinisignError(`signature: expected 74 bytes, got ${raw.length}`);
  const algorithm = ascii(raw.subarray(0, 2));
  if (algorithm !== SIGALG && algorithm !== SIGALG_HASHED) {
    throw new MinisignError("signature: unsupported algorithm");
  }
  const parsed: ParsedSignature = {
    untrustedComment: first.slice(UNTRUSTED_PREFIX.length),
    algorithm,
    keyId: raw.slice(2, 10),
    signature: raw.slice(10, 74),
  };
  if (third === undefined) {
    if (algorithm !== SIGALG) throw new MinisignError("signature: prehashed signature without trusted comment");
    return parsed;
  }
  if (!third.startsWith(TRUSTED_PREFIX)) {
    throw new MinisignError(`signature: third line must start with "${TRUSTED_PREFIX}"`);
  }
  if (enc.encode(third).length + 1 > TRUSTED_LINE_MAX) throw new MinisignError("signature: trusted comment too long");
  parsed.trustedComment = third.slice(TRUSTED_PREFIX.length);
  parsed.globalSignature = decodeBase64Strict(globalLine!, "trusted comment signature");
  if (parsed.globalSignature.length !== 64) {
    throw new MinisignError(`trusted comment signature: expected 64 bytes, got ${parsed.globalSignature.length}`);
  }
  return parsed;
}

export type VerifyFailure =
  | "malformed" // the file is not a signature in the accepted form
  | "legacy not allowed" // "Ed" or no trusted comment, without allowLegacy
  | "untrusted key" // signed by a key id not in the trusted set
  | "bad signature" // the file does not match the signature
  | "bad trusted comment signature"; // the trusted comment was altered

export interface VerifyResult {
  ok: boolean;
  reason?: VerifyFailure;
  /** Parser message when reason is "malformed". */
  detail?: string;
  /** KEYID of the signing key, once the signature parsed. */
  keyId?: string;
  trustedComment?: string;
  /** True for "Ed" signatures and signatures without a trusted comment. */
  legacy?: boolean;
}

/**
 * Verify `sigText` over `fileBytes` against a set of trusted keys.
 *
 * Only "untrusted key" (and "legacy not allowed") mean "maybe authentic, but
 * not by a key you trust"; every other failure means the file, signature or
 * trusted comment was altered. `allowLegacy` accepts legacy "Ed" signatures and
 * signify's 2-line files, and implies `lenient` parsing.
 */
export function verifySignature(
  fileBytes: Uint8Array,
  sigText: string,
  trustedKeys: readonly PublicKey[],
  opts: { allowLegacy?: boolean; lenient?: boolean } = {},
): VerifyResult {
  const allowLegacy = opts.allowLegacy ?? false;
  const malformed = (e: unknown): VerifyResult => ({ ok: false, reason: "malformed", detail: (e as Error).message });
  // Parse leniently first so a signify file is reported as "legacy", not as
  // "malformed"; then insist on the strict form unless the caller relaxed it.
  const strict = !(opts.lenient || allowLegacy);
  let sig: ParsedSignature;
  // A file the strict parser accepts, the lenient one parses to the same
  // result (four lines, no "\r" to strip): one parse then suffices. Any other
  // file takes both, in this order, so its outcome is unchanged.
  let strictOk = false;
  try {
    if (strict) {
      try {
        sig = parseSignature(sigText);
        strictOk = true;
      } catch {
        sig = parseSignature(sigText, { lenient: true });
      }
    } else sig = parseSignature(sigText, { lenient: true });
  } catch (e) {
    return malformed(e);
  }
  const keyId = keyIdHex(sig.keyId);
  const legacy = sig.algorithm === SIGALG || sig.trustedComment === undefined;
  const base = { keyId, trustedComment: sig.trustedComment, legacy };
  if (legacy && !allowLegacy) return { ok: false, reason: "legacy not allowed", ...base };
  if (strict && !strictOk) {
    try {
      parseSignature(sigText);
    } catch (e) {
      return malformed(e);
    }
  }

  const candidates = trustedKeys.filter((k) => equalBytes(k.keyId, sig.keyId));
  if (candidates.length === 0) return { ok: false, reason: "untrusted key", ...base };

  const message = sig.algorithm === SIGALG_HASHED ? blake2b512(fileBytes) : fileBytes;
  const signer = candidates.find((k) => verifyStrict(sig.signature, message, k.pk));
  if (!signer) return { ok: false, reason: "bad signature", ...base };

  if (sig.trustedComment !== undefined) {
    const signed = concat(sig.signature, enc.encode(sig.trustedComment));
    if (!verifyStrict(sig.globalSignature!, signed, signer.pk)) {
      return { ok: false, reason: "bad trusted comment signature", ...base };
    }
  }
  return { ok: true, ...base };
}
