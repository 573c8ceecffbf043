/** The root's own scripts as a corpus: which switched commands its package
 * maintainer scripts call, with which flags. Pure: script text in, literal
 * invocations out. A shell is not parsed in full; a word is a command when it
 * starts a pipeline element (line start, after | ; & && || ( $( ` ! and the
 * keywords then/do/else/if/while/until/exec), and its flags are the words
 * that follow while they start with "-" and contain nothing a shell expands. */

export interface Invocation {
  cmd: string;
  /** The literal flags, in order as written ("-sf", "--force", "-m"). */
  flags: string[];
}

const SEPARATORS = /(\|\||&&|[|;&()`]|\$\()/g;
const KEYWORDS = new Set(["then", "do", "else", "elif", "if", "while", "until", "exec", "!", "time", "command"]);
const LITERAL_FLAG = /^--?[A-Za-z0-9][A-Za-z0-9_=,.+-]*$/;

/** Strip a comment that starts a word (`#` after whitespace or at line start). */
function stripComment(line: string): string {
  const m = /(^|\s)#/.exec(line);
  return m ? line.slice(0, m.index) : line;
}

/** Invocations of `commands` in one script's text. */
export function invocationsIn(text: string, commands: ReadonlySet<string>): Invocation[] {
  const out: Invocation[] = [];
  // Join continued lines first: `cp -a \` + newline + `  x y`.
  for (const raw of text.replace(/\\\n/g, " ").split("\n")) {
    const line = stripComment(raw);
    for (const segment of line.split(SEPARATORS)) {
      const words = segment.trim().split(/\s+/).filter((w) => w !== "");
      let i = 0;
      // Skip keywords and leading variable assignments (FOO=bar cmd).
      while (i < words.length && (KEYWORDS.has(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!))) i++;
      const word = words[i];
      if (word === undefined) continue;
      const name = word.startsWith("/") ? word.slice(word.lastIndexOf("/") + 1) : word;
      if (!commands.has(name)) continue;
      const flags: string[] = [];
      for (let j = i + 1; j < words.length && words[j]!.startsWith("-"); j++) {
        if (words[j] === "--") break;
        if (LITERAL_FLAG.test(words[j]!)) flags.push(words[j]!);
      }
      out.push({ cmd: name, flags });
    }
  }
  return out;
}

export interface InvocationCount extends Invocation {
  count: number;
  /** Up to three scripts it was found in (paths inside the root). */
  files: string[];
}

/** Count distinct invocations (command + flags) over many scripts; sorted. */
export function countInvocations(scripts: Array<{ path: string; text: string }>, commands: ReadonlySet<string>): InvocationCount[] {
  const byKey = new Map<string, InvocationCount>();
  for (const s of scripts) {
    for (const inv of invocationsIn(s.text, commands)) {
      const key = [inv.cmd, ...inv.flags].join(" ");
      const c = byKey.get(key) ?? { ...inv, count: 0, files: [] };
      c.count++;
      if (c.files.length < 3 && !c.files.includes(s.path)) c.files.push(s.path);
      byKey.set(key, c);
    }
  }
  return [...byKey.values()].sort((a, b) => (a.cmd === b.cmd ? b.count - a.count || a.flags.join(" ").localeCompare(b.flags.join(" ")) : a.cmd < b.cmd ? -1 : 1));
}
