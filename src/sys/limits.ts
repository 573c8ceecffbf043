/** The open-files limit children start with.
 *
 * Both runtimes raise the soft RLIMIT_NOFILE to the hard limit at start-up
 * (so that a server can open many sockets), and children inherit it. Some
 * package-manager front ends walk every possible descriptor before they
 * exec (two fcntl calls each): on a systemd host, whose hard limit is
 * 524288, one query then makes about a million system calls (measured with
 * a hard limit of 20000: 45 ms against 35 ms at 1024; bench/README.md). A
 * program may also still use select(2), which breaks on descriptors of 1024
 * and above. systemd resets the soft limit to FD_SETSIZE before it runs
 * foreign code (rlimit_nofile_safe) for the same reasons; pkgswitch does
 * the same, once, before its first child. The old
 * soft limit cannot be read back after the runtime raised it, so a soft
 * limit above 1024 becomes 1024 (the hard limit is left alone, so a child
 * that needs more can raise its own). pkgswitch itself never holds many
 * descriptors. */
import type { RLimits } from "./types.ts";

/** Linux's RLIMIT_NOFILE on x86-64 and arm64. */
const RLIMIT_NOFILE = 7;
/** select(2)'s FD_SETSIZE: the soft limit a distribution sets by default. */
const CHILD_FILE_LIMIT = 1024n;

/** Lower the soft open-files limit to CHILD_FILE_LIMIT if it is above it
 * (a failed get or set leaves it as it is). */
export function lowerFileLimit(r: RLimits): void {
  const v = new BigUint64Array(2);
  if (r.get(RLIMIT_NOFILE, v) !== 0 || v[0]! <= CHILD_FILE_LIMIT) return;
  v[0] = CHILD_FILE_LIMIT;
  r.set(RLIMIT_NOFILE, v);
}
