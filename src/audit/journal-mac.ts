/** Journal authentication (docs/formats.md "Journals and their MAC").
 *
 * A journal (`.inprogress-<op>.jsonl`) is finalized and signed by the next
 * run if the process dies; whoever can write the audit directory could plant
 * one. So an operation that signs keeps a MAC beside its journal, keyed from
 * the signing secret key, over (op id, seq, hash) of the latest event: the
 * events are hash-chained, so the MAC of the head authenticates the prefix.
 * The sidecar `.inprogress-<op>.mac` is one fixed-size line rewritten in
 * place after each event and fsynced with the journal. Recovery finalizes
 * only the prefix it authenticates (./recover.ts). */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { derivedMacKey, hmacHex, macEquals } from "../hashing/mac.ts";
import type { SigningSetup } from "./finalize.ts";

const KEY_CONTEXT = "pkgswitch journal mac v1";
const LINE_RE = /^pkgswitch-journal-mac v1 ([0-9]{10}) ([0-9a-f]{64})\n$/;
/** Bytes of a sidecar line (fixed: rewritten in place, never torn longer). */
export const MAC_LINE_BYTES = 101; // "pkgswitch-journal-mac v1 " + 10 digits + " " + 64 hex + "\n"

/** The MAC key: SHA-256(context ‖ seed) — a key of its own, never the seed,
 * so a MAC leaks nothing about the signing key. */
export function journalMacKey(seed: Uint8Array): Uint8Array {
  return derivedMacKey(KEY_CONTEXT, seed);
}

/** HMAC-SHA256 over `op \n seq \n hash` (hex). */
export function journalMac(key: Uint8Array, op: string, seq: number, hash: string): string {
  return hmacHex(key, `${op}\n${seq}\n${hash}`);
}

export function macLine(key: Uint8Array, op: string, seq: number, hash: string): string {
  return `pkgswitch-journal-mac v1 ${String(seq).padStart(10, "0")} ${journalMac(key, op, seq, hash)}\n`;
}

/** The seq a sidecar's text claims and its MAC, or null when it is not one. */
export function parseMacLine(text: string): { seq: number; mac: string } | null {
  const m = LINE_RE.exec(text);
  return m ? { seq: Number(m[1]), mac: m[2]! } : null;
}

/** Whether `mac` is the MAC of (op, seq, hash) under `key` (constant time). */
export function macMatches(key: Uint8Array, op: string, seq: number, hash: string, mac: string): boolean {
  return macEquals(mac, journalMac(key, op, seq, hash));
}

/** The journal MAC key of a signing setup, or null when the operation does
 * not sign (an unsigned journal has nothing to authenticate it with). */
export function journalKeyOf(signing: SigningSetup | undefined): Uint8Array | null {
  return signing?.mode === "key" ? (signing.signer.journalKey ?? null) : null;
}

/** The sidecar of a running operation: opened with the journal, rewritten
 * in place after every event (the process may be killed at any instant;
 * the page cache keeps what was written), fsynced with the journal. */
export class MacSidecar {
  private fd: number | null;
  constructor(path: string, private readonly key: Uint8Array, private readonly op: string) {
    this.fd = openSync(path, "wx", 0o600);
  }

  update(seq: number, hash: string): void {
    if (this.fd === null) return;
    try {
      writeSync(this.fd, macLine(this.key, this.op, seq, hash), 0);
    } catch {
      // As for the journal: a full disk must not fail recording. The MAC
      // stays at the last event it covered; recovery drops the rest.
      this.close();
    }
  }

  sync(): void {
    if (this.fd === null) return;
    try {
      fsyncSync(this.fd);
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

