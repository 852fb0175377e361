/**
 * Paging of GET /devices beyond one answer (a Ferry extension, shaped as IoT Hub's query API
 * pages): when more devices follow, the answer carries `x-ms-continuation: <token>`; sending that
 * header back gets the next page. The token is opaque to clients (base64url of the last id).
 */
import { FerryError } from '@ferry/common';

export const CONTINUATION = 'x-ms-continuation';

export function writeContinuation(lastDeviceId: string): string {
  return Buffer.from(lastDeviceId, 'utf8').toString('base64url');
}

/** The id to continue after; undefined for a first page (no or an empty header). */
export function readContinuation(token: string | undefined): string | undefined {
  if (token === undefined || token.trim() === '') return undefined;
  const t = token.trim();
  const id = Buffer.from(t, 'base64url').toString('utf8');
  if (id === '' || writeContinuation(id) !== t) {
    throw new FerryError('ArgumentInvalid', `The ${CONTINUATION} header is not a token this hub gave`);
  }
  return id;
}
