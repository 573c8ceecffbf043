/** Running operation checks: in-process, or split across worker threads. */
import type { PublicKey } from "../attest/minisign.ts";
import { checkOperations, type OpCheckOptions, type OpCheckResult, type OpTask } from "./operation.ts";
import type { Report } from "./report.ts";

export async function runParallel(dir: string, tasks: OpTask[], keys: readonly PublicKey[], opts: OpCheckOptions, report: Report, _workers?: number): Promise<OpCheckResult[]> {
  return checkOperations(dir, tasks, keys, opts, report);
}
