/** Human and machine output. Results go to stdout (JSON with --json);
 * messages and progress go to stderr. Colour only on a TTY, never with
 * NO_COLOR or --no-color. */
import { isTerminal, writeStderr, writeStdout } from "../sys/stdio.ts";
import type { Reporter } from "../switch/session.ts";
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  color: boolean;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Color = keyof typeof codes;

export class Output implements Reporter {
  private progressShown = false;
  constructor(readonly opts: OutputOptions) {}

  static detect(flags: { json: boolean; quiet: boolean; verbose: boolean; noColor: boolean }): Output {
    let color: boolean | undefined;
    return new Output({
      json: flags.json,
      quiet: flags.quiet,
      verbose: flags.verbose,
      // Decided when something is first painted: whether stdout is a
      // terminal takes node:tty when it is a character device (a terminal,
      // or /dev/null: ~2 ms), which a run that paints nothing — a no-op
      // `relink --hook` after a package transaction — never needs.
      get color() {
        return (color ??= !flags.noColor && !("NO_COLOR" in process.env) && !flags.json && isTerminal(1));
      },
    });
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

// Printing itself (fds 1 and 2, without Node's stdio streams) is
// src/sys/stdio.ts's; re-exported for the commands.
export { isTerminal, stdio, writeStderr, writeStdout } from "../sys/stdio.ts";
