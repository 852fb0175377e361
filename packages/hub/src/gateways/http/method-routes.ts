/**
 * Direct methods over the service REST API, as azure-iothub's Client.invokeDeviceMethod calls it:
 * POST /twins/{id}/methods with {"methodName","payload","responseTimeoutInSeconds",
 * "connectTimeoutInSeconds"}, answered 200 {"status","payload"} once the device answers. A
 * ServiceConnect operation. The body is read with room for the 128 KB payload whatever
 * http.maxBodyBytes says; the payload limit itself is the domain's (MessageTooLarge).
 */
import { FerryError } from '@ferry/common';
import { METHOD_LIMITS, type Methods, parseMethodCall } from '../../methods/index.js';
import type { GatewayContext } from '../context.js';
import { parseJson, readBody } from './body.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

/** The payload limit plus the rest of the body (name, timeouts, whitespace). */
const BODY_SLACK = 16 * 1024;

function methodsOf(ctx: GatewayContext): Methods {
  if (!ctx.methods) throw new FerryError('NotImplemented', 'this hub serves no direct methods');
  return ctx.methods;
}

export const methodRoutes: Route[] = [
  {
    method: 'POST',
    path: '/twins/{id}/methods',
    operation: () => ({ permission: 'ServiceConnect' as const }),
    async handle({ ctx, req, res, params }) {
      const max = Math.max(ctx.config.http.maxBodyBytes, 2 * METHOD_LIMITS.maxPayloadBytes + BODY_SLACK);
      const call = parseMethodCall(parseJson(await readBody(req, max)));
      const result = await methodsOf(ctx).invoke(params.id!, call);
      sendJson(res, 200, result);
    },
  },
];
