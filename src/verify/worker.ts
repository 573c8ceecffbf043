/** Worker thread for `verify --all`: checks batches of operations (read-only)
 * and sends back its share of the report. See ./parallel.ts. */
import { parentPort } from "node:worker_threads";
import { checkOperations, type OpCheckOptions, type OpTask } from "./operation.ts";
import { Report } from "./report.ts";
import type { PublicKey } from "../attest/minisign.ts";
import { mark } from "./trace.ts";
import { fullJit } from "../sys/index.ts";

// A worker checks thousands of operations: the normal JIT (src/sys: fullJit).
fullJit();
mark("worker loaded");
let first = true;

export interface BatchRequest {
  id: number;
  dir: string;
  tasks: OpTask[];
  keys: PublicKey[];
  opts: OpCheckOptions;
}

parentPort?.on("message", (msg: BatchRequest | "exit") => {
  if (msg === "exit") {
    parentPort!.close();
    return;
  }
  if (first) mark(`worker's first batch (${msg.id}) arrived`);
  first = false;
  try {
    const report = new Report();
    const results = checkOperations(msg.dir, msg.tasks, msg.keys, msg.opts, report);
    // Results only when --deep collects them: 100,000 `{op, touched: []}`
    // would otherwise cross back for nothing.
    parentPort!.postMessage({ id: msg.id, report: report.data(), results: msg.opts.collectTouched ? results : [] });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: String((e as Error).stack ?? e) });
  }
});
