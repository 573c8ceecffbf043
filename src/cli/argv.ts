/** The global options, the flags they give, and the parse of a plain
 * command line without node:util.
 *
 * Why: loading node:util (for parseArgs) cost ~0.7 ms of every start-up,
 * `--version` and the no-op `relink` a package-manager hook runs after
 * every transaction included (bench/README.md). Nearly every command line
 * is plain — long options, single-letter flags, positionals — and for those
 * `parseSimple` gives what parseArgs (strict, positionals allowed) gives.
 * Anything else, every error included, it leaves to ./args.ts (parseArgs
 * itself), so what a user sees for a bad command line is parseArgs' own
 * text. */
import type { ParseArgsConfig } from "node:util";
import { usageError } from "../errors.ts";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

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

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  globals: GlobalFlags;
  positionals: string[];
  values: OptionValues;
}

/** The parse result from parseArgs' `values` and `positionals`. */
export function parsedFrom(v: OptionValues, positionals: string[]): Parsed {
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
  return { globals, positionals, values: v };
}

/**
 * argv parsed with the global options plus `extra`, when it is plain: every
 * option known, `--name` (a flag), `--name VALUE` or `--name=VALUE` (a
 * string option), `-x` alone (a one-letter flag), `--` and positionals.
 * Else null — a mistake, or a form parseArgs reads by rules of its own
 * (grouped letters `-qy`, `-oFILE`, a value that starts with a dash, a lone
 * `-`, defaults): the caller then parses with ./args.ts.
 */
export function parseSimple(argv: readonly string[], extra: OptionSpec = {}): Parsed | null {
  const options: OptionSpec = { ...GLOBAL_OPTIONS, ...extra };
  const byLetter = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.default !== undefined) return null;
    if (o.short !== undefined) byLetter.set(o.short, name);
  }
  // parseArgs' values have no prototype (an option named like an Object method is a key like any other).
  const values: OptionValues = Object.create(null);
  const positionals: string[] = [];
  const store = (name: string, value: string | true): void => {
    if (!options[name]!.multiple) values[name] = value;
    else ((values[name] ??= []) as Array<string | true>).push(value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith("--")) {
      const name = arg.length === 2 ? byLetter.get(arg[1]!) : undefined;
      if (name === undefined || options[name]!.type !== "boolean") return null;
      store(name, true);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!Object.hasOwn(options, name)) return null;
    if (options[name]!.type === "boolean") {
      if (eq >= 0) return null;
      store(name, true);
    } else if (eq >= 0) store(name, arg.slice(eq + 1));
    else {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) return null;
      store(name, value);
      i++;
    }
  }
  return parsedFrom(values, positionals);
}

/** Refuse an empty path option: `--root ''` would silently mean the
 * current directory (run from /, the real system), and an empty
 * `--state-dir` or `--config` would be ignored. */
export function checkPathOptions(v: OptionValues): void {
  for (const name of ["root", "config", "audit-dir", "key", "state-dir"]) {
    if (v[name] === "") throw usageError(`--${name}: the path is empty; give a directory or file path`);
  }
}
