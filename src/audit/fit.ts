/** Line fitting: an event line must stay within MAX_LINE_BYTES, so an
 * over-long event loses detail in its free-form fields, never its digests. */
import { MAX_LINE_BYTES, type EventFields } from "./event.ts";

const MAX_ARRAY = 200;

/** Largest string anywhere in a value: [container, key, length]. */
function longestString(value: unknown): [Record<string, unknown> | unknown[], string | number, number] | null {
  let best: [Record<string, unknown> | unknown[], string | number, number] | null = null;
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (typeof x === "string" ? consider(v, i, x) : walk(x)));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) typeof x === "string" ? consider(v as Record<string, unknown>, k, x) : walk(x);
  };
  const consider = (c: Record<string, unknown> | unknown[], k: string | number, x: string) => {
    if (!best || x.length > best[2]) best = [c, k, x.length];
  };
  walk(value);
  return best;
}

/** Shrink free-form fields until the sealed line fits MAX_LINE_BYTES (UTF-8):
 * long arrays are cut, then the longest string anywhere is halved, and as a
 * last resort the fields are replaced by a note of their size. Digests,
 * being short, survive. */
export function fitFields(fields: EventFields, measure: (f: EventFields) => number): EventFields {
  if (measure(fields) <= MAX_LINE_BYTES) return fields;
  const f = structuredClone(fields) as EventFields;
  const cut = (v: unknown): unknown => {
    if (Array.isArray(v)) return (v.length > MAX_ARRAY ? [...v.slice(0, MAX_ARRAY), `…[${v.length - MAX_ARRAY} more truncated]`] : v).map(cut);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cut(x)]));
    return v;
  };
  let g = cut(f) as EventFields;
  for (let i = 0; i < 64 && measure(g) > MAX_LINE_BYTES; i++) {
    const hit = longestString(g);
    if (!hit || hit[2] < 64) break;
    const [container, key] = hit;
    const str = (container as Record<string | number, string>)[key]!;
    (container as Record<string | number, unknown>)[key] = str.slice(0, Math.floor(str.length / 2)) + "…[truncated]";
  }
  if (measure(g) > MAX_LINE_BYTES) g = { truncated: true, original_bytes: measure(fields) };
  return g;
}
