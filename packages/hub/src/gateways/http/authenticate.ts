/**
 * Who is calling: the Authorization header (a SAS token) or, when there is no header, the X.509
 * certificate the client presented in the TLS handshake for the device the path names
 * (`/devices/{id}/...`): what the official device clients send with x509=true.
 */
import type { IncomingMessage } from 'node:http';
import { FerryError } from '@ferry/common';
import type { Principal } from '../../auth/types.js';
import type { ClientCertificate } from '../../auth/x509.js';
import type { GatewayContext } from '../context.js';

/** What the listener knows of the connection a request came on. */
export interface HttpClientInfo {
  /** Leaf first, as presented, with OpenSSL's verdict. */
  clientCertificates?: ClientCertificate;
}

/** The device id of a `/devices/{id}/...` path (still percent-encoded in rawPath), or undefined. */
export function deviceOfPath(rawPath: string): string | undefined {
  const m = /^\/devices\/([^/]+)\//i.exec(rawPath);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

export async function authenticateRequest(
  ctx: GatewayContext,
  req: IncomingMessage,
  rawPath: string,
  client: HttpClientInfo | undefined,
): Promise<Principal> {
  const authorization = req.headers.authorization;
  if (authorization) return ctx.auth.authenticate(authorization);
  const certificates = client?.clientCertificates;
  const deviceId = deviceOfPath(rawPath);
  if (deviceId !== undefined && certificates && ctx.x509) {
    return ctx.x509.authenticate(deviceId, certificates);
  }
  throw new FerryError('IotHubUnauthorizedAccess', 'The Authorization header is missing');
}
