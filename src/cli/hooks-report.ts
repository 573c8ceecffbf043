/** What disable and pkg remove say of the hooks they took out (or could
 * not): the same lines for both. */
import type { Output } from "./output.ts";

export interface HooksDroppedResult {
  hooks_removed?: string[];
  hooks_left?: string[];
}

export function reportHooksDropped(out: Output, r: HooksDroppedResult, dryRun: boolean): void {
  if (r.hooks_removed?.length) out.line(`${dryRun ? "would remove package-manager hooks (no provider would be enabled)" : "removed package-manager hooks (no provider is enabled)"}: ${r.hooks_removed.join(", ")}`);
  if (r.hooks_left?.length) out.warn(`no provider is enabled, but ${r.hooks_left.join(", ")} could not be removed (audit show has why); they find nothing to do — \`pkgswitch hooks remove\` takes them out`);
}
