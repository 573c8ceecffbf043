/** Forgeries `audit verify` must not accept, each on a throwaway root whose
 * record is written by the real writer pieces (tests/helpers/record.ts, the
 * root's own key) and checked by the real binary: a bundle whose file slots
 * stand in for each other. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pkgswitch } from "../helpers/cli.ts";
import { makeRecord } from "../helpers/record.ts";

setDefaultTimeout(300_000);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A root with `n` signed operations (none has an SBOM) and its key. */
function recordedRoot(n: number): { root: string; audit: string; pub: string; ops: string[] } {
  const root = mkdtempSync(join(tmpdir(), "pkgswitch-verify-forgery-"));
  dirs.push(root);
  for (const d of ["var/lib/dpkg", "etc", "usr/bin", "run/lock"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  writeFileSync(join(root, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
  expect(pkgswitch(["--root", root, "keys", "generate", "-q"]).code).toBe(0);
  const audit = join(root, "var/lib/pkgswitch/audit");
  rmSync(audit, { recursive: true, force: true });
  const { ops } = makeRecord(root, n, { allSigned: true });
  return { root, audit, pub: join(root, "etc/pkgswitch/keys/signing.pub"), ops };
}

describe("audit verify --bundle: each file slot holds its own file", () => {
  const r = recordedRoot(3);
  const op = r.ops[1]!;
  const bundle = join(r.root, "b.json");
  const verify = (b: unknown) => {
    const f = join(r.root, "forged.json");
    writeFileSync(f, JSON.stringify(b));
    return pkgswitch(["--root", r.root, "audit", "verify", "--bundle", f, "--pubkey", r.pub]);
  };

  test("the bundle as exported verifies (0), and has no SBOM", () => {
    expect(pkgswitch(["--root", r.root, "audit", "export", "--op", op, "-o", bundle]).code).toBe(0);
    const b = JSON.parse(readFileSync(bundle, "utf8"));
    expect(b.files.sbom).toBeNull();
    const v = pkgswitch(["--root", r.root, "audit", "verify", "--bundle", bundle, "--pubkey", r.pub]);
    expect(v.stdout).toContain("audit verify: OK");
    expect(v.code).toBe(0);
  });

  test("the real JSONL in the SBOM slot under the JSONL's name, a forged one in the JSONL slot: 1", () => {
    const b = JSON.parse(readFileSync(bundle, "utf8"));
    b.files.sbom = { ...b.files.jsonl };
    b.files.jsonl.text = b.files.jsonl.text.replace('"command":"disable ', '"command":"enable ');
    expect(b.files.jsonl.text).not.toBe(b.files.sbom.text);
    const v = verify(b);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`FAIL bundle bundle [op ${op}]: files.sbom is named "audit-${op}.jsonl", not audit-${op}-sbom.json`);
  });

  test("the real JSONL in the signature slot under the JSONL's name: 1", () => {
    const b = JSON.parse(readFileSync(bundle, "utf8"));
    b.files.sig = { ...b.files.jsonl };
    b.files.jsonl.text = b.files.jsonl.text.replaceAll('"ok":true', '"ok":false');
    expect(verify(b).code).toBe(1);
  });

  test("a slot under another operation's name, or a slot's own name in another slot: 1", () => {
    const b = JSON.parse(readFileSync(bundle, "utf8"));
    b.files.sbom = { name: `audit-${r.ops[0]}-sbom.json`, text: "{}\n" };
    const v = verify(b);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`files.sbom is named "audit-${r.ops[0]}-sbom.json"`);
    const c = JSON.parse(readFileSync(bundle, "utf8"));
    [c.files.jsonl.name, c.files.sig.name] = [c.files.sig.name, c.files.jsonl.name];
    const w = verify(c);
    expect(w.code).toBe(1);
    expect(w.stdout).toContain(`files.jsonl is named "audit-${op}.jsonl.sig", not audit-${op}.jsonl`);
  });
});
