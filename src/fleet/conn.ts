/** Where the fleet database is and how to log in: the URL (pure parsing) and
 * the password (PGPASSWORD, else a pgpass file — never the command line, so
 * it never reaches `ps` or the masked argv that op.start records). */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { usageError } from "../errors.ts";

export type SslMode = "disable" | "prefer" | "require" | "verify-full";

export interface ConnTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  ssl: SslMode;
  /** The URL as shown in messages (it never holds a password). */
  display: string;
}

/** A string that failed to parse as a URL, fit to quote in a message:
 * whatever precedes its last "@" (USER:PASSWORD, however mangled) is
 * replaced, so a password never reaches the terminal, a log or a CI run. */
export function withoutCredentials(text: string): string {
  const at = text.lastIndexOf("@");
  if (at < 0) return text;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(text)?.[0] ?? "";
  return `${scheme}…@${text.slice(at + 1)}`;
}

/** Parse `postgres://USER@HOST[:PORT]/DB[?sslmode=…]`. A password in the
 * URL is refused: it would sit in argv, shell history and config files. */
export function parseDbUrl(url: string, where: string): ConnTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw usageError(`${where}: ${JSON.stringify(withoutCredentials(url))} is not a URL; expected postgres://USER@HOST:PORT/DATABASE`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") throw usageError(`${where}: ${u.protocol} is not postgres:// (expected postgres://USER@HOST:PORT/DATABASE)`);
  if (u.password !== "") throw usageError(`${where}: the URL holds a password; remove it and set PGPASSWORD or a pgpass file (~/.pgpass, PGPASSFILE) instead — a password on the command line is visible to every user`);
  const user = decodeURIComponent(u.username);
  if (user === "") throw usageError(`${where}: name the role to log in as: postgres://USER@${u.host}${u.pathname}`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (database === "" || database.includes("/")) throw usageError(`${where}: name the database: postgres://${user}@${u.host}/DATABASE`);
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw usageError(`${where}: name the database host: postgres://${user}@HOST/${database}`);
  const port = u.port === "" ? 5432 : Number(u.port);
  let ssl: SslMode = "prefer";
  for (const [k, v] of u.searchParams) {
    if (k !== "sslmode") throw usageError(`${where}: unknown URL parameter ${JSON.stringify(k)} (only sslmode)`);
    if (v !== "disable" && v !== "prefer" && v !== "require" && v !== "verify-full") throw usageError(`${where}: sslmode ${JSON.stringify(v)}; use disable, prefer, require or verify-full`);
    ssl = v;
  }
  u.search = u.searchParams.toString() === "" ? "" : u.search;
  return { host, port, database, user, ssl, display: u.toString() };
}

/** One pgpass line's fields (`host:port:database:user:password`, `\:` and
 * `\\` escaped, `*` matching anything). */
function splitPgpass(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "\\" && i + 1 < line.length) cur += line[++i];
    else if (c === ":") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** The password for `t` from pgpass text, as libpq finds it (first match). */
export function pgpassLookup(text: string, t: ConnTarget): string | null {
  const want = [t.host, String(t.port), t.database, t.user];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (line === "" || line.startsWith("#")) continue;
    const f = splitPgpass(line);
    if (f.length < 5) continue;
    // localhost in pgpass also matches a local connection, as in libpq.
    if (want.every((w, i) => f[i] === "*" || f[i] === w || (i === 0 && f[i] === "localhost" && (w === "127.0.0.1" || w === "::1")))) return f.slice(4).join(":");
  }
  return null;
}

/** PGPASSWORD, else the pgpass file (PGPASSFILE or ~/.pgpass; ignored, as by
 * libpq, unless only its owner can read it), else none (peer/cert auth). */
export function findPassword(t: ConnTarget, env: NodeJS.ProcessEnv): string | undefined {
  if (env.PGPASSWORD !== undefined && env.PGPASSWORD !== "") return env.PGPASSWORD;
  const file = env.PGPASSFILE ?? join(env.HOME ?? homedir(), ".pgpass");
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile() || (st.mode & 0o077) !== 0) return undefined;
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  return pgpassLookup(text, t) ?? undefined;
}
