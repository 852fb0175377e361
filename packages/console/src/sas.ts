/**
 * Connection strings and SAS tokens in the browser, with WebCrypto: the same tokens
 * @ferry/common makes in Node (its createSasToken), so the hub verifies them the same way.
 */

export interface PolicyConnection {
  hostName: string;
  keyName: string;
  key: string;
}

/** `HostName=..;SharedAccessKeyName=..;SharedAccessKey=..`; throws an Error saying what is missing. */
export function parsePolicyConnectionString(text: string): PolicyConnection {
  const fields = new Map<string, string>();
  for (const part of text.trim().split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`"${part.slice(0, 30)}" is not a Name=value field`);
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  if (fields.has('deviceid')) {
    throw new Error('This is a device connection string; sign in with a shared access policy connection string');
  }
  const hostName = fields.get('hostname');
  const keyName = fields.get('sharedaccesskeyname');
  const key = fields.get('sharedaccesskey');
  if (!hostName) throw new Error('HostName is missing');
  if (!keyName) throw new Error('SharedAccessKeyName is missing');
  if (!key) throw new Error('SharedAccessKey is missing');
  return { hostName, keyName, key };
}

/** encodeURIComponent plus `! ' ( ) *`, as the official SDK (and @ferry/common) encode. */
export function encodeStrict(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function base64ToBytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** base64(HMAC-SHA256(base64decode(key), sr + "\n" + se)) */
export async function signSas(sr: string, se: number, key: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey('raw', base64ToBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const sig = await crypto.subtle.sign('HMAC', cryptoKey, new TextEncoder().encode(`${sr}\n${se}`));
  return bytesToBase64(new Uint8Array(sig));
}

export interface SasOptions {
  resourceUri: string;
  key: string;
  keyName?: string;
  /** seconds since the epoch */
  expiry: number;
  /** Default true (device style); false signs the raw resource, as the service SDK does for a hub. */
  encode?: boolean;
}

/** `SharedAccessSignature sr=..&sig=..[&skn=..]&se=..`, field order as the official SDK writes it. */
export async function createSasToken(opts: SasOptions): Promise<string> {
  const sr = opts.encode === false ? opts.resourceUri : encodeStrict(opts.resourceUri);
  let token = `SharedAccessSignature sr=${sr}&sig=${encodeStrict(await signSas(sr, opts.expiry, opts.key))}`;
  if (opts.keyName) token += `&skn=${encodeStrict(opts.keyName)}`;
  return `${token}&se=${opts.expiry}`;
}

/** 32 random bytes in base64: a new device key, the size IoT Hub generates. */
export function newKey(): string {
  return bytesToBase64(crypto.getRandomValues(new Uint8Array(32)));
}
