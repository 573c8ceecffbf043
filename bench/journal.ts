/** The journal MAC's cost (docs/formats.md "Journals and their MAC").
 *
 * 1. In process: OpBuffer.record of N events into a real journal on a temp
 *    audit dir, with a signing key (journal + MAC sidecar rewritten after
 *    each event) and, in the same run, interleaved, without one (journal
 *    only: the baseline). CPU time (user + sys) per event, median of R runs.
 * 2. Whole process: `enable coreutils --yes` then `disable coreutils --yes`
 *    with a key on a fake root (tests/helpers/fakeroot.ts), the binary given
 *    by --binary against --before (e.g. main's), interleaved; CPU time.
 *
 * Prints figures; never fails on timing. Temp dirs are removed.
 *
 * Run: npx bun bench/journal.ts [--events N] [--runs R] [--binary PATH] [--before PATH] */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpBuffer, type SigningSetup } from "../src/audit/opbuffer.ts";
import { generateSecretKey } from "../src/attest/minisign.ts";
import { signerFor } from "../src/attest/signing.ts";
import { coreutilsRoot, removeRoot } from "../tests/helpers/fakeroot.ts";
import { arg, binary, median, table, timed } from "./lib.ts";

const EVENTS = Number(arg("--events", "2000"));
const RUNS = Number(arg("--runs", "9"));
const keyed: SigningSetup = { mode: "key", signer: signerFor(generateSecretKey(), "pkgswitch/bench") };
const off: SigningSetup = { mode: "off" };

const tmp = mkdtempSync(join(tmpdir(), "pkgswitch-bench-journal-"));
let n = 0;
function recordRun(signing: SigningSetup): number {
  const dir = join(tmp, `r${n++}`, "audit");
  const op = OpBuffer.start({ auditDir: dir, command: "enable", argv: [], env: {}, root: "/srv/r", dryRun: false, toolVersion: "0", hostId: "h", signing });
  const c0 = process.cpuUsage();
  for (let i = 0; i < EVENTS; i++) op.record("file.switch", { target: `/usr/bin/t${i}`, before_sha256: "ab".repeat(32), after: "/usr/lib/cargo/bin/coreutils/x" });
  op.flush();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / EVENTS;
}

try {
  recordRun(keyed);
  recordRun(off); // warm-up
  const withMac: number[] = [];
  const without: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    withMac.push(recordRun(keyed));
    without.push(recordRun(off));
  }
  console.log(`record(): ${EVENTS} events × ${RUNS} interleaved runs, CPU µs per event (median)`);
  console.log(table([
    ["", "µs/event"],
    ["with a key (journal + MAC)", median(withMac).toFixed(1)],
    ["baseline: no key (journal only)", median(without).toFixed(1)],
  ]));

  const after = binary("journal");
  const before = arg("--before", "");
  if (before) {
    const root = coreutilsRoot();
    try {
      if (timed([after, "--root", root, "keys", "generate"]).code !== 0) throw new Error("keys generate failed");
      const cycle = (bin: string) => {
        const e = timed([bin, "--root", root, "enable", "coreutils", "--yes"]);
        const d = timed([bin, "--root", root, "disable", "coreutils", "--yes"]);
        if (e.code !== 0 || d.code !== 0) throw new Error(`${bin}: enable/disable failed: ${e.stderr}${d.stderr}`);
        return e.cpuMs + d.cpuMs;
      };
      cycle(after);
      cycle(before);
      const a: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        a.push(cycle(after));
        b.push(cycle(before));
      }
      console.log(`\nenable + disable coreutils with a key (fake root), ${RUNS} interleaved runs, CPU ms (median)`);
      console.log(table([
        ["", "CPU ms"],
        [`after: ${after}`, median(a).toFixed(1)],
        [`before: ${before}`, median(b).toFixed(1)],
      ]));
    } finally {
      removeRoot(root);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
