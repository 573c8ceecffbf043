/** Human and machine output. Results go to stdout (JSON with --json);
 * messages and progress go to stderr. Colour only on a TTY, never with
 * NO_COLOR or --no-color. */
import { fstatSync, writeSync } from "node:fs";
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Color = keyof typeof codes;

export class Output {
  private progressShown = false;
  constructor(readonly opts: OutputOptions) {}

  static detect(flags: { json: boolean; quiet: boolean; verbose: boolean; noColor: boolean }): Output {
    const color = !flags.noColor && !("NO_COLOR" in process.env) && isTerminal(1) && !flags.json;
    return new Output({ json: flags.json, quiet: flags.quiet, verbose: flags.verbose, color });
  }

  paint(c: Color, s: string): string {
    return this.opts.color ? `\x1b[${codes[c]}m${s}\x1b[0m` : s;
  }

  /** A line of the human result (suppressed with --json or -q). */
  line(s = ""): void {
    if (!this.opts.json && !this.opts.quiet) writeStdout(s + "\n");
  }

  /** Detail shown with -v. */
  detail(s: string): void {
    if (this.opts.verbose && !this.opts.json) writeStderr(this.paint("dim", s) + "\n");
  }

  warn(s: string): void {
    this.clearProgress();
    writeStderr(this.paint("yellow", "warning: ") + s + "\n");
  }

  error(s: string): void {
    this.clearProgress();
    writeStderr(this.paint("red", "error: ") + s + "\n");
  }

  /** The JSON result document (only with --json). */
  json(value: unknown): void {
    if (this.opts.json) writeStdout(JSON.stringify(value, null, 2) + "\n");
  }

  /** Progress on long work, only when stderr is a TTY. */
  progress(label: string, done: number, total: number): void {
    if (!isTerminal(2) || this.opts.json || this.opts.quiet) return;
    writeStderr(`\r\x1b[K${label} ${done}/${total}`);
    this.progressShown = true;
    if (done >= total) this.clearProgress();
  }

  clearProgress(): void {
    if (this.progressShown) writeStderr("\r\x1b[K");
    this.progressShown = false;
  }
}

// Output goes straight to file descriptors 1 and 2 with writeSync. Why:
// touching `process.stdout`/`process.stderr` builds Node's stream objects,
// which costs ~25 ms of start-up in the compiled binary (more than all of
// pkgswitch's own code), and every command prints something. writeSync is
// also ordered and complete when it returns, so nothing is lost at exit.

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function writeFd(fd: 1 | 2, s: string): void {
  const buf = Buffer.from(s, "utf8");
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking pipe that is full: wait for the reader.
      if (code === "EAGAIN") Atomics.wait(sleeper, 0, 0, 1);
      // A reader that went away (`pkgswitch audit show X | head`) is not an error.
      else if (code === "EPIPE") {
        if (fd === 1) process.exit(0);
        return;
      } else throw e;
    }
  }
}

/** Where printed text goes: file descriptors 1 and 2. Replaceable, so a
 * test running a command in-process can capture what it prints. */
export const stdio = {
  out: (s: string): void => writeFd(1, s),
  err: (s: string): void => writeFd(2, s),
};

/** stdout that tolerates a closed reader (`pkgswitch audit show X | head`). */
export function writeStdout(s: string): void {
  stdio.out(s);
}

/** stderr (messages, prompts, progress). */
export function writeStderr(s: string): void {
  stdio.err(s);
}

/** isatty(fd), without building the stdio streams: a pipe or file (the
 * usual case for hooks and scripts) is decided by fstat alone; only a
 * character device asks node:tty. */
export function isTerminal(fd: 0 | 1 | 2): boolean {
  try {
    if (!fstatSync(fd).isCharacterDevice()) return false;
  } catch {
    return false;
  }
  return (process.getBuiltinModule("node:tty") as typeof import("node:tty")).isatty(fd);
}
