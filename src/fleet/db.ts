/** The connection to the fleet database, and what its failures mean to an
 * operator. Client: the `postgres` npm package (plain JavaScript over
 * node:net/node:tls, so the same code runs under Bun, Deno and Node; see
 * README's dependency table).
 *
 * Failures become one-line PkgswitchErrors with the fleet exit codes
 * (docs/exit-codes.md, "fleet"): the database cannot be reached, refuses the
 * login or the role lacks a privilege → 6 (I/O or permission), the schema is
 * missing or older than this pkgswitch → 3 (not found). */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { isIP } from "node:net";
import postgres from "postgres";
import { PkgswitchError, VerifyExit } from "../errors.ts";
import { findPassword, parseDbUrl, type ConnTarget } from "./conn.ts";
import { SCHEMA_VERSION } from "./schema.ts";

export type Sql = postgres.Sql<Record<string, never>>;

export interface OpenOptions {
  /** Give up connecting after this long (the hook path uses a short one). */
  connectTimeoutS?: number;
  env?: NodeJS.ProcessEnv;
}

export interface Db {
  sql: Sql;
  target: ConnTarget;
  close(): Promise<void>;
}

function tlsOptions(t: ConnTarget, env: NodeJS.ProcessEnv): postgres.Options<Record<string, never>>["ssl"] {
  switch (t.ssl) {
    case "disable":
      return false;
    case "prefer":
    case "require":
      return t.ssl;
    case "verify-full": {
      // As libpq: PGSSLROOTCERT names the CA that signed the server's cert,
      // else ~/.postgresql/root.crt if present, else the system's CAs.
      const home = join(env.HOME ?? homedir(), ".postgresql", "root.crt");
      const caFile = env.PGSSLROOTCERT ?? (existsSync(home) ? home : undefined);
      let ca: string | undefined;
      if (caFile) {
        try {
          ca = readFileSync(caFile, "utf8");
        } catch (e) {
          throw new PkgswitchError(VerifyExit.IO, `PGSSLROOTCERT ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      // TLS refuses an IP address as SNI name; the certificate's IP SAN is still checked.
      return { rejectUnauthorized: true, ...(isIP(t.host) ? {} : { servername: t.host }), ...(ca ? { ca } : {}) };
    }
  }
}

export function openDb(url: string, where: string, o: OpenOptions = {}): Db {
  const env = o.env ?? process.env;
  const target = parseDbUrl(url, where);
  const password = findPassword(target, env);
  const sql = postgres({
    host: target.host,
    port: target.port,
    database: target.database,
    username: target.user,
    ...(password !== undefined ? { password } : {}),
    ssl: tlsOptions(target, env),
    max: 1,
    connect_timeout: o.connectTimeoutS ?? 10,
    idle_timeout: 0,
    onnotice: () => {},
    connection: { application_name: "pkgswitch" },
  }) as unknown as Sql;
  return { sql, target, close: () => sql.end({ timeout: 1 }) };
}

/** An error from the driver or the server, as the operator should read it. */
export function dbError(e: unknown, target: ConnTarget, doing: string): PkgswitchError {
  if (e instanceof PkgswitchError) return e;
  const err = e as { code?: string; message?: string; errno?: string };
  const code = err.code ?? "";
  const where = `${target.display}`;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EHOSTUNREACH" || code === "ENETUNREACH" || code === "CONNECT_TIMEOUT" || code === "ETIMEDOUT" || code === "CONNECTION_CLOSED" || code === "CONNECTION_ENDED" || code === "CONNECTION_DESTROYED" || code === "ECONNRESET") {
    return new PkgswitchError(VerifyExit.IO, `fleet database ${where} unreachable while ${doing} (${code}); nothing was changed here — retry when it is up`);
  }
  if (code === "28P01" || code === "28000") return new PkgswitchError(VerifyExit.IO, `fleet database ${where} refused the login of ${target.user} (${err.message}); set PGPASSWORD or a pgpass entry`);
  if (code === "3D000") return new PkgswitchError(VerifyExit.NOT_FOUND, `fleet database ${where}: ${err.message}`);
  if (code === "42501") return new PkgswitchError(VerifyExit.IO, `fleet database ${where}: permission denied while ${doing} (${err.message}); is ${target.user} a member of the right role (docs/fleet.md)?`);
  if (code === "42P01" || code === "3F000") return new PkgswitchError(VerifyExit.NOT_FOUND, `fleet database ${where} has no pkgswitch schema (${err.message}); run \`pkgswitch fleet init --db URL\` as its owner`);
  if (/^[0-9A-Z]{5}$/.test(code)) return new PkgswitchError(VerifyExit.IO, `fleet database ${where} failed while ${doing}: ${err.message} (SQLSTATE ${code})`);
  return new PkgswitchError(VerifyExit.IO, `fleet database ${where} failed while ${doing}: ${err.message ?? String(e)}`);
}

/** How long a fleet command waits for the database by default: the driver
 * has no read timeout, so a server that logs in and then never answers
 * would hang a command (and a playbook) for ever. */
export const DEFAULT_DEADLINE_MS = 30_000;

export interface DeadlineOptions extends OpenOptions {
  /** Give up (exit 6) when the database has not answered for this long:
   * since the start, or since `fn` last called `alive()`. */
  deadlineMs?: number;
}

/** A deadline that `arm()` (re)starts: `expired` rejects with `fail()` once
 * `ms` pass without another `arm()`; `stop()` ends it. */
export function watchdog(ms: number, fail: () => Error): { expired: Promise<never>; arm: () => void; stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expire!: (e: Error) => void;
  const expired = new Promise<never>((_, reject) => (expire = reject));
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => expire(fail()), ms);
  };
  return { expired, arm, stop: () => clearTimeout(timer) };
}

/** The connect timeout of a command bounded by `ms` (at most 10 s). */
export const connectTimeoutFor = (ms: number): number => Math.min(10, Math.max(ms / 1000, 0.1));

/** Run `fn` with an open database, mapping every failure; always closes.
 * Past the deadline the connection is dropped (the server rolls back what
 * was open) and the command fails with one line and exit 6. */
export async function withDb<T>(url: string, where: string, doing: string, fn: (db: Db, alive: () => void) => Promise<T>, o: DeadlineOptions = {}): Promise<T> {
  const ms = o.deadlineMs ?? DEFAULT_DEADLINE_MS;
  const db = openDb(url, where, { connectTimeoutS: connectTimeoutFor(ms), ...o });
  const dog = watchdog(ms, () => new PkgswitchError(VerifyExit.IO, `fleet database ${db.target.display} did not answer within ${ms} ms while ${doing}; nothing was changed here — check the server, or allow longer with --timeout MS`));
  let timedOut = false;
  dog.arm();
  try {
    const work = fn(db, dog.arm);
    work.catch(() => {});
    return await Promise.race([work, dog.expired.catch((e) => ((timedOut = true), Promise.reject(e)))]);
  } catch (e) {
    throw dbError(e, db.target, doing);
  } finally {
    dog.stop();
    await (timedOut ? db.sql.end({ timeout: 0 }) : db.close()).catch(() => {});
  }
}

/** Refuse to work against a schema this pkgswitch does not know. */
export async function requireSchema(sql: Sql, display: string): Promise<void> {
  const rows = await sql<{ v: number | null }[]>`SELECT max(version)::int AS v FROM pkgswitch.schema_migrations`;
  const v = rows[0]?.v ?? 0;
  if (v < SCHEMA_VERSION) throw new PkgswitchError(VerifyExit.NOT_FOUND, `fleet database ${display} is at schema version ${v}, this pkgswitch needs ${SCHEMA_VERSION}; run \`pkgswitch fleet init --db URL\` as its owner`);
  if (v > SCHEMA_VERSION) throw new PkgswitchError(VerifyExit.USAGE, `fleet database ${display} is at schema version ${v}, newer than this pkgswitch knows (${SCHEMA_VERSION}); upgrade pkgswitch`);
}
