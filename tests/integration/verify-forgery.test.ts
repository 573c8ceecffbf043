/** Forgeries `audit verify` must not accept, each on a throwaway root whose
 * record is written by the real writer pieces (tests/helpers/record.ts, the
 * root's own key) and checked by the real binary: a bundle whose file slots
 * stand in for each other; an archive record of an operation no trusted key
 * signed, naming a signed operation whose files were deleted. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventLine, sealEvent } from "../../src/audit/event.ts";
import { ledgerLine, type LedgerEntry } from "../../src/audit/ledger.ts";
import { generateSecretKey } from "../../src/attest/minisign.ts";
import { loadSecretKey, signerFor } from "../../src/attest/signing.ts";
import { sha256Hex } from "../../src/verify/strict.ts";
import { pkgswitch, pkgswitchJson } from "../helpers/cli.ts";
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
  // A copy of the public key outside the key directory, for --pubkey.
  writeFileSync(join(root, "pub"), readFileSync(join(root, "etc/pkgswitch/keys/signing.pub")));
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

/** Delete the files of `victim` and append a correctly chained archive
 * operation (unsigned, or signed by `signWith`, a key the root does not
 * trust) whose `archive.segment` event says `victim` was archived into a
 * segment that is not there. Returns the forged operation's id. */
function forgeArchiveRecord(audit: string, victim: string, signWith?: ReturnType<typeof generateSecretKey>): string {
  for (const n of readdirSync(audit)) if (n.startsWith(`audit-${victim}`)) rmSync(join(audit, n));
  const ledger = readFileSync(join(audit, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LedgerEntry);
  const op = "20261202T001200Z-0badc0de";
  const ts = "2026-12-02T00:12:00.000Z";
  const evs = [sealEvent(op, 0, ts, "op.start", { command: "audit archive --keep 0" }, ledger.at(-1)!.head)];
  evs.push(sealEvent(op, 1, ts, "archive.segment", { segment: `${victim}..${victim}.tar.gz`, sha256: "0".repeat(64), bytes: 1, signed: false, ops: [victim] }, evs[0]!.hash));
  evs.push(sealEvent(op, 2, ts, "op.end", { status: "ok", exit_code: 0 }, evs[1]!.hash));
  const jsonl = Buffer.from(evs.map(eventLine).join(""));
  writeFileSync(join(audit, `audit-${op}.jsonl`), jsonl);
  let signature: LedgerEntry["signature"] = "unsigned";
  let keyId: string | null = null;
  if (signWith) {
    const signer = signerFor(signWith, "pkgswitch/forger");
    writeFileSync(join(audit, `audit-${op}.jsonl.sig`), signer.signFile(jsonl, op, `audit-${op}.jsonl`));
    signature = "signed";
    keyId = signer.keyId;
  }
  appendFileSync(join(audit, "ledger.jsonl"), ledgerLine({ v: 1, seq: ledger.length, op, head: evs[2]!.hash, jsonl_sha256: sha256Hex(jsonl), signature, key_id: keyId, ts }));
  return op;
}

type Check = { check: string; ok: boolean; file?: string; op?: string };
type Checks = { exit_code: number; checks: Check[]; warnings: Check[] };

describe("audit verify: an archive record vouches for a missing segment only when a trusted key signed it", () => {
  for (const how of ["unsigned", "signed by an untrusted key"] as const) {
    test(`a forged archive operation, ${how}, naming a signed operation whose files were deleted: missing (3), not archived (8 or 0)`, () => {
      const r = recordedRoot(3);
      const victim = r.ops[1]!;
      const forged = forgeArchiveRecord(r.audit, victim, how === "unsigned" ? undefined : generateSecretKey());
      for (const args of [["--op", victim], ["--op", victim, "--allow-missing-archive"], ["--all"], ["--all", "--allow-missing-archive", "--allow-unsigned"]]) {
        const v = pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", ...args]);
        const what = `${args.join(" ")}: ${JSON.stringify([...v.json.checks.filter((c) => !c.ok), ...v.json.warnings])}`;
        // A signed line the checkpoint does not cover is itself tampering
        // (1, before 3) for --all.
        expect(v.code, what).toBe(how !== "unsigned" && args[0] === "--all" ? 1 : 3);
        expect(v.json.checks.some((c) => !c.ok && c.check === "artifact" && c.op === victim), what).toBe(true);
        expect([...v.json.checks, ...v.json.warnings].some((c) => c.check === "archive.missing"), what).toBe(false);
        expect(v.json.warnings.some((c) => c.check === "archive.record" && c.op === forged), what).toBe(true);
      }
    });
  }

  test("a real signed archive with its segment deleted is still 8 (0 with --allow-missing-archive)", () => {
    const r = recordedRoot(3);
    expect(pkgswitch(["--root", r.root, "audit", "archive", "--keep", "1", "--yes"]).code).toBe(0);
    for (const n of readdirSync(join(r.audit, "archive"))) rmSync(join(r.audit, "archive", n));
    expect(pkgswitch(["--root", r.root, "audit", "verify", "--all"]).code).toBe(8);
    expect(pkgswitch(["--root", r.root, "audit", "verify", "--op", r.ops[0]!]).code).toBe(8);
    expect(pkgswitch(["--root", r.root, "audit", "verify", "--op", r.ops[0]!, "--allow-missing-archive"]).code).toBe(0);
  });

  test("an unsigned archive (no key): its segments are still read (0 with --allow-unsigned), but a missing one excuses nothing (3)", () => {
    const r = recordedRoot(3);
    for (const k of ["signing.key", "signing.pub"]) rmSync(join(r.root, "etc/pkgswitch/keys", k));
    expect(pkgswitch(["--root", r.root, "audit", "archive", "--keep", "1", "--yes"]).code).toBe(0);
    expect(existsSync(join(r.audit, `audit-${r.ops[0]}.jsonl`))).toBe(false);
    const ok = pkgswitch(["--root", r.root, "audit", "verify", "--all", "--allow-unsigned", "--pubkey", join(r.root, "pub")]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toContain("2 archived operation(s)");
    for (const n of readdirSync(join(r.audit, "archive"))) rmSync(join(r.audit, "archive", n));
    const gone = pkgswitch(["--root", r.root, "audit", "verify", "--all", "--allow-unsigned", "--allow-missing-archive", "--pubkey", join(r.root, "pub")]);
    expect(gone.code, gone.stdout).toBe(3);
    expect(gone.stdout).toContain("warn archive.record");
  });
});

/** The files a crash between writing an operation's artifacts and its
 * ledger line leaves (../../src/audit/finalize.ts): `audit-<op>.jsonl` and
 * its `.sig`, signed by the root's key, no ledger line. Returns the op id
 * and its event lines. */
function crashedOperation(r: ReturnType<typeof recordedRoot>, withSbom = false): { op: string; lines: string[]; sbom: Buffer | null } {
  const ledger = readFileSync(join(r.audit, "ledger.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as LedgerEntry);
  const op = "20261202T003000Z-0c0ffee0";
  const ts = "2026-12-02T00:30:00.000Z";
  const sbom = withSbom ? Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: "t" }) + "\n") : null;
  const fields: [string, Record<string, unknown>][] = [
    ["op.start", { command: "hooks remove", argv: ["pkgswitch", "hooks", "remove"] }],
    ["hook.remove", { path: "/etc/dpkg/dpkg.cfg.d/pkgswitch", ok: true }],
    ["op.end", { status: "ok", exit_code: 0, ...(sbom ? { sbom: { file: `audit-${op}-sbom.json`, sha256: sha256Hex(sbom) } } : {}) }],
  ];
  let prev = ledger.at(-1)!.head;
  const lines = fields.map(([name, f], seq) => {
    const e = sealEvent(op, seq, ts, name, f, prev);
    prev = e.hash;
    return eventLine(e);
  });
  const jsonl = Buffer.from(lines.join(""));
  writeFileSync(join(r.audit, `audit-${op}.jsonl`), jsonl);
  const signer = signerFor(loadSecretKey(join(r.root, "etc/pkgswitch/keys/signing.key"), {}), "pkgswitch/test");
  writeFileSync(join(r.audit, `audit-${op}.jsonl.sig`), signer.signFile(jsonl, op, `audit-${op}.jsonl`));
  if (sbom) writeFileSync(join(r.audit, `audit-${op}-sbom.json`), sbom);
  return { op, lines, sbom };
}

describe("audit verify --all: an orphan artifact is a warning only when its journal holds its content", () => {
  const orphans = (v: { json: Checks }) => [...v.json.checks, ...v.json.warnings].filter((c) => c.check === "orphan");

  test("no journal: 1; an empty journal, or one holding another operation's events: still 1", () => {
    const r = recordedRoot(3);
    const { op } = crashedOperation(r);
    const journal = join(r.audit, `.inprogress-${op}.jsonl`);
    const none = pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]);
    expect(none.code).toBe(1);
    writeFileSync(journal, "");
    const empty = pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]);
    expect(empty.code, JSON.stringify(orphans(empty))).toBe(1);
    expect(orphans(empty).length).toBe(2);
    expect(orphans(empty).every((c) => !c.ok && c.op === op)).toBe(true);
    writeFileSync(journal, readFileSync(join(r.audit, `audit-${r.ops[2]}.jsonl`)));
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(1);
    // A torn first line is no whole event: nothing to compare.
    writeFileSync(journal, readFileSync(join(r.audit, `audit-${op}.jsonl`), "utf8").split("\n")[0]!);
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(1);
  });

  test("the journal finalize was writing (the same events): a warning, 0", () => {
    const r = recordedRoot(3);
    const { op, lines } = crashedOperation(r);
    writeFileSync(join(r.audit, `.inprogress-${op}.jsonl`), lines.join(""));
    const v = pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]);
    expect(v.code, JSON.stringify(v.json.checks.filter((c) => !c.ok))).toBe(0);
    expect(orphans(v).length).toBe(2);
    expect(orphans(v).every((c) => c.ok)).toBe(true);
  });

  test("the journal recovery was finalizing (a prefix, its own op.end after it, lines it dropped): a warning, 0", () => {
    const r = recordedRoot(3);
    const { op, lines } = crashedOperation(r);
    // The journal had events 0 and 1, then a line its MAC did not cover;
    // recovery wrote events 0 and 1 and an op.end of its own (line 3 here).
    writeFileSync(join(r.audit, `.inprogress-${op}.jsonl`), lines[0]! + lines[1]! + '{"unauthenticated":true}\n');
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(0);
    // A journal whose second line differs is not this file's.
    writeFileSync(join(r.audit, `.inprogress-${op}.jsonl`), lines[0]! + '{"other":true}\n' + lines[2]!);
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(1);
  });

  test("an orphan SBOM: explained by a journal whose op.end names its digest, not by another", () => {
    const r = recordedRoot(3);
    const { op, lines } = crashedOperation(r, true);
    // The crash came after the SBOM, before the events file.
    for (const n of [`audit-${op}.jsonl`, `audit-${op}.jsonl.sig`]) rmSync(join(r.audit, n));
    writeFileSync(join(r.audit, `.inprogress-${op}.jsonl`), lines.join(""));
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(0);
    writeFileSync(join(r.audit, `audit-${op}-sbom.json`), "{}\n");
    expect(pkgswitchJson<Checks>(["--root", r.root, "audit", "verify", "--all"]).code).toBe(1);
  });
});
