/**
 * Registry REST (spec c2d-semantics.md 7.6, official-sdk-wire.md D.2) and purge (7.3).
 * PUT without If-Match creates (409 when the id exists); with If-Match it updates.
 */
import { FerryError } from '@ferry/common';
import { parseJson, readBody } from './body.js';
import { CONTINUATION, readContinuation, writeContinuation } from './devices-page.js';
import { header } from './headers.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Route } from './router.js';

const registryRead = () => ({ permission: 'RegistryRead' as const });
const registryWrite = () => ({ permission: 'RegistryWrite' as const });
const serviceConnect = () => ({ permission: 'ServiceConnect' as const });

/** The id in the URL names the device; a body naming another one is refused, a body naming none gets it. */
function withPathId(body: unknown, id: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const named = (body as { deviceId?: unknown }).deviceId;
  if (named === undefined) return { ...body, deviceId: id };
  if (named !== id)
    throw new FerryError('ArgumentInvalid', `deviceId "${String(named)}" in the body differs from "${id}" in the URL`);
  return body;
}

export const registryRoutes: Route[] = [
  {
    method: 'PUT',
    path: '/devices/{id}',
    operation: registryWrite,
    async handle({ ctx, req, res, params }) {
      const id = params.id!;
      const body = withPathId(parseJson(await readBody(req, ctx.config.http.maxBodyBytes)), id);
      const ifMatch = header(req, 'if-match');
      const device =
        ifMatch === undefined || ifMatch.trim() === ''
          ? await ctx.registry.create(body)
          : await ctx.registry.update(id, body, ifMatch);
      sendJson(res, 200, device, { ETag: `"${device.etag}"` });
    },
  },
  {
    method: 'GET',
    path: '/devices/{id}',
    operation: registryRead,
    async handle({ ctx, res, params }) {
      const device = await ctx.registry.get(params.id!);
      sendJson(res, 200, device, { ETag: `"${device.etag}"` });
    },
  },
  {
    method: 'DELETE',
    path: '/devices/{id}',
    operation: registryWrite,
    async handle({ ctx, req, res, params }) {
      const ifMatch = header(req, 'if-match');
      await ctx.registry.delete(params.id!, ifMatch === undefined || ifMatch.trim() === '' ? undefined : ifMatch);
      sendNoContent(res);
    },
  },
  {
    method: 'GET',
    path: '/devices',
    operation: registryRead,
    async handle({ ctx, req, res, query }) {
      const top = query.get('top');
      // Anything that is not 1..1000 means 1000; the registry applies that rule. Ferry extension:
      // more pages through the x-ms-continuation header, ids filtered by ?contains= (devices-page.ts).
      const page = await ctx.registry.page({
        top: top === null ? Number.NaN : Number(top),
        after: readContinuation(header(req, CONTINUATION)),
        contains: query.get('contains') ?? undefined,
      });
      sendJson(res, 200, page.devices, page.next === undefined ? {} : { [CONTINUATION]: writeContinuation(page.next) });
    },
  },
  {
    method: 'GET',
    path: '/statistics/devices',
    operation: registryRead,
    async handle({ ctx, res }) {
      sendJson(res, 200, await ctx.registry.statistics());
    },
  },
  {
    method: 'DELETE',
    path: '/devices/{id}/commands',
    operation: serviceConnect,
    async handle({ ctx, res, params, log }) {
      const id = params.id!;
      if (!(await ctx.registry.identity(id))) throw new FerryError('DeviceNotFound', `Device ${id} not found`);
      const totalMessagesPurged = await ctx.engine.purge(id);
      log.info({ deviceId: id, totalMessagesPurged }, 'queue purged');
      sendJson(res, 200, { deviceId: id, moduleId: null, totalMessagesPurged });
    },
  },
];
