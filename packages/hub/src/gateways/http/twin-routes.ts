/**
 * Twins over the service REST API, as azure-iothub's Registry calls it: GET /twins/{id},
 * PATCH /twins/{id} (merge tags and desired), PUT /twins/{id} (replace them), with If-Match;
 * POST /devices/query with x-ms-continuation and x-ms-max-item-count. Permissions as IoT Hub
 * documents them: twins and queries are ServiceConnect operations; reading a twin and running a
 * query are also allowed with RegistryRead.
 */
import { FerryError } from '@ferry/common';
import type { Principal } from '../../auth/types.js';
import { parseQuery, type Twins } from '../../twins/index.js';
import type { GatewayContext } from '../context.js';
import { parseJson, readBody } from './body.js';
import { header } from './headers.js';
import { sendDeviceJobs } from './job-routes.js';
import { sendJson } from './respond.js';
import type { Route, RouteCall } from './router.js';

const serviceConnect = () => ({ permission: 'ServiceConnect' as const });

/** ServiceConnect, or RegistryRead for reads. */
function authorizeRead(ctx: GatewayContext, principal: Principal): void {
  if (ctx.auth.can(principal, { permission: 'RegistryRead' })) return;
  ctx.auth.authorize(principal, { permission: 'ServiceConnect' });
}

function twinsOf(ctx: GatewayContext): Twins {
  if (!ctx.twins) throw new FerryError('NotImplemented', 'this hub serves no twins');
  return ctx.twins;
}

async function update({ ctx, req, res, params }: RouteCall, mode: 'patch' | 'replace'): Promise<void> {
  const body = parseJson(await readBody(req, ctx.config.http.maxBodyBytes));
  const twin = await twinsOf(ctx).update(params.id!, body, mode, header(req, 'if-match'));
  sendJson(res, 200, twin, { ETag: `"${twin.etag}"` });
}

export const twinRoutes: Route[] = [
  {
    method: 'GET',
    path: '/twins/{id}',
    operation: () => null,
    async handle({ ctx, res, params, principal }) {
      authorizeRead(ctx, principal);
      const twin = await twinsOf(ctx).get(params.id!);
      sendJson(res, 200, twin, { ETag: `"${twin.etag}"` });
    },
  },
  { method: 'PATCH', path: '/twins/{id}', operation: serviceConnect, handle: (call) => update(call, 'patch') },
  { method: 'PUT', path: '/twins/{id}', operation: serviceConnect, handle: (call) => update(call, 'replace') },
  {
    method: 'POST',
    path: '/devices/query',
    operation: () => null,
    async handle({ ctx, req, res, principal }) {
      authorizeRead(ctx, principal);
      const body = parseJson(await readBody(req, ctx.config.http.maxBodyBytes));
      const text = (body as { query?: unknown } | null)?.query;
      if (typeof text !== 'string') throw new FerryError('ArgumentInvalid', 'the body must be {"query": "SELECT ..."}');
      const max = header(req, 'x-ms-max-item-count');
      const parsed = parseQuery(text);
      if (parsed.source === 'devices.jobs') {
        await sendDeviceJobs(ctx, res, parsed, max, header(req, 'x-ms-continuation'));
        return;
      }
      const page = await twinsOf(ctx).query(
        text,
        max === undefined ? Number.NaN : Number(max),
        header(req, 'x-ms-continuation'),
      );
      sendJson(res, 200, page.items, {
        'x-ms-item-type': page.itemType,
        ...(page.continuation === undefined ? {} : { 'x-ms-continuation': page.continuation }),
      });
    },
  },
];
