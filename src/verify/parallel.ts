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
 * (what --deep needs) are kept only when collected.
 *
 * Whole-process time (bench/README.md, "verify --all throughput"): the pool
 * is started before the ledger is read (`startPool`), so the threads load
 * their script while the main thread reads the ledger and the directory;
 * the last batches shrink, so that no worker sits idle while the other
 * finishes a full batch. */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { workerThreads } from "../sys/index.ts";
import type { PublicKey } from "../attest/minisign.ts";
import { compiledBinary } from "../sys/index.ts";
import { checkOperations, type OpCheckOptions, type OpCheckResult, type OpTask } from "./operation.ts";
import type { Report, ReportData } from "./report.ts";
import { mark } from "./trace.ts";

/** Below this many operations, starting threads costs more than it saves. */
const MIN_OPS_FOR_WORKERS = 400;
const MAX_WORKERS = 8;
const BATCH = 128;
/** The smallest batch at the end (a message each way costs ~0.1 ms). */
const MIN_BATCH = 16;

export function defaultWorkers(ops: number): number {
  if (ops < MIN_OPS_FOR_WORKERS) return 1;
  return Math.max(1, Math.min(MAX_WORKERS, availableParallelism(), Math.ceil(ops / MIN_OPS_FOR_WORKERS)));
}

/** The size of the next batch when `left` operations remain for `n`
 * workers: full batches while there is plenty, then shrinking ones, so
 * that the workers run out of work at about the same time. */
export function batchSize(left: number, n: number): number {
  return Math.min(left, BATCH, Math.max(MIN_BATCH, Math.ceil(left / (2 * n))));
}

interface BatchReply {
  id: number;
  report?: ReportData;
  results?: OpCheckResult[];
  error?: string;
}

/** Worker threads started ahead of the work. A thread that fails (to
 * start or later) marks the pool failed; the caller then checks in-process. */
export class Pool {
  readonly workers: Worker[] = [];
  failure: Error | null = null;
  /** Set while a run listens: where a failure goes. */
  onFailure: ((e: Error) => void) | null = null;
  private closed = false;

  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      let w: Worker;
      try {
        mark(`worker ${i} new`);
        w = new (workerThreads().Worker)(workerScript());
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      this.workers.push(w);
      w.on("error", (e) => this.fail(e as Error));
      w.on("exit", (code) => {
        if (!this.closed && code !== 0) this.fail(new Error(`worker exited with ${code}`));
      });
    }
  }

  private fail(e: Error): void {
    if (this.closed || this.failure) return;
    this.failure = e;
    this.onFailure?.(e);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) void w.terminate();
  }
}

/** A pool for a ledger of about `estimatedOps` lines, or null when that
 * few would be checked in-process (see defaultWorkers). */
export function startPool(estimatedOps: number, workers?: number): Pool | null {
  const n = workers ?? defaultWorkers(estimatedOps);
  if (n <= 1 || estimatedOps <= BATCH) return null;
  return new Pool(n);
}

/** Operations handed to the pool before the main thread knows which of
 * them the ordinary path checks (before the directory listing: see
 * verifyAll). Kept only if that turns out to be all of `lines`. */
export interface Speculation {
  lines: readonly number[];
  done: Promise<{ reports: ReportData[]; results: OpCheckResult[][] } | null>;
}

/** Start checking `lines` on `pool` now, or null when they would not go to
 * workers (then runParallel decides as usual). */
export function speculate(pool: Pool | null, dir: string, lines: readonly number[], task: (line: number) => OpTask, keys: readonly PublicKey[], opts: OpCheckOptions, workers?: number): Speculation | null {
  const n = workers ?? defaultWorkers(lines.length);
  if (!pool || pool.failure || n <= 1 || lines.length <= BATCH) return null;
  // A failure is answered in-process later; never an unhandled rejection.
  return { lines, done: inWorkers(pool, dir, lines, task, wireKeys(keys), opts).catch(() => null) };
}

/** Check the operations on ledger `lines` (task(line) makes each check);
 * returns their results when `opts.collectTouched`, else none. `pool`, if
 * given, is used and closed; `spec`, if it covered exactly these lines,
 * is their check already under way. */
export async function runParallel(dir: string, lines: readonly number[], task: (line: number) => OpTask, keys: readonly PublicKey[], opts: OpCheckOptions, report: Report, workers?: number, pool?: Pool | null, spec?: Speculation | null): Promise<OpCheckResult[]> {
  let viaWorkers: { reports: ReportData[]; results: OpCheckResult[][] } | null = null;
  // `lines` is in order and drawn from spec.lines: same length, same lines.
  if (spec && spec.lines.length === lines.length) {
    viaWorkers = await spec.done;
    pool?.close();
    return viaWorkers ? merged(viaWorkers, report) : inProcess(dir, lines, task, keys, opts, report);
  }
  // A wrong guess: the workers' threads are dropped with their work.
  if (spec) {
    pool?.close();
    pool = null;
  }
  const n = workers ?? defaultWorkers(lines.length);
  if (n <= 1 || lines.length <= BATCH) {
    pool?.close();
    return inProcess(dir, lines, task, keys, opts, report);
  }
  const p = pool ?? new Pool(n);
  try {
    if (!p.failure) viaWorkers = await inWorkers(p, dir, lines, task, wireKeys(keys), opts);
  } catch {
    viaWorkers = null;
  } finally {
    p.close();
  }
  if (!viaWorkers) return inProcess(dir, lines, task, keys, opts, report);
  return merged(viaWorkers, report);
}

function merged(viaWorkers: { reports: ReportData[]; results: OpCheckResult[][] }, report: Report): OpCheckResult[] {
  for (const r of viaWorkers.reports) report.merge(r);
  return viaWorkers.results.flat();
}

/** Keys as they cross to a worker (the fields it uses). */
function wireKeys(keys: readonly PublicKey[]): PublicKey[] {
  return keys.map((k) => ({ keyId: k.keyId, pk: k.pk }));
}

function inProcess(dir: string, lines: readonly number[], task: (line: number) => OpTask, keys: readonly PublicKey[], opts: OpCheckOptions, report: Report): OpCheckResult[] {
  const results: OpCheckResult[] = [];
  for (let i = 0; i < lines.length; i += BATCH) {
    const r = checkOperations(dir, lines.slice(i, i + BATCH).map(task), keys, opts, report);
    if (opts.collectTouched) results.push(...r);
  }
  return results;
}

/** Where the worker script is: beside this file when running from source;
 * in a compiled binary, embedded under its project-relative path. */
function workerScript(): string | URL {
  return compiledBinary() ? "./src/verify/worker.ts" : new URL("./worker.ts", import.meta.url);
}

function inWorkers(pool: Pool, dir: string, lines: readonly number[], task: (line: number) => OpTask, keys: PublicKey[], opts: OpCheckOptions): Promise<{ reports: ReportData[]; results: OpCheckResult[][] }> {
  // Batch ids follow ledger order, so merging reports by id keeps it.
  const reports: ReportData[] = [];
  const results: OpCheckResult[][] = [];
  const n = pool.workers.length;
  return new Promise((resolve, reject) => {
    let next = 0;
    let sent = 0;
    let done = 0;
    let failed = false;
    const finish = (err?: Error) => {
      mark(err ? "workers failed" : "workers done");
      pool.onFailure = null;
      if (err) {
        failed = true;
        reject(err);
      } else resolve({ reports, results });
    };
    pool.onFailure = (e) => !failed && finish(e);
    const feed = (w: Worker) => {
      if (next >= lines.length) return;
      const size = batchSize(lines.length - next, n);
      const id = sent++;
      w.postMessage({ id, dir, tasks: lines.slice(next, next + size).map(task), keys, opts });
      next += size;
    };
    for (const w of pool.workers) {
      w.on("message", (m: BatchReply) => {
        if (failed) return;
        if (m.error || !m.report || !m.results) return finish(new Error(m.error ?? "worker sent no result"));
        mark(`batch ${m.id} back`);
        reports[m.id] = m.report;
        results[m.id] = m.results;
        if (++done === sent && next >= lines.length) return finish();
        feed(w);
      });
      // Two batches in flight per worker keeps it busy while replies travel.
      feed(w);
      feed(w);
    }
  });
}
