/**
 * Text in HTTP headers, both ways. Header bytes are Latin-1 to Node; message properties are
 * Unicode, so values travel as their UTF-8 bytes (control characters percent-encoded, since
 * Node refuses them). Property names that are not HTTP tokens, or hold a '%', are
 * percent-encoded, so decoding a name is exact.
 */

const NON_ASCII = /[\u0080-\uffff]/;
const HIGH_BYTES = /[\x80-\xff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: Node's setHeader refuses every control character but TAB
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/g;
const TOKEN = /^[!#$&'*+\-.^_`|~0-9A-Za-z]+$/;

export function toHeaderValue(value: string): string {
  const bytes = NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
  return bytes.replace(CONTROL, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

/** The reverse of toHeaderValue's UTF-8 step; a value that is not valid UTF-8 is kept as received. */
export function fromHeaderValue(value: string): string {
  if (!HIGH_BYTES.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

export function toHeaderName(name: string): string {
  if (TOKEN.test(name)) return name;
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The reverse of toHeaderName; a name that is not valid percent-encoding is kept as received. */
export function fromHeaderName(name: string): string {
  if (!name.includes('%')) return name;
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
