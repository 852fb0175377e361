/** SAS tokens: create, parse, verify. See spec c2d-semantics.md 5.2 and official-sdk-wire.md 1.2. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { FerryError } from './errors.js';

export interface ParsedSasToken {
  /** `sr` exactly as it appears in the token (still percent-encoded when it was). Signed as is. */
  srRaw: string;
  /** `sr` URL-decoded. */
  sr: string;
  /** `sig` URL-decoded (base64). */
  sig: string;
  /** Expiry, seconds since the epoch. */
  se: number;
  /** Policy name; undefined for device-key tokens. */
  skn: string | undefined;
}

/** Microsoft's validator allows this much clock skew past `se` (MaxClockSkew). */
export const SAS_CLOCK_SKEW_MS = 5 * 60 * 1000;

const PREFIX = 'SharedAccessSignature ';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function unauthorized(why: string): FerryError {
  return new FerryError('IotHubUnauthorizedAccess', `Malformed SAS token: ${why}`);
}

function decodeField(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (cause) {
    throw new FerryError('IotHubUnauthorizedAccess', `Malformed SAS token: ${name} is not valid percent-encoding`, {
      cause,
    });
  }
}

/** Parse `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]` in any field order. Throws FerryError IotHubUnauthorizedAccess when malformed. */
export function parseSasToken(token: string): ParsedSasToken {
  if (typeof token !== 'string' || token.trim() === '') throw unauthorized('the token is empty');
  const text = token.trim();
  if (!text.startsWith(PREFIX)) throw unauthorized(`it must start with "${PREFIX}"`);
  const fields = new Map<string, string>();
  for (const pair of text.slice(PREFIX.length).split('&')) {
    if (pair === '') continue;
    // Split on the first '=' only: nothing else in a well-formed field contains one, but be exact.
    const eq = pair.indexOf('=');
    if (eq <= 0) throw unauthorized(`"${pair.slice(0, 40)}" is not a name=value field`);
    const name = pair.slice(0, eq);
    if (fields.has(name)) throw unauthorized(`field ${name} appears twice`);
    fields.set(name, pair.slice(eq + 1));
  }
  // Unknown fields are ignored, as Microsoft's parser does.
  for (const required of ['sr', 'sig', 'se']) {
    if (!fields.has(required)) throw unauthorized(`field ${required} is missing`);
    if (fields.get(required) === '') throw unauthorized(`field ${required} is empty`);
  }
  const srRaw = fields.get('sr')!;
  const sr = decodeField('sr', srRaw);
  const sig = decodeField('sig', fields.get('sig')!);
  if (sig.length % 4 !== 0 || !BASE64.test(sig)) throw unauthorized('sig is not base64');
  const seRaw = fields.get('se')!;
  if (!/^\d{1,15}$/.test(seRaw))
    throw unauthorized(`se must be whole seconds since the epoch, got "${seRaw.slice(0, 20)}"`);
  const se = Number(seRaw);
  let skn: string | undefined;
  const sknRaw = fields.get('skn');
  if (sknRaw !== undefined) {
    if (sknRaw === '') throw unauthorized('field skn is empty');
    skn = decodeField('skn', sknRaw);
  }
  return { srRaw, sr, sig, se, skn };
}

/** base64(HMAC-SHA256(base64decode(key), srRaw + "\n" + se)). */
export function signSas(srRaw: string, se: number, key: string): string {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${srRaw}\n${se}`).digest('base64');
}

export interface CreateSasOptions {
  /** Resource URI as it should appear in the token; encoded with encodeURIComponent (plus `!'()*`, as the official SDK does) unless `encode` is false. */
  resourceUri: string;
  key: string;
  keyName?: string;
  /** Seconds since the epoch. */
  expiry: number;
  /** Default true (device style: `localhost%2Fdevices%2Fdev1`); false gives the service style raw host. */
  encode?: boolean;
}

/** encodeURIComponent plus `! ' ( ) *`, exactly as the official SDK's encodeUriComponentStrict does. */
function encodeStrict(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

export function createSasToken(opts: CreateSasOptions): string {
  if (!opts.resourceUri) throw new FerryError('ArgumentInvalid', 'createSasToken: resourceUri is empty');
  if (!opts.key) throw new FerryError('ArgumentInvalid', 'createSasToken: key is empty');
  if (!Number.isSafeInteger(opts.expiry) || opts.expiry <= 0) {
    throw new FerryError(
      'ArgumentInvalid',
      `createSasToken: expiry must be whole seconds since the epoch, got ${opts.expiry}`,
    );
  }
  const sr = opts.encode === false ? opts.resourceUri : encodeStrict(opts.resourceUri);
  // Field order sr, sig, skn, se: the official SDK's order (official-sdk-wire.md 1.2).
  let token = `SharedAccessSignature sr=${sr}&sig=${encodeStrict(signSas(sr, opts.expiry, opts.key))}`;
  if (opts.keyName) token += `&skn=${encodeStrict(opts.keyName)}`;
  return `${token}&se=${opts.expiry}`;
}

/** True when the signature matches one of the keys (timing-safe compare). */
export function verifySasSignature(token: ParsedSasToken, keys: ReadonlyArray<string | null | undefined>): boolean {
  const given = Buffer.from(token.sig);
  let ok = false;
  // Every key is tried, so the time taken does not say which one matched.
  for (const key of keys) {
    if (!key) continue;
    const expected = Buffer.from(signSas(token.srRaw, token.se, key));
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
    // Event Hubs and Service Bus clients (@azure/event-hubs for the built-in endpoint) sign with
    // the key's text itself as the HMAC key, not its base64-decoded bytes: the same secret.
    const text = Buffer.from(
      createHmac('sha256', Buffer.from(key, 'utf8')).update(`${token.srRaw}\n${token.se}`).digest('base64'),
    );
    if (text.length === given.length && timingSafeEqual(text, given)) ok = true;
  }
  return ok;
}

/**
 * True when the token is past `se` plus the skew at nowMs (Microsoft: ExpiresOn + MaxClockSkew < UtcNow).
 * The default skew is 5 minutes.
 */
export function isSasExpired(token: ParsedSasToken, nowMs: number, skewMs: number = SAS_CLOCK_SKEW_MS): boolean {
  return token.se * 1000 + skewMs < nowMs;
}

/**
 * Split a decoded sr into host and path: `localhost:443/devices/dev1` -> { host: 'localhost', port: '443', path: '/devices/dev1' }.
 * Trailing slashes are trimmed from the path (`host/` -> path ''); an IPv6 host keeps its brackets.
 */
export function splitResource(sr: string): { host: string; port: string | undefined; path: string } {
  const slash = sr.indexOf('/');
  const authority = slash < 0 ? sr : sr.slice(0, slash);
  const path = (slash < 0 ? '' : sr.slice(slash)).replace(/\/+$/, '');
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!m) return { host: authority, port: undefined, path };
  return { host: m[1]!, port: m[2] || undefined, path };
}

/** Segment-wise, case-insensitive prefix test: '/a/b' covers '/a/b/c' but not '/a/bc'. '' covers everything. */
export function scopeCovers(scope: string, path: string): boolean {
  const s = scope.replace(/\/+$/, '').toLowerCase();
  if (s === '') return true;
  const p = path.replace(/\/+$/, '').toLowerCase();
  return p === s || p.startsWith(`${s}/`);
}
