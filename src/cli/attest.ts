/** Commands about keys: keys generate/show (audit verify, checkpoint and
 * export live in ./verify.ts). */
import { chmodSync, existsSync, lstatSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Exit, PkgswitchError, VerifyExit, type CommandExit } from "../errors.ts";
import { deniedError, isDenied, present } from "../config/access.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { formatPublicKey, generateSecretKey, keyIdHex, parsePublicKey, type GeneratedKey } from "../attest/minisign.ts";
import { DEFAULT_SECRET_KEY, PUBLIC_KEY_FILE, SECRET_KEY_FILE, keyInRoot, loadSecretKey, signerFor } from "../attest/signing.ts";
import type { CommandContext } from "./command.ts";
import { runOperation } from "../switch/session.ts";
import { READ_LIMIT, readBoundedText, readProblem } from "../config/bounded.ts";

/** Write a key pair into `dir` (secret 0600). A public key already there
 * moves to trusted/<KEYID>.pub: it stays trusted for what it signed. */
function installKeyPair(dir: string, key: GeneratedKey, opId?: string): void {
  const sk = join(dir, SECRET_KEY_FILE);
  const pk = join(dir, PUBLIC_KEY_FILE);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(pk)) {
      const old = readBoundedText(pk, { max: READ_LIMIT.small, noFollow: true });
      mkdirSync(join(dir, "trusted"), { recursive: true, mode: 0o755 });
      writeFileAtomic(join(dir, "trusted", `${keyIdHex(parsePublicKey(old).keyId)}.pub`), old, 0o644);
    }
    writeFileAtomic(sk, key.secretKeyText, 0o600);
    chmodSync(sk, 0o600); // whatever the umask
    writeFileAtomic(pk, key.publicKeyText, 0o644);
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot write keys to ${dir}: ${(e as Error).message}`, opId);
  }
}

/** `keys rotate`: the new key is announced in an operation signed by the
 * old one (so a verifier holding only the old key can follow the chain of
 * trust); the old public key moves to trusted/ so old operations still
 * verify; the old secret key is removed. */
export async function cmdKeysRotate(ctx: CommandContext): Promise<CommandExit> {
  const s = ctx.session();
  const dir = s.layout.keyDir;
  const { path: sk, noFollow } = keyInRoot(s.layout, DEFAULT_SECRET_KEY);
  if (!lstatSync(sk, { throwIfNoEntry: false })) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no signing key at ${sk} to rotate (create one with \`pkgswitch keys generate\`)`);
  const old = loadSecretKey(sk, process.env, noFollow); // refuses bad permissions, wrong passphrase, a link inside a root
  const oldId = keyIdHex(old.keyId);
  const next = generateSecretKey();
  const nextId = keyIdHex(next.keyId);
  if (s.dryRun) {
    ctx.out.line(`would replace key ${oldId} by a new key, announced in an operation signed by ${oldId}`);
    return Exit.OK;
  }
  // The announcing operation is signed with exactly the key being rotated.
  s.signing = (host) => ({ mode: "key", signer: signerFor(old, `pkgswitch/${host}`) });
  const { summary } = await runOperation(s, "keys rotate", async ({ op }) => {
    op.record("key.rotate", { old_key_id: oldId, new_key_id: nextId, new_public_key: next.publicKeyText.trim().split("\n")[1]!, trusted_old_key: join(dir, "trusted", `${oldId}.pub`) });
    return { status: "ok", exitCode: Exit.OK, counts: { rotated: 1 } };
  });
  if (summary.signature !== "signed") throw new PkgswitchError(Exit.INTERNAL, `the rotation operation ${summary.opId} could not be signed with the old key; keys left unchanged`, summary.opId);
  // The old key stays trusted for what it signed (from the secret key itself,
  // whatever signing.pub says).
  try {
    mkdirSync(join(dir, "trusted"), { recursive: true, mode: 0o755 });
    writeFileAtomic(join(dir, "trusted", `${oldId}.pub`), formatPublicKey(old.pk, old.keyId), 0o644);
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot write keys to ${dir}: ${(e as Error).message}`, summary.opId);
  }
  installKeyPair(dir, next, summary.opId);
  ctx.out.json({ old_key_id: oldId, new_key_id: nextId, op: summary.opId });
  ctx.out.line(`key ${oldId} → ${nextId}; announced in op ${summary.opId} (signed by ${oldId}); old public key kept in ${join(dir, "trusted", `${oldId}.pub`)}`);
  return Exit.OK;
}

export async function cmdKeysGenerate(ctx: CommandContext): Promise<CommandExit> {
  const dir = resolve((ctx.parsed.values.dir as string | undefined) ?? ctx.layout().keyDir);
  const sk = join(dir, SECRET_KEY_FILE);
  const pk = join(dir, PUBLIC_KEY_FILE);
  if (existsSync(sk) && ctx.parsed.values.force !== true) throw new PkgswitchError(Exit.USAGE, `${sk} exists; use --force to replace it (old signatures still verify with the old public key)`);
  if (ctx.globals.dryRun) {
    ctx.out.line(`would write ${sk} and ${pk}`);
    return Exit.OK;
  }
  const key = generateSecretKey();
  installKeyPair(dir, key);
  const id = keyIdHex(key.keyId);
  ctx.out.json({ key_id: id, secret_key: sk, public_key: pk });
  ctx.out.line(`key ${id}\n  secret: ${sk} (0600; keep it off backups you do not trust)\n  public: ${pk}`);
  return Exit.OK;
}

/** A public key file's text; a directory, a FIFO, a device (a link to
 * /dev/zero), a file over 1 MiB is not a key file: one line, exit 2 (as a
 * file that is not a key), never a read that blocks or fills memory. */
function readPublicKeyFile(path: string, noFollow: boolean): string {
  try {
    return readBoundedText(path, { max: READ_LIMIT.small, noFollow });
  } catch (e) {
    if (isDenied(e)) throw deniedError(path);
    throw new PkgswitchError(Exit.USAGE, `public key ${path} ${readProblem(e)}: it must be a regular file of at most 1 MiB holding a minisign public key — ${noFollow ? "move it aside and put the key file there" : "give the .pub file itself"}`);
  }
}

export async function cmdKeysShow(ctx: CommandContext): Promise<CommandExit> {
  const given = ctx.parsed.values.pubkey as string[] | undefined;
  let text: string;
  let path: string;
  if (ctx.globals.key && !given) {
    const s = loadSecretKey(ctx.globals.key, process.env);
    text = formatPublicKey(s.pk, s.keyId);
    path = ctx.globals.key;
  } else {
    path = given?.[0] ?? join(ctx.layout().keyDir, PUBLIC_KEY_FILE);
    if (!present(path)) throw new PkgswitchError(VerifyExit.NOT_FOUND, `no public key at ${path} (create one with \`pkgswitch keys generate\`)`);
    // The root's own key is not followed through a link (like every file
    // pkgswitch keeps in a root); a --pubkey the operator names may be one.
    text = readPublicKeyFile(path, given === undefined);
  }
  let key;
  try {
    key = parsePublicKey(text);
  } catch (e) {
    throw new PkgswitchError(Exit.USAGE, `${path}: ${(e as Error).message}`);
  }
  const id = keyIdHex(key.keyId);
  const line = text.trim().split("\n")[1]!;
  if (!ctx.globals.key && !given) warnUnusableDefaultKey(ctx);
  ctx.out.json({ key_id: id, public_key: line, file: path });
  ctx.out.line(`key id:     ${id}\npublic key: ${line}\nfile:       ${path}`);
  return Exit.OK;
}

/** `keys show` prints signing.pub; the secret key beside it may be damaged
 * (an operation signing with it is then recorded "failed", with a warning):
 * say so here too. An encrypted key is not unlocked for this (no prompt, no
 * scrypt): only a key that fails without its passphrase is reported. Nor is
 * a key this user may not read: `keys show` needs no privilege, the
 * operations that sign run as root, who can. */
function warnUnusableDefaultKey(ctx: CommandContext): void {
  const { path, noFollow } = keyInRoot(ctx.layout(), DEFAULT_SECRET_KEY);
  if (!lstatSync(path, { throwIfNoEntry: false })) return;
  try {
    loadSecretKey(path, {}, noFollow, false);
  } catch (e) {
    if (e instanceof PkgswitchError && /passphrase is required/.test(e.message)) return;
    if (isDenied(e) || isDenied((e as Error).cause)) return;
    ctx.out.warn(`${(e as Error).message}; an operation that signs with it is recorded "signature": "failed"`);
  }
}
