/** The shape of a command and of what its handler receives. Subcommand
 * files import this, never the table (./commands.ts), so the table can
 * import them without a cycle. */
import type { CommandExit } from "../errors.ts";
import type { ParseArgsConfig } from "node:util";
import type { Layout } from "../config/paths.ts";
import type { Session } from "../switch/session.ts";
import type { GlobalFlags, Parsed } from "./argv.ts";
import type { Output } from "./output.ts";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface Command {
  path: string[];
  args: string;
  /** How many positional arguments the command takes at most (its `args`
   * form; Infinity: any number). main refuses more before the command
   * runs, so a surplus word is never silently dropped. */
  maxArgs: number;
  summary: string;
  help: string;
  options: OptionSpec;
  run(ctx: CommandContext): Promise<CommandExit>;
}

/** A command without its handler: what ./specs.ts declares. */
export type CommandSpec = Omit<Command, "run">;

export interface CommandContext {
  parsed: Parsed;
  globals: GlobalFlags;
  args: string[];
  out: Output;
  argv: string[];
  /** Layout + config; loaded lazily so `--help` never reads the root. */
  layout(): Layout;
  session(): Session;
}
