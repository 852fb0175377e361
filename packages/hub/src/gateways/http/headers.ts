/**
 * Header text in both directions. HTTP header bytes are Latin-1 to Node; message properties are
 * Unicode. Outgoing values go as UTF-8 bytes (control characters percent-encoded, since Node
 * refuses them), incoming values that are valid UTF-8 are decoded back. Property names that are
 * not HTTP tokens are percent-encoded.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';

const NON_ASCII = /[\u0080-\uffff]/;
const HIGH_BYTES = /[\x80-\xff]/;
// Node's setHeader refuses every control character but TAB.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters to escape
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/g;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function toHeaderValue(value: string): string {
  const bytes = NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
  return bytes.replace(CONTROL, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

export function toHeaderName(name: string): string {
  if (TOKEN.test(name)) return name;
  return encodeURIComponent(name).replace(/[()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function fromHeaderValue(value: string): string {
  if (!HIGH_BYTES.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

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
