/**
 * A C2D message in HTTP headers: what a back end sends (Ferry's send extension, `POST
 * /devices/{id}/messages/deviceBound`) and what a device receives (`GET .../deviceBound`).
 * Only the fields that are set are written (official-sdk-wire.md C, F "Device HTTP").
 */
import { FerryError } from '../errors.js';
import type { Ack, OutgoingMessage } from '../message.js';
import { fromHeaderName, fromHeaderValue, toHeaderName, toHeaderValue } from './http-text.js';
import { ACKS, parseCount, parseTime, type ReceivedFields, setDefined } from './message-fields.js';

export const APP_HEADER_PREFIX = 'iothub-app-';

/** Looks a header up by its lower-case name; undefined when absent or empty. */
export type HeaderReader = (name: string) => string | undefined;

/** Request headers for a send: system properties in `iothub-*`, the body's type in Content-Type. */
export function sendHeaders(m: Omit<OutgoingMessage, 'body'>): Record<string, string> {
  const h: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) h[name] = toHeaderValue(value);
  };
  set('iothub-messageid', m.messageId);
  set('iothub-correlationid', m.correlationId);
  set('iothub-userid', m.userId);
  set('iothub-ack', m.ack);
  set('iothub-expiry', m.expiryTimeUtc === undefined ? undefined : new Date(m.expiryTimeUtc).toISOString());
  set('content-type', m.contentType);
  set('content-encoding', m.contentEncoding);
  for (const [name, value] of Object.entries(m.properties ?? {}))
    set(`${APP_HEADER_PREFIX}${toHeaderName(name)}`, value);
  return h;
}

/** Node's request or response headers as a HeaderReader (values joined, UTF-8 decoded). */
export function headerReader(headers: Record<string, string | string[] | number | undefined>): HeaderReader {
  return (name) => {
    const v = headers[name];
    if (v === undefined) return undefined;
    const s = Array.isArray(v) ? v.join(', ') : String(v);
    return s === '' ? undefined : fromHeaderValue(s);
  };
}

function appProperties(names: Iterable<string>, read: HeaderReader): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const name of names) {
    if (!name.startsWith(APP_HEADER_PREFIX)) continue;
    const key = fromHeaderName(name.slice(APP_HEADER_PREFIX.length));
    if (key === '')
      throw new FerryError('ArgumentInvalid', 'An iothub-app- header needs a property name after the prefix');
    properties[key] = read(name) ?? '';
  }
  return properties;
}

/** The inverse of sendHeaders (the hub's send route). Throws ArgumentInvalid on a bad ack or expiry. */
export function messageFromSendHeaders(
  names: Iterable<string>,
  read: HeaderReader,
  parseExpiry: (text: string) => number | undefined = parseTime,
): Omit<OutgoingMessage, 'body'> {
  const ackText = read('iothub-ack');
  if (ackText !== undefined && !ACKS.has(ackText)) {
    throw new FerryError(
      'ArgumentInvalid',
      `iothub-ack must be one of none, positive, negative, full; got "${ackText.slice(0, 40)}"`,
    );
  }
  const expiryText = read('iothub-expiry');
  const expiry = expiryText === undefined ? undefined : parseExpiry(expiryText);
  if (expiryText !== undefined && (expiry === undefined || !/^\d{4}-\d\d-\d\dT/.test(expiryText))) {
    throw new FerryError(
      'ArgumentInvalid',
      `iothub-expiry must be an ISO 8601 date-time; got "${expiryText.slice(0, 40)}"`,
    );
  }
  const m: Omit<OutgoingMessage, 'body'> = { properties: appProperties(names, read) };
  setDefined(m, 'messageId', read('iothub-messageid'));
  setDefined(m, 'correlationId', read('iothub-correlationid'));
  setDefined(m, 'userId', read('iothub-userid'));
  setDefined(m, 'contentType', read('content-type'));
  setDefined(m, 'contentEncoding', read('content-encoding'));
  setDefined(m, 'ack', ackText as Ack | undefined);
  setDefined(m, 'expiryTimeUtc', expiry);
  return m;
}

/** The lock token in an ETag, `"<token>"` (the official client strips the first and last character). */
export function lockTokenFromEtag(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/**
 * A 200 answer of `GET /devices/{id}/messages/deviceBound` as fields and lock token. The message's
 * own content type travels in `ContentType` (Content-Type describes the HTTP body and falls back
 * to application/octet-stream).
 */
export function receivedFromHeaders(
  names: Iterable<string>,
  read: HeaderReader,
): ReceivedFields & { lockToken?: string } {
  const ackText = read('iothub-ack');
  const m: ReceivedFields & { lockToken?: string } = { properties: appProperties(names, read) };
  setDefined(m, 'lockToken', lockTokenFromEtag(read('etag')));
  setDefined(m, 'messageId', read('iothub-messageid'));
  setDefined(m, 'correlationId', read('iothub-correlationid'));
  setDefined(m, 'userId', read('iothub-userid'));
  setDefined(m, 'contentType', read('contenttype'));
  setDefined(m, 'contentEncoding', read('contentencoding'));
  setDefined(m, 'ack', ackText !== undefined && ACKS.has(ackText) ? (ackText as Ack) : undefined);
  setDefined(m, 'expiryTimeUtc', parseTime(read('iothub-expiry')));
  setDefined(m, 'enqueuedTimeUtc', parseTime(read('iothub-enqueuedtime')));
  setDefined(m, 'sequenceNumber', parseCount(read('iothub-sequencenumber')));
  setDefined(m, 'deliveryCount', parseCount(read('iothub-deliverycount')));
  setDefined(m, 'to', read('iothub-to'));
  return m;
}
