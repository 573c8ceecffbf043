/** Diversions of switched targets, where the package manager has them
 * (backend.diverter): upgrades of the replaced package write the original
 * to a hidden name beside it, leaving our link alone. */
import { rmSync } from "node:fs";
import { basename, dirname } from "node:path";
import { hostPath } from "../config/paths.ts";
import { placeFile } from "../fsops/backup.ts";
import type { ManagedTarget } from "./state.ts";
import type { OpContext } from "./session.ts";

/** Hidden name beside the database path where the package manager writes the diverted
 * original: `/bin/ls` → `/bin/.ls.pkgswitch-orig`. */
export function divertedName(dbPath: string): string {
  return `${dirname(dbPath)}/.${basename(dbPath)}.pkgswitch-orig`;
}

/** Place each original at its diverted name (hard link: same inode, so the
 * target is never missing), then register the diversions. */
export function divertTargets(ctx: OpContext, targets: ManagedTarget[]): void {
  const diverter = ctx.backend.diverter;
  const list = targets.filter((m) => m.diverted_to && m.db_path);
  if (!diverter || list.length === 0) return;
  const root = ctx.session.layout.root;
  for (const m of list) placeFile(hostPath(root, m.path), hostPath(root, m.diverted_to!));
  diverter.add(list.map((m) => ({ from: m.db_path!, to: m.diverted_to! })));
  for (const m of list) ctx.op.record("pkg.divert", { manager: ctx.backend.kind, action: "add", path: m.db_path, diverted_to: m.diverted_to, sha256: m.original.sha256 });
}

/** Some diversions or diverted copies could not be removed. `failures`
 * maps each target concerned to its own error (what a rollback records, one
 * step each); `diversionsRemoved` says whether only copies are left. The
 * message and errno code are the first failure's. */
export class UndivertError extends Error {
  readonly code?: string;
  constructor(readonly failures: ReadonlyMap<string, string>, readonly diversionsRemoved: boolean, cause: Error) {
    super(cause.message);
    this.code = (cause as NodeJS.ErrnoException).code;
  }
}

/** Remove our diversions and the diverted copies (after the target holds
 * the original again). A copy that cannot be removed does not stop the
 * others; throws UndivertError naming every target left. */
export function undivertTargets(ctx: OpContext, targets: ManagedTarget[], reason: string): void {
  const diverter = ctx.backend.diverter;
  const list = targets.filter((m) => m.diverted_to && m.db_path);
  if (!diverter || list.length === 0) return;
  const root = ctx.session.layout.root;
  const registered = diverter.list();
  const ours = list.filter((m) => registered.get(m.db_path!)?.to === m.diverted_to);
  try {
    diverter.remove(ours.map((m) => m.db_path!));
  } catch (e) {
    const message = (e as Error).message;
    throw new UndivertError(new Map(ours.map((m) => [m.path, message])), false, e as Error);
  }
  const failures = new Map<string, string>();
  let firstError: Error | null = null;
  for (const m of list) {
    const event = { manager: ctx.backend.kind, action: "remove", path: m.db_path, diverted_to: m.diverted_to, registered: ours.includes(m), reason };
    try {
      rmSync(hostPath(root, m.diverted_to!), { force: true });
    } catch (e) {
      failures.set(m.path, (e as Error).message);
      firstError ??= e as Error;
      // The diversion itself is gone: the record says so, and that its copy stayed.
      if (ours.includes(m)) ctx.op.record("pkg.divert", { ...event, copy_removed: false, error: (e as Error).message });
      continue;
    }
    ctx.op.record("pkg.divert", event);
  }
  if (firstError) throw new UndivertError(failures, true, firstError);
}
