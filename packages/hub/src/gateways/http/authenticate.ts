/**
 * Who is calling: the Authorization header (a SAS token) or, for device routes when there is no
 * header, the X.509 certificate the client presented in the TLS handshake (what the official
 * device clients send with x509=true: no Authorization at all).
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { FerryError } from '@ferry/common';
import type { Operation, Principal } from '../../auth/types.js';
import type { GatewayContext } from '../context.js';

/** What the listener knows of the connection a request came on. */
export interface HttpClientInfo {
  /** Leaf first, as presented (unverified). */
  clientCertificates?: readonly X509Certificate[];
}

export async function authenticateRequest(
  ctx: GatewayContext,
  req: IncomingMessage,
  op: Operation,
  client: HttpClientInfo | undefined,
): Promise<Principal> {
  const authorization = req.headers.authorization;
  if (authorization) return ctx.auth.authenticate(authorization);
  const certificates = client?.clientCertificates;
  if (op.permission === 'DeviceConnect' && certificates?.length && ctx.x509) {
    return ctx.x509.authenticate(op.deviceId, certificates);
  }
  throw new FerryError('IotHubUnauthorizedAccess', 'The Authorization header is missing');
}
