/** The fleet database against its own users and against a hostile server
 * (a python3 script speaking just enough of the PostgreSQL protocol to log
 * in, then misbehaving), on a real, throwaway PostgreSQL cluster (tests/helpers/pgcluster.ts):
 * every host logs in as the one shared role, so one host can insert rows
 * for another; fleet verify must not trust a key a row merely names. A
 * host's root is a fake dpkg root; an attacker is a copy of the victim's
 * root (same host id and history) with its own key. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ledgerLine, parseLedger } from "../../src/audit/ledger.ts";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";
import { loadSecretKey, signerFor } from "../../src/attest/signing.ts";
import { pkgswitch, pkgswitchJson } from "../helpers/cli.ts";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { startCluster, type Cluster } from "../helpers/pgcluster.ts";
import { BINARY } from "../helpers/paths.ts";

setDefaultTimeout(300_000);

const OWNER = { PGPASSWORD: "owner-pw" };
const HOST = { PGPASSWORD: "host-pw" };
const AUDITOR = { PGPASSWORD: "auditor-pw" };

let pg: Cluster;
const roots: string[] = [];
const owner = (sql: string) => pg.psql(sql, { role: "fleet_owner", password: "owner-pw", db: "fleet" });
const asHost = (sql: string) => pg.psql(sql, { role: "fleet_host", password: "host-pw", db: "fleet" });
const push = (root: string) => pkgswitch(["--root", root, "audit", "push", "--db", pg.url("fleet_host")], { env: HOST });
const verify = (id: string) => pkgswitchJson<{ exit_code: number; hosts: { host: string; checks: { check: string; exit: number; message: string }[] }[] }>(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", id], { env: AUDITOR });
const failures = (h: { checks: { check: string; exit: number; message: string }[] }) => h.checks.filter((c) => c.exit !== 0);
const ok = (r: { code: number; stdout: string; stderr: string }) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stdout}${r.stderr}`);
  return r;
};
const keysOf = (root: string) => join(root, "etc/pkgswitch/keys");
const auditOf = (root: string) => join(root, "var/lib/pkgswitch/audit");

/** A host with a key and three signed operations, pushed. */
function host(id: string): string {
  const root = coreutilsRoot();
  roots.push(root);
  writeFileSync(join(root, "etc/machine-id"), id + "\n");
  ok(pkgswitch(["--root", root, "keys", "generate"]));
  for (const cmd of ["enable", "disable", "enable"]) ok(pkgswitch(["--root", root, cmd, "coreutils", "--yes"]));
  ok(push(root));
  return root;
}

/** Another machine claiming to be `root`'s host: its copy, with its own key. */
function attacker(root: string): string {
  const copy = mkdtempSync(join(tmpdir(), "pkgswitch-root-"));
  cpSync(root, copy, { recursive: true });
  roots.push(copy);
  ok(pkgswitch(["--root", copy, "keys", "generate", "--force"]));
  return copy;
}

/** The public key line and id of a root's signing key. */
function pub(root: string): { id: string; key: string } {
  const text = readFileSync(join(keysOf(root), "signing.pub"), "utf8").split("\n");
  return { id: text[0]!.replace(/^.* /, ""), key: text[1]!.trim() };
}

/** Re-sign the last operation and the checkpoint with the root's current
 * signing key, and make the ledger name that key. */
function resignLast(root: string, id: string): void {
  const dir = auditOf(root);
  const signer = signerFor(loadSecretKey(join(keysOf(root), "signing.key"), {}), `pkgswitch/${id}`);
  const entries = parseLedger(readFileSync(join(dir, "ledger.jsonl"), "utf8"));
  const e = entries[entries.length - 1]!;
  const name = `audit-${e.op}.jsonl`;
  writeFileSync(join(dir, `${name}.sig`), signer.signFile(readFileSync(join(dir, name)), e.op, name));
  (e as { key_id: string | null }).key_id = pub(root).id;
  const ledger = entries.map(ledgerLine).join("");
  writeFileSync(join(dir, "ledger.jsonl"), ledger);
  const leaves = ledger.trimEnd().split("\n").map((l) => leafHash(Buffer.from(l)));
  writeFileSync(join(dir, "checkpoint"), signer.checkpoint(leaves.length, rootHash(leaves)));
}

/** A server that accepts any login (AuthenticationOk, ReadyForQuery), then
 * answers the first query by `mode`: "short" sends a RowDescription too
 * short for the field count it announces; "stall" never answers. */
const FAKE_SERVER = `
import socket, struct, sys, threading, time
mode = sys.argv[1]
def msg(t, body): return t + struct.pack("!I", len(body) + 4) + body
def serve(c):
    try:
        n = struct.unpack("!I", c.recv(4))[0]; c.recv(n - 4)
        c.sendall(msg(b"R", struct.pack("!I", 0)) + msg(b"Z", b"I"))
        c.recv(65536)
        if mode == "short": c.sendall(b"T" + struct.pack("!I", 2) + b"\\0\\0\\0\\0\\0\\0" + msg(b"Z", b"I"))
        time.sleep(3600)
    except Exception: pass
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

async function fakeServer(mode: "short" | "stall"): Promise<{ url: string; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), "pkgswitch-fakepg-"));
  writeFileSync(join(dir, "server.py"), FAKE_SERVER);
  const p = Bun.spawn(["python3", join(dir, "server.py"), mode], { stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the fake server did not start");
    text += new TextDecoder().decode(value);
  }
  return {
    url: `postgres://fleet_host@127.0.0.1:${Number(text.trim())}/fleet?sslmode=disable`,
    stop() {
      p.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The binary, asynchronously (the fake server runs beside it), timed. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  const p = Bun.spawn([BINARY, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...HOST }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill(), 60_000);
  const [code, stdout, stderr] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  clearTimeout(timer);
  return { code, stdout, stderr, ms: performance.now() - t0 };
}

beforeAll(async () => {
  pg = await startCluster();
  pg.psql("CREATE ROLE fleet_owner LOGIN PASSWORD 'owner-pw' CREATEROLE;\nCREATE DATABASE fleet OWNER fleet_owner;");
  ok(pkgswitch(["fleet", "init", "--db", pg.url("fleet_owner")], { env: OWNER }));
  owner("CREATE ROLE fleet_host LOGIN PASSWORD 'host-pw' IN ROLE pkgswitch_host;\nCREATE ROLE fleet_auditor LOGIN PASSWORD 'auditor-pw' IN ROLE pkgswitch_reader;");
});

afterAll(() => {
  pg?.destroy();
  for (const r of roots) removeRoot(r);
});

describe("keys: only the first signer and announced keys are trusted", () => {
  test("a second unannounced key, with an operation and a checkpoint it signs, fails fleet verify (exit 1)", () => {
    const id = "a".repeat(32);
    const victim = host(id);
    expect(verify(id).code).toBe(0);
    // Another host extends the victim's chain with its own key, then registers that key as if it were a first key.
    const evil = attacker(victim);
    ok(pkgswitch(["--root", evil, "disable", "coreutils", "--yes"]));
    ok(push(evil));
    const k = pub(evil);
    asHost(`INSERT INTO pkgswitch.host_keys (host_id, key_id, public_key, from_seq, announced_by) VALUES ('${id}', '${k.id}', '${k.key}', 3, NULL)`);
    const r = verify(id);
    expect(r.code).toBe(1);
    const msgs = failures(r.json.hosts[0]!).map((f) => `${f.check}: ${f.message}`).join("\n");
    expect(msgs).toContain(`keys: key ${k.id} is registered from seq 3 with no announcement`);
    // Its operation and its checkpoint are not trusted either.
    expect(msgs).toContain(`signed by key ${k.id}, which is not in the trusted set`);
  });

  test("a key row claiming an announcement no key.rotate event makes signs nothing trusted (exit 1)", () => {
    const id = "7".repeat(32);
    const victim = host(id);
    const evil = attacker(victim);
    ok(pkgswitch(["--root", evil, "disable", "coreutils", "--yes"]));
    ok(push(evil));
    const k = pub(evil);
    // Claimed to be announced by the victim's operation 2, so trusted from seq 3 if the claim were believed.
    const op = owner(`SELECT op FROM pkgswitch.operations WHERE host_id = '${id}' AND seq = 2`).stdout.trim();
    asHost(`INSERT INTO pkgswitch.host_keys (host_id, key_id, public_key, from_seq, announced_by) VALUES ('${id}', '${k.id}', '${k.key}', 2, '${op}')`);
    const r = verify(id);
    expect(r.code).toBe(1);
    const msgs = failures(r.json.hosts[0]!).map((f) => f.message).join("\n");
    expect(msgs).toContain(`key ${k.id} is registered from seq 2 (announced by ${op}), but no key.rotate event there announces it`);
    // Neither the operation after it nor the checkpoint is trusted.
    expect(msgs).toContain(`signed by key ${k.id}, which is not in the trusted set`);
  });

  test("a legitimate keys rotate history still verifies (exit 0)", () => {
    const id = "c".repeat(32);
    const root = host(id);
    ok(pkgswitch(["--root", root, "keys", "rotate", "--yes"]));
    ok(pkgswitch(["--root", root, "disable", "coreutils", "--yes"]));
    ok(pkgswitch(["--root", root, "keys", "rotate", "--yes"]));
    expect(ok(push(root)).stdout).toContain("registered key(s)");
    expect(owner(`SELECT count(*) FROM pkgswitch.host_keys WHERE host_id = '${id}'`).stdout.trim()).toBe("3");
    const r = verify(id);
    expect(`${r.code} ${JSON.stringify(failures(r.json.hosts[0]!))}`).toBe("0 []");
  });

  test("a key announced by an operation signed only by that new key fails fleet verify (exit 1)", () => {
    const id = "b".repeat(32);
    const victim = host(id);
    const evil = attacker(victim);
    ok(pkgswitch(["--root", evil, "keys", "rotate", "--yes"]));
    resignLast(evil, id);
    const k = pub(evil);
    expect(ok(push(evil)).stdout).toContain(`registered key(s) ${k.id}`);
    const r = verify(id);
    expect(r.code).toBe(1);
    expect(failures(r.json.hosts[0]!).map((f) => f.message).join("\n")).toContain(`key ${k.id} is announced by an operation it signs itself`);
  });
});

describe("a hostile server", () => {
  test("a malformed reply: exit 6 (cannot read) and one line, not a crash's exit 1", async () => {
    const srv = await fakeServer("short");
    try {
      for (const cmd of [["fleet", "verify"], ["fleet", "status"]]) {
        const r = await run([...cmd, "--db", srv.url, "--json"]);
        expect(`${cmd.join(" ")}: ${r.code}`).toBe(`${cmd.join(" ")}: 6`);
        expect(r.stdout.trim().split("\n")).toHaveLength(1);
        expect(JSON.parse(r.stdout)).toMatchObject({ exit_code: 6 });
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toStartWith("error: fleet database ");
      }
    } finally {
      srv.stop();
    }
  });

  test("a server that logs in and then never answers: every fleet command gives up after --timeout with exit 6 and one line", async () => {
    const root = host("d".repeat(32));
    const srv = await fakeServer("stall");
    try {
      for (const cmd of [["fleet", "verify"], ["fleet", "status"], ["fleet", "init"], ["--root", root, "audit", "push"]]) {
        const r = await run([...cmd, "--db", srv.url, "--timeout", "1000"]);
        const name = cmd.filter((a) => a !== "--root" && a !== root).join(" ");
        expect(`${name}: ${r.code} ${r.stdout}`).toBe(`${name}: 6 `);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr).toMatch(/within 1000 ms/);
        expect(r.ms).toBeLessThan(8000);
      }
    } finally {
      srv.stop();
    }
  });

  test("without --timeout, a stalled database still ends the command (default 30 s), exit 6", async () => {
    const srv = await fakeServer("stall");
    try {
      const r = await run(["fleet", "status", "--db", srv.url]);
      expect(`${r.code} ${r.stderr.trim()}`).toMatch(/^6 error: fleet database .* did not answer within 30000 ms while reading the status/);
      expect(r.ms).toBeGreaterThan(29_000);
      expect(r.ms).toBeLessThan(45_000);
    } finally {
      srv.stop();
    }
  });
});

describe("what one bad input can do", () => {
  test("a --db that is not a URL is quoted without its user and password", () => {
    for (const url of ["postgres://fleet_host:s3cret-pw@[::1:5432/fleet", "postgres://fleet_host:s3cret/pw@@db.example:5432/fleet?sslmode=[", "fleet_host:s3cret-pw@db example/fleet"]) {
      const r = pkgswitch(["fleet", "status", "--db", url, "--json"]);
      expect(r.code).toBe(2);
      expect(`${r.stdout}${r.stderr}`).not.toContain("s3cret");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain("…@");
    }
  });

  test("a row whose ledger line is not JSON breaks nobody's fleet status; fleet verify reports it", () => {
    const id = "9".repeat(32);
    asHost(`INSERT INTO pkgswitch.hosts (host_id) VALUES ('${id}'); INSERT INTO pkgswitch.operations (host_id, seq, op, ledger_line, jsonl) VALUES ('${id}', 0, 'x', 'not json', '\\x00')`);
    const r = pkgswitchJson<{ hosts: { host: string; operations: number; unsigned: number }[] }>(["fleet", "status", "--db", pg.url("fleet_auditor")], { env: AUDITOR });
    expect(r.code).toBe(0);
    expect(r.json.hosts.find((h) => h.host === id)).toMatchObject({ operations: 1, unsigned: 1 });
    // The other hosts are all there.
    expect(r.json.hosts.length).toBe(Number(owner("SELECT count(*) FROM pkgswitch.hosts").stdout.trim()));
    expect(verify(id).code).toBe(1);
  });
});
