/** `audit verify`, `audit checkpoint`, `audit export` through the CLI layer
 * (argument parsing, CommandContext, session, error → exit code as main
 * does it), on a fake dpkg root whose audit record was written by the real
 * writer with a key at the default path. The command table is not touched
 * (test files share modules), so this runs the commands the way main does. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OpBuffer } from "../../src/audit/opbuffer.ts";
import { generateSecretKey, type GeneratedKey } from "../../src/attest/minisign.ts";
import { signerFor } from "../../src/attest/signing.ts";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { verifyCommands } from "../../src/cli/verify.ts";
import { parse } from "../../src/cli/args.ts";
import { makeSession } from "../../src/cli/commands.ts";
import { Output, stdio } from "../../src/cli/output.ts";
import { PkgswitchError } from "../../src/errors.ts";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { pkgswitch } from "../helpers/cli.ts";

// Real roots, apt and dpkg: seconds per test, more on a loaded machine.
setDefaultTimeout(300_000);

/** What main does for one of these commands: parse, build the context, run,
 * map a PkgswitchError to its exit code (and one error line). */
async function main(argv: string[]): Promise<number> {
  const options = Object.assign({}, ...verifyCommands.map((c) => c.options));
  let out = Output.detect({ json: argv.includes("--json"), quiet: false, verbose: false, noColor: true });
  try {
    const parsed = parse(argv, options);
    const cmd = verifyCommands.find((c) => c.path.every((p, i) => parsed.positionals[i] === p))!;
    const g = parsed.globals;
    out = Output.detect({ json: g.json, quiet: g.quiet, verbose: g.verbose, noColor: true });
    for (const k of Object.keys(parsed.values)) if (!(k in cmd.options) && !["root", "json", "audit-dir"].includes(k)) throw new PkgswitchError(2, `unknown option --${k}`);
    let session: ReturnType<typeof makeSession> | null = null;
    return await cmd.run({
      parsed,
      globals: g,
      args: parsed.positionals.slice(cmd.path.length),
      out,
      argv,
      layout: () => (session ??= makeSession(g, out, argv)).layout,
      session: () => (session ??= makeSession(g, out, argv)),
    });
  } catch (e) {
    if (e instanceof PkgswitchError) {
      out.error(e.message);
      return e.exitCode;
    }
    throw e;
  }
}
let root: string;
let audit: string;
let keyDir: string;
let key: GeneratedKey;
const ops: string[] = [];

beforeAll(() => {
  root = coreutilsRoot();
  audit = join(root, "var/lib/pkgswitch/audit");
  keyDir = join(root, "etc/pkgswitch/keys");
  mkdirSync(keyDir, { recursive: true });
  key = generateSecretKey();
  writeFileSync(join(keyDir, "signing.key"), key.secretKeyText, { mode: 0o600 });
  chmodSync(join(keyDir, "signing.key"), 0o600);
  writeFileSync(join(keyDir, "signing.pub"), key.publicKeyText);
  for (let i = 0; i < 3; i++) {
    const op = OpBuffer.start({ auditDir: audit, command: `test ${i}`, argv: ["pkgswitch", "test"], env: {}, root, dryRun: false, toolVersion: "test", hostId: "0123456789abcdef0123456789abcdef" });
    op.record("pkg.query", { manager: "dpkg", args: ["dpkg-query", "-W"], rc: 0, duration_ms: 1 });
    op.finalize({ status: "ok", exitCode: 0, sbom: Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: "t" }) + "\n"), signing: { mode: "key", signer: signerFor(key, "pkgswitch/0123456789abcdef0123456789abcdef") }, merkleRoot: merkleRootOf });
    ops.push(op.opId);
  }
});
afterAll(() => removeRoot(root));

/** Run the CLI in-process; returns exit code and what it printed. With
 * PKGSWITCH_CLI=deno (scripts/test.sh's second pass), the real CLI as
 * `deno run -A main.ts` instead (tests/helpers/cli.ts). */
async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (process.env.PKGSWITCH_CLI === "deno") return pkgswitch(["--root", root, ...argv]);
  let stdout = "";
  let stderr = "";
  const { out: ow, err: ew } = stdio;
  stdio.out = (s) => void (stdout += s);
  stdio.err = (s) => void (stderr += s);
  try {
    const code = await main(["--root", root, ...argv]);
    return { code, stdout, stderr };
  } finally {
    stdio.out = ow;
    stdio.err = ew;
  }
}

describe("audit verify (CLI)", () => {
  test("--all: exit 0 and a short report; --json: the structured report", async () => {
    const h = await run("audit", "verify", "--all");
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("audit verify: OK");
    expect(h.stdout).toContain("3 operation(s)");
    const j = await run("audit", "verify", "--all", "--json");
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.ok).toBe(true);
    expect(doc.exit_code).toBe(0);
    expect(doc.mode).toBe("all");
    expect(Array.isArray(doc.checks)).toBe(true);
  });
  test("no mode means --all", async () => {
    expect((await run("audit", "verify")).code).toBe(0);
  });
  test("--op: 0; unknown op: 3; a path: 2; --op with --all: 2", async () => {
    expect((await run("audit", "verify", "--op", ops[1]!)).code).toBe(0);
    expect((await run("audit", "verify", "--op", "20000101T000000Z-00000000")).code).toBe(3);
    const p = await run("audit", "verify", "--op", "../../etc/passwd");
    expect(p.code).toBe(2);
    expect(p.stderr).toContain("bad op id");
    expect((await run("audit", "verify", "--op", ops[0]!, "--all")).code).toBe(2);
  });
  test("tampering: exit 1, report names file, line and op", async () => {
    const f = join(audit, `audit-${ops[1]}.jsonl`);
    const orig = readFileSync(f);
    writeFileSync(f, orig.toString().replace('"rc":0', '"rc":7'));
    try {
      const h = await run("audit", "verify", "--all");
      expect(h.code).toBe(1);
      expect(h.stdout).toContain(`audit-${ops[1]}.jsonl:2`);
      expect(h.stdout).toContain(`[op ${ops[1]}]`);
      const j = JSON.parse((await run("audit", "verify", "--op", ops[1]!, "--json")).stdout);
      expect(j.exit_code).toBe(1);
      expect(j.checks.some((c: { ok: boolean; file?: string; line?: number }) => !c.ok && c.file === `audit-${ops[1]}.jsonl` && c.line === 2)).toBe(true);
    } finally {
      writeFileSync(f, orig);
    }
  });
  test("--pubkey: only the given keys are trusted (4 with another key)", async () => {
    const other = generateSecretKey();
    const otherPub = join(root, "other.pub");
    writeFileSync(otherPub, other.publicKeyText);
    expect((await run("audit", "verify", "--all", "--pubkey", otherPub)).code).toBe(4);
    expect((await run("audit", "verify", "--all", "--pubkey", otherPub, "--pubkey", join(keyDir, "signing.pub"))).code).toBe(0);
    expect((await run("audit", "verify", "--all", "--pubkey", join(root, "missing.pub"))).code).toBe(2);
  });
  test("--since-checkpoint: 0 with a saved checkpoint; 2 when the file does not exist", async () => {
    const saved = join(root, "saved-cp");
    const cp = await run("audit", "checkpoint");
    expect(cp.code).toBe(0);
    writeFileSync(saved, cp.stdout);
    expect(cp.stdout).toBe(readFileSync(join(audit, "checkpoint"), "utf8"));
    expect((await run("audit", "verify", "--since-checkpoint", saved)).code).toBe(0);
    expect((await run("audit", "verify", "--since-checkpoint", join(root, "nope"))).code).toBe(2);
  });
  test("export → verify --bundle --pubkey roundtrip; a tampered bundle → 1", async () => {
    const out = join(root, "bundle.json");
    const e = await run("audit", "export", "--op", ops[2]!, "-o", out);
    expect(e.code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const pub = join(root, "auditor.pub");
    copyFileSync(join(keyDir, "signing.pub"), pub);
    expect((await run("audit", "verify", "--bundle", out, "--pubkey", pub)).code).toBe(0);
    const b = JSON.parse(readFileSync(out, "utf8"));
    b.files.jsonl.text = b.files.jsonl.text.replace('"rc":0', '"rc":1');
    writeFileSync(out, JSON.stringify(b));
    const bad = await run("audit", "verify", "--bundle", out, "--pubkey", pub);
    expect(bad.code).toBe(1);
    expect((await run("audit", "verify", "--bundle", out, "--all")).code).toBe(2);
    expect((await run("audit", "export", "--op", "20000101T000000Z-00000000", "-o", out)).code).toBe(3);
  });
  test("--record logs the verification as an operation of its own", async () => {
    const before = readFileSync(join(audit, "ledger.jsonl"), "utf8").trim().split("\n").length;
    const r = await run("audit", "verify", "--all", "--record", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(typeof doc.recorded_op).toBe("string");
    const lines = readFileSync(join(audit, "ledger.jsonl"), "utf8").trim().split("\n");
    expect(lines.length).toBe(before + 1);
    expect(JSON.parse(lines[lines.length - 1]!).op).toBe(doc.recorded_op);
    const events = readFileSync(join(audit, `audit-${doc.recorded_op}.jsonl`), "utf8");
    expect(events).toContain('"event":"audit.verify"');
    // The record, including the new operation, verifies.
    expect((await run("audit", "verify", "--all")).code).toBe(0);
  });
  test("audit checkpoint: exit 3 when there is none", async () => {
    const cp = join(audit, "checkpoint");
    const orig = readFileSync(cp);
    const { unlinkSync } = await import("node:fs");
    unlinkSync(cp);
    try {
      expect((await run("audit", "checkpoint")).code).toBe(3);
      expect((await run("audit", "verify", "--all")).code).toBe(3);
    } finally {
      writeFileSync(cp, orig);
    }
  });
});

describe("audit verify --deep resolves links inside the root, as chroot(2) would", () => {
  // Each hop of a live target (the command link, its directories, the
  // replacement's own links) is resolved inside the root: a directory link
  // that leads out of it cannot make a broken root look healthy, and an
  // absolute one that stays inside it is not mistaken for the host's.
  test("usr/lib/cargo → a host copy: drift (5); usr/lib/cargo → /opt/cargo inside the root: verified (0)", () => {
    const root = coreutilsRoot();
    try {
      expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
      const deep = () => pkgswitch(["--root", root, "audit", "verify", "--deep", "--allow-unsigned"]);
      expect(deep().code).toBe(0);
      const cargo = join(root, "usr/lib/cargo");
      // The replacement's files move to the host (outside the root); the
      // root keeps an absolute link to where they went.
      const outside = `${root}-outside-cargo`;
      renameSync(cargo, outside);
      symlinkSync(outside, cargo);
      try {
        const r = deep();
        expect(r.code, r.stdout + r.stderr).toBe(5);
        expect(r.stdout + r.stderr).toContain("no longer resolves");
        // The same files at /opt/cargo inside the root, linked absolutely.
        rmSync(cargo);
        mkdirSync(join(root, "opt"), { recursive: true });
        renameSync(outside, join(root, "opt/cargo"));
        symlinkSync("/opt/cargo", cargo);
        const ok = deep();
        expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    } finally {
      removeRoot(root);
    }
  });
});
