/** Command-line parsing: global flags anywhere, then a command path
 * ("enable", "audit show", …) and its own flags. node:util parseArgs, strict:
 * the reference ./argv.ts `parseSimple` follows for plain command lines, and
 * what parses (and words the error for) everything else. */
import { parseArgs } from "node:util";
import { usageError } from "../errors.ts";
import { GLOBAL_OPTIONS, parsedFrom, type OptionSpec, type OptionValues, type Parsed } from "./argv.ts";

export { GLOBAL_OPTIONS, type GlobalFlags, type Parsed } from "./argv.ts";

/** Parse argv with the global options plus `extra` (a command's own). */
export function parse(argv: string[], extra: OptionSpec = {}): Parsed {
  let res;
  try {
    res = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/s, "")} (see --help)`);
  }
  return parsedFrom(res.values as OptionValues, res.positionals);
}
