/** Timeline marks for measuring verify --all's phases across threads
 * (bench/README.md, "verify --all throughput"): with
 * PKGSWITCH_VERIFY_TRACE=1, one stderr line per mark with the wall-clock
 * time in ms (epoch, so the main thread's and workers' marks line up).
 * Off by default: one boolean test per mark. Written like every other line
 * pkgswitch prints (sys/stdio.ts), not through process.stderr. */
import { writeStderr } from "../sys/stdio.ts";

const on = Boolean(process.env.PKGSWITCH_VERIFY_TRACE);

export function mark(what: string): void {
  if (on) writeStderr(`verify-trace ${(performance.timeOrigin + performance.now()).toFixed(1)} ${what}\n`);
}
