/** Standard padded base64, as minisign, C2SP signed notes and our bundles
 * write it. Decoding accepts exactly one text form per blob (zero trailing
 * bits, as libsodium's sodium_base642bin insists), so an edited character
 * can never decode to the same bytes. */

export const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

/** The bytes of canonical padded base64 `s`, or why it is not: "not
 * base64", or "non-canonical base64" (decodes, but non-zero padding bits). */
export function decodeBase64(s: string): Uint8Array | "not base64" | "non-canonical base64" {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return "not base64";
  const bytes = Buffer.from(s, "base64");
  return bytes.toString("base64") === s ? new Uint8Array(bytes) : "non-canonical base64";
}

/** The bytes of canonical padded base64 `s`, or null for anything else. */
export function decodeBase64Canonical(s: string): Uint8Array | null {
  const r = decodeBase64(s);
  return typeof r === "string" ? null : r;
}
