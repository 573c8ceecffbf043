/** A reader that goes away (`pkgswitch audit verify | head -1`) is not an
 * error, but it must not change the verdict: the command runs to its end
 * and exits with its own code, so a playbook under `set -o pipefail`
 * branches on the real answer. */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { pkgswitch } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";

setDefaultTimeout(120_000);

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** `pkgswitch ARGS | READER` under pipefail: the pipeline's status, which is
 * pkgswitch's when the reader exits 0. `true` reads nothing: it is gone
 * before pkgswitch writes its first byte. */
function piped(args: string[], reader: string): number {
  const quoted = [BINARY, ...args].map((a) => `'${a}'`).join(" ");
  const p = Bun.spawnSync(["bash", "-c", `set -o pipefail; ${quoted} | ${reader}`], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" }, stdout: "ignore", stderr: "pipe" });
  return p.exitCode ?? -1;
}

describe("stdout closed by its reader", () => {
  const root = coreutilsRoot();
  roots.push(root);

  test("audit verify keeps its exit code: 4 for an unsigned record, 1 for a tampered one", () => {
    // No key: the operation is recorded unsigned, which verify answers with 4.
    expect(pkgswitch(["--root", root, "enable", "coreutils", "--yes"]).code).toBe(0);
    const direct = pkgswitch(["--root", root, "audit", "verify"]);
    expect(direct.code).toBe(4);
    for (const reader of ["true", "head -c 10 >/dev/null", "head -1 >/dev/null"]) {
      expect(piped(["--root", root, "audit", "verify"], reader), reader).toBe(4);
      expect(piped(["--root", root, "audit", "verify", "--json"], reader), `--json | ${reader}`).toBe(4);
    }
    // One edited byte in the operation's record.
    const audit = join(root, "var/lib/pkgswitch/audit");
    const op = JSON.parse(readFileSync(join(audit, "ledger.jsonl"), "utf8").split("\n")[0]!).op as string;
    const file = join(audit, `audit-${op}.jsonl`);
    writeFileSync(file, readFileSync(file, "utf8").replace('"seq":1,', '"seq":7,'));
    expect(pkgswitch(["--root", root, "audit", "verify", "--allow-unsigned"]).code).toBe(1);
    expect(piped(["--root", root, "audit", "verify", "--allow-unsigned"], "true")).toBe(1);
  });
});
