/** Fleet ledger benchmark (issue 11): one host's record of 10,000 synthetic
 * operations × 100 events (signed, with SBOMs, ledger and checkpoint, the
 * same shapes as bench/verify.ts), then, with the compiled binary against a
 * throwaway PostgreSQL cluster:
 *
 *   - `audit push` of all of it (operations/s, MB/s);
 *   - `fleet verify` over it (events/s);
 *   - baseline: `audit verify --all` of the same files on this machine,
 *     in the same run (events/s), and the ratio;
 *   - with --archive: a second host with the same record, all of it moved
 *     into segments by `audit archive --keep 0`, pushed too; its figure
 *     against the first host's push (files in the directory) is the
 *     same-run baseline for reading operations from segments.
 *
 * Prints figures; never fails on timing (exits 1 only if a step fails).
 * Needs root (initdb runs as the postgres user) and Debian's postgresql.
 *
 * Run: npx bun bench/fleet.ts [--ops N] [--events N] [--archive] */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventLine, GENESIS, sealEvent } from "../src/audit/event.ts";
import { ledgerLine, type LedgerEntry } from "../src/audit/ledger.ts";
import { leafHash, rootHash } from "../src/audit/merkle.ts";
import { generateSecretKey } from "../src/attest/minisign.ts";
import { signerFor } from "../src/attest/signing.ts";
import { sha256Hex } from "../src/verify/strict.ts";
import { startCluster } from "../tests/helpers/pgcluster.ts";
import { arg, binary, ENV, table } from "./lib.ts";

const OPS = Number(arg("--ops", "10000"));
const EVENTS = Number(arg("--events", "100"));
const HOST = "feedfacefeedfacefeedfacefeedface";
const ARCHIVED_HOST = "feedbeeffeedbeeffeedbeeffeedbeef";
const ARCHIVE = process.argv.includes("--archive");
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const bin = binary("bench/fleet.ts");

/** A root whose audit record (of host HOST) is OPS operations of EVENTS events each. */
function generate(root: string, HOST: string): number {
  const key = generateSecretKey();
  const signer = signerFor(key, `pkgswitch/${HOST}`);
  const keys = join(root, "etc/pkgswitch/keys");
  const audit = join(root, "var/lib/pkgswitch/audit");
  mkdirSync(keys, { recursive: true });
  mkdirSync(audit, { recursive: true });
  writeFileSync(join(root, "etc/machine-id"), HOST + "\n");
  writeFileSync(join(keys, "signing.pub"), key.publicKeyText);
  // The secret key too: `audit archive` (--archive) signs its operation with it.
  writeFileSync(join(keys, "signing.key"), key.secretKeyText, { mode: 0o600 });
  let head = GENESIS;
  let bytes = 0;
  const ledger: string[] = [];
  const t0 = Date.UTC(2026, 10, 27, 5, 30, 0);
  for (let i = 0; i < OPS; i++) {
    const when = new Date(t0 + i * 1000);
    const op = `${when.toISOString().slice(0, 19).replace(/[-:]/g, "")}Z-${((i * 2654435761) >>> 0).toString(16).padStart(8, "0")}`;
    const ts = when.toISOString();
    const sbom = Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", dataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", name: `pkgswitch-${op}`, packages: [{ name: "rust-coreutils", versionInfo: "0.0.17-2" }] }, null, 2) + "\n");
    let prev = head;
    let text = "";
    for (let s = 0; s < EVENTS; s++) {
      const applet = ["ls", "cat", "cp", "mv", "sort"][s % 5]!;
      const [name, fields]: [string, Record<string, unknown>] =
        s === 0 ? ["op.start", { command: "enable coreutils", argv: ["enable", "coreutils", "--yes"], tool_version: "0.1.0", root: "/", dry_run: false, uid: 0, host_id: HOST }]
        : s === EVENTS - 1 ? ["op.end", { status: "ok", exit_code: 0, duration_ms: 1234, counts: { switched: 20 }, sbom: { file: `audit-${op}-sbom.json`, sha256: sha256Hex(sbom) } }]
        : ["file.switch", { path: `/usr/bin/${applet}`, applet, before_kind: "file", after_kind: "symlink", link_target: `/usr/lib/cargo/bin/coreutils/${applet}`, before_sha256: sha256Hex(`${op}${s}`), after_sha256: sha256Hex("uutils"), mode: 493, uid: 0, gid: 0 }];
      const e = sealEvent(op, s, ts, name, fields, prev);
      prev = e.hash;
      text += eventLine(e);
    }
    const jsonl = Buffer.from(text);
    bytes += jsonl.length;
    const file = `audit-${op}.jsonl`;
    writeFileSync(join(audit, file), jsonl);
    writeFileSync(join(audit, `${file}.sig`), signer.signFile(jsonl, op, file));
    writeFileSync(join(audit, `audit-${op}-sbom.json`), sbom);
    const entry: LedgerEntry = { v: 1, seq: i, op, head: prev, jsonl_sha256: sha256Hex(jsonl), signature: "signed", key_id: signer.keyId, ts };
    ledger.push(ledgerLine(entry));
    head = prev;
  }
  writeFileSync(join(audit, "ledger.jsonl"), ledger.join(""));
  writeFileSync(join(audit, "checkpoint"), signer.checkpoint(ledger.length, rootHash(ledger.map((l) => leafHash(Buffer.from(l.slice(0, -1)))))));
  return bytes;
}

function run(argv: string[], env: Record<string, string> = {}): { ms: number; cpuMs: number; out: string } {
  const t = performance.now();
  const p = Bun.spawnSync([bin, ...argv], { env: { ...ENV, ...env }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t;
  if (p.exitCode !== 0) throw new Error(`pkgswitch ${argv.join(" ")} exited ${p.exitCode}: ${p.stderr.toString().trim()}`);
  return { ms, cpuMs: p.resourceUsage ? Number(p.resourceUsage.cpuTime.total) / 1000 : NaN, out: p.stdout.toString() };
}

const root = mkdtempSync(join(tmpdir(), "pkgswitch-bench-fleet-"));
const archivedRoot = ARCHIVE ? mkdtempSync(join(tmpdir(), "pkgswitch-bench-fleet-")) : null;
const pg = await startCluster();
let code = 0;
try {
  const tg = performance.now();
  const bytes = generate(root, HOST);
  console.log(`generated ${fmt(OPS)} operations × ${EVENTS} events (${(bytes / 1e6).toFixed(0)} MB of JSONL) in ${((performance.now() - tg) / 1000).toFixed(1)} s`);
  pg.psql("CREATE ROLE fleet_owner LOGIN PASSWORD 'o' CREATEROLE;\nCREATE DATABASE fleet OWNER fleet_owner;");
  run(["fleet", "init", "--db", pg.url("fleet_owner")], { PGPASSWORD: "o" });
  pg.psql("CREATE ROLE fleet_host LOGIN PASSWORD 'h' IN ROLE pkgswitch_host;\nCREATE ROLE fleet_auditor LOGIN PASSWORD 'a' IN ROLE pkgswitch_reader;", { role: "fleet_owner", password: "o", db: "fleet" });

  let segments = 0;
  if (archivedRoot) {
    generate(archivedRoot, ARCHIVED_HOST);
    // What `audit archive` needs of a root besides the record (as tests/integration/retention.test.ts).
    for (const d of ["var/lib/dpkg", "usr/bin", "run/lock"]) mkdirSync(join(archivedRoot, d), { recursive: true });
    writeFileSync(join(archivedRoot, "var/lib/dpkg/status"), "");
    const archive = run(["--root", archivedRoot, "audit", "archive", "--keep", "0"]);
    segments = readdirSync(join(archivedRoot, "var/lib/pkgswitch/audit/archive")).filter((n) => n.endsWith(".tar.gz")).length;
    console.log(`${archive.out.trim()} (${segments} segments, ${(archive.ms / 1000).toFixed(1)} s)`);
  }
  const pushed = run(["--root", root, "audit", "push", "--db", pg.url("fleet_host")], { PGPASSWORD: "h" });
  const again = run(["--root", root, "audit", "push", "--db", pg.url("fleet_host")], { PGPASSWORD: "h" });
  const archivedPush = archivedRoot ? run(["--root", archivedRoot, "audit", "push", "--db", pg.url("fleet_host")], { PGPASSWORD: "h" }) : null;
  const fv = run(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", HOST], { PGPASSWORD: "a" });
  if (archivedPush) run(["fleet", "verify", "--db", pg.url("fleet_auditor"), "--host", ARCHIVED_HOST], { PGPASSWORD: "a" }); // exits 0: the fleet holds the archived host's whole record
  const av = run(["--root", root, "audit", "verify", "--all"]);
  const events = OPS * EVENTS;
  console.log(pushed.out.trim());
  console.log(table([
    ["step", "wall", "rate"],
    ["audit push (all)", `${(pushed.ms / 1000).toFixed(2)} s`, `${fmt(OPS / (pushed.ms / 1000))} ops/s, ${(bytes / 1e6 / (pushed.ms / 1000)).toFixed(1)} MB/s`],
    ["audit push (nothing new)", `${(again.ms / 1000).toFixed(2)} s`, "-"],
    ...(archivedPush ? [[`audit push (all, archived in ${segments} segments)`, `${(archivedPush.ms / 1000).toFixed(2)} s`, `${fmt(OPS / (archivedPush.ms / 1000))} ops/s, CPU ${(archivedPush.cpuMs / 1000).toFixed(2)} s (files in the directory: CPU ${(pushed.cpuMs / 1000).toFixed(2)} s)`]] : []),
    ["fleet verify", `${(fv.ms / 1000).toFixed(2)} s`, `${fmt(events / (fv.ms / 1000))} events/s`],
    ["audit verify --all (baseline)", `${(av.ms / 1000).toFixed(2)} s`, `${fmt(events / (av.ms / 1000))} events/s`],
  ]));
  console.log(`fleet verify / audit verify --all: ${(av.ms / fv.ms).toFixed(2)}× the baseline's events/s`);
  if (archivedPush) console.log(`${archivedPush.out.trim()}\naudit push from segments / from the directory: ${(archivedPush.ms / pushed.ms).toFixed(2)}× the wall time, ${(archivedPush.cpuMs / pushed.cpuMs).toFixed(2)}× the CPU time`);
} catch (e) {
  console.error((e as Error).message);
  code = 1;
} finally {
  pg.destroy();
  rmSync(root, { recursive: true, force: true });
  if (archivedRoot) rmSync(archivedRoot, { recursive: true, force: true });
}
process.exit(code);
