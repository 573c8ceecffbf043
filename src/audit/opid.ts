/** Operation ids: UTC second + 32 random bits, sortable, and never a path.
 * Also the one check that a date or time a user gives (an op id's stamp,
 * `audit list --since`, `audit archive --before`) names a real calendar
 * time: `Date` rolls 2026-02-30 over to March 2 instead of refusing it. */
import { randomBytes } from "../sys/index.ts";
import { usageError } from "../errors.ts";

export const OP_ID_RE = /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/;

const OP_ID_FORM = "an op id is YYYYMMDDTHHMMSSZ-xxxxxxxx: the UTC time the operation started and 8 lowercase hex digits (see `pkgswitch audit list`)";

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

export function newOpId(now = new Date()): string {
  const iso = now.toISOString(); // 2026-11-27T05:30:00.123Z
  const stamp = iso.slice(0, 19).replace(/[-:]/g, "") + "Z";
  return `${stamp}-${randomBytes(4).toString("hex")}`;
}

/** Why year-month-day hour:minute:second is not a time on the (proleptic
 * Gregorian) calendar, or null. Pure: no clock, no time zone. */
export function calendarProblem(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): string | null {
  if (month < 1 || month > 12) return `there is no month ${month}`;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day < 1 || day > days) return `there is no day ${day} in ${MONTHS[month - 1]} ${year}`;
  if (hour > 23) return `there is no hour ${hour}`;
  if (minute > 59) return `there is no minute ${minute}`;
  if (second > 59) return `there is no second ${second}`;
  return null;
}

/** Why `s` is not an op id (its form, or a time that does not exist), or null. */
export function opIdProblem(s: string): string | null {
  if (!OP_ID_RE.test(s)) return "not of the form";
  const n = (from: number, to: number) => Number(s.slice(from, to));
  return calendarProblem(n(0, 4), n(4, 6), n(6, 8), n(9, 11), n(11, 13), n(13, 15));
}

/** Validate an op id given by a user: anything else is a usage error. */
export function parseOpId(s: string): string {
  const problem = opIdProblem(s);
  if (problem !== null) throw usageError(`bad op id ${JSON.stringify(s)}: not a valid operation id${problem === "not of the form" ? "" : ` (${problem})`}; ${OP_ID_FORM}`);
  return s;
}

const TIME_RE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?(Z|[+-]([0-9]{2}):?([0-9]{2}))?)?$/;

/** A date or time given on the command line — YYYY-MM-DD (midnight UTC) or
 * an ISO 8601 time (2026-01-01T12:00:00Z; without an offset, local time as
 * `Date.parse` reads it) — in milliseconds since the epoch, or why it is
 * not one (null: not of either form). */
export function parseTimeText(text: string): { ms: number } | { problem: string | null } {
  const m = TIME_RE.exec(text);
  if (!m) return { problem: null };
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  // ISO 8601's 24:00:00 is the end of the day, the next day's 00:00:00
  // (op ids, which pkgswitch writes itself, never have it).
  const hour24 = n(4) === 24;
  const endOfDay = hour24 && n(5) === 0 && n(6) === 0 && !/[1-9]/.test(m[7] ?? "");
  const problem =
    calendarProblem(n(1), n(2), n(3), hour24 ? 0 : n(4), n(5), n(6)) ??
    (hour24 && !endOfDay ? "hour 24 is only 24:00:00, the end of the day" : null) ??
    (n(9) > 23 || n(10) > 59 ? `there is no UTC offset ${m[8]}` : null);
  if (problem !== null) return { problem };
  let parsed = m[4] === undefined ? `${text}T00:00:00Z` : text;
  if (endOfDay) {
    const next = new Date(Date.UTC(n(1), n(2) - 1, n(3) + 1)).toISOString().slice(0, 10);
    parsed = `${next}T00:00:00${m[8] ?? ""}`;
  }
  const ms = Date.parse(parsed);
  return Number.isNaN(ms) ? { problem: null } : { ms };
}
