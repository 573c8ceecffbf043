/** Operation ids: UTC second + 32 random bits, sortable, and never a path. */
import { randomBytes } from "../sys/index.ts";
import { usageError } from "../errors.ts";

export const OP_ID_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/;

export function newOpId(now = new Date()): string {
  const iso = now.toISOString(); // 2026-11-27T05:30:00.123Z
  const stamp = iso.slice(0, 19).replace(/[-:]/g, "") + "Z";
  return `${stamp}-${randomBytes(4).toString("hex")}`;
}

/** Validate an op id given by a user: anything else is a usage error. */
export function parseOpId(s: string): string {
  if (!OP_ID_RE.test(s)) throw usageError(`bad op id "${s}": expected YYYYMMDDTHHMMSSZ-xxxxxxxx (see \`pkgswitch audit list\`)`);
  return s;
}
