/**
 * C2SP signed notes (c2sp.org/signed-note) and the tlog-checkpoint body
 * (c2sp.org/tlog-checkpoint) that `checkpoint` files hold:
 *
 *   <origin>\n
 *   <tree size, decimal>\n
 *   <base64 root hash>\n
 *   \n
 *   — <key name> <base64(key hash[4] || Ed25519 signature[64])>\n
 *
 * The signature covers the body (the first three lines, each with its "\n").
 * The key hash, SHA-256(name || 0x0A || 0x01 || pk)[:4], lets a verifier pick
 * its key without trying each; 0x01 is the Ed25519 signature type.
 *
 * This module is the format (pure); signing and verifying notes is
 * src/attest/notesig.ts's.
 *
 * Parsing is strict: exactly the form `signNote` writes (one canonical
 * spelling for every number and base64 blob), so any edited byte either fails
 * to parse or fails to verify.
 */
import { b64, decodeBase64 } from "../encoding/base64.ts";

/** A malformed note or checkpoint. */
export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NoteError";
  }
}

export interface NoteSignature {
  name: string;
  keyHash: Uint8Array; // 4 bytes
  sig: Uint8Array; // the signature proper (64 bytes for Ed25519)
}

export interface Note {
  /** The signed text, ending in "\n". */
  body: string;
  signatures: NoteSignature[];
}

export interface Checkpoint extends Note {
  origin: string;
  size: bigint;
  root: Uint8Array;
}

const EM_DASH = "\u2014";
export const SIG_PREFIX = `${EM_DASH} `;
export const ED25519_TYPE = 0x01;
// Limits as in Go's golang.org/x/mod/sumdb/note, so a hostile file cannot
// make us do unbounded work.
const MAX_NOTE_CHARS = 1 << 20;
const MAX_SIGNATURES = 100;
const MAX_UINT64 = (1n << 64n) - 1n;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodeBase64Strict(s: string, what: string): Uint8Array {
  const r = decodeBase64(s);
  if (typeof r === "string") throw new NoteError(`${what}: ${r}`);
  return r;
}

/** Key names: non-empty, no Unicode white space, no "+" (the separator in
 * verifier key strings). */
export function isValidName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !/\p{Cc}/u.test(name);
}

/** Note text: non-empty, ends in "\n", no blank line, no control character
 * other than "\n". */
export function checkBody(body: string): void {
  if (body.length === 0 || !body.endsWith("\n")) throw new NoteError("note text must end with a newline");
  if (body.includes("\n\n") || body.startsWith("\n")) throw new NoteError("note text has a blank line");
  if (/[\p{Cc}\u2028\u2029]/u.test(body.replaceAll("\n", ""))) throw new NoteError("note text has a control character");
}

/** Checkpoint note text: "origin\nsize\nbase64(root)\n". */
export function checkpointBody(origin: string, size: bigint | number, rootHash: Uint8Array): string {
  const n = BigInt(size);
  if (n < 0n || n > MAX_UINT64) throw new RangeError(`tree size ${n} out of range`);
  if (rootHash.length !== 32) throw new TypeError("root hash must be 32 bytes");
  if (origin.length === 0 || origin.includes("\n")) throw new NoteError("origin must be one non-empty line");
  const body = `${origin}\n${n}\n${b64(rootHash)}\n`;
  checkBody(body);
  return body;
}

/** Split a signed note into body and signature lines, strictly. */
export function parseNote(text: string | Uint8Array): Note {
  let s: string;
  try {
    s = typeof text === "string" ? text : utf8.decode(text);
  } catch {
    throw new NoteError("note is not valid UTF-8");
  }
  if (s.length > MAX_NOTE_CHARS) throw new NoteError("note too large");
  const split = s.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("note has no signatures (no blank line)");
  const body = s.slice(0, split + 1);
  checkBody(body);
  const sigText = s.slice(split + 2);
  if (!sigText.endsWith("\n")) throw new NoteError("last signature line does not end with a newline");
  const lines = sigText.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw new NoteError("too many signatures");
  const signatures = lines.map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!m || !isValidName(m[1]!)) throw new NoteError(`malformed signature line ${JSON.stringify(line)}`);
    const blob = decodeBase64Strict(m[2]!, "signature");
    if (blob.length < 5) throw new NoteError("signature too short");
    return { name: m[1]!, keyHash: blob.slice(0, 4), sig: blob.slice(4) };
  });
  return { body, signatures };
}

/** Parse a checkpoint note strictly: three body lines, a decimal size
 * without leading zeros, a canonical base64 32-byte root, one or more
 * signatures. Does not verify signatures (see `verifyNote`). */
export function parseCheckpoint(text: string | Uint8Array): Checkpoint {
  const note = parseNote(text);
  const lines = note.body.slice(0, -1).split("\n");
  if (lines.length !== 3) throw new NoteError(`checkpoint body must have 3 lines, found ${lines.length}`);
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (!/^(?:0|[1-9][0-9]{0,19})$/.test(sizeText)) throw new NoteError(`bad tree size ${JSON.stringify(sizeText)}`);
  const size = BigInt(sizeText);
  if (size > MAX_UINT64) throw new NoteError("tree size exceeds 2^64-1");
  const root = decodeBase64Strict(rootText, "root hash");
  if (root.length !== 32) throw new NoteError("root hash must be 32 bytes");
  return { ...note, origin, size, root };
}
