/** argv → command → exit code. Expected failures print one line (what,
 * where, and the op id) and exit with their documented code. */
import { Exit, PkgswitchError, usageError, VerifyExit, type CommandExit } from "../errors.ts";
import { VERSION } from "../version.ts";
import { checkPathOptions, GLOBAL_OPTIONS, parseSimple, type OptionSpec, type Parsed } from "./argv.ts";
import type { Command, CommandContext } from "./command.ts";
import { Output, writeStderr, writeStdout } from "./output.ts";

// The command table (and through it every command's code) is loaded only
// once a command is to run: `--version` answers from this module alone,
// which keeps its start-up near the runtime's own (bench/cli.ts).
let COMMANDS: Command[] = [];

function findCommand(positionals: string[]): { cmd: Command; rest: string[] } | null {
  let best: Command | null = null;
  for (const c of COMMANDS) {
    if (c.path.every((p, i) => positionals[i] === p) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { cmd: best, rest: positionals.slice(best.path.length) } : null;
}

function globalHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.path.join(" ").length));
  return `pkgswitch ${VERSION} — switch command providers through the package manager, with signed audit evidence

usage: pkgswitch [global options] <command> [args]

commands:
${COMMANDS.map((c) => `  ${c.path.join(" ").padEnd(w)}  ${c.summary}`).join("\n")}

global options:
  --root DIR        manage the system under DIR (default /)
  --config FILE     config file (default <root>/etc/pkgswitch/config.jsonc)
  --audit-dir DIR   audit directory (default <root>/var/lib/pkgswitch/audit)
  --state-dir DIR   state directory (default <root>/var/lib/pkgswitch)
  --key FILE        secret key that signs this operation (minisign format)
  --dry-run         show what would be done; write nothing anywhere
  -y, --yes         do not ask for confirmation
  --json            machine-readable output on stdout
  -v, --verbose     more detail          -q, --quiet   only errors
  --no-color        no colour (also NO_COLOR)
  -h, --help        help (also after a command)   --version

exit codes: 0 ok, 1 internal error, 2 usage, 10 preflight refused, 20 package manager failed,
30 locked, 40 rolled back, 50 rollback incomplete, 60 backup missing, 70 permission denied,
80 state.json corrupt, 90 switched but hooks not installed
(audit verify: 0 ok, 1 tampered, 3 not found, 4 unsigned/untrusted, 5 live drift, 6 I/O, 7 internal error)
`;
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([k, v]) => `  --${k}${v.type === "string" ? " VALUE" : ""}${v.multiple ? " (repeatable)" : ""}`);
  return `usage: pkgswitch [global options] ${c.path.join(" ")} ${c.args}\n\n${c.summary}.\n\n${c.help}\n${opts.length ? `\noptions:\n${opts.join("\n")}\n` : ""}\nSee \`pkgswitch --help\` for global options.\n`;
}

/** A positional word past what `c` takes (its spec's maxArgs): refused
 * here, for every command alike, before the command reads or writes
 * anything. */
function surplusArgument(c: Command, word: string): PkgswitchError {
  const name = `pkgswitch ${c.path.join(" ")}`;
  // An op id where a command takes it as an option (`audit verify ID`).
  const hint = "op" in c.options ? `; did you mean --op ${word}?` : "";
  const takes = c.maxArgs === 0 ? `it takes none${hint}` : `it takes ${c.maxArgs === 1 ? "one" : `at most ${c.maxArgs}`}: ${name} ${c.args}`;
  return usageError(`unexpected argument ${JSON.stringify(word)} for ${name} (${takes}); see \`${name} --help\``);
}

/** parseArgs (./args.ts, node:util) only for a command line that is not
 * plain: it alone words the errors. */
async function parse(argv: string[], options: OptionSpec): Promise<Parsed> {
  return parseSimple(argv, options) ?? (await import("./args.ts")).parse(argv, options);
}

function printVersion(json: boolean): CommandExit {
  writeStdout(json ? JSON.stringify({ version: VERSION }) + "\n" : `pkgswitch ${VERSION}\n`);
  return Exit.OK;
}

export async function main(argv: string[]): Promise<CommandExit> {
  // A reader that goes away (`pkgswitch audit show X | head`) is not an
  // error: writeStdout drops the rest, and the exit code stays the command's.
  let out = Output.detect({ json: argv.includes("--json"), quiet: false, verbose: false, noColor: argv.includes("--no-color") });
  try {
    // An argv that parses with the global options alone parses the same
    // with every command's options added (none redefines a global one), so
    // its --version needs no command table. One that is not plain, or not
    // valid, is left to the full parse below.
    const early = parseSimple(argv);
    if (early?.globals.version) return printVersion(early.globals.json);
    const table = await import("./commands.ts");
    COMMANDS = table.COMMANDS;
    const makeSession = table.makeSession;
    const parsed = await parse(argv, Object.assign({}, ...COMMANDS.map((c) => c.options)));
    const g = parsed.globals;
    out = Output.detect({ json: g.json, quiet: g.quiet, verbose: g.verbose, noColor: g.noColor });
    if (g.version) return printVersion(g.json);
    checkPathOptions(parsed.values);
    const found = findCommand(parsed.positionals);
    if (!found) {
      if (g.help || parsed.positionals.length === 0) {
        writeStdout(globalHelp());
        return g.help ? Exit.OK : Exit.USAGE;
      }
      const group = COMMANDS.filter((c) => c.path[0] === parsed.positionals[0]);
      if (group.length > 0) throw usageError(`${parsed.positionals[0]}: expected one of ${group.map((c) => c.path.slice(1).join(" ")).join(", ")}`);
      throw usageError(`unknown command "${parsed.positionals[0]}" (see \`pkgswitch --help\`)`);
    }
    const { cmd, rest } = found;
    if (g.help) {
      writeStdout(commandHelp(cmd));
      return Exit.OK;
    }
    for (const k of Object.keys(parsed.values)) {
      if (!(k in GLOBAL_OPTIONS) && !(k in cmd.options)) throw usageError(`${cmd.path.join(" ")}: unknown option --${k} (see \`pkgswitch ${cmd.path.join(" ")} --help\`)`);
    }
    if (rest.length > cmd.maxArgs) throw surplusArgument(cmd, rest[cmd.maxArgs]!);
    let session: ReturnType<typeof makeSession> | null = null;
    const ctx: CommandContext = {
      parsed,
      globals: g,
      args: rest,
      out,
      argv,
      layout: () => (session ??= makeSession(g, out, argv)).layout,
      session: () => (session ??= makeSession(g, out, argv)),
    };
    return await cmd.run(ctx);
  } catch (e) {
    if (e instanceof PkgswitchError) {
      out.error(e.message + (e.opId ? ` [op ${e.opId}]` : ""));
      if (out.opts.json) writeStdout(JSON.stringify({ error: e.message, exit_code: e.exitCode, op: e.opId ?? null }) + "\n");
      return e.exitCode;
    }
    out.error(`internal error (a bug, please report): ${(e as Error).stack ?? e}`);
    return Exit.INTERNAL;
  }
}

/** How long an error nobody caught may wait for the command's own verdict. */
const LATE_ERROR_GRACE_MS = 2000;

/** The process: run the command, then exit with its code. An error thrown
 * from a library callback that nobody awaits (the postgres driver parsing a
 * malformed reply, after the query itself has failed) would otherwise print
 * a stack dump and make the runtime exit 1 — "tampered" to a verifier's
 * caller — over the documented code already reported. So: the command's
 * code wins; such an error only ends a command that reached no verdict,
 * with one line and 6 (the data could not be read), since only I/O
 * callbacks run outside the command's own awaits. */
export async function runProcess(argv: string[]): Promise<never> {
  let verdict: CommandExit | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const stray = (e: unknown) => {
    if (verdict !== undefined) process.exit(verdict);
    // The same failure usually also rejects what the command awaits: give
    // the command a moment to report it with its own code.
    pending ??= setTimeout(() => {
      writeStderr(`error: ${(e as Error)?.message ?? String(e)} (an I/O error no command handled; nothing more was done)\n`);
      process.exit(VerifyExit.IO);
    }, LATE_ERROR_GRACE_MS);
  };
  process.on("uncaughtException", stray);
  process.on("unhandledRejection", stray);
  verdict = await main(argv);
  process.exit(verdict);
}
