/** The trusted key set for verification (design/formats.md): by default the
 * local `signing.pub` and `trusted/*.pub` of the key directory; with
 * `--pubkey FILE` (repeatable), only the keys given. */
import { READ_LIMIT, readBoundedText } from "../config/bounded.ts";
import { join } from "node:path";
import { keyIdHex, parsePublicKey, type PublicKey } from "../attest/minisign.ts";
import { PUBLIC_KEY_FILE } from "../attest/signing.ts";
import { usageError } from "../errors.ts";
import { listDir, readArtifact } from "./files.ts";

export interface TrustedKey extends PublicKey {
  /** KEYID (16 uppercase hex). */
  id: string;
  /** Where it came from. */
  file: string;
  /** The key file's text (for bundles). */
  text: string;
}

export interface TrustSet {
  keys: TrustedKey[];
  /** Human description of where the keys came from. */
  source: string;
  /** Files that could not be used (default set only; --pubkey errors are usage errors). */
  problems: { file: string; message: string; io: boolean }[];
}

function load(file: string, text: string): TrustedKey {
  const k = parsePublicKey(text);
  return { ...k, id: keyIdHex(k.keyId), file, text };
}

/** Keys named with --pubkey: each must exist and parse (else usage error, exit 2). */
export function trustFromFiles(files: readonly string[]): TrustSet {
  const keys: TrustedKey[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readBoundedText(f, { max: READ_LIMIT.small });
    } catch (e) {
      throw usageError(`--pubkey ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      keys.push(load(f, text));
    } catch (e) {
      throw usageError(`--pubkey ${f}: not a minisign public key (${(e as Error).message})`);
    }
  }
  return { keys, source: files.join(", "), problems: [] };
}

/** The default trusted set under the key directory. Missing files are fine
 * (no key = nothing trusted); unreadable or malformed ones are reported. */
export function defaultTrust(keyDir: string): TrustSet {
  const keys: TrustedKey[] = [];
  const problems: TrustSet["problems"] = [];
  const tryFile = (file: string, mustExist: boolean) => {
    const r = readArtifact(file);
    if (!r.ok) {
      if (r.exit === 6 || mustExist) problems.push({ file, message: r.message, io: r.exit === 6 });
      return;
    }
    try {
      keys.push(load(file, r.bytes.toString("utf8")));
    } catch (e) {
      problems.push({ file, message: `not a minisign public key (${(e as Error).message})`, io: false });
    }
  };
  tryFile(join(keyDir, PUBLIC_KEY_FILE), false);
  const trustedDir = join(keyDir, "trusted");
  const ls = listDir(trustedDir);
  if (ls.ok) for (const n of ls.names.filter((n) => n.endsWith(".pub")).sort()) tryFile(join(trustedDir, n), true);
  else if (ls.exit === 6) problems.push({ file: trustedDir, message: ls.message, io: true });
  return { keys, source: `${join(keyDir, PUBLIC_KEY_FILE)} and ${trustedDir}/*.pub`, problems };
}

/** Trusted key by KEYID. */
export function keyById(trust: TrustSet, id: string): TrustedKey | undefined {
  return trust.keys.find((k) => k.id === id);
}
