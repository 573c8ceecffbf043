/** A throwaway PostgreSQL cluster for the fleet tests and bench: initdb in
 * a temp dir as the postgres user, listening on 127.0.0.1 and a socket in
 * that dir on a free port, password (SCRAM) logins; stopped and removed at
 * the end. Never the machine's default cluster. Needs Debian's `postgresql`
 * (scripts/setup-postgres.sh). */
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const SUPERUSER_PASSWORD = "fleet-test-superuser";

export interface Cluster {
  dir: string;
  port: number;
  /** URL without a password, for a role. */
  url(role: string, db?: string): string;
  /** psql (over TCP; the superuser unless `role`), statements one by one from stdin; throws on error unless allowFail. */
  psql(sql: string, opts?: { role?: string; password?: string; db?: string; allowFail?: boolean }): { code: number; stdout: string; stderr: string };
  stop(): void;
  start(): void;
  destroy(): void;
}

function pgBin(name: string): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(base, v, "bin", name))) return join(base, v, "bin", name);
  throw new Error(`no ${name} under ${base}: run scripts/setup-postgres.sh`);
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function run(argv: string[], env: Record<string, string> = {}, input?: string) {
  const p = Bun.spawnSync(argv, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, stdin: input !== undefined ? Buffer.from(input) : "ignore" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function asPostgres(argv: string[]) {
  return run(["runuser", "-u", "postgres", "--", ...argv]);
}

export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-pg-"));
  const data = join(dir, "data");
  const pw = join(dir, "pw");
  writeFileSync(pw, SUPERUSER_PASSWORD + "\n");
  chownSync(dir, uid("postgres"), gid("postgres"));
  chownSync(pw, uid("postgres"), gid("postgres"));
  chmodSync(dir, 0o700);
  const init = asPostgres([pgBin("initdb"), "-D", data, "-U", "postgres", "--pwfile", pw, "-A", "scram-sha-256", "--no-sync", "-E", "UTF8", "--locale", "C"]);
  if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);
  const port = await freePort();
  const log = join(dir, "log");
  const start = () => {
    const r = asPostgres([pgBin("pg_ctl"), "-D", data, "-l", log, "-o", `-k ${dir} -h 127.0.0.1 -p ${port} -c fsync=off`, "-w", "start"]);
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${r.stdout}`);
  };
  const stop = () => {
    asPostgres([pgBin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  };
  start();
  const psql = (sql: string, o: { role?: string; password?: string; db?: string; allowFail?: boolean } = {}) => {
    const r = run([pgBin("psql"), "-h", "127.0.0.1", "-p", String(port), "-U", o.role ?? "postgres", "-d", o.db ?? "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-"], { PGPASSWORD: o.password ?? SUPERUSER_PASSWORD }, sql);
    if (r.code !== 0 && !o.allowFail) throw new Error(`psql failed: ${r.stderr}`);
    return r;
  };
  return {
    dir,
    port,
    url: (role, db = "fleet") => `postgres://${role}@127.0.0.1:${port}/${db}?sslmode=disable`,
    psql,
    stop,
    start,
    destroy() {
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function idOf(flag: string, name: string): number {
  const r = run(["id", flag, name]);
  return Number(r.stdout.trim());
}
const uid = (n: string) => idOf("-u", n);
const gid = (n: string) => idOf("-g", n);
