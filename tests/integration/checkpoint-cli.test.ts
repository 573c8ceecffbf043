/** `audit checkpoint` checks what it prints (the compiled binary, a temp
 * --root or --audit-dir): the file is copied off the host as evidence, so a
 * garbage, altered or foreign checkpoint, or one the ledger no longer
 * matches, is refused with one line and verify's exit code — never printed. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpBuffer } from "../../src/audit/opbuffer.ts";
import { generateSecretKey, type GeneratedKey } from "../../src/attest/minisign.ts";
import { signerFor } from "../../src/attest/signing.ts";
import { merkleRootOf } from "../../src/audit/merkle.ts";
import { pkgswitch } from "../helpers/cli.ts";

setDefaultTimeout(120_000);

const HOST = "0123456789abcdef0123456789abcdef";
let root: string;
let audit: string;
let keyDir: string;
let key: GeneratedKey;
let good: string;

/** Three operations, the first two signed (so the checkpoint covers 2 of the
 * 3 lines, as after an unsigned operation), the third unsigned. */
function record(dir: string, signed: boolean[]): void {
  for (const [i, s] of signed.entries()) {
    const op = OpBuffer.start({ auditDir: dir, command: `test ${i}`, argv: ["pkgswitch", "test"], env: {}, root, dryRun: false, toolVersion: "test", hostId: HOST });
    op.record("pkg.query", { manager: "dpkg", args: ["dpkg-query", "-W"], rc: 0, duration_ms: 1 });
    op.finalize({ status: "ok", exitCode: 0, signing: s ? { mode: "key", signer: signerFor(key, `pkgswitch/${HOST}`) } : { mode: "off" }, merkleRoot: merkleRootOf });
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "pkgswitch-ckpt-"));
  audit = join(root, "var/lib/pkgswitch/audit");
  keyDir = join(root, "etc/pkgswitch/keys");
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  mkdirSync(audit, { recursive: true, mode: 0o700 });
  key = generateSecretKey();
  writeFileSync(join(keyDir, "signing.key"), key.secretKeyText, { mode: 0o600 });
  chmodSync(join(keyDir, "signing.key"), 0o600);
  writeFileSync(join(keyDir, "signing.pub"), key.publicKeyText);
  record(audit, [true, true, false]);
  good = readFileSync(join(audit, "checkpoint"), "utf8");
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cli = (...args: string[]) => pkgswitch(["--root", root, ...args]);

/** Run with the checkpoint (or ledger) replaced, then put it back. */
function withFile<T>(path: string, text: string | Buffer, f: () => T): T {
  const orig = readFileSync(path);
  writeFileSync(path, text);
  try {
    return f();
  } finally {
    writeFileSync(path, orig);
  }
}

function expectRefused(r: { code: number; stdout: string; stderr: string }, code: number, what: RegExp): void {
  expect(r.stdout).toBe("");
  const lines = r.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toContain(join(audit, "checkpoint"));
  expect(lines[0]).toMatch(what);
  expect(lines[0]).toContain("pkgswitch audit verify");
  expect(r.code).toBe(code);
}

describe("audit checkpoint checks before it prints", () => {
  test("a good checkpoint (lagging behind an unsigned operation) is printed as is, exit 0", () => {
    const r = cli("audit", "checkpoint");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(good);
    expect(r.stderr).toBe("");
    expect(good.split("\n")[1]).toBe("2");
    const j = pkgswitch(["--root", root, "audit", "checkpoint", "--json"]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ checkpoint: good, size: 2, signature: "verified" });
  });

  test("garbage: 1, one line, nothing printed", () => {
    const cp = join(audit, "checkpoint");
    expectRefused(withFile(cp, "hello\n", () => cli("audit", "checkpoint")), 1, /not a valid checkpoint/);
    expectRefused(withFile(cp, Buffer.from([0xff, 0xfe, 0, 1]), () => cli("audit", "checkpoint")), 1, /not a valid checkpoint/);
  });

  test("an altered tree size, root or signature: 1", () => {
    const cp = join(audit, "checkpoint");
    const lines = good.split("\n");
    const size = [lines[0], "1", ...lines.slice(2)].join("\n");
    expectRefused(withFile(cp, size, () => cli("audit", "checkpoint")), 1, /does not verify/);
    const rootB64 = Buffer.from(lines[2]!, "base64");
    rootB64[0]! ^= 1;
    const altered = [lines[0], lines[1], rootB64.toString("base64"), ...lines.slice(3)].join("\n");
    expectRefused(withFile(cp, altered, () => cli("audit", "checkpoint")), 1, /does not verify/);
  });

  test("signed by another key: 1 (not the key of the operation it closes); trusted keys that do not include its key: 4", () => {
    const other = generateSecretKey();
    const cp = join(audit, "checkpoint");
    const body = good.split("\n");
    const forged = signerFor(other, `pkgswitch/${HOST}`).checkpoint(Number(body[1]), Buffer.from(body[2]!, "base64"));
    const pub = join(keyDir, "signing.pub");
    withFile(pub, other.publicKeyText, () => expectRefused(withFile(cp, forged, () => cli("audit", "checkpoint")), 1, /signed by key .*, but the operation it closes \(ledger line 2\) was signed by/));
    expectRefused(withFile(pub, other.publicKeyText, () => cli("audit", "checkpoint")), 4, /signed by key .*, which is not in the trusted set/);
  });

  test("a well-signed checkpoint the ledger does not match (a line edited, lines removed): 1", () => {
    const ledger = join(audit, "ledger.jsonl");
    const text = readFileSync(ledger, "utf8");
    const lines = text.trim().split("\n");
    // The first line's ts changed: still a ledger line, but not the one signed.
    const edited = [lines[0]!.replace(/"ts":"[^"]*"/, '"ts":"2000-01-01T00:00:00.000Z"'), ...lines.slice(1)].join("\n") + "\n";
    expectRefused(withFile(ledger, edited, () => cli("audit", "checkpoint")), 1, /hash to .* but the signed checkpoint says/);
    expectRefused(withFile(ledger, lines[0] + "\n", () => cli("audit", "checkpoint")), 1, /covers 2 operations but ledger\.jsonl has 1 lines/);
  });

  test("no ledger.jsonl at all: 1 (as audit verify), saying it is missing, not that lines were removed from its end", () => {
    const ledger = join(audit, "ledger.jsonl");
    renameSync(ledger, ledger + ".away");
    try {
      const r = cli("audit", "checkpoint");
      expectRefused(r, 1, /ledger\.jsonl: missing, though the checkpoint covers 2 operations: the ledger was deleted or moved/);
      expect(r.stderr).not.toContain("removed from the end");
      expect(cli("audit", "verify").code).toBe(1);
    } finally {
      renameSync(ledger + ".away", ledger);
    }
  });

  test("no trusted key: form, size and root checked, printed with a warning that the signature was not", () => {
    const dir = mkdtempSync(join(tmpdir(), "pkgswitch-ckpt-dir-"));
    const empty = mkdtempSync(join(tmpdir(), "pkgswitch-ckpt-root-"));
    try {
      for (const f of ["ledger.jsonl", "checkpoint"]) writeFileSync(join(dir, f), readFileSync(join(audit, f)));
      const r = pkgswitch(["--root", empty, "--audit-dir", dir, "audit", "checkpoint"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(good);
      expect(r.stderr).toMatch(/^warning: checkpoint .* signature by [0-9A-F]{16} not checked: no trusted key/);
      // The warning says how to have it checked, and that way is accepted.
      expect(r.stderr).toContain("pkgswitch audit checkpoint --pubkey FILE");
      const pub = join(keyDir, "signing.pub");
      const checked = pkgswitch(["--root", empty, "--audit-dir", dir, "audit", "checkpoint", "--pubkey", pub, "--json"]);
      expect(checked.stderr).toBe("");
      expect(checked.code).toBe(0);
      expect(JSON.parse(checked.stdout)).toMatchObject({ checkpoint: good, signature: "verified" });
      const otherPub = join(dir, "other.pub");
      writeFileSync(otherPub, generateSecretKey().publicKeyText);
      const foreign = pkgswitch(["--root", empty, "--audit-dir", dir, "audit", "checkpoint", "--pubkey", otherPub]);
      expect(foreign.code).toBe(4);
      expect(foreign.stderr).toContain("not in the trusted set");
      writeFileSync(join(dir, "checkpoint"), good.replace("\n2\n", "\n1\n"));
      const bad = pkgswitch(["--root", empty, "--audit-dir", dir, "audit", "checkpoint"]);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toContain("hash to");
      writeFileSync(join(dir, "checkpoint"), "not a checkpoint\n");
      expect(pkgswitch(["--root", empty, "--audit-dir", dir, "audit", "checkpoint"]).code).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("a signing.pub that is there but unusable: verify's 4 (not a public key) or 6 (a directory), not a warning", () => {
    const pub = join(keyDir, "signing.pub");
    for (const [code, make] of [[4, () => writeFileSync(pub, "junk\n")], [6, () => (rmSync(pub), mkdirSync(pub))]] as const) {
      make();
      try {
        const r = cli("audit", "checkpoint");
        expectRefused(r, code, new RegExp(pub.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")));
        expect(r.stderr).not.toContain("no trusted key");
        expect(cli("audit", "verify", "--all").code).toBe(code);
      } finally {
        rmSync(pub, { recursive: true, force: true });
        writeFileSync(pub, key.publicKeyText);
      }
    }
  });

  test("bad ledger lines: after the lines the checkpoint covers, printed with a warning; among them, 1 naming ledger.jsonl and the line", () => {
    const ledger = join(audit, "ledger.jsonl");
    const text = readFileSync(ledger, "utf8");
    for (const tail of ["garbage\n", "\n".repeat(1100)]) {
      const r = withFile(ledger, text + tail, () => cli("audit", "checkpoint"));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(good);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toStartWith(`warning: ${ledger} line 4: `);
      expect(lines[0]).toContain("pkgswitch audit verify --all");
    }
    // Line 2 is one the checkpoint (size 2) covers.
    const lines = text.trim().split("\n");
    const damaged = [lines[0], "garbage", ...lines.slice(2)].join("\n") + "\n";
    const r = withFile(ledger, damaged, () => cli("audit", "checkpoint"));
    expectRefused(r, 1, /not JSON|invalid/);
    expect(r.stderr).toStartWith(`error: ${ledger} line 2: `);
    expect(r.stderr).toContain(`checkpoint ${join(audit, "checkpoint")} not printed`);
  });
});
