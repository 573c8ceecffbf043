/** The fleet ledger on a real, throwaway PostgreSQL cluster (initdb in a
 * temp dir, 127.0.0.1 on a free port, stopped and removed at the end):
 * three hosts push, fleet verify/status see them; a host that rewrites its
 * history is refused with an alarm; the database refuses UPDATE/DELETE; push
 * is idempotent, survives SIGKILL, and fails cleanly with PostgreSQL down;
 * a hook's push is bounded by its timeout. Hosts are the compiled binary on
 * temp roots: two fake dpkg roots and one copy of the cached Debian root
 * (real apt: enable, disable, pkg install). */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";
import { pkgswitch, pkgswitchJson, snapshotTree, diffSnapshots } from "../helpers/cli.ts";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { debianRoot, removeDebianRoot } from "../helpers/debroot.ts";
import { BINARY } from "../helpers/paths.ts";
import { startCluster, type Cluster } from "../helpers/pgcluster.ts";
import { rewriteHistory } from "../helpers/rewrite.ts";

setDefaultTimeout(300_000);

const OWNER = { PGPASSWORD: "owner-pw" };
const HOST = { PGPASSWORD: "host-pw" };
const AUDITOR = { PGPASSWORD: "auditor-pw" };

let pg: Cluster;
const roots: { root: string; id: string; real: boolean }[] = [];
const owner = (sql: string, allowFail = false) => pg.psql(sql, { role: "fleet_owner", password: "owner-pw", db: "fleet", allowFail });
const asHost = (sql: string) => pg.psql(sql, { role: "fleet_host", password: "host-pw", db: "fleet", allowFail: true });
const push = (root: string, extra: string[] = []) => pkgswitch(["--root", root, "audit", "push", "--db", pg.url("fleet_host"), ...extra], { env: HOST });
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stdout}${r.stderr}`);
  return r;
};

function hostRoot(id: string): string {
  const root = coreutilsRoot();
  writeFileSync(join(root, "etc/machine-id"), id + "\n");
  ok(pkgswitch(["--root", root, "keys", "generate"]));
  return root;
}

beforeAll(async () => {
  pg = await startCluster();
  pg.psql("CREATE ROLE fleet_owner LOGIN PASSWORD 'owner-pw' CREATEROLE;\nCREATE DATABASE fleet OWNER fleet_owner;");
  ok(pkgswitch(["fleet", "init", "--db", pg.url("fleet_owner")], { env: OWNER }));
  owner("CREATE ROLE fleet_host LOGIN PASSWORD 'host-pw' IN ROLE pkgswitch_host;\nCREATE ROLE fleet_auditor LOGIN PASSWORD 'auditor-pw' IN ROLE pkgswitch_reader;");
  // Two fake dpkg roots: enable, disable, enable.
  for (const id of ["a".repeat(32), "b".repeat(32)]) {
    const root = hostRoot(id);
    for (const cmd of ["enable", "disable", "enable"]) ok(pkgswitch(["--root", root, cmd, "coreutils", "--yes"]));
    roots.push({ root, id, real: false });
  }
  // A real Debian root: apt installs rust-coreutils, then hello.
  const deb = debianRoot();
  const debId = "c".repeat(32);
  writeFileSync(join(deb, "etc/machine-id"), debId + "\n");
  ok(pkgswitch(["--root", deb, "keys", "generate"]));
  ok(pkgswitch(["--root", deb, "enable", "coreutils", "--yes"]));
  ok(pkgswitch(["--root", deb, "disable", "coreutils", "--yes"]));
  ok(pkgswitch(["--root", deb, "pkg", "install", "hello", "--yes"]));
  ok(pkgswitch(["--root", deb, "enable", "coreutils", "--yes"]));
  roots.push({ root: deb, id: debId, real: true });
});

afterAll(() => {
  pg?.destroy();
  for (const r of roots) (r.real ? removeDebianRoot : removeRoot)(r.root);
});

describe("fleet init", () => {
  test("migrations are versioned and idempotent: a second init changes nothing", () => {
    const again = pkgswitchJson<{ from: number; to: number; applied: unknown[] }>(["fleet", "init", "--db", pg.url("fleet_owner")], { env: OWNER });
    expect(again.code).toBe(0);
    expect(again.json.applied).toEqual([]);
    expect(again.json.from).toBe(again.json.to);
    expect(owner("SELECT version FROM pkgswitch.schema_migrations ORDER BY version").stdout.trim()).toBe(String(again.json.to));
  });

  test("the database's Merkle root (checkpoint guard) is RFC 9162's for every size 1..17", () => {
    const lines: string[] = [];
    for (let n = 1; n <= 17; n++) lines.push(`{"probe":${n}}`);
    // merkle_root() hashes held ledger lines the same way; feed it literal lines here.
    const sqlRoot = (n: number) =>
      owner(`WITH RECURSIVE l AS (SELECT i, sha256('\\x00'::bytea || convert_to(format('{"probe":%s}', i), 'UTF8')) h FROM generate_series(1, ${n}) i)
             SELECT encode(pkgswitch.merkle_root_of(array_agg(h ORDER BY i)), 'base64') FROM l`).stdout.trim();
    for (let n = 1; n <= 17; n++) {
      const want = Buffer.from(rootHash(lines.slice(0, n).map((l) => leafHash(Buffer.from(l))))).toString("base64");
      expect(`${n}:${sqlRoot(n)}`).toBe(`${n}:${want}`);
    }
  });
});

describe("three hosts push; fleet verify and status", () => {
  test("each host pushes its operations and checkpoint; pushing again adds nothing", () => {
    for (const r of roots) {
      const first = ok(push(r.root));
      expect(first.stdout).toContain(`host ${r.id}: pushed`);
      const count = () => owner(`SELECT count(*) FROM pkgswitch.operations WHERE host_id = '${r.id}'`).stdout.trim();
      const before = [count(), owner("SELECT count(*) FROM pkgswitch.checkpoints").stdout.trim()];
      const second = ok(push(r.root));
      expect(second.stdout).toContain("nothing to push");
      expect([count(), owner("SELECT count(*) FROM pkgswitch.checkpoints").stdout.trim()]).toEqual(before);
      const ledgerLines = readFileSync(join(r.root, "var/lib/pkgswitch/audit/ledger.jsonl"), "utf8").trimEnd().split("\n").length;
      expect(Number(count())).toBe(ledgerLines);
    }
  });

  test("fleet verify (as a reader) exits 0 for the three hosts", () => {
    const r = pkgswitchJson<{ exit_code: number; hosts: { host: string; ok: boolean; counts: Record<string, number> }[] }>(["fleet", "verify", "--db", pg.url("fleet_auditor")], { env: AUDITOR });
    expect(r.code).toBe(0);
    expect(r.json.hosts.map((h) => [h.host, h.ok])).toEqual(roots.map((x) => [x.id, true]));
    for (const h of r.json.hosts) expect(h.counts.signatures).toBe(h.counts.operations);
  });

  test("fleet status shows the three hosts with their providers and last operations", () => {
    const r = pkgswitchJson<{ hosts: { host: string; providers: string[]; operations: number; unsigned: number; failed: number; last_op: { command: string; status: string }; open_alarms: number; silent: boolean }[] }>(["fleet", "status", "--db", pg.url("fleet_auditor")], { env: AUDITOR });
    expect(r.code).toBe(0);
    expect(r.json.hosts.map((h) => h.host)).toEqual(roots.map((x) => x.id));
    for (const h of r.json.hosts) {
      expect(h.providers).toEqual(["coreutils"]);
      expect(h.last_op).toMatchObject({ command: "enable coreutils", status: "ok" });
      expect([h.unsigned, h.failed, h.open_alarms, h.silent]).toEqual([0, 0, 0, false]);
    }
    expect(r.json.hosts[2]!.operations).toBe(4);
    const human = pkgswitch(["fleet", "status", "--db", pg.url("fleet_auditor")], { env: AUDITOR });
    for (const x of roots) expect(human.stdout).toMatch(new RegExp(`${x.id}\\s+coreutils\\s+enable coreutils → ok`));
    // The real root's pkg install is in the fleet's evidence.
    expect(owner(`SELECT command FROM pkgswitch.operations WHERE host_id = '${roots[2]!.id}' ORDER BY seq`).stdout.trim().split("\n")).toEqual(["enable coreutils", "disable coreutils", "pkg install hello", "enable coreutils"]);
  });
});

describe("the database enforces append-only", () => {
  const tables = ["hosts", "host_keys", "operations", "checkpoints", "alarms"];
  test("as the host role, UPDATE and DELETE on every evidence table fail in PostgreSQL", () => {
    for (const t of tables) {
      for (const stmt of [`UPDATE pkgswitch.${t} SET host_id = host_id`, `DELETE FROM pkgswitch.${t}`, `TRUNCATE pkgswitch.${t}`]) {
        const r = asHost(stmt);
        expect(`${stmt}: ${r.code}`).toBe(`${stmt}: 3`);
        expect(r.stderr).toContain("permission denied");
      }
    }
  });

  test("even the owner's UPDATE/DELETE is refused by the trigger", () => {
    for (const t of tables) {
      const r = owner(`DELETE FROM pkgswitch.${t}`, true);
      expect(r.stderr).toContain("evidence is append-only");
      const u = owner(`UPDATE pkgswitch.${t} SET host_id = host_id`, true);
      expect(u.stderr).toContain("evidence is append-only");
    }
  });
});

describe("a host that rewrites its history", () => {
  test("is refused with an alarm naming the host and the first differing seq; the fleet keeps the original", () => {
    const { root, id } = roots[0]!;
    const audit = join(root, "var/lib/pkgswitch/audit");
    const original = owner(`SELECT ledger_line FROM pkgswitch.operations WHERE host_id = '${id}' ORDER BY seq`).stdout;
    // Make "disable" (seq 1) look like it never happened: rewrite it as a dry run.
    rewriteHistory(audit, join(root, "etc/pkgswitch/keys/signing.key"), `pkgswitch/${id}`, 1, (events) => {
      events[0]!.command = "status";
    });
    // The rewritten record verifies on the host itself.
    expect(pkgswitch(["--root", root, "audit", "verify", "--all"]).code).toBe(0);
    const r = push(root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`host ${id}`);
    expect(r.stderr).toContain("first differing seq 1");
    const alarm = owner(`SELECT kind, first_bad_seq, held_size, pushed_size FROM pkgswitch.alarms WHERE host_id = '${id}'`).stdout.trim();
    expect(alarm).toBe("rewrite|1|3|3");
    expect(owner(`SELECT ledger_line FROM pkgswitch.operations WHERE host_id = '${id}' ORDER BY seq`).stdout).toBe(original);
    expect(owner(`SELECT command FROM pkgswitch.operations WHERE host_id = '${id}' AND seq = 1`).stdout.trim()).toBe("disable coreutils");
  });

  test("fleet verify reports the alarm (exit 1); the other hosts still verify", () => {
    const { id } = roots[0]!;
    const r = pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor")], { env: AUDITOR });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`host ${id}: FAILED \\(exit 1`));
    expect(r.stdout).toContain("first differing seq 1");
    expect(pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", roots[1]!.id], { env: AUDITOR }).code).toBe(0);
  });

  test("a checkpoint the database does not hold the lines for is refused by the database itself", () => {
    // What a modified client could try: insert a checkpoint directly.
    const { id } = roots[1]!;
    const r = asHost(`INSERT INTO pkgswitch.checkpoints (host_id, size, root, note, note_sha256) VALUES ('${id}', 3, decode(repeat('00', 32), 'hex'), 'forged', sha256('forged'))`);
    expect(r.code).toBe(0);
    expect(owner(`SELECT count(*) FROM pkgswitch.checkpoints WHERE host_id = '${id}' AND note = 'forged'`).stdout.trim()).toBe("0");
    expect(owner(`SELECT kind FROM pkgswitch.alarms WHERE host_id = '${id}'`).stdout.trim()).toBe("checkpoint-mismatch");
    expect(pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR }).code).toBe(1);
    // Acknowledged by an operator, it no longer fails the host.
    pg.psql(`INSERT INTO pkgswitch.alarm_acks (alarm_id, note) SELECT id, 'test forgery' FROM pkgswitch.alarms WHERE host_id = '${id}'`, { role: "fleet_auditor", password: "auditor-pw", db: "fleet" });
    expect(pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR }).code).toBe(0);
  });
});

describe("push: resumable, bounded, never touching the host's record", () => {
  test("key rotation: a key is trusted from the operation that announced it", () => {
    const { root, id } = roots[1]!;
    ok(pkgswitch(["--root", root, "keys", "rotate", "--yes"]));
    ok(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]));
    const r = ok(push(root));
    expect(r.stdout).toContain("registered key(s)");
    expect(owner(`SELECT count(*) FROM pkgswitch.host_keys WHERE host_id = '${id}'`).stdout.trim()).toBe("2");
    expect(pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR }).code).toBe(0);
  });

  test("a SIGKILL in the middle of a push, then push again, leaves exactly one copy of every operation", async () => {
    const id = "d".repeat(32);
    const root = hostRoot(id);
    roots.push({ root, id, real: false });
    for (let i = 0; i < 12; i++) ok(pkgswitch(["--root", root, i % 2 ? "disable" : "enable", "coreutils", "--yes"]));
    // Slow the server down (test-only trigger) so the kill lands mid-push.
    pg.psql("CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$;\nCREATE TRIGGER slow BEFORE INSERT ON pkgswitch.operations FOR EACH ROW EXECUTE FUNCTION public.slow();", { db: "fleet" });
    const child = Bun.spawn([BINARY, "--root", root, "audit", "push", "--db", pg.url("fleet_host"), "--batch", "2"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...HOST }, stdout: "pipe", stderr: "pipe" });
    const held = () => Number(owner(`SELECT count(*) FROM pkgswitch.operations WHERE host_id = '${id}'`).stdout.trim());
    const t0 = Date.now();
    while (held() < 4 && Date.now() - t0 < 20_000) await Bun.sleep(20);
    child.kill("SIGKILL");
    await child.exited;
    const partial = held();
    expect(partial).toBeGreaterThanOrEqual(4);
    expect(partial).toBeLessThan(12);
    expect(partial % 2).toBe(0); // whole batches only
    pg.psql("DROP TRIGGER slow ON pkgswitch.operations;\nDROP FUNCTION public.slow();", { db: "fleet" });
    const again = ok(push(root));
    expect(again.stdout).toContain(`pushed ${12 - partial} operation(s)`);
    expect(owner(`SELECT count(*), count(DISTINCT op), min(seq), max(seq) FROM pkgswitch.operations WHERE host_id = '${id}'`).stdout.trim()).toBe("12|12|0|11");
    const v = pkgswitch(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR });
    expect(`${v.code} ${v.stdout}`).toStartWith("0 ");
  });

  test("with PostgreSQL stopped, push exits 6 with a clear message and nothing local changes", () => {
    const { root } = roots[2]!;
    const before = snapshotTree(root, (rel) => rel.startsWith("proc"));
    pg.stop();
    try {
      const r = push(root);
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/^error: fleet database postgres:\/\/fleet_host@127\.0\.0\.1:\d+\/fleet\?sslmode=disable unreachable while pushing \(ECONNREFUSED\); nothing was changed here/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      pg.start();
    }
    expect(diffSnapshots(before, snapshotTree(root, (rel) => rel.startsWith("proc")))).toEqual([]);
  });

  test("a password in the URL is refused (exit 2); no audit file holds the password", () => {
    const r = pkgswitch(["--root", roots[1]!.root, "audit", "push", "--db", pg.url("fleet_host").replace("fleet_host@", "fleet_host:host-pw@")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("set PGPASSWORD or a pgpass file");
    for (const x of roots) {
      const dir = join(x.root, "var/lib/pkgswitch/audit");
      for (const n of readdirSync(dir)) expect(`${n}: ${readFileSync(join(dir, n), "utf8").includes("host-pw")}`).toBe(`${n}: false`);
    }
  });

  test("the password can come from a pgpass file", () => {
    const { root } = roots[1]!;
    const pass = join(pg.dir, "pgpass");
    writeFileSync(pass, `127.0.0.1:${pg.port}:fleet:fleet_host:host-pw\n`, { mode: 0o600 });
    const r = pkgswitch(["--root", root, "audit", "push", "--db", pg.url("fleet_host")], { env: { PGPASSFILE: pass } });
    expect(`${r.code} ${r.stderr}`).toBe("0 ");
    expect(r.stdout).toContain("nothing to push");
  });

  test("relink --hook pushes new operations; an unresponsive database costs at most the hook timeout and never fails it", async () => {
    const { root, id } = roots[2]!;
    const cfg = join(root, "etc/pkgswitch/config.jsonc");
    ok(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]));
    const heldBefore = owner(`SELECT count(*) FROM pkgswitch.operations WHERE host_id = '${id}'`).stdout.trim();
    writeFileSync(cfg, JSON.stringify({ fleetDb: pg.url("fleet_host"), fleetPushTimeoutMs: 5000 }));
    const r = pkgswitch(["--root", root, "relink", "--hook"], { env: HOST });
    expect(r.code).toBe(0);
    expect(Number(owner(`SELECT count(*) FROM pkgswitch.operations WHERE host_id = '${id}'`).stdout.trim())).toBe(Number(heldBefore) + 1);
    // A server that accepts the connection and never answers.
    const sockets: import("node:net").Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((res) => silent.listen(0, "127.0.0.1", res));
    const port = (silent.address() as { port: number }).port;
    writeFileSync(cfg, JSON.stringify({ fleetDb: `postgres://fleet_host@127.0.0.1:${port}/fleet?sslmode=disable`, fleetPushTimeoutMs: 1000 }));
    try {
      const t0 = performance.now();
      const hook = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const p = Bun.spawn([BINARY, "--root", root, "relink", "--hook"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...HOST }, stderr: "pipe", stdout: "ignore" });
        p.exited.then(async (code) => resolve({ code, stderr: await new Response(p.stderr).text() }));
      });
      const ms = performance.now() - t0;
      expect(hook.code).toBe(0);
      expect(hook.stderr).toContain("audit push skipped");
      expect(ms).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      writeFileSync(cfg, "{}");
    }
  });
});

describe("push with archived operations (audit archive)", () => {
  const auditOf = (root: string) => join(root, "var/lib/pkgswitch/audit");
  const segmentsOf = (root: string) => readdirSync(join(auditOf(root), "archive")).filter((n) => n.endsWith(".tar.gz")).sort();
  /** Every operation file in the audit directory, by name (before archiving: the originals). */
  const opFiles = (root: string) => new Map(readdirSync(auditOf(root)).filter((n) => n.startsWith("audit-")).map((n) => [n, readFileSync(join(auditOf(root), n))]));
  const held = (id: string) => Number(owner(`SELECT count(*) FROM pkgswitch.operations WHERE host_id = '${id}'`).stdout.trim());
  const heldSeqs = (id: string) => owner(`SELECT seq FROM pkgswitch.operations WHERE host_id = '${id}' ORDER BY seq`).stdout.trim().split("\n").filter((l) => l !== "").map(Number);
  const fleetVerify = (id: string) => pkgswitchJson<{ exit_code: number; hosts: { counts: Record<string, number> }[] }>(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR });
  function ops(root: string, n: number): void {
    for (let i = 0; i < n; i++) ok(pkgswitch(["--root", root, i % 2 ? "disable" : "enable", "coreutils", "--yes"]));
  }
  function archiveKeep(root: string, keep: number): void {
    ok(pkgswitch(["--root", root, "audit", "archive", "--keep", String(keep)]));
  }
  /** The fleet's stored files of every operation of `id` equal `files` (by name): JSONL, signature and SBOM. */
  function expectStoredBytes(id: string, files: Map<string, Buffer>): void {
    const rows = owner(`SELECT op, encode(jsonl, 'hex'), coalesce(encode(sig, 'hex'), '-'), coalesce(encode(sbom, 'hex'), '-') FROM pkgswitch.operations WHERE host_id = '${id}' ORDER BY seq`).stdout.trim().split("\n");
    for (const row of rows) {
      const [op, jsonl, sig, sbom] = row.split("|");
      const want = (name: string) => files.get(name)?.toString("hex") ?? "-";
      expect(`${op} jsonl ${jsonl}`).toBe(`${op} jsonl ${want(`audit-${op}.jsonl`)}`);
      expect(`${op} sig ${sig}`).toBe(`${op} sig ${want(`audit-${op}.jsonl.sig`)}`);
      expect(`${op} sbom ${sbom}`).toBe(`${op} sbom ${want(`audit-${op}-sbom.json`)}`);
      expect(jsonl).not.toBe("-");
    }
    expect(rows.length).toBe(new Set([...files.keys()].filter((n) => n.endsWith(".jsonl"))).size);
  }
  /** A host whose record has two segments: A (seq 0-2, by the archive
   * operation at seq 3) and B (seq 4-5, by the one at seq 7); seq 6 stays. */
  function twoSegments(id: string): { root: string; files: Map<string, Buffer>; b: string } {
    const root = hostRoot(id);
    roots.push({ root, id, real: false });
    ops(root, 3);
    const files = opFiles(root);
    archiveKeep(root, 0);
    const [a] = segmentsOf(root);
    ops(root, 3);
    for (const [n, b] of opFiles(root)) files.set(n, b);
    archiveKeep(root, 1);
    for (const [n, b] of opFiles(root)) files.set(n, b);
    const b = segmentsOf(root).find((n) => n !== a)!;
    expect(segmentsOf(root)).toHaveLength(2);
    return { root, files, b };
  }

  test("archive, then push: every operation reaches the fleet byte for byte, and fleet verify passes", () => {
    const id = "e".repeat(32);
    const root = hostRoot(id);
    roots.push({ root, id, real: false });
    ops(root, 8);
    const files = opFiles(root);
    archiveKeep(root, 2);
    expect([...opFiles(root).keys()].filter((n) => n.endsWith(".jsonl"))).toHaveLength(3); // 2 kept + the archive operation
    for (const [n, b] of opFiles(root)) files.set(n, b); // the archive operation's own files
    const r = ok(push(root, ["--batch", "4"]));
    expect(r.stdout).toContain(`host ${id}: pushed 9 operation(s) in 3 batch(es) (the fleet held 0); checkpoint sent`);
    expect(held(id)).toBe(9);
    expectStoredBytes(id, files);
    const v = fleetVerify(id);
    expect(v.code).toBe(0);
    const sboms = [...files.keys()].filter((n) => n.endsWith("-sbom.json")).length;
    expect(sboms).toBeGreaterThanOrEqual(8);
    expect(v.json.hosts[0]!.counts).toMatchObject({ operations: 9, signatures: 9, sboms });
    expect(ok(push(root)).stdout).toContain("nothing to push");
  });

  test("archive between two pushes: the second push sends the rest, archived ones included", () => {
    const id = "f".repeat(32);
    const root = hostRoot(id);
    roots.push({ root, id, real: false });
    ops(root, 4);
    ok(push(root));
    expect(held(id)).toBe(4);
    ops(root, 4);
    const files = opFiles(root);
    archiveKeep(root, 1); // seq 0-6 archived: 0-3 held, 4-6 not
    for (const [n, b] of opFiles(root)) files.set(n, b);
    const r = ok(push(root));
    expect(r.stdout).toContain(`host ${id}: pushed 5 operation(s) in 1 batch(es) (the fleet held 4); checkpoint sent`);
    expect(heldSeqs(id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expectStoredBytes(id, files);
    expect(fleetVerify(id).code).toBe(0);
  });

  test("a missing segment: exit 8 naming it, the operations before it pushed and nothing after; restored, the next push completes", () => {
    const id = "1".repeat(32);
    const { root, files, b } = twoSegments(id);
    const seg = join(auditOf(root), "archive", b);
    const away = join(pg.dir, b);
    renameSync(seg, away);
    const r = push(root, ["--batch", "3"]);
    expect(r.code).toBe(8);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`is archived in ${seg}, which is missing`);
    expect(r.stderr).toContain("restore the segment from a backup and push again");
    expect(r.stderr).toContain("the fleet holds the 4 before it");
    expect(heldSeqs(id)).toEqual([0, 1, 2, 3]);
    expect(owner(`SELECT count(*) FROM pkgswitch.checkpoints WHERE host_id = '${id}'`).stdout.trim()).toBe("0");
    expect(owner(`SELECT count(*) FROM pkgswitch.alarms WHERE host_id = '${id}'`).stdout.trim()).toBe("0");
    renameSync(away, seg);
    const again = ok(push(root));
    expect(again.stdout).toContain(`host ${id}: pushed 4 operation(s) in 1 batch(es) (the fleet held 4); checkpoint sent`);
    expect(heldSeqs(id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expectStoredBytes(id, files);
    expect(fleetVerify(id).code).toBe(0);
  });

  test("a segment that is not the recorded one: exit 1 naming it, nothing of it sent", () => {
    const id = "2".repeat(32);
    const { root, b } = twoSegments(id);
    const seg = join(auditOf(root), "archive", b);
    const bytes = readFileSync(seg);
    bytes[bytes.length - 12] ^= 0x40;
    writeFileSync(seg, bytes);
    const r = push(root);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${seg}, where operation`);
    expect(r.stderr).toContain("is not the recorded segment (SHA-256 ");
    expect(r.stderr).toContain("nothing of it was sent");
    expect(heldSeqs(id)).toEqual([0, 1, 2, 3]);
    expect(owner(`SELECT count(*) FROM pkgswitch.checkpoints WHERE host_id = '${id}'`).stdout.trim()).toBe("0");
    expect(owner(`SELECT count(*) FROM pkgswitch.alarms WHERE host_id = '${id}'`).stdout.trim()).toBe("0");
  });
});
