/**
 * Device-side HTTPS C2D (spec c2d-semantics.md 7.2, official-sdk-wire.md C): receive one message,
 * complete / reject (`?reject` in any form) / abandon by lock token. IotHub-MessageLockTimeout and
 * If-Match are ignored: the lock timeout is the hub's, the lock token is in the path.
 */

import type { OutgoingHttpHeaders } from 'node:http';
import { type Delivery, FerryError } from '@ferry/common';
import type { GatewayContext } from '../context.js';
import { definedHeaders, toHeaderName, toHeaderValue } from './headers.js';
import { hasFlag, lockToken } from './params.js';
import { sendBody, sendNoContent } from './respond.js';
import type { Route } from './router.js';

const deviceConnect = (params: Readonly<Record<string, string>>) => ({
  permission: 'DeviceConnect' as const,
  deviceId: params.id!,
});

/**
 * Device tokens are checked against the registry by the authenticator already; a policy token
 * with DeviceConnect is not, so the device must exist and be enabled here too.
 */
async function requireUsableDevice(ctx: GatewayContext, deviceId: string): Promise<void> {
  const identity = await ctx.registry.identity(deviceId);
  if (!identity) throw new FerryError('DeviceNotFound', `Device ${deviceId} not found`);
  if (identity.status === 'disabled') throw new FerryError('DeviceDisabled', `Device ${deviceId} is disabled`);
  ctx.registry.touch(deviceId);
}

export function deliveryHeaders(d: Delivery): OutgoingHttpHeaders {
  const headers = definedHeaders({
    ETag: `"${d.lockToken}"`,
    'Content-Type': d.contentType,
    'iothub-messageid': d.messageId,
    'iothub-correlationid': d.correlationId,
    'iothub-userid': d.userId,
    'iothub-to': `/devices/${d.deviceId}/messages/devicebound`,
    'iothub-sequencenumber': String(d.sequenceNumber),
    'iothub-enqueuedtime': new Date(d.enqueuedTimeUtc).toISOString(),
    'iothub-expiry': d.defaultExpiry ? undefined : new Date(d.expiryTimeUtc).toISOString(),
    'iothub-deliverycount': String(d.deliveryCount),
    'iothub-ack': d.ack,
    ContentType: d.contentType,
    ContentEncoding: d.contentEncoding,
  });
  for (const [name, value] of Object.entries(d.properties)) {
    headers[`iothub-app-${toHeaderName(name)}`] = toHeaderValue(value);
  }
  return headers;
}

export const deviceRoutes: Route[] = [
  {
    method: 'GET',
    path: '/devices/{id}/messages/deviceBound',
    operation: deviceConnect,
    async handle({ ctx, res, params, log }) {
      const id = params.id!;
      await requireUsableDevice(ctx, id);
      const [delivery] = await ctx.engine.receive(id, 1, 'https');
      if (!delivery) {
        sendNoContent(res);
        return;
      }
      log.debug(
        { deviceId: id, lockToken: delivery.lockToken, sequenceNumber: delivery.sequenceNumber },
        'message leased',
      );
      sendBody(res, 200, delivery.body, deliveryHeaders(delivery));
    },
  },
  {
    method: 'DELETE',
    path: '/devices/{id}/messages/deviceBound/{lockToken}',
    operation: deviceConnect,
    async handle({ ctx, res, params, query }) {
      const id = params.id!;
      await requireUsableDevice(ctx, id);
      const token = lockToken(params.lockToken!);
      if (hasFlag(query, 'reject')) await ctx.engine.reject(id, token);
      else await ctx.engine.complete(id, token);
      sendNoContent(res);
    },
  },
  {
    method: 'POST',
    path: '/devices/{id}/messages/deviceBound/{lockToken}/abandon',
    operation: deviceConnect,
    async handle({ ctx, res, params }) {
      const id = params.id!;
      await requireUsableDevice(ctx, id);
      await ctx.engine.abandon(id, lockToken(params.lockToken!));
      sendNoContent(res);
    },
  },
];
