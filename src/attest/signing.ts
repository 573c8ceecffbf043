/** Which key signs this run's artifacts (design/formats.md "Signatures and
 * keys"): --key, then PKGSWITCH_SIGNING_KEY, then the config's or the
 * default <root>/etc/pkgswitch/keys/signing.key. A secret key readable by
 * group or others, or not owned by root, is refused. */
import { closeSync, lstatSync, openSync, readSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { Config } from "../config/config.ts";
import { resolveInRoot, type Layout } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { READ_LIMIT, readBoundedText, readProblem } from "../config/bounded.ts";
import type { Signer, SigningSetup } from "../audit/opbuffer.ts";
import { checkpointBody } from "../audit/note.ts";
import { journalMacKey } from "../audit/journal-mac.ts";
import { hashCacheMacKey } from "../hashing/cache.ts";
import { signNote } from "./notesig.ts";
import { keyIdHex, MinisignError, parsePublicKey, parseSecretKey, signPrehashed, type ParsedSecretKey, type PublicKey, type SecretKey } from "./minisign.ts";
import { writeStderr } from "../sys/stdio.ts";

export const SECRET_KEY_FILE = "signing.key";
export const PUBLIC_KEY_FILE = "signing.pub";

/** Key name used in checkpoints: pkgswitch-<KEYID>. */
export const noteKeyName = (keyId: string) => `pkgswitch-${keyId}`;

/** A Signer for a loaded secret key. `origin` is the checkpoint origin line. */
export function signerFor(secret: SecretKey, origin: string): Signer {
  const keyId = keyIdHex(secret.keyId);
  let journalKey: Uint8Array | undefined;
  let cacheKey: Uint8Array | undefined;
  return {
    keyId,
    signFile(bytes, opId, fileName) {
      const ts = Math.floor(Date.now() / 1000);
      return signPrehashed(bytes, secret, {
        untrustedComment: `pkgswitch signature ${opId}`,
        trustedComment: `timestamp:${ts}\tfile:${fileName}\thashed\top:${opId}`,
      });
    },
    checkpoint(size, root) {
      return signNote(checkpointBody(origin, BigInt(size), root), noteKeyName(keyId), secret.seed, secret.pk);
    },
    // Derived on first use: node:crypto loads only when a journal is kept.
    get journalKey() {
      return (journalKey ??= journalMacKey(secret.seed));
    },
    get cacheKey() {
      return (cacheKey ??= hashCacheMacKey(secret.seed));
    },
  };
}

/** Refuse a secret key that others could read or that root does not own.
 * With `noFollow` (a key inside a managed root, its links already resolved
 * inside it) a link at the path is refused too: followed by the kernel it
 * could reach the host's own key and sign the root's record with it. */
export function checkKeyFile(path: string, noFollow = false): void {
  const st = (noFollow ? lstatSync : statSync)(path, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) throw new PkgswitchError(Exit.PERMISSION, `signing key ${path} is a symbolic link; inside a root the key must be a regular file`);
  // `keys generate` writes <keyDir>/signing.key only: for any other path
  // say how to put a key there, or how to use the generated one.
  if (!st) throw new PkgswitchError(Exit.USAGE, `signing key ${path} does not exist (create it with \`minisign -G -s ${path}\`, or use the key \`pkgswitch keys generate\` writes)`);
  if (!st.isFile()) throw new PkgswitchError(Exit.USAGE, `signing key ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new PkgswitchError(Exit.PERMISSION, `signing key ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== uid) throw new PkgswitchError(Exit.PERMISSION, `signing key ${path} is owned by uid ${st.uid}, not root`);
}

/** Load a secret key file (passphrase from env or, with `prompt`, the
 * terminal). `noFollow`: see checkKeyFile (`keyInRoot` gives the path and
 * the flag). */
export function loadSecretKey(path: string, env: Record<string, string | undefined>, noFollow = false, prompt = true): SecretKey {
  checkKeyFile(path, noFollow);
  let text: string;
  try {
    text = readBoundedText(path, { max: READ_LIMIT.small, noFollow });
  } catch (e) {
    // The errno stays reachable (`keys show` by a user who may not read the key).
    throw Object.assign(new PkgswitchError(Exit.PERMISSION, `cannot read signing key ${path}: ${readProblem(e)}`), { cause: e });
  }
  let secret: ParsedSecretKey;
  try {
    secret = parseSecretKey(text, () => env.PKGSWITCH_KEY_PASSPHRASE ?? (prompt ? promptPassphrase(`passphrase for ${path}: `) : undefined));
  } catch (e) {
    const damaged = e instanceof MinisignError && e.corrupt ? ` — restore it from a backup, or make a new key pair (${newKeyPair(path)})` : "";
    throw new PkgswitchError(Exit.USAGE, `signing key ${path}: ${(e as Error).message}${damaged}`);
  }
  if (secret.idUnchecked) checkKeyIdBeside(path, secret, noFollow);
  return secret;
}

/** How to make a new key pair at `path`: `keys generate` writes only
 * signing.key and signing.pub (into the root's key directory, or --dir), so
 * a key by another name (a --key or PKGSWITCH_SIGNING_KEY file) is made
 * with minisign, its public key beside it as publicKeyBeside reads it. */
function newKeyPair(path: string): string {
  if (basename(path) === SECRET_KEY_FILE) return `\`pkgswitch keys generate --force --dir ${dirname(path)}\`, or \`minisign -G -f -s ${path} -p ${publicKeyBeside(path)}\``;
  return `\`minisign -G -f -s ${path} -p ${publicKeyBeside(path)}\``;
}

/** The public key file kept beside a secret key: <name>.pub for <name>.key
 * (signing.key → signing.pub, as `keys generate` writes them and as
 * `minisign -G -p X.pub -s X.key` is usually run), else <file>.pub. */
export function publicKeyBeside(path: string): string {
  return path.endsWith(".key") ? `${path.slice(0, -4)}.pub` : `${path}.pub`;
}

/** A key with the zero checksum of `minisign -G -W` (and every key pkgswitch
 * wrote before 0.4.3) has nothing that protects its key id: a damaged id
 * would sign each operation under an id no verifier holds, and the record
 * would show it only later, as untrusted. The public key beside it holds the
 * id too: when it is the same Ed25519 key, the ids must agree. A public key
 * that is missing, unreadable, malformed or of another key proves nothing
 * here and is left to `audit verify`. */
function checkKeyIdBeside(path: string, secret: SecretKey, noFollow: boolean): void {
  const pubPath = publicKeyBeside(path);
  let pub: PublicKey;
  try {
    pub = parsePublicKey(readBoundedText(pubPath, { max: READ_LIMIT.small, noFollow }));
  } catch {
    return;
  }
  if (!Buffer.from(pub.pk).equals(Buffer.from(secret.pk)) || Buffer.from(pub.keyId).equals(Buffer.from(secret.keyId))) return;
  throw new PkgswitchError(
    Exit.USAGE,
    `signing key ${path}: key id ${keyIdHex(secret.keyId)} does not match ${keyIdHex(pub.keyId)} of the public key beside it (${pubPath}), the same Ed25519 key: one of the two files is damaged (the secret key's checksum is zero, as \`minisign -G -W\` writes it, so it cannot tell which) — restore them from a backup, or make a new key pair (${newKeyPair(path)})`,
  );
}

/** Read a passphrase from the terminal without echo; undefined when there is none. */
function promptPassphrase(prompt: string): string | undefined {
  if (!process.stdin.isTTY) return undefined;
  writeStderr(prompt);
  process.stdin.setRawMode?.(true);
  // The terminal sends UTF-8 bytes: kept as bytes and decoded once, so a
  // passphrase typed with "ä" is the one minisign -G was given.
  const bytes: number[] = [];
  const buf = Buffer.alloc(1);
  let fd = 0;
  try {
    fd = openSync("/dev/tty", "r");
    for (;;) {
      if (readSync(fd, buf, 0, 1, null) !== 1) break;
      const c = buf[0]!;
      if (c === 13 || c === 10) break;
      if (c === 3) throw new PkgswitchError(Exit.USAGE, "cancelled");
      if (c === 127 || c === 8) {
        // A whole character: its continuation bytes (10xxxxxx), then its first.
        while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
        bytes.pop();
      } else bytes.push(c);
    }
  } finally {
    process.stdin.setRawMode?.(false);
    if (fd) closeSync(fd);
    writeStderr("\n");
  }
  return Buffer.from(bytes).toString("utf8");
}

/** The secret key's path inside the root. */
export const DEFAULT_SECRET_KEY = `/etc/pkgswitch/keys/${SECRET_KEY_FILE}`;

/** Host path of a secret key named inside the root, its links resolved as
 * chroot(2) would; in a root other than "/" it is then read without
 * following a link (one planted after the resolution is refused). */
export function keyInRoot(layout: Layout, inRoot: string): { path: string; noFollow: boolean } {
  return { path: resolveInRoot(layout.root, inRoot), noFollow: layout.root !== "/" };
}

/** Resolve the signing setup for an operation. An explicit --key that cannot
 * be used stops the command before anything changes; a key found by env or
 * default path that fails degrades to signature "failed" (still recorded). */
export function signingFor(layout: Layout, config: Config, env: Record<string, string | undefined>, host: string, keyFlag?: string): SigningSetup {
  const origin = `pkgswitch/${host}`;
  if (keyFlag) return { mode: "key", signer: signerFor(loadSecretKey(keyFlag, env), origin) };
  // The environment is the operator's (a host path, followed as given);
  // the config and the default key are the root's (see keyInRoot).
  const { path, noFollow } = env.PKGSWITCH_SIGNING_KEY ? { path: env.PKGSWITCH_SIGNING_KEY, noFollow: false } : keyInRoot(layout, config.signingKey ?? DEFAULT_SECRET_KEY);
  const explicit = Boolean(env.PKGSWITCH_SIGNING_KEY || config.signingKey);
  if (!explicit && !lstatSync(path, { throwIfNoEntry: false })) return { mode: "off" };
  try {
    return { mode: "key", signer: signerFor(loadSecretKey(path, env, noFollow), origin) };
  } catch (e) {
    return { mode: "failed", reason: (e as Error).message };
  }
}
