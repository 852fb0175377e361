/**
 * Ferry's extension endpoints for the console and any other client (README "Web console"):
 * - GET /devices/{id}/messages/deviceBound/pending?top=N  the queue's messages, leasing nothing
 * - GET /events[?deviceId=X]  a Server-Sent Events stream of statistics and feedback records
 * - GET /events/telemetry[?deviceId=X]  a Server-Sent Events stream of live telemetry
 * - GET /hubInfo  the caller's rights, the CA file, and the connection strings of the policies
 *   whose every right the caller can exercise; only for a policy token scoped to the whole hub
 * The first three need ServiceConnect; the statistics include the registry's counts for RegistryRead.
 * The routes are a static table (the authorization matrix test enumerates them); the inspector
 * and the event streams come with each call.
 */
import { FerryError, formatHubConnectionString, type StoredMessage } from '@ferry/common';
import type { Permission, Principal } from '../../auth/types.js';
import type { StoredEvent } from '../../store/event-log.js';
import type { GatewayContext } from '../context.js';
import { queryValue } from './params.js';
import { sendJson } from './respond.js';
import type { ConsoleServices, Route, RouteCall } from './router.js';
import { watchTelemetry } from './telemetry-watch.js';

const serviceConnect = () => ({ permission: 'ServiceConnect' as const });
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;
/** Bytes of each body shown by the peek. */
export const BODY_PREVIEW_BYTES = 1024;
const STATS_INTERVAL_MS = 1000;

/** The pending peek's JSON for one message (dead-letter-routes.ts adds its reason and time). */
export function pendingJson(m: StoredMessage & { state: string; lockedUntil: number | null }) {
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

/** One live telemetry event as GET /events/telemetry sends it. */
export function telemetryJson(e: StoredEvent) {
  return {
    deviceId: e.deviceId,
    partition: e.partition,
    sequenceNumber: e.sequenceNumber,
    enqueuedTimeUtc: new Date(e.enqueuedTime).toISOString(),
    messageId: e.system['message-id'] ?? null,
    correlationId: e.system['correlation-id'] ?? null,
    contentType: e.system['content-type'] ?? null,
    contentEncoding: e.system['content-encoding'] ?? null,
    properties: e.properties,
    bodySize: e.body.length,
    /** base64 of the first BODY_PREVIEW_BYTES bytes */
    bodyPreview: e.body.subarray(0, BODY_PREVIEW_BYTES).toString('base64'),
  };
}

function services(call: RouteCall): ConsoleServices {
  if (!call.console) throw new FerryError('NotFound', 'This hub does not serve its console');
  return call.console;
}

/**
 * Whether a whole-hub policy token can exercise `right` (RegistryWrite implies RegistryRead, as
 * the authenticator says; DeviceConnect at the whole hub is the policy's DeviceConnect).
 */
function canExercise(ctx: GatewayContext, principal: Principal & { kind: 'policy' }, right: Permission): boolean {
  if (right === 'DeviceConnect') return principal.permissions.has(right) && principal.expiresAt >= ctx.clock.now();
  return ctx.auth.can(principal, { permission: right });
}

export const consoleRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/hubInfo',
    // Issue 23: it hands out keys, so only a token that could sign for them itself may ask: a
    // policy token whose scope is the whole hub; a token scoped to one device or to /messages
    // must not turn into the owner's key. The policies listed are those whose every right the
    // token can exercise.
    operation: () => null,
    async handle(call) {
      const { ctx, res, principal } = call;
      if (principal.kind !== 'policy') {
        throw new FerryError('IotHubUnauthorizedAccess', 'GET /hubInfo needs a shared access policy credential');
      }
      if (principal.scope !== '') {
        throw new FerryError(
          'IotHubUnauthorizedAccess',
          `GET /hubInfo needs a token for the whole hub; this one is scoped to "${principal.scope}"`,
        );
      }
      const { caFile } = services(call);
      const host = ctx.config.hosts[0]!;
      const { c2d } = ctx.config;
      sendJson(res, 200, {
        hubName: ctx.hubName,
        hosts: ctx.config.hosts,
        caFile: caFile ?? null,
        caller: { policyName: principal.policyName, rights: [...principal.permissions] },
        policies: ctx.registry
          .policies()
          .filter((p) => p.rights.every((r) => canExercise(ctx, principal, r)))
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
    async handle(call) {
      const { ctx, res, params, query } = call;
      const { inspector } = services(call);
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
    async handle(call) {
      const { ctx, res, query, principal, log } = call;
      const { inspector, streams } = services(call);
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
  {
    method: 'GET',
    path: '/events/telemetry',
    operation: serviceConnect,
    async handle(call) {
      const { ctx, res, query, principal, log } = call;
      const { streams } = services(call);
      const telemetry = ctx.telemetry;
      if (!telemetry) throw new FerryError('NotImplemented', 'Device-to-cloud telemetry is not served here');
      const deviceId = queryValue(query, 'deviceid');
      const streamLog = log.child({ stream: 'telemetry' });
      streams.serve(res, { expiresAt: principal.expiresAt, clock: ctx.clock, log: streamLog }, (send) =>
        watchTelemetry(telemetry, {
          deviceId,
          onReady: () => send('ready', { partitions: telemetry.partitions }),
          onEvent: (e) => send('telemetry', telemetryJson(e)),
          onSkipped: (partition, count) => send('skipped', { partition, count }),
          onError(err) {
            streamLog.warn({ err }, 'telemetry stream: reading the event log failed');
            send('error', { message: 'Reading the event log failed; the stream goes on with the next events' });
          },
        }),
      );
    },
  },
];
