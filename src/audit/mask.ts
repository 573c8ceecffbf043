/** The secrets masker (formats.md "Events"): every piece of free-form text
 * (argv, environment, command output, error messages) passes through here
 * before it is recorded. Pure: strings in, strings out.
 *
 * A secret is replaced by `<redacted:sha256:<first 8 hex of sha256(secret)>>`:
 * an auditor can confirm "the token used was the one I think" without the
 * record disclosing it, and 32 bits are too few to brute-force a real secret
 * from the record but enough to tell secrets apart.
 *
 * Bias: when unsure, mask. A masked ordinary word costs an auditor a little
 * context; a leaked password in a signed, append-only audit trail cannot be
 * taken back. */
import { sha256Hex } from "../sys/index.ts";
import { DIGEST_KEYS } from "./event.ts";

/** First 8 hex digits of SHA-256 of the secret's UTF-8 bytes. */
export function fingerprint(secret: string): string {
  return sha256Hex(secret).slice(0, 8);
}

/** The text that replaces `secret` in recorded output. */
export function redaction(secret: string): string {
  return `<redacted:sha256:${fingerprint(secret)}>`;
}

const MARKER = /<redacted:sha256:[0-9a-f]{8}>/g;
const isMarker = (s: string) => /^<redacted:sha256:[0-9a-f]{8}>$/.test(s);

/** Name components that say "the value is a secret". AUTH excludes AUTHOR
 * and AUTHORITY (git author names, XAUTHORITY paths), keeps AUTHORIZATION. */
const SECRET_WORD = "passwd|password|passphrase|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential|auth(?!or(?!iz))";
const SECRET_NAME = new RegExp(`(?:${SECRET_WORD})`, "i");
/** Names that point at a secret or switch a behaviour rather than hold one
 * (`--password-file PATH`, `--password-stdin`, `SSH_AUTH_SOCK`): their
 * values are locations worth recording, and masking the word after a
 * boolean flag would hide an innocent argument. */
const NOT_A_VALUE = /(?:^|[_.-])(?:file|path|dir|fd|stdin|sock|env|cmd|command|helper|prompt)$|^-*(?:no|ask|show|prompt)[_.-]/i;

/** True when a variable, option or field named `name` holds a secret value.
 * Matches /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)/i
 * (plus PASSPHRASE and ACCESS_KEY), minus the exceptions above. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) && !NOT_A_VALUE.test(name);
}

// ---- the patterns --------------------------------------------------------
// One combined regex, scanned once: each span of text is claimed by at most
// one rule, so a replacement is never re-read by another rule (e.g. the
// `Authorization:` header rule and the `name: value` rule would otherwise
// both fire). At one position the earlier alternative wins.
const NAME_CH = "[A-Za-z0-9_.-]";
// A value: quoted (mask the inside), or up to whitespace/'&' (query strings).
// An auth scheme word belongs to its token ("token: Bearer abc" masks both),
// and a PEM block is left to its own rule, which masks all of it.
const VALUE = `(?!-----BEGIN )(?:(?:bearer|basic|bot)[ \\t]+)?(?:"(?:[^"\\\\\\n]|\\\\.)*"|'[^'\\n]*'|[^\\s&]+)`;
/** A whole name (a maximal run of name characters after `prefix`) that
 * contains a secret word, captured as group `group`. Linear time: the word
 * is found by a lookahead and the run is taken atomically (lookahead plus
 * back-reference), so a long run of name characters without a separator,
 * e.g. a base64 blob in command output, is scanned once, not once per
 * starting position (which was quadratic: seconds for 50 KB). */
const wholeName = (group: string, prefix: string) =>
  `(?=${prefix}${NAME_CH}*?(?:${SECRET_WORD}))(?=(?<${group}>${prefix}${NAME_CH}*))\\k<${group}>`;
const RULES = [
  // PEM private key blocks (RSA, EC, OPENSSH, ENCRYPTED, PGP ... BLOCK);
  // an unterminated block (truncated output) is masked to the end.
  String.raw`(?<pemBegin>-----BEGIN (?<pemLabel>[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----)(?<pemBody>[\s\S]*?)(?<pemEnd>-----END \k<pemLabel>-----|$)`,
  // minisign secret key: the base64 line after its untrusted comment ...
  String.raw`(?<msHead>untrusted comment:[^\r\n]*minisign (?:encrypted )?secret key[^\r\n]*\r?\n)(?<msKey>[A-Za-z0-9+/]+={0,2})`,
  // ... or on its own: "Ed" + KDF ("Sc" or none) + "B2", 158 bytes.
  String.raw`(?<msBare>\bRW(?:RTY0Iy|QAAEIy)[A-Za-z0-9+/]{100,}={0,2})`,
  // Authorization / Proxy-Authorization headers: a one-token scheme stays
  // visible; any other value (Digest's quoted params included) is masked to
  // the end of the line or an unbalanced quote (the end of a -H "..." arg).
  String.raw`(?<authHead>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:(?<authScheme>(?:bearer|basic|token|bot)\s+)(?<authTok>[^\s"']+)|(?<authOther>(?:"[^"\r\n]*"|[^\r\n"'])+))`,
  // URL userinfo: scheme://user:password@host; the user stays visible.
  String.raw`(?<urlHead>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:@/?#]*:)(?<urlPass>[^\s/?#]*)(?=@)`,
  // Bare bearer tokens, and Basic credentials (base64 of "user:pass"; the
  // decode check keeps "Basic usage" out).
  String.raw`(?<bearerHead>\bbearer\s+)(?<bearerTok>[A-Za-z0-9\-._~+/]+=*)(?=[\s"',;)]|$)`,
  String.raw`(?<basicHead>\bbasic\s+)(?<basicTok>[A-Za-z0-9+/]{4,}={0,2})(?=[\s"',;)]|$)`,
  // Well-known token formats that need no name beside them.
  String.raw`(?<known>\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})\b)`,
  // --password VALUE (an option followed by its value, inside a string).
  `(?<flagHead>(?<![^\\s"'])${wholeName("flagName", "--?")}[ \\t]+)(?<flagVal>${VALUE})`,
  // name=value, name: value, "name": "value", --token=value, API_KEY=value.
  `(?<kvHead>(?<!${NAME_CH})${wholeName("kvName", "")}["']?(?:[ \\t]*=[ \\t]*|:[ \\t]*))(?<kvVal>${VALUE})`,
];
const PATTERN = new RegExp(RULES.join("|"), "gi");

/** Mask `value`, or its inside when it is quoted. */
function maskValue(m: Masker, value: string): string {
  const q = value[0];
  if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
    const inner = value.slice(1, -1);
    return inner === "" ? value : q + m.secret(inner) + q;
  }
  return m.secret(value);
}

/** Base64 that decodes to printable "user:password". */
function isBasicCredential(b64: string): boolean {
  const text = Buffer.from(b64, "base64").toString("latin1");
  return /^[\x20-\x7e]*:[\x20-\x7e]*$/.test(text) && text.length >= 2;
}

/** Collects the secrets it masks so later echoes of them can be masked too. */
class Masker {
  readonly secrets = new Set<string>();

  /** Record a secret, return its redaction. Markers pass through unchanged
   * so masking is idempotent. */
  secret(s: string): string {
    if (isMarker(s)) return s;
    this.secrets.add(s);
    return redaction(s);
  }

  text(s: string): string {
    return s.replace(PATTERN, (match: string, ...args: unknown[]) => {
      const g = args[args.length - 1] as Record<string, string | undefined>;
      if (g.pemBegin !== undefined) {
        const body = g.pemBody!.trim();
        if (body === "" || isMarker(body)) return match;
        return `${g.pemBegin}\n${this.secret(body)}\n${g.pemEnd}`;
      }
      if (g.msHead !== undefined) return g.msHead + this.secret(g.msKey!);
      if (g.msBare !== undefined) return this.secret(g.msBare);
      if (g.authHead !== undefined) {
        if (g.authScheme !== undefined) return g.authHead + g.authScheme + this.secret(g.authTok!);
        const other = g.authOther!.trimEnd();
        return g.authHead + this.secret(other) + g.authOther!.slice(other.length);
      }
      if (g.urlHead !== undefined) return g.urlPass === "" ? match : g.urlHead + this.secret(g.urlPass!);
      if (g.bearerHead !== undefined) return g.bearerHead + this.secret(g.bearerTok!);
      if (g.basicHead !== undefined) {
        return isBasicCredential(g.basicTok!) ? g.basicHead + this.secret(g.basicTok!) : match;
      }
      if (g.known !== undefined) return this.secret(g.known);
      // An excluded name (`--password-file`, `TOKEN_PATH`) keeps its value,
      // but the value is still read for secrets of its own (a URL password).
      if (g.flagHead !== undefined) {
        return g.flagHead + (isSecretName(g.flagName!) ? maskValue(this, g.flagVal!) : this.text(g.flagVal!));
      }
      if (g.kvHead !== undefined) {
        return g.kvHead + (isSecretName(g.kvName!) ? maskValue(this, g.kvVal!) : this.text(g.kvVal!));
      }
      return match;
    });
  }

  /** Mask every further occurrence of a collected secret (a password echoed
   * in an error message, a token repeated in a URL), outside markers. Short
   * secrets are left alone: replacing every "abc" would shred the text. */
  sweep(s: string): string {
    const found = [...this.secrets].filter((x) => x.length >= 6).sort((a, b) => b.length - a.length);
    if (found.length === 0) return s;
    const parts = s.split(MARKER);
    const markers = s.match(MARKER) ?? [];
    let out = "";
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i]!;
      for (const secret of found) {
        if (part.includes(secret)) part = part.split(secret).join(redaction(secret));
      }
      out += part + (markers[i] ?? "");
    }
    return out;
  }
}

/** Mask the secrets in a piece of free-form text. */
export function maskText(s: string): string {
  const m = new Masker();
  return m.sweep(m.text(s));
}

/** Option names whose value is `user:password` (curl, wget). */
const USER_FLAG = /^(?:-u|--user|--proxy-user)$/;
/** `--name=value` or `NAME=value` (an `env`-style assignment) in one argument. */
const ASSIGN_ARG = /^(-{0,2}[A-Za-z0-9_][A-Za-z0-9_.-]*)=([\s\S]*)$/;
/** An option that takes its value from the next argument. */
const OPTION_ARG = /^-{1,2}[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** `user:password` with the password masked; unchanged without a ':'. */
function maskUserPass(m: Masker, cred: string): string {
  const colon = cred.indexOf(":");
  return colon < 0 ? m.text(cred) : cred.slice(0, colon + 1) + m.secret(cred.slice(colon + 1));
}

/** Mask an argument vector. Besides what `maskText` finds in each argument:
 * `--password X` masks the whole next argument, `--token=X` and
 * `API_KEY=X` the whole rest of the argument (spaces included), and
 * `-u user:pass` / `--user=user:pass` the part after ':'. */
export function maskArgv(argv: readonly string[]): string[] {
  const m = new Masker();
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const assign = ASSIGN_ARG.exec(arg);
    if (assign) {
      const [, name, value] = assign as unknown as [string, string, string];
      if (isSecretName(name) && value !== "") {
        out.push(`${name}=${m.secret(value)}`);
        continue;
      }
      if (USER_FLAG.test(name)) {
        out.push(`${name}=${maskUserPass(m, value)}`);
        continue;
      }
    } else if (OPTION_ARG.test(arg) && i + 1 < argv.length) {
      if (isSecretName(arg)) {
        out.push(arg, m.secret(argv[++i]!));
        continue;
      }
      if (USER_FLAG.test(arg)) {
        out.push(arg, maskUserPass(m, argv[++i]!));
        continue;
      }
    }
    out.push(m.text(arg));
  }
  return out.map((a) => m.sweep(a));
}

/** Mask an environment: a variable whose name says secret has its whole
 * value masked (the name is kept: that it was set is itself evidence);
 * other values pass through `maskText` (proxy URLs with passwords, etc.). */
export function maskEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  const m = new Masker();
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    out[name] = isSecretName(name) && value !== "" ? m.secret(value) : m.text(value);
  }
  for (const name of Object.keys(out)) out[name] = m.sweep(out[name]!);
  return out;
}

const ENV_KEEP = /^(PKGSWITCH_|LANG$|LC_ALL$|PATH$|SUDO_USER$|USER$|DEBIAN_FRONTEND$)/;

/** The environment worth recording: pkgswitch's own and locale variables, and
 * every variable whose name says secret (masked, so its fingerprint is on
 * record and its value is not). */
export function recordableEnv(env: Record<string, string | undefined>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const k of Object.keys(env).sort()) {
    const v = env[k];
    if (v !== undefined && (ENV_KEEP.test(k) || isSecretName(k))) picked[k] = v;
  }
  return maskEnv(picked);
}

/** Mask every free-form string in an event; digest fields pass untouched. */
export function maskFields(value: unknown, key = ""): unknown {
  if (typeof value === "string") return DIGEST_KEYS.has(key) ? value : maskText(value);
  if (Array.isArray(value)) return value.map((v) => maskFields(v, key));
  if (value && typeof value === "object" && typeof value !== "bigint") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskFields(v, k);
    return out;
  }
  return value;
}
