/** Guards on by default: `enable` installs the package-manager hooks that
 * keep a switch safe across package transactions (an upgrade re-applied, a
 * removed replacement restored before the package manager needs rm), and
 * disabling the last provider removes them. Part of the same operation, so
 * the audit record says which hook files were written or removed. */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { hostPath } from "../config/paths.ts";
import { writeFileAtomic } from "../fsops/atomic.ts";
import { sha256Hex } from "../sys/index.ts";
import type { OpBuffer } from "../audit/opbuffer.ts";
import type { Provider } from "../providers/catalog.ts";
import type { HookFile } from "../hooks/files.ts";
import { foreignAmong, hookBinary, hooksForRoot, presentHooks } from "../hooks/install.ts";
import { executableInfo } from "./observe.ts";
import { loadState } from "./state.ts";
import type { OpContext } from "./session.ts";

export interface GuardResult {
  /** Hook files written (or that would be, in a dry run). */
  written: string[];
  /** Same-named files pkgswitch did not write: left alone, not guarded. */
  foreign: string[];
  /** The path the hooks run; they skip themselves while it is absent. */
  binary: string;
  binary_present: boolean;
}

export function installGuards(ctx: OpContext, catalog: Iterable<Provider>): GuardResult {
  const root = ctx.session.layout.root;
  const binary = hookBinary(root);
  const files = hooksForRoot(root, ctx.backend.kind, binary, catalog);
  const foreign = foreignAmong(root, files);
  for (const path of foreign) ctx.op.record("hook.install", { path, skipped: true, reason: "a file pkgswitch did not write is there; left alone" });
  const written = writeHooks(ctx.op, root, files.filter((f) => !foreign.includes(f.path)), ctx.session.dryRun, { reason: "enable installs the package-manager hooks (--no-hooks to skip)", onlyChanged: true });
  return { written, foreign, binary, binary_present: executableInfo(root, binary).executable };
}

/** After a disable: with no provider left, the hooks have nothing to guard. */
export function dropGuardsIfIdle(ctx: OpContext): string[] {
  if (Object.keys(loadState(ctx.session.layout.stateDir).providers).length > 0) return [];
  return removeHooks(ctx.op, ctx.session.layout.root, ctx.session.dryRun, "no provider is enabled any more");
}

/** Write the hook files and record each. With `onlyChanged` (enable), a
 * file whose content is already right is left alone and not recorded;
 * `hooks install` rewrites them all. */
export function writeHooks(op: OpBuffer, root: string, files: HookFile[], dryRun: boolean, opts: { reason?: string; onlyChanged?: boolean } = {}): string[] {
  const written: string[] = [];
  for (const f of files) {
    const host = hostPath(root, f.path);
    if (opts.onlyChanged && existsSync(host) && Buffer.from(f.content).equals(readFileSync(host))) continue;
    if (!dryRun) {
      mkdirSync(dirname(host), { recursive: true, mode: 0o755 });
      writeFileAtomic(host, f.content, f.mode ?? 0o644);
    }
    op.record("hook.install", { path: f.path, sha256: sha256Hex(f.content), ...(opts.reason ? { reason: opts.reason } : {}) });
    written.push(f.path);
  }
  return written;
}

/** Remove every hook file of ours (the known paths and `extra`); record each. Foreign files stay. */
export function removeHooks(op: OpBuffer, root: string, dryRun: boolean, reason?: string, extra: string[] = []): string[] {
  const mine = presentHooks(root, extra).ours;
  for (const p of mine) {
    if (!dryRun) rmSync(hostPath(root, p));
    op.record("hook.remove", { path: p, ...(reason ? { reason } : {}) });
  }
  return mine;
}
