/** Smoke test: run each switched command with --version inside the root.
 * Pass = it executed and exited normally (exit code aside: uutils 0.0.17's
 * `true --version` exits 1). Fail = exec error (126/127), a signal, or a hang. */
import { inRoot } from "../pkgmgr/exec.ts";

export interface SmokeResult {
  target: string;
  ok: boolean;
  rc: number | null;
  signal?: string;
  output: string;
  durationMs: number;
}

export async function smokeTest(root: string, targets: string[], concurrency = 8, timeoutMs = 10_000): Promise<SmokeResult[]> {
  const results: SmokeResult[] = new Array(targets.length);
  let next = 0;
  async function worker() {
    while (next < targets.length) {
      const i = next++;
      const target = targets[i]!;
      const t0 = performance.now();
      try {
        const p = Bun.spawn(inRoot(root, [target, "--version"]), {
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
          timeout: timeoutMs,
        });
        const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
        const rc = await p.exited;
        const signal = p.signalCode ?? undefined;
        const ok = !signal && rc !== 126 && rc !== 127;
        const r: SmokeResult = { target, ok, rc, output: (out || err).split("\n")[0]!.slice(0, 200), durationMs: Math.round(performance.now() - t0) };
        if (signal) r.signal = String(signal);
        results[i] = r;
      } catch (e) {
        results[i] = { target, ok: false, rc: null, output: (e as Error).message, durationMs: Math.round(performance.now() - t0) };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, targets.length) }, worker));
  return results;
}
