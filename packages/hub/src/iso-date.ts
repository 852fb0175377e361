/**
 * Strict ISO 8601 date-time parsing (HTTP request headers, the query language's times):
 * `YYYY-MM-DD[THH:MM[:SS[.fraction]]][Z|±HH[:]MM]`.
 * Date.parse alone would take "1" or "March 7" and read zone-less times as local time; here a
 * zone-less time is UTC and anything else is refused.
 */
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

/** ms since the epoch, or undefined when the text is not such a date-time or names an impossible date. */
export function parseIsoDateTime(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999 (IoT Hub's "never" is year 1).
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  // Feb 30 rolls over to March: refuse instead.
  if (date.getUTCDate() !== day) return undefined;
  let t = date.getTime();
  if (m[9]) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
    t += m[9] === '+' ? -offset : offset;
  }
  return t;
}
