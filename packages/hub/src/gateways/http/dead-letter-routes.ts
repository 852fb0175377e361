/**
 * Ferry's dead-letter endpoints (docs/dead-letters.md), ServiceConnect, changing nothing an
 * official client sees:
 * - GET    /devices/{id}/messages/deviceBound/deadLetters?top=N           kept dead letters, oldest first
 * - POST   /devices/{id}/messages/deviceBound/deadLetters/{seq}/requeue   back at the tail of the queue
 * - DELETE /devices/{id}/messages/deviceBound/deadLetters/{seq}           removed
 * Requeue and delete go through the engine's group commit: answered after commit.
 */
import { FerryError } from '@ferry/common';
import type { GatewayContext } from '../context.js';
import { pendingJson } from './console-routes.js';
import { queryValue } from './params.js';
import { sendJson, sendNoContent } from './respond.js';
import type { Route } from './router.js';

const serviceConnect = () => ({ permission: 'ServiceConnect' as const });
const DEFAULT_TOP = 100;
const MAX_TOP = 1000;

async function registered(ctx: GatewayContext, id: string): Promise<void> {
  if (!(await ctx.registry.identity(id))) throw new FerryError('DeviceNotFound', `Device ${id} not found`);
}

function sequenceNumber(raw: string): number {
  const n = Number(raw);
  if (!/^[0-9]{1,15}$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new FerryError('ArgumentInvalid', `sequence number "${raw}" is not a whole number from 1`);
  }
  return n;
}

export const deadLetterRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/devices/{id}/messages/deviceBound/deadLetters',
    operation: serviceConnect,
    async handle({ ctx, res, params, query }) {
      const id = params.id!;
      const raw = queryValue(query, 'top');
      const top = raw === undefined ? DEFAULT_TOP : Number(raw);
      if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) {
        throw new FerryError('ArgumentInvalid', `top must be a whole number from 1 to ${MAX_TOP}`);
      }
      await registered(ctx, id);
      const letters = await ctx.engine.deadLetters(id, top);
      sendJson(
        res,
        200,
        letters.map((m) => ({
          ...pendingJson({ ...m, state: 'DeadLettered', lockedUntil: null }),
          reason: m.reason,
          deadLetteredTimeUtc: new Date(m.deadLetteredTimeUtc).toISOString(),
        })),
      );
    },
  },
  {
    method: 'POST',
    path: '/devices/{id}/messages/deviceBound/deadLetters/{sequenceNumber}/requeue',
    operation: serviceConnect,
    async handle({ ctx, res, params }) {
      const id = params.id!;
      const seq = sequenceNumber(params.sequenceNumber!);
      await registered(ctx, id);
      sendJson(res, 200, { sequenceNumber: await ctx.engine.requeueDeadLetter(id, seq) });
    },
  },
  {
    method: 'DELETE',
    path: '/devices/{id}/messages/deviceBound/deadLetters/{sequenceNumber}',
    operation: serviceConnect,
    async handle({ ctx, res, params }) {
      const id = params.id!;
      const seq = sequenceNumber(params.sequenceNumber!);
      await registered(ctx, id);
      await ctx.engine.deleteDeadLetter(id, seq);
      sendNoContent(res);
    },
  },
];
