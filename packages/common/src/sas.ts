/** SAS tokens: create, parse, verify. See spec c2d-semantics.md 5.2 and official-sdk-wire.md 1.2. */

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

/** Parse `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]` in any field order. Throws FerryError IotHubUnauthorizedAccess when malformed. */
export declare function parseSasToken(token: string): ParsedSasToken;

/** base64(HMAC-SHA256(base64decode(key), srRaw + "\n" + se)). */
export declare function signSas(srRaw: string, se: number, key: string): string;

export interface CreateSasOptions {
  /** Resource URI as it should appear in the token; encoded with encodeURIComponent unless `encode` is false. */
  resourceUri: string;
  key: string;
  keyName?: string;
  /** Seconds since the epoch. */
  expiry: number;
  /** Default true (device style: `localhost%2Fdevices%2Fdev1`); false gives the service style raw host. */
  encode?: boolean;
}
export declare function createSasToken(opts: CreateSasOptions): string;

/** True when the signature matches one of the keys (timing-safe compare). */
export declare function verifySasSignature(token: ParsedSasToken, keys: ReadonlyArray<string | null | undefined>): boolean;

/** True when `se` (plus the 5-minute skew) is still in the future at nowMs. */
export declare function isSasExpired(token: ParsedSasToken, nowMs: number, skewMs?: number): boolean;

/**
 * Split a decoded sr into host and path: `localhost:443/devices/dev1` -> { host: 'localhost', port: '443', path: '/devices/dev1' }.
 */
export declare function splitResource(sr: string): { host: string; port: string | undefined; path: string };

/** Segment-wise, case-insensitive prefix test: '/a/b' covers '/a/b/c' but not '/a/bc'. '' covers everything. */
export declare function scopeCovers(scope: string, path: string): boolean;
