/** Who holds a lock on a file, read from the kernel's /proc/locks. dpkg and
 * pacman take fcntl/flock locks that die with their holder; looking them up
 * by (device, inode) needs no syscall the runtime lacks and never takes the
 * lock ourselves (which would block the package manager). */
import { readFileSync, statSync } from "node:fs";

/** "maj:min:ino" as /proc/locks prints it (hex major:minor, decimal inode). */
export function lockKey(dev: bigint, ino: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const hex = (n: bigint) => n.toString(16).padStart(2, "0");
  return `${hex(major)}:${hex(minor)}:${ino}`;
}

/** Parse /proc/locks into key → holder pids; pure. */
export function parseProcLocks(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split("\n")) {
    // "1: POSIX  ADVISORY  WRITE 1234 fd:01:123456 0 EOF" ("->" marks waiters)
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[1] === "->") continue;
    const pid = Number(f[4]);
    const key = f[5]!;
    out.set(key, [...(out.get(key) ?? []), pid]);
  }
  return out;
}

/** A description of the holders of any of `files`, or null when none is locked. */
export function lockHoldersOf(files: string[]): string | null {
  let table: Map<string, number[]>;
  try {
    table = parseProcLocks(readFileSync("/proc/locks", "utf8"));
  } catch {
    return null; // no /proc: cannot tell; apt-get will still refuse on its own
  }
  for (const f of files) {
    const st = statSync(f, { bigint: true, throwIfNoEntry: false });
    if (!st) continue;
    const pids = table.get(lockKey(st.dev, st.ino));
    if (pids) return `${f} by ${[...new Set(pids)].map(describePid).join(", ")}`;
  }
  return null;
}

/** "pid 123 (apt-get install -y rust-coreutils)": which program it is
 * matters — an apt-get left running by a killed pkgswitch is waited for,
 * not killed. */
export function describePid(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    if (argv.length > 0) {
      const text = argv.join(" ");
      return `pid ${pid} (${text.length > 160 ? text.slice(0, 160) + "…" : text})`;
    }
  } catch {}
  return `pid ${pid}`;
}
