/** Printing: file descriptors 1 and 2 written with writeSync.
 *
 * Why not process.stdout/process.stderr: touching them builds Node's stream
 * objects, which costs ~25 ms of start-up in the compiled binary (more than
 * all of pkgswitch's own code), and every command prints something.
 * writeSync is also ordered and complete when it returns, so nothing is
 * lost at exit. Runtime-neutral (node:fs), so it lives in the base layer
 * for every module that prints (cli, and attest's passphrase prompt). */
import { fstatSync, writeSync } from "node:fs";

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Descriptors whose reader went away: nothing more is written to them. */
const gone = new Set<number>();

function writeFd(fd: 1 | 2, s: string): void {
  if (gone.has(fd)) return;
  const buf = Buffer.from(s, "utf8");
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A non-blocking pipe that is full: wait for the reader.
      if (code === "EAGAIN") Atomics.wait(sleeper, 0, 0, 1);
      // A reader that went away (`pkgswitch audit show X | head`): the rest
      // of the output is dropped, and the command still runs to its end and
      // exits with its own code. Exiting 0 here told `audit verify | head`
      // under pipefail that a tampered record verified, and stopped an
      // operation half-way.
      else if (code === "EPIPE") {
        gone.add(fd);
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

/** stdout that tolerates a closed reader (`pkgswitch audit show X | head`):
 * what follows is dropped, the exit code is the command's. */
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
