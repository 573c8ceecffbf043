/** Pure parts of the fleet ledger: history comparison (RFC 9162
 * consistency), the connection URL and pgpass lookup, providers from the
 * evidence, summaries. */
import { describe, expect, test } from "bun:test";
import { leafHash, rootHash } from "../../src/audit/merkle.ts";
import { compareHistory, firstDifference, type HeldState } from "../../src/fleet/history.ts";
import { parseDbUrl, pgpassLookup } from "../../src/fleet/conn.ts";
import { enabledProviders } from "../../src/fleet/status.ts";
import { summarize } from "../../src/fleet/local.ts";
import { PkgswitchError } from "../../src/errors.ts";

const lines = (n: number, tag = "") => Array.from({ length: n }, (_, i) => `{"seq":${i}${tag && i >= 3 ? `,"x":"${tag}"` : ""}}`);
const local = (ls: string[], cpSize?: number) => {
  const leaves = ls.map((l) => leafHash(Buffer.from(l)));
  return { lines: ls, leaves, checkpoint: cpSize === undefined ? null : { size: cpSize, root: rootHash(leaves.slice(0, cpSize)) } };
};
const held = (ls: string[], count: number, cpSize: number | null): HeldState => {
  const leaves = ls.map((l) => leafHash(Buffer.from(l)));
  const tail = new Map<number, string>();
  for (let i = cpSize ?? 0; i < count; i++) tail.set(i, ls[i]!);
  return { count, checkpoint: cpSize === null ? null : { size: cpSize, root: rootHash(leaves.slice(0, cpSize)) }, tail };
};

describe("compareHistory", () => {
  test("an extension passes, with a consistency proof from the held checkpoint to the host's", () => {
    for (const [m, n] of [[1, 1], [1, 2], [3, 7], [4, 8], [5, 17], [8, 8]] as const) {
      const v = compareHistory(held(lines(n), m, m), local(lines(n), n));
      expect(v.ok).toBe(true);
      if (v.ok) expect([v.proofFrom, v.proofTo, v.proof.length > 0 || m === n]).toEqual([m, n, true]);
    }
  });

  test("first contact (nothing held) passes without a proof", () => {
    const v = compareHistory({ count: 0, checkpoint: null, tail: new Map() }, local(lines(4), 4));
    expect(v).toMatchObject({ ok: true, proofFrom: 0, proof: [] });
  });

  test("a rewritten line under the held checkpoint fails the consistency proof", () => {
    for (const m of [4, 5, 9]) {
      const v = compareHistory(held(lines(10), m, m), local(lines(10, "edited"), 10));
      expect(v.ok).toBe(false);
      if (!v.ok) expect([v.kind, v.message]).toEqual(["rewrite", expect.stringContaining("no consistency proof")]);
    }
  });

  test("a rewritten line held beyond the checkpoint is caught by the held tail", () => {
    const v = compareHistory(held(lines(6), 6, 2), local(lines(6, "edited"), 2));
    expect(v).toMatchObject({ ok: false, kind: "rewrite", message: expect.stringContaining("ledger line 3 differs") });
  });

  test("a truncated history fails", () => {
    expect(compareHistory(held(lines(6), 6, 6), local(lines(5), 5))).toMatchObject({ ok: false, kind: "truncated" });
    expect(compareHistory(held(lines(6), 6, 3), local(lines(4), 3))).toMatchObject({ ok: false, kind: "truncated" });
  });

  test("firstDifference", () => {
    expect(firstDifference(lines(5), lines(5))).toBe(-1);
    expect(firstDifference(lines(5), lines(7))).toBe(5);
    expect(firstDifference(lines(7), lines(5))).toBe(5);
    expect(firstDifference(lines(7), lines(7, "x"))).toBe(3);
  });
});

describe("fleet database URL and password", () => {
  test("parses user, host, port, database and sslmode", () => {
    expect(parseDbUrl("postgres://host_a@db.example.org:6432/fleet?sslmode=verify-full", "--db")).toMatchObject({ host: "db.example.org", port: 6432, user: "host_a", database: "fleet", ssl: "verify-full" });
    expect(parseDbUrl("postgresql://u@[::1]/f", "--db")).toMatchObject({ host: "::1", port: 5432, ssl: "prefer" });
  });

  test("refuses a password in the URL, and anything it cannot use, as usage errors", () => {
    for (const [url, msg] of [
      ["postgres://u:secret@h/f", "set PGPASSWORD or a pgpass file"],
      ["http://u@h/f", "is not postgres://"],
      ["postgres://h/f", "name the role"],
      ["postgres://u@h/", "name the database"],
      ["postgres://u@h/f?sslmode=maybe", "sslmode"],
      ["postgres://u@h/f?application_name=x", "unknown URL parameter"],
      ["not a url", "is not a URL"],
    ] as const) {
      let err: unknown;
      try {
        parseDbUrl(url, "--db");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PkgswitchError);
      expect(`${(err as PkgswitchError).exitCode} ${(err as Error).message}`).toContain(msg);
      expect((err as PkgswitchError).exitCode).toBe(2);
      expect((err as Error).message).not.toContain("secret");
    }
  });

  test("pgpass: first matching line wins; * matches; \\: and \\\\ are escapes", () => {
    const t = parseDbUrl("postgres://host_a@127.0.0.1:5433/fleet", "--db");
    const text = "# comment\nother:5433:fleet:host_a:no\n127.0.0.1:5432:fleet:host_a:wrongport\n*:5433:fleet:host_a:p\\:w\\\\d\n*:*:*:*:later\n";
    expect(pgpassLookup(text, t)).toBe("p:w\\d");
    expect(pgpassLookup("localhost:5433:fleet:host_a:viaLocalhost\n", t)).toBe("viaLocalhost");
    expect(pgpassLookup("*:*:other:*:x\n", t)).toBeNull();
  });
});

describe("fleet status from the evidence", () => {
  test("providers: successful enables minus disables; disable --all clears; failures change nothing", () => {
    expect(
      enabledProviders([
        { command: "enable coreutils findutils", status: "ok" },
        { command: "disable findutils", status: "ok" },
        { command: "enable sudo-rs", status: "rolled_back" },
        { command: "enable diffutils", status: "dry_run" },
      ]),
    ).toEqual(["coreutils"]);
    expect(enabledProviders([{ command: "enable coreutils", status: "ok" }, { command: "disable --all", status: "ok" }, { command: "enable findutils", status: "ok" }])).toEqual(["findutils"]);
    expect(enabledProviders([{ command: "disable --remove-package coreutils", status: "ok" }])).toEqual([]);
  });

  test("summarize reads op.start, op.end and key.rotate announcements", () => {
    const ev = (o: Record<string, unknown>) => JSON.stringify(o) + "\n";
    const jsonl = ev({ event: "op.start", command: "keys rotate", ts: "2026-11-30T10:00:00.000Z" }) + ev({ event: "key.rotate", new_key_id: "00000000000000AB", new_public_key: "RWQ=" }) + ev({ event: "op.end", status: "ok", exit_code: 0 });
    expect(summarize(Buffer.from(jsonl))).toEqual({ command: "keys rotate", status: "ok", exit_code: 0, op_ts: "2026-11-30T10:00:00.000Z", rotations: [{ key_id: "00000000000000AB", public_key: "RWQ=" }] });
    // An interrupted operation (no op.end yet) has no status.
    expect(summarize(Buffer.from(ev({ event: "op.start", command: "enable coreutils", ts: "x" })))).toMatchObject({ status: null, exit_code: null });
  });
});
