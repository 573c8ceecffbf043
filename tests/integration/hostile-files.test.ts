/** Hostile files in a root or an audit directory: FIFOs, links to
 * /dev/zero and /dev/urandom, directories, 100k-deep JSON, ledgers of
 * millions of empty or repeated lines. Each case must end in under 20 s,
 * under 1 GiB, with its documented exit code and one line — never a hang,
 * an exhausted memory, a stack trace, or a crash that reads as a verdict. */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreutilsRoot, removeRoot } from "../helpers/fakeroot.ts";
import { pkgswitch } from "../helpers/cli.ts";
import { BINARY } from "../helpers/paths.ts";

setDefaultTimeout(300_000);

const LIMIT_MS = 20_000;
const LIMIT_BYTES = 1 << 30;

let base: string;
const cleanup: string[] = [];
afterAll(() => cleanup.forEach(removeRoot));

beforeAll(() => {
  base = coreutilsRoot();
  cleanup.push(base);
  expect(pkgswitch(["--root", base, "keys", "generate"]).code).toBe(0);
  expect(pkgswitch(["--root", base, "enable", "coreutils", "--yes"]).code).toBe(0);
});

/** A copy of the enabled, signed root. */
function copy(): { root: string; audit: string } {
  const root = mkdtempSync(join(tmpdir(), "pkgswitch-hostile-"));
  cleanup.push(root);
  cpSync(base, root, { recursive: true, verbatimSymlinks: true });
  return { root, audit: join(root, "var/lib/pkgswitch/audit") };
}

interface Measured {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  peakBytes: number;
}

/** Run the binary, killing it at the time limit, and sample its peak RSS
 * (VmHWM, which only grows) from /proc while it runs. */
async function measured(args: string[]): Promise<Measured> {
  const t0 = performance.now();
  const p = Bun.spawn([BINARY, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let peak = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {}
  };
  const timer = setInterval(sample, 20);
  const killer = setTimeout(() => p.kill("SIGKILL"), LIMIT_MS + 5_000);
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearInterval(timer);
  clearTimeout(killer);
  return { code, stdout, stderr, ms: performance.now() - t0, peakBytes: peak };
}

function bounded(r: Measured, what: string, codes: number[]): void {
  const msg = `${what}: exit ${r.code} in ${Math.round(r.ms)} ms, ${Math.round(r.peakBytes / 2 ** 20)} MiB: ${r.stderr.trim().slice(0, 300)}`;
  expect(r.ms, msg).toBeLessThan(LIMIT_MS);
  expect(r.peakBytes, msg).toBeLessThan(LIMIT_BYTES);
  expect(codes, msg).toContain(r.code);
  expect(r.stderr + r.stdout, msg).not.toContain("internal error");
  expect(r.stderr, msg).not.toMatch(/\n\s+at .*:\d+:\d+/);
}

/** Put `kind` in place of `path`. */
function plant(path: string, kind: "fifo" | "zero" | "urandom" | "dir"): void {
  rmSync(path, { recursive: true, force: true });
  if (kind === "fifo") {
    const r = Bun.spawnSync(["mkfifo", path]);
    if (r.exitCode !== 0) throw new Error(`mkfifo ${path} failed`);
  } else if (kind === "dir") mkdirSync(path);
  else symlinkSync(kind === "zero" ? "/dev/zero" : "/dev/urandom", path);
}

const artifactOf = (audit: string, suffix: string) => readdirSync(audit).find((n) => n.startsWith("audit-") && n.endsWith(suffix) && (suffix !== ".jsonl" || !n.endsWith("-sbom.json")))!;

describe("FIFOs, devices and directories in place of files", () => {
  const kinds = ["fifo", "zero", "urandom", "dir"] as const;
  for (const kind of kinds) {
    test(`${kind} in place of each audit artifact: verify ends with 3 or 6, enable with 70`, async () => {
      for (const name of [".jsonl", ".jsonl.sig", "-sbom.json", "ledger.jsonl", "checkpoint"]) {
        const { root, audit } = copy();
        const file = name.startsWith(".") || name.startsWith("-") ? artifactOf(audit, name) : name;
        plant(join(audit, file), kind);
        bounded(await measured(["--root", root, "audit", "verify", "--all"]), `verify, ${kind} as ${file}`, [3, 6]);
        if (file === "ledger.jsonl" || file === "checkpoint") {
          // The next operation reads these: it stops before changing anything.
          const r = await measured(["--root", root, "disable", "coreutils", "--yes"]);
          bounded(r, `disable, ${kind} as ${file}`, [70]);
          expect(readdirSync(join(root, "var/lib/pkgswitch/backups/usr/bin")).length).toBeGreaterThan(0);
        }
      }
    });

    test(`${kind} in place of config.jsonc, a drop-in, a --bundle: exit 2 (config) or 6 (bundle)`, async () => {
      const { root } = copy();
      plant(join(root, "etc/pkgswitch/config.jsonc"), kind);
      bounded(await measured(["--root", root, "status"]), `${kind} as config`, [2]);
      const r2 = copy().root;
      mkdirSync(join(r2, "etc/pkgswitch/providers.d"), { recursive: true });
      plant(join(r2, "etc/pkgswitch/providers.d/x.jsonc"), kind);
      bounded(await measured(["--root", r2, "list"]), `${kind} as drop-in`, [2]);
      const bundle = join(r2, "bundle.json");
      plant(bundle, kind);
      bounded(await measured(["--root", r2, "audit", "verify", "--bundle", bundle]), `${kind} as bundle`, [6]);
    });
  }

  test("drop-in problems are config errors (exit 2): dangling link, providers.d as a file, __proto__", async () => {
    const a = copy().root;
    mkdirSync(join(a, "etc/pkgswitch/providers.d"), { recursive: true });
    symlinkSync("/nonexistent/x.jsonc", join(a, "etc/pkgswitch/providers.d/x.jsonc"));
    bounded(await measured(["--root", a, "list"]), "dangling drop-in", [2]);
    const b = copy().root;
    writeFileSync(join(b, "etc/pkgswitch/providers.d"), "{}");
    bounded(await measured(["--root", b, "list"]), "providers.d as a file", [2, 70]);
    const c = copy().root;
    mkdirSync(join(c, "etc/pkgswitch/providers.d"), { recursive: true });
    writeFileSync(join(c, "etc/pkgswitch/providers.d/x.jsonc"), `{"__proto__": {"evil": {"dpkg": {"replaces": ["coreutils"], "package": "x", "applets": {"dir": "/x"}}}}}`);
    const r = await measured(["--root", c, "list"]);
    bounded(r, "__proto__ drop-in", [2]);
    expect(r.stderr).toContain('unknown key "__proto__"');
  });
});

describe("deep nesting and huge ledgers", () => {
  const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

  test("100k-deep config → 2; 100k-deep drop-in → 2", async () => {
    const { root } = copy();
    writeFileSync(join(root, "etc/pkgswitch/config.jsonc"), `{"exclude": ${deep(100_000)}}`);
    bounded(await measured(["--root", root, "status"]), "deep config", [2]);
    const r2 = copy().root;
    mkdirSync(join(r2, "etc/pkgswitch/providers.d"), { recursive: true });
    writeFileSync(join(r2, "etc/pkgswitch/providers.d/x.jsonc"), `{"x": ${deep(100_000)}}`);
    bounded(await measured(["--root", r2, "list"]), "deep drop-in", [2]);
  });

  test("100k-deep ledger line or event line: verify reports it (1), a finding, not a crash", async () => {
    const { root, audit } = copy();
    writeFileSync(join(audit, "ledger.jsonl"), readFileSync(join(audit, "ledger.jsonl"), "utf8") + deep(100_000) + "\n");
    const r = await measured(["--root", root, "audit", "verify", "--all"]);
    bounded(r, "deep ledger line", [1]);
    expect(r.stdout).toContain("nested too deeply");
    const b = copy();
    const f = join(b.audit, artifactOf(b.audit, ".jsonl"));
    writeFileSync(f, readFileSync(f, "utf8") + `{"a":${deep(100_000)}}\n`);
    bounded(await measured(["--root", b.root, "audit", "verify", "--all"]), "deep event line", [1]);
    bounded(await measured(["--root", b.root, "audit", "show", artifactOf(b.audit, ".jsonl").slice(6, -6)]), "audit show of a deep event line", [3]);
  });

  test("a ledger of 10 MB of empty lines: verify stops after 1000 bad lines (1), bounded", async () => {
    const { root, audit } = copy();
    writeFileSync(join(audit, "ledger.jsonl"), readFileSync(join(audit, "ledger.jsonl"), "utf8") + "\n".repeat(10_000_000));
    const r = await measured(["--root", root, "audit", "verify", "--all"]);
    bounded(r, "10 MB of empty lines", [1]);
    expect(r.stdout).toContain("stopped reading after");
  });

  test("ledger lines repeated to 30 MB: each operation is checked once (verify 1, bounded)", async () => {
    const { root, audit } = copy();
    const text = readFileSync(join(audit, "ledger.jsonl"), "utf8");
    writeFileSync(join(audit, "ledger.jsonl"), text.repeat(Math.ceil(30_000_000 / text.length)));
    bounded(await measured(["--root", root, "audit", "verify", "--all"]), "repeated ledger", [1]);
  });

  test("a ledger over the 64 MiB bound: verify 6 at once, no read of the whole", async () => {
    const { root, audit } = copy();
    writeFileSync(join(audit, "ledger.jsonl"), Buffer.alloc(65 << 20, 0x0a));
    const r = await measured(["--root", root, "audit", "verify", "--all"]);
    bounded(r, "huge ledger", [6]);
    expect(r.stdout + r.stderr).toContain("larger than");
  });
});
