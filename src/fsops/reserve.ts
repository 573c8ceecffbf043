/** Space set aside before an operation changes anything, so that a disk
 * filling up (or already full) cannot leave the record or the state
 * half-written after the targets changed: the reserve is a file of zeros in
 * the directory that will need the space, released just before the writes
 * it was kept for. If it cannot be made, the operation stops before any
 * change (exit 70, one line). */
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";

/** errno codes that mean "this filesystem cannot take the write". */
export const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EIO: "I/O error",
};

/** The one-line reason for a write error, or null when it is not one of them. */
export function writeProblem(e: unknown): string | null {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code && code in WRITE_ERRORS ? `${code} (${WRITE_ERRORS[code]})` : null;
}

/** A failure in one line: the write problem's name, else the first line of
 * its message. */
export function problemLine(e: unknown): string {
  return writeProblem(e) ?? String((e as Error)?.message ?? e).split("\n")[0]!;
}

export interface Reserve {
  readonly path: string;
  readonly bytes: number;
  /** Give the space back (idempotent; never throws). */
  release(): void;
}

/** Write `bytes` of zeros to a hidden file in `dir` (fsynced, so the blocks
 * are really allocated). `what` says what it is kept for, in the message. */
export function reserveSpace(dir: string, bytes: number, what: string): Reserve {
  const path = join(dir, `.pkgswitch-reserve-${process.pid}`);
  try {
    unlinkSync(path); // a leftover of a killed run with our pid, or a planted link
  } catch {}
  let fd: number | null = null;
  try {
    fd = openSync(path, "wx", 0o600);
    const chunk = Buffer.alloc(Math.min(bytes, 256 << 10));
    for (let off = 0; off < bytes; ) off += writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - off));
    fsyncSync(fd);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(path);
    } catch {}
    const why = writeProblem(e) ?? (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new PkgswitchError(Exit.PERMISSION, `cannot set aside ${Math.ceil(bytes / 1024)} KiB in ${dir} for ${what}: ${why}; free some space (nothing was changed)`);
  }
  closeSync(fd);
  let held = true;
  return {
    path,
    bytes,
    release() {
      if (!held) return;
      held = false;
      try {
        unlinkSync(path);
      } catch {}
    },
  };
}
