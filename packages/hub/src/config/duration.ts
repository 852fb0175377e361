/**
 * Durations in configuration: a number of milliseconds, or an ISO 8601 duration as Azure writes
 * them (`PT1H`, `P2D`, `PT0.5S`). Years and months are refused: their length in ms is ambiguous.
 */
const ISO =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000] as const;

/** Milliseconds of an ISO 8601 duration, or undefined when the text is not one. */
export function parseIsoDuration(text: string): number | undefined {
  const m = ISO.exec(text.trim());
  if (!m || text.trim().toUpperCase() === 'P' || /T$/i.test(text.trim())) return undefined;
  let ms = 0;
  let any = false;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = m[i + 1];
    if (part === undefined) continue;
    any = true;
    ms += Number(part) * UNIT_MS[i]!;
  }
  return any ? Math.round(ms) : undefined;
}
