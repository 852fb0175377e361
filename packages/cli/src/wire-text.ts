/**
 * Text on the wire and on the terminal: header values both ways (HTTP header bytes are Latin-1
 * to Node, message properties are Unicode, so they travel as UTF-8 bytes, as the hub does), a
 * message body shown as text when it is text, and ids quoted for the shell in hints.
 */

const NON_ASCII = /[\u0080-\uffff]/;
const HIGH_BYTES = /[\x80-\xff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters HTTP headers cannot carry
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when a value can go in an HTTP header (Node refuses control characters but TAB). */
export function fitsHeader(value: string): boolean {
  return !CONTROL.test(value);
}

/** True when a name can be part of an HTTP header name. */
export function isHeaderToken(name: string): boolean {
  return TOKEN.test(name);
}

/** A Unicode value as the Latin-1 string of its UTF-8 bytes, which is what Node puts on the wire. */
export function headerValue(value: string): string {
  return NON_ASCII.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

/** The reverse of headerValue; a value that is not valid UTF-8 is kept as received. */
export function fromHeaderValue(value: string): string {
  if (!HIGH_BYTES.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

/** The hub percent-encodes property names that are not HTTP tokens; '%' is not one, so this is exact. */
export function fromHeaderName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: text bodies have no control characters but TAB, CR, LF
const BINARY = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** The body as UTF-8 text when it is printable text, else as base64. */
export function bodyText(body: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  const text = body.toString('utf8');
  if (Buffer.from(text, 'utf8').equals(body) && !BINARY.test(text)) return { text, encoding: 'utf8' };
  return { text: body.toString('base64'), encoding: 'base64' };
}

/** An argument as it can be pasted into a POSIX shell. */
export function shellArg(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
