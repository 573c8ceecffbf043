/** RFC 8785 JSON Canonicalization Scheme: the byte form that every chain hash,
 * ledger line and signature in pkgswitch is computed over. */
import canonicalizeImpl from "canonicalize";

/** Canonical JSON text of `value` (RFC 8785). Throws on values JSON cannot hold. */
export function canonicalize(value: unknown): string {
  const text = (canonicalizeImpl as (v: unknown) => string | undefined)(value);
  if (text === undefined) throw new TypeError("value has no canonical JSON form");
  return text;
}
