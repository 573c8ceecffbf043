/** Signing and verifying C2SP signed notes (the format: src/audit/note.ts). */
import { nodeCrypto } from "../sys/index.ts";
import { b64 } from "../encoding/base64.ts";
import { checkBody, ED25519_TYPE, isValidName, NoteError, parseNote, SIG_PREFIX, type Note } from "../audit/note.ts";
import { sign, verifyStrict } from "./ed25519.ts";

const enc = new TextEncoder();

/** First 4 bytes of SHA-256(name || 0x0A || 0x01 || pk). */
export function keyHash(name: string, pk: Uint8Array): Uint8Array {
  if (pk.length !== 32) throw new TypeError("Ed25519 public key must be 32 bytes");
  const h = nodeCrypto().createHash("sha256");
  h.update(enc.encode(name));
  h.update(Uint8Array.of(0x0a, ED25519_TYPE));
  h.update(pk);
  return new Uint8Array(h.digest().subarray(0, 4));
}

/** Sign `body` with Ed25519 key (`seed`, `pk`) under key `name`: the body, a
 * blank line and one signature line. */
export function signNote(body: string, name: string, seed: Uint8Array, pk: Uint8Array): string {
  checkBody(body);
  if (!isValidName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const sig = sign(enc.encode(body), seed);
  const blob = new Uint8Array(4 + sig.length);
  blob.set(keyHash(name, pk), 0);
  blob.set(sig, 4);
  return `${body}\n${SIG_PREFIX}${name} ${b64(blob)}\n`;
}

/**
 * True if `text` is a well-formed note carrying a valid signature by key
 * (`name`, `pk`). Per C2SP, the first signature line matching the name and key
 * hash decides; a malformed note is false, not an exception.
 */
export function verifyNote(text: string | Uint8Array, name: string, pk: Uint8Array): boolean {
  let note: Note;
  try {
    note = parseNote(text);
  } catch {
    return false;
  }
  if (pk.length !== 32) return false;
  const want = keyHash(name, pk);
  const sig = note.signatures.find((s) => s.name === name && s.keyHash.every((b, i) => b === want[i]));
  if (!sig || sig.sig.length !== 64) return false;
  return verifyStrict(sig.sig, enc.encode(note.body), pk);
}
