/**
 * lastActivityTime in a query. A twin shows it as ISO 8601 text, but a comparison reads both sides
 * as instants: '2026-12-01T00:00:00Z' and '2026-12-01T00:00:00.000Z' are the same time, and a zone
 * offset counts. A device never active compares as 0001-01-01T00:00:00Z, what its twin shows. A
 * literal that is not an ISO 8601 date-time compares as a value of another type would: neither
 * true nor false. The store's SQL (sql.ts) compares the same integers.
 */
import { parseIsoDateTime } from '../../iso-date.js';
import type { Literal } from './ast.js';

/** 0001-01-01T00:00:00Z (.NET's DateTime.MinValue, IoT Hub's "never") in ms since the epoch. */
export const NEVER_MS = -62_135_596_800_000;

/** The instant a device's lastActivityTime compares as. */
export function activityMs(lastActivityAt: number | undefined): number {
  return lastActivityAt ?? NEVER_MS;
}

/** The literal as ms since the epoch; undefined when it is not an ISO 8601 date-time string. */
export function timeLiteral(value: Literal): number | undefined {
  return typeof value === 'string' ? parseIsoDateTime(value) : undefined;
}
