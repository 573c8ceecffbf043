/** The pkgswitch operation lock: flock(2) on `<root>/run/lock/pkgswitch.lock`.
 * The kernel drops it when the holder dies (even by SIGKILL), so a crashed run
 * never leaves a stale lock. The runtimes have no flock binding; src/sys/
 * calls libc through FFI (no external program). */
import { closeSync, constants, fstatSync, mkdirSync, openSync, writeSync, ftruncateSync } from "node:fs";
import { dirname } from "node:path";
import { Exit, PkgswitchError } from "../errors.ts";
import { libc, sleepSync } from "../sys/index.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
/** Digits of the pid in the lock file (Linux's pid_max is at most 2^22). */
const PID_WIDTH = 10;

export interface Lock {
  release(): void;
}

/** Take the lock, waiting up to `timeoutMs`; exit 30 when another holder keeps it. */
export function acquireLock(path: string, timeoutMs: number): Lock {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new PkgswitchError(Exit.PERMISSION, `cannot create lock directory ${dirname(path)}: ${(e as Error).message}`);
  }
  let fd: number;
  try {
    // Never through a link (the pid would be written wherever it points),
    // never blocking on a FIFO planted there.
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new PkgswitchError(Exit.PERMISSION, `lock ${path} is a symbolic link; pkgswitch does not follow it — remove it (nothing was changed)`);
    // EACCES/EPERM/EROFS, and also EISDIR, ENOSPC, EIO: it cannot be taken.
    throw new PkgswitchError(Exit.PERMISSION, `cannot open lock ${path}: ${(e as Error).message}`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new PkgswitchError(Exit.PERMISSION, `lock ${path} is not a regular file — remove it (nothing was changed)`);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (libc().flock(fd, LOCK_EX | LOCK_NB) === 0) break;
    const err = libc().errno();
    if (err !== EWOULDBLOCK) {
      closeSync(fd);
      throw new PkgswitchError(Exit.INTERNAL, `flock ${path} failed (errno ${err})`);
    }
    if (Date.now() >= deadline) {
      closeSync(fd);
      throw new PkgswitchError(Exit.LOCKED, `another pkgswitch operation holds ${path}; waited ${timeoutMs} ms`);
    }
    sleepSync(50);
  }
  // Holder's pid, for humans; the lock itself is the flock, not this text.
  // Written in place at a fixed width: truncating first made the file
  // system free its block and allocate it again on every run (relink,
  // after every package transaction, paid ~1 ms for it).
  try {
    const line = `${String(process.pid).padStart(PID_WIDTH)}\n`;
    if (st.size !== line.length) ftruncateSync(fd, 0);
    writeSync(fd, line, 0);
  } catch {}
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd); // closing the last fd drops the flock
    },
  };
}
