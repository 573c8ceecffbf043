/** The smoke test's screen (commands run from a few shells inside the root)
 * gives the same verdict as running each command on its own, on a real
 * Debian root: it passes only what executed and exited normally, and hands
 * everything else — exec errors, signals, high exit codes, endless output,
 * hangs — to the one-process-per-command test. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { smokeTest, type SmokeResult } from "../../src/switch/smoke.ts";
import { debianRoot, removeDebianRoot } from "../helpers/debroot.ts";

let root: string;
const DIR = "/opt/pkgswitch-smoke";
const scripts: Record<string, string> = {
  ok0: "exit 0",
  ok3: "exit 3",
  high200: "exit 200",
  segv: "kill -SEGV $$",
  endless: "while :; do echo --version; done",
  endlessErr: "while :; do echo --version >&2; done",
  hang: "while :; do :; done",
};
const target = (name: string) => `${DIR}/${name}`;
const names = [...Object.keys(scripts), "missing", "noexec"];

beforeAll(() => {
  root = debianRoot("bookworm");
  mkdirSync(join(root, DIR), { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(root, DIR, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(root, DIR, name), 0o755);
  }
  symlinkSync("/nonexistent/command", join(root, DIR, "missing"));
  writeFileSync(join(root, DIR, "noexec"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(root, DIR, "noexec"), 0o644);
}, 120_000);
afterAll(() => removeDebianRoot(root));

const verdict = (r: SmokeResult) => ({ target: r.target, ok: r.ok, rc: r.rc, signal: r.signal ?? null });

/** Processes still running one of our scripts (a stopped screen must not leave any). */
function leftovers(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^[0-9]+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(DIR)) out.push(`${pid}: ${cmd.replace(/\0/g, " ")}`);
    } catch {}
  }
  return out;
}

describe("smoke test screen", () => {
  test("same verdicts as one process per command; nothing left running", async () => {
    const targets = names.map(target);
    // Alone, each command gets the exact test (the screen needs two or more).
    const exact = await Promise.all(targets.map(async (t) => verdict((await smokeTest(root, [t], 1, 1500))[0]!)));
    const screened = (await smokeTest(root, [...targets, "/usr/bin/true", "/bin/ls"], 8, 1500)).map(verdict);
    expect(screened.slice(0, targets.length)).toEqual(exact);
    const by = Object.fromEntries(exact.map((v) => [v.target.slice(DIR.length + 1), v]));
    expect(by.ok0).toMatchObject({ ok: true, rc: 0 });
    expect(by.ok3).toMatchObject({ ok: true, rc: 3 });
    expect(by.high200).toMatchObject({ ok: true, rc: 200 });
    expect(by.missing).toMatchObject({ ok: false, rc: 127 });
    expect(by.noexec).toMatchObject({ ok: false, rc: 126 });
    expect(by.segv).toMatchObject({ ok: false, signal: "SIGSEGV" });
    expect(by.endless).toMatchObject({ ok: true, rc: null });
    expect(by.endlessErr).toMatchObject({ ok: true, rc: null });
    expect(by.hang!.ok).toBe(false);
    expect(screened.slice(targets.length).every((v) => v.ok)).toBe(true);
    await Bun.sleep(100);
    expect(leftovers()).toEqual([]);
  }, 120_000);

  test("commands that pass are screened, not run one by one", async () => {
    const list = ["/usr/bin/true", "/bin/ls", "/usr/bin/cat", "/usr/bin/id", target("ok3")];
    const r = await smokeTest(root, list);
    expect(r.map((x) => x.ok)).toEqual([true, true, true, true, true]);
    // The exact test keeps the first line of output; the screen discards it.
    expect(r.map((x) => x.output)).toEqual(["", "", "", "", ""]);
  }, 60_000);

  test("a switched /bin/sh is tested, never trusted to screen the others", async () => {
    const r = await smokeTest(root, ["/bin/sh", "/bin/ls"]);
    expect(r.every((x) => x.ok)).toBe(true);
    // Run one by one: each kept its output's first line (dash refuses
    // --version on stderr, ls prints its version).
    expect(r[0]!.output).toMatch(/Illegal option/);
    expect(r[1]!.output).toMatch(/^ls /);
  }, 60_000);
});
