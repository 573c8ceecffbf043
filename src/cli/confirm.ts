/** Confirmation before a command changes the system. */
import { usageError } from "../errors.ts";
import { stdinLine } from "../sys/index.ts";
import type { CommandContext } from "./command.ts";
import { writeStderr } from "./output.ts";

/** Ask before changing the system: on a terminal a y/N prompt; elsewhere
 * --yes is required (a script must say it means it). */
export async function confirm(ctx: CommandContext, what: string): Promise<void> {
  if (ctx.globals.yes || ctx.globals.dryRun) return;
  if (!process.stdin.isTTY) throw usageError(`refusing to ${what} without --yes (stdin is not a terminal); preview with --dry-run`);
  writeStderr(`${what}? [y/N] `);
  const line = await stdinLine();
  if (line !== null && /^y(es)?$/i.test(line.trim())) return;
  throw usageError("cancelled; nothing was changed");
}
