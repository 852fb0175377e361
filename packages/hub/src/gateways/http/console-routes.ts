/**
 * Ferry's extension endpoints for the console and any other client (README "Web console"):
 * - GET /devices/{id}/messages/deviceBound/pending?top=N  the queue's messages, leasing nothing
 * - GET /events[?deviceId=X]  a Server-Sent Events stream of statistics and feedback records
 * - GET /hubInfo  the caller's rights, the CA file, and the policies that grant no more than it has
 * The first two need ServiceConnect; the statistics include the registry's counts for RegistryRead.
 */
import { FerryError, formatHubConnectionString } from '@ferry/common';
import type { HubInspector } from '../../console/inspector.js';
import type { PendingMessage } from '../../store/types.js';
import type { EventStreams } from './event-stream.js';
import { queryValue } from './params.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

const serviceConnect = () => ({ permission: 'ServiceConnect' as const });
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;
/** Bytes of each body shown by the peek. */
export const BODY_PREVIEW_BYTES = 1024;
const STATS_INTERVAL_MS = 1000;

function pendingJson(m: PendingMessage) {
  return {
    sequenceNumber: m.sequenceNumber,
    messageId: m.messageId ?? null,
    correlationId: m.correlationId ?? null,
    userId: m.userId ?? null,
    contentType: m.contentType ?? null,
    contentEncoding: m.contentEncoding ?? null,
    ack: m.ack,
    state: m.state,
    deliveryCount: m.deliveryCount,
    enqueuedTimeUtc: new Date(m.enqueuedTimeUtc).toISOString(),
    expiryTimeUtc: new Date(m.expiryTimeUtc).toISOString(),
    lockedUntilUtc: m.lockedUntil === null ? null : new Date(m.lockedUntil).toISOString(),
    properties: m.properties,
    bodySize: m.body.length,
    /** base64 of the first BODY_PREVIEW_BYTES bytes */
    bodyPreview: m.body.subarray(0, BODY_PREVIEW_BYTES).toString('base64'),
  };
}

export function consoleRoutes(inspector: HubInspector, streams: EventStreams, caFile?: string): Route[] {
  return [
    {
      method: 'GET',
      path: '/hubInfo',
      // Any shared access policy: it learns its own rights and the policies that grant no more.
      operation: () => null,
      async handle({ ctx, res, principal }) {
        if (principal.kind !== 'policy') {
          throw new FerryError('IotHubUnauthorizedAccess', 'GET /hubInfo needs a shared access policy credential');
        }
        const mine = principal.permissions;
        const host = ctx.config.hosts[0]!;
        const { c2d } = ctx.config;
        sendJson(res, 200, {
          hubName: ctx.hubName,
          hosts: ctx.config.hosts,
          caFile: caFile ?? null,
          caller: { policyName: principal.policyName, rights: [...mine] },
          policies: ctx.registry
            .policies()
            .filter((p) => p.rights.every((r) => mine.has(r)))
            .map((p) => ({
              keyName: p.keyName,
              rights: p.rights,
              connectionString: formatHubConnectionString({
                hostName: host,
                sharedAccessKeyName: p.keyName,
                sharedAccessKey: p.primaryKey,
              }),
            })),
          c2d: { maxQueueDepth: c2d.maxQueueDepth, maxTtlMs: c2d.maxTtlMs, defaultTtlMs: c2d.defaultTtlMs },
        });
      },
    },
    {
      method: 'GET',
      path: '/devices/{id}/messages/deviceBound/pending',
      operation: serviceConnect,
      async handle({ ctx, res, params, query }) {
        const id = params.id!;
        const raw = queryValue(query, 'top');
        const top = raw === undefined ? DEFAULT_TOP : Number(raw);
        if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) {
          throw new FerryError('ArgumentInvalid', `top must be a whole number from 1 to ${MAX_TOP}`);
        }
        if (!(await ctx.registry.identity(id))) throw new FerryError('DeviceNotFound', `Device ${id} not found`);
        sendJson(res, 200, (await inspector.pending(id, top)).map(pendingJson));
      },
    },
    {
      method: 'GET',
      path: '/events',
      operation: serviceConnect,
      async handle({ ctx, res, query, principal, log }) {
        const mayReadRegistry = ctx.auth.can(principal, { permission: 'RegistryRead' });
        streams.start(res, {
          inspector,
          intervalMs: STATS_INTERVAL_MS,
          expiresAt: principal.expiresAt,
          clock: ctx.clock,
          deviceId: queryValue(query, 'deviceid'),
          extra: mayReadRegistry
            ? async () => {
                const s = await ctx.registry.statistics();
                return {
                  devices: {
                    total: s.totalDeviceCount,
                    enabled: s.enabledDeviceCount,
                    disabled: s.disabledDeviceCount,
                  },
                };
              }
            : undefined,
          log: log.child({ stream: 'events' }),
        });
      },
    },
  ];
}
