/**
 * Consumer groups of the built-in Event Hubs-compatible endpoint, a Ferry extension on the hub's
 * REST API in the shape of IoT Hub's resource provider
 * (`.../eventHubEndpoints/events/ConsumerGroups/{name}`, answered as `{ name, properties }`):
 * listing and getting need RegistryRead, creating and deleting RegistryWrite (docs/telemetry.md).
 * An existing name is 409 Conflict, a missing group 404 NotFound.
 */
import { FerryError } from '@ferry/common';
import type { Telemetry } from '../../telemetry/telemetry.js';
import type { GatewayContext } from '../context.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Route } from './router.js';

const BASE = '/eventHubEndpoints/events/consumerGroups';
const registryRead = () => ({ permission: 'RegistryRead' as const });
const registryWrite = () => ({ permission: 'RegistryWrite' as const });

function telemetryOf(ctx: GatewayContext): Telemetry {
  if (!ctx.telemetry) throw new FerryError('NotImplemented', 'Device-to-cloud telemetry is not served here');
  return ctx.telemetry;
}

const entry = (name: string) => ({ name, properties: { name } });

export const consumerGroupRoutes: Route[] = [
  {
    method: 'GET',
    path: BASE,
    operation: registryRead,
    async handle({ ctx, res }) {
      const groups = await telemetryOf(ctx).consumerGroups();
      sendJson(res, 200, { value: groups.map(entry) });
    },
  },
  {
    method: 'GET',
    path: `${BASE}/{name}`,
    operation: registryRead,
    async handle({ ctx, res, params }) {
      const name = await telemetryOf(ctx).consumerGroup(params.name!);
      if (name === undefined)
        throw new FerryError('NotFound', `There is no consumer group "${params.name!.slice(0, 100)}"`);
      sendJson(res, 200, entry(name));
    },
  },
  {
    method: 'PUT',
    path: `${BASE}/{name}`,
    operation: registryWrite,
    async handle({ ctx, res, params }) {
      const name = params.name!;
      await telemetryOf(ctx).createConsumerGroup(name);
      sendJson(res, 200, entry(name));
    },
  },
  {
    method: 'DELETE',
    path: `${BASE}/{name}`,
    operation: registryWrite,
    async handle({ ctx, res, params }) {
      await telemetryOf(ctx).deleteConsumerGroup(params.name!);
      sendNoContent(res);
    },
  },
];
