/** A link's text as bytes. node:fs's `readlinkSync(path, "buffer")` returns
 * a Buffer in Bun; Deno 2 returns the text as a string whatever the encoding
 * asked for (so a link text that is not UTF-8 cannot be read as bytes
 * there: it comes back with U+FFFD in place of the bad bytes). One shape
 * for callers that compare link texts byte for byte (`audit verify --deep`). */
import { readlinkSync } from "node:fs";

export function readlinkBytes(path: string | Buffer): Buffer {
  const text = readlinkSync(path, "buffer") as Buffer | Uint8Array | string;
  return typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.isBuffer(text) ? text : Buffer.from(text);
}
