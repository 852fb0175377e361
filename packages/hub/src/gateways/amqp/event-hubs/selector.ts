/**
 * The `apache.org:selector-filter:string` filter an Event Hubs receiver attaches with, as
 * @azure/event-hubs writes it: `amqp.annotation.x-opt-offset > '123'` (or `>=`), the same with
 * `x-opt-sequence-number`, or `amqp.annotation.x-opt-enqueued-time > '<ms>'`. `-1` as an offset is
 * the start of the partition, `@latest` its end. No filter: from the start.
 */
import { FerryError } from '@ferry/common';
import type { EventSeek } from '../../../store/event-log.js';

const SELECTOR = /^\s*amqp\.annotation\.x-opt-(offset|sequence-number|enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/i;

export const SELECTOR_FILTER = 'apache.org:selector-filter:string';

/** The filter's text from a link source's filter map (rhea leaves it described or plain). */
export function selectorText(filter: unknown): string | undefined {
  if (typeof filter !== 'object' || filter === null) return undefined;
  const entry = (filter as Record<string, unknown>)[SELECTOR_FILTER];
  if (typeof entry === 'string') return entry;
  if (typeof entry === 'object' && entry !== null && 'value' in entry) {
    const v = (entry as { value: unknown }).value;
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && 'value' in v && typeof (v as { value: unknown }).value === 'string')
      return (v as { value: string }).value;
  }
  return undefined;
}

/** Where the filter starts a reader. Throws FerryError ArgumentInvalid for a filter it cannot read. */
export function parseSelector(text: string | undefined): EventSeek {
  if (text === undefined) return { kind: 'sequence', value: -1, inclusive: false };
  const m = SELECTOR.exec(text);
  if (!m) throw new FerryError('ArgumentInvalid', `Unsupported selector filter: ${text.slice(0, 200)}`);
  const field = m[1]!.toLowerCase();
  const inclusive = m[2] === '>=';
  const raw = m[3]!;
  if (field === 'offset' && raw === '@latest') return { kind: 'latest' };
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new FerryError('ArgumentInvalid', `The filter's value is not a number: '${raw}'`);
  if (field === 'offset') return { kind: 'offset', value, inclusive };
  if (field === 'sequence-number') return { kind: 'sequence', value, inclusive };
  return { kind: 'time', value, inclusive };
}
