/** Which key signs this run's artifacts (design/formats.md "Signatures and
 * keys"): --key, then PKGSWITCH_SIGNING_KEY, then the config's or the
 * default <root>/etc/pkgswitch/keys/signing.key. A secret key readable by
 * group or others, or not owned by root, is refused. */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { resolveInRoot, type Layout } from "../config/paths.ts";
import { Exit, PkgswitchError } from "../errors.ts";
import { READ_LIMIT, readBoundedText, readProblem } from "../config/bounded.ts";
import type { Signer, SigningSetup } from "../audit/opbuffer.ts";
import { checkpointBody } from "../audit/note.ts";
import { signNote } from "./notesig.ts";
import { keyIdHex, parseSecretKey, signPrehashed, type SecretKey } from "./minisign.ts";
import { writeStderr } from "../sys/stdio.ts";

export const SECRET_KEY_FILE = "signing.key";
export const PUBLIC_KEY_FILE = "signing.pub";

/** Key name used in checkpoints: pkgswitch-<KEYID>. */
export const noteKeyName = (keyId: string) => `pkgswitch-${keyId}`;

/** A Signer for a loaded secret key. `origin` is the checkpoint origin line. */
export function signerFor(secret: SecretKey, origin: string): Signer {
  const keyId = keyIdHex(secret.keyId);
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
  };
}

/** Refuse a secret key that others could read or that root does not own. */
export function checkKeyFile(path: string): void {
  const st = statSync(path, { throwIfNoEntry: false });
  // `keys generate` writes <keyDir>/signing.key only: for any other path
  // say how to put a key there, or how to use the generated one.
  if (!st) throw new PkgswitchError(Exit.USAGE, `signing key ${path} does not exist (create it with \`minisign -G -s ${path}\`, or use the key \`pkgswitch keys generate\` writes)`);
  if (!st.isFile()) throw new PkgswitchError(Exit.USAGE, `signing key ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new PkgswitchError(Exit.PERMISSION, `signing key ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== uid) throw new PkgswitchError(Exit.PERMISSION, `signing key ${path} is owned by uid ${st.uid}, not root`);
}

/** Load a secret key file (passphrase from env or the terminal). */
export function loadSecretKey(path: string, env: Record<string, string | undefined>): SecretKey {
  checkKeyFile(path);
  let text: string;
  try {
    text = readBoundedText(path, { max: READ_LIMIT.small });
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot read signing key ${path}: ${readProblem(e)}`);
  }
  try {
    return parseSecretKey(text, () => env.PKGSWITCH_KEY_PASSPHRASE ?? promptPassphrase(`passphrase for ${path}: `));
  } catch (e) {
    throw new PkgswitchError(Exit.USAGE, `signing key ${path}: ${(e as Error).message}`);
  }
}

/** Read a passphrase from the terminal without echo; undefined when there is none. */
function promptPassphrase(prompt: string): string | undefined {
  if (!process.stdin.isTTY) return undefined;
  writeStderr(prompt);
  process.stdin.setRawMode?.(true);
  let out = "";
  const buf = Buffer.alloc(1);
  let fd = 0;
  try {
    fd = openSync("/dev/tty", "r");
    for (;;) {
      if (readSync(fd, buf, 0, 1, null) !== 1) break;
      const c = buf[0]!;
      if (c === 13 || c === 10) break;
      if (c === 3) throw new PkgswitchError(Exit.USAGE, "cancelled");
      if (c === 127 || c === 8) out = out.slice(0, -1);
      else out += String.fromCharCode(c);
    }
  } finally {
    process.stdin.setRawMode?.(false);
    if (fd) closeSync(fd);
    writeStderr("\n");
  }
  return out;
}

/** Resolve the signing setup for an operation. An explicit --key that cannot
 * be used stops the command before anything changes; a key found by env or
 * default path that fails degrades to signature "failed" (still recorded). */
export function signingFor(layout: Layout, config: Config, env: Record<string, string | undefined>, host: string, keyFlag?: string): SigningSetup {
  const origin = `pkgswitch/${host}`;
  if (keyFlag) return { mode: "key", signer: signerFor(loadSecretKey(keyFlag, env), origin) };
  const path = env.PKGSWITCH_SIGNING_KEY || (config.signingKey ? resolveInRoot(layout.root, config.signingKey) : join(layout.keyDir, SECRET_KEY_FILE));
  const explicit = Boolean(env.PKGSWITCH_SIGNING_KEY || config.signingKey);
  if (!explicit && !existsSync(path)) return { mode: "off" };
  try {
    return { mode: "key", signer: signerFor(loadSecretKey(path, env), origin) };
  } catch (e) {
    return { mode: "failed", reason: (e as Error).message };
  }
}
