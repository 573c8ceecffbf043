/** Small helpers every backend shares. */

/** The last line of a command's output: what a one-line error message quotes. */
export function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return lines[lines.length - 1] ?? "";
}
