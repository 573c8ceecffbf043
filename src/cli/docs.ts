/** Generated documentation: shell completion and the man page, both built
 * from the command table so they cannot drift from the real commands. */
import { Exit, usageError, type CommandExit } from "../errors.ts";
import { VERSION } from "../version.ts";
import { GLOBAL_OPTIONS } from "./argv.ts";
import { MANAGER_MAN_PAGES } from "../pkgmgr/factory.ts";
import type { Command, CommandContext } from "./command.ts";
import { writeStdout } from "./output.ts";

const PROVIDERS = "coreutils findutils diffutils sudo-rs busybox";

/** `cmds` is the command table (passed in: the table imports this file). */
export async function cmdCompletion(ctx: CommandContext, cmds: readonly Command[]): Promise<CommandExit> {
  const shell = ctx.args[0];
  const top = [...new Set(cmds.map((c) => c.path[0]!))].sort();
  const globals = Object.keys(GLOBAL_OPTIONS).map((o) => `--${o}`);
  const subs = (head: string) => cmds.filter((c) => c.path[0] === head && c.path.length > 1).map((c) => c.path[1]!);
  const optsOf = (path: string[]) => Object.keys(cmds.find((c) => c.path.join(" ") === path.join(" "))?.options ?? {}).map((o) => `--${o}`);
  if (shell === "bash") {
    const cases = top.map((t) => {
      const s = subs(t);
      const words = s.length ? s.join(" ") : [...optsOf([t]), ...(t === "enable" || t === "disable" || t === "status" ? PROVIDERS.split(" ") : [])].join(" ");
      return `    ${t}) words="${words} ${globals.join(" ")}";;`;
    });
    writeStdout(`# bash completion for pkgswitch ${VERSION}
_pkgswitch() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" i words
  for ((i=1; i<COMP_CWORD; i++)); do case \${COMP_WORDS[i]} in -*) ;; *) cmd=\${COMP_WORDS[i]}; break;; esac; done
  case $cmd in
${cases.join("\n")}
    *) words="${top.join(" ")} ${globals.join(" ")}";;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _pkgswitch pkgswitch
`);
    return Exit.OK;
  }
  if (shell === "zsh") {
    writeStdout(`#compdef pkgswitch
# zsh completion for pkgswitch ${VERSION}
_pkgswitch() {
  local -a cmds
  cmds=(${cmds.map((c) => `'${c.path.join("\\ ")}:${c.summary.replace(/'/g, "")}'`).join(" ")})
  _arguments '*:: :->args' ${globals.map((g) => `'${g}[]'`).join(" ")}
  _describe 'command' cmds
}
_pkgswitch "$@"
`);
    return Exit.OK;
  }
  if (shell === "fish") {
    const lines = top.map((t) => `complete -c pkgswitch -n __fish_use_subcommand -a ${t} -d '${(cmds.find((c) => c.path[0] === t)?.summary ?? "").replace(/'/g, "")}'`);
    for (const g of Object.keys(GLOBAL_OPTIONS)) lines.push(`complete -c pkgswitch -l ${g}`);
    for (const t of ["enable", "disable", "status"]) lines.push(`complete -c pkgswitch -n '__fish_seen_subcommand_from ${t}' -a '${PROVIDERS}'`);
    writeStdout(lines.join("\n") + "\n");
    return Exit.OK;
  }
  throw usageError("completion: give one of bash, zsh, fish");
}

const roff = (s: string) => s.replace(/\\/g, "\\e").replace(/^\./gm, "\\&.").replace(/-/g, "\\-");

export async function cmdMan(_ctx: CommandContext, cmds: readonly Command[]): Promise<CommandExit> {
  const out = [
    `.TH PKGSWITCH 8 "" "pkgswitch ${VERSION}" "System Administration"`,
    ".SH NAME",
    "pkgswitch \\- switch command providers through the package manager, with signed audit evidence",
    ".SH SYNOPSIS",
    ".B pkgswitch",
    "[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIargs\\fR]",
    ".SH DESCRIPTION",
    roff("pkgswitch replaces the commands of one package (GNU coreutils, findutils, diffutils, sudo) with another's (uutils, sudo-rs, busybox) by installing the replacement with the system's package manager and pointing each command at it with an atomic symlink swap. Every operation leaves a hash-chained JSONL audit file, an SPDX SBOM and a minisign signature; pkgswitch audit verify checks them offline."),
    ".SH COMMANDS",
    ...cmds.flatMap((c) => [".TP", `.B ${roff(c.path.join(" "))} ${roff(c.args)}`, roff(c.summary + ". " + c.help)]),
    ".SH GLOBAL OPTIONS",
    ...Object.keys(GLOBAL_OPTIONS).flatMap((o) => [".TP", `.B \\-\\-${roff(o)}`]),
    ".SH EXIT STATUS",
    roff("0 done; 1 internal error; 2 usage; 10 preflight refused, nothing changed; 20 package manager failed; 30 locked; 40 rolled back, system as before; 50 rollback incomplete; 60 backup missing; 70 permission denied. audit verify: 0 verified; 1 tampered; 2 usage; 3 not found; 4 unsigned or untrusted key; 5 live files differ; 6 I/O error; 7 internal error (no verdict)."),
    ".SH FILES",
    roff("/etc/pkgswitch/config.jsonc, /etc/pkgswitch/providers.d/*.jsonc, /etc/pkgswitch/keys/, /var/lib/pkgswitch/state.json, /var/lib/pkgswitch/backups/, /var/lib/pkgswitch/audit/, /run/lock/pkgswitch.lock"),
    ".SH SEE ALSO",
    ["minisign(1)", ...MANAGER_MAN_PAGES].join(", "),
  ];
  writeStdout(out.join("\n") + "\n");
  return Exit.OK;
}
