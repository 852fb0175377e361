/**
 * Text on the terminal and what fits on the wire: header-safe property names and values (for the
 * HTTPS receive side), a message body shown as text when it is text, and ids quoted for the shell.
 */

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
