/** Smoke test: run each switched command with --version inside the root.
 * Pass = it executed and exited normally (exit code aside: uutils 0.0.17's
 * `true --version` exits 1), or it kept printing until we stopped reading
 * (busybox `yes --version` prints "--version" forever). Fail = exec error
 * (126/127), a crash signal, or a hang. Only the first bytes are kept. */
import { inRoot } from "../pkgmgr/exec.ts";
import { spawn } from "../sys/index.ts";

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
        const p = spawn(inRoot(root, [target, "--version"]), { env: { PATH: "/usr/bin:/bin", LC_ALL: "C" }, timeoutMs });
        let capped = false;
        const head = (stream: ReadableStream<Uint8Array>) => readHead(stream, OUTPUT_CAP, () => {
          capped = true;
          p.kill("SIGKILL");
        });
        const [out, err] = await Promise.all([head(p.stdout), head(p.stderr)]);
        const rc = await p.exited;
        const signal = capped ? undefined : p.signal() ?? undefined;
        const ok = capped || (!signal && rc !== 126 && rc !== 127);
        const r: SmokeResult = { target, ok, rc: capped ? null : rc, output: (out || err).split("\n")[0]!.slice(0, 200), durationMs: Math.round(performance.now() - t0) };
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

const OUTPUT_CAP = 4096;

/** Read up to `cap` bytes of a stream, then call `onCap` and stop reading. */
async function readHead(stream: ReadableStream<Uint8Array>, cap: number, onCap: () => void): Promise<string> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
    if (n >= cap) {
      onCap();
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8", 0, Math.min(n, cap));
}
