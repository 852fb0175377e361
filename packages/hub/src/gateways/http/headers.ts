/**
 * Header text in both directions. HTTP header bytes are Latin-1 to Node; message properties are
 * Unicode. Outgoing values go as UTF-8 bytes (control characters percent-encoded, since Node
 * refuses them), incoming values that are valid UTF-8 are decoded back. Property names that are
 * not HTTP tokens are percent-encoded.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { fromHeaderValue, toHeaderValue } from '@ferry/common';

export { fromHeaderValue, toHeaderName, toHeaderValue } from '@ferry/common';

/** One request header as a string (undefined when absent), decoded as fromHeaderValue does. */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return fromHeaderValue(Array.isArray(v) ? v.join(', ') : v);
}

/** Sets only the headers whose value is defined. */
export function definedHeaders(h: Record<string, string | number | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = typeof v === 'number' ? v : toHeaderValue(v);
  return out;
}
