/** Running operation checks: in-process, or spread over worker threads for
 * a large log (each operation is independent once the ledger is read; the
 * cross-operation links are checked from the ledger's heads).
 *
 * Workers are an optimization only: if they cannot start (e.g. a compiled
 * binary built without src/verify/worker.ts as an extra entry point:
 * `bun build --compile main.ts src/verify/worker.ts …`), the same checks run
 * in-process. Results are merged in ledger order, so the report is the same
 * either way.
 *
 * Memory stays flat in the number of operations: tasks are made from ledger
 * lines one batch at a time as a worker asks, and per-operation results
 * (what --deep needs) are kept only when collected. */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { workerThreads } from "../sys/index.ts";
import type { PublicKey } from "../attest/minisign.ts";
import { compiledBinary } from "../sys/index.ts";
import { checkOperations, type OpCheckOptions, type OpCheckResult, type OpTask } from "./operation.ts";
import type { Report, ReportData } from "./report.ts";

/** Below this many operations, starting threads costs more than it saves. */
const MIN_OPS_FOR_WORKERS = 400;
const MAX_WORKERS = 8;
const BATCH = 128;

export function defaultWorkers(ops: number): number {
  if (ops < MIN_OPS_FOR_WORKERS) return 1;
  return Math.max(1, Math.min(MAX_WORKERS, availableParallelism(), Math.ceil(ops / MIN_OPS_FOR_WORKERS)));
}

interface BatchReply {
  id: number;
  report?: ReportData;
  results?: OpCheckResult[];
  error?: string;
}

/** Check the operations on ledger `lines` (task(line) makes each check);
 * returns their results when `opts.collectTouched`, else none. */
export async function runParallel(dir: string, lines: readonly number[], task: (line: number) => OpTask, keys: readonly PublicKey[], opts: OpCheckOptions, report: Report, workers?: number): Promise<OpCheckResult[]> {
  const batches: Batch[] = [];
  for (let i = 0; i < lines.length; i += BATCH) batches.push(() => lines.slice(i, i + BATCH).map(task));
  const n = workers ?? defaultWorkers(lines.length);
  if (n <= 1 || lines.length <= BATCH) return inProcess(dir, batches, keys, opts, report);
  let viaWorkers: { reports: ReportData[]; results: OpCheckResult[][] } | null = null;
  try {
    viaWorkers = await inWorkers(dir, batches, keys.map((k) => ({ keyId: k.keyId, pk: k.pk })), opts, n);
  } catch {
    viaWorkers = null;
  }
  if (!viaWorkers) return inProcess(dir, batches, keys, opts, report);
  for (const r of viaWorkers.reports) report.merge(r);
  return viaWorkers.results.flat();
}

/** One batch's tasks, made when it is sent. */
type Batch = () => OpTask[];

function inProcess(dir: string, batches: Batch[], keys: readonly PublicKey[], opts: OpCheckOptions, report: Report): OpCheckResult[] {
  const results: OpCheckResult[] = [];
  for (const b of batches) {
    const r = checkOperations(dir, b(), keys, opts, report);
    if (opts.collectTouched) results.push(...r);
  }
  return results;
}

/** Where the worker script is: beside this file when running from source;
 * in a compiled binary, embedded under its project-relative path. */
function workerScript(): string | URL {
  return compiledBinary() ? "./src/verify/worker.ts" : new URL("./worker.ts", import.meta.url);
}

function inWorkers(dir: string, batches: Batch[], keys: PublicKey[], opts: OpCheckOptions, n: number): Promise<{ reports: ReportData[]; results: OpCheckResult[][] }> {
  const reports: ReportData[] = new Array(batches.length);
  const results: OpCheckResult[][] = new Array(batches.length);
  return new Promise((resolve, reject) => {
    const pool: Worker[] = [];
    let next = 0;
    let done = 0;
    let failed = false;
    const finish = (err?: Error) => {
      for (const w of pool) void w.terminate();
      if (err) {
        failed = true;
        reject(err);
      } else resolve({ reports, results });
    };
    const feed = (w: Worker) => {
      if (next >= batches.length) return;
      const id = next++;
      w.postMessage({ id, dir, tasks: batches[id]!(), keys, opts });
    };
    for (let i = 0; i < Math.min(n, batches.length); i++) {
      let w: Worker;
      try {
        w = new (workerThreads().Worker)(workerScript());
      } catch (e) {
        finish(e as Error);
        return;
      }
      pool.push(w);
      w.on("message", (m: BatchReply) => {
        if (failed) return;
        if (m.error || !m.report || !m.results) return finish(new Error(m.error ?? "worker sent no result"));
        reports[m.id] = m.report;
        results[m.id] = m.results;
        if (++done === batches.length) return finish();
        feed(w);
      });
      w.on("error", (e) => !failed && finish(e as Error));
      w.on("exit", (code) => {
        if (!failed && done < batches.length && code !== 0) finish(new Error(`worker exited with ${code}`));
      });
      // Two batches in flight per worker keeps it busy while replies travel.
      feed(w);
      feed(w);
    }
  });
}
