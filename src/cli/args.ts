/** Command-line parsing: global flags anywhere, then a command path
 * ("enable", "audit show", …) and its own flags. node:util parseArgs, strict. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { usageError } from "../errors.ts";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export const GLOBAL_OPTIONS = {
  root: { type: "string" },
  config: { type: "string" },
  "audit-dir": { type: "string" },
  "state-dir": { type: "string" },
  key: { type: "string" },
  "dry-run": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  json: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const satisfies OptionSpec;

export interface GlobalFlags {
  root: string;
  config?: string;
  auditDir?: string;
  stateDir?: string;
  /** Secret key file for signing (--key). */
  key?: string;
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  noColor: boolean;
  help: boolean;
  version: boolean;
}

export interface Parsed {
  globals: GlobalFlags;
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

/** Parse argv with the global options plus `extra` (a command's own). */
export function parse(argv: string[], extra: OptionSpec = {}): Parsed {
  let res;
  try {
    res = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...extra }, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(`${(e as Error).message.replace(/\. To specify a positional argument.*$/s, "")} (see --help)`);
  }
  const v = res.values as Record<string, string | boolean | string[] | undefined>;
  const globals: GlobalFlags = {
    root: (v.root as string | undefined) ?? "/",
    dryRun: v["dry-run"] === true,
    yes: v.yes === true,
    json: v.json === true,
    verbose: v.verbose === true,
    quiet: v.quiet === true,
    noColor: v["no-color"] === true,
    help: v.help === true,
    version: v.version === true,
  };
  if (v.config !== undefined) globals.config = v.config as string;
  if (v["audit-dir"] !== undefined) globals.auditDir = v["audit-dir"] as string;
  if (v.key !== undefined) globals.key = v.key as string;
  if (v["state-dir"] !== undefined) globals.stateDir = v["state-dir"] as string;
  return { globals, positionals: res.positionals, values: v };
}
