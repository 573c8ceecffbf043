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
    throw usageError(`${oneLine((e as Error).message)} (see --help)`);
  }
  return parsedFrom(res.values as OptionValues, res.positionals);
}

/** parseArgs' message as one line (an error is one line): its advice on
 * positionals dropped, and its three-line "argument is ambiguous" (a value
 * that starts with a dash: `--keep -1`) said in one. */
function oneLine(message: string): string {
  const ambiguous = /^Option '([^']+)' argument is ambiguous/.exec(message);
  if (ambiguous) {
    // parseArgs names the long form in its advice (`use '--keep=-XYZ'`), also for `-k -1`.
    const opt = /'(--[^'=]+)=-XYZ'/.exec(message)?.[1] ?? ambiguous[1]!;
    return `option ${opt} needs a value, and the next word starts with a dash; for a value that starts with a dash write ${opt}=VALUE`;
  }
  return message.replace(/\. To specify a positional argument.*$/s, "").replace(/\s*\n\s*/g, "; ");
}
