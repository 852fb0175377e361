/**
 * Ferry's message history endpoint (docs/message-history.md), ServiceConnect, changing nothing an
 * official client sees:
 * - GET /devices/{id}/messages/deviceBound/history?messageId=...
 * Every kept copy of the device's messages with that id (a requeued dead letter is a second copy),
 * each with its steps in order. Reads only.
 */
import { FerryError } from '@ferry/common';
import { FINAL } from '../../store/history-rows.js';
import type { HistoryEvent } from '../../store/types.js';
import { queryValue } from './params.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

/** One step as JSON: times in ISO 8601, the fields a step does not have left out. */
function stepJson(e: HistoryEvent): Record<string, unknown> {
  const { sequenceNumber: _seq, at, kind, ...rest } = e;
  return { kind, timeUtc: new Date(at).toISOString(), ...rest };
}

/** The steps grouped by copy (they come ordered by sequence number, then as they happened). */
export function historyJson(deviceId: string, messageId: string, events: readonly HistoryEvent[]) {
  const copies: Array<{ sequenceNumber: number; ended: boolean; steps: Record<string, unknown>[] }> = [];
  for (const e of events) {
    let copy = copies[copies.length - 1];
    if (copy?.sequenceNumber !== e.sequenceNumber) {
      copy = { sequenceNumber: e.sequenceNumber, ended: false, steps: [] };
      copies.push(copy);
    }
    copy.steps.push(stepJson(e));
    if (FINAL.has(e.kind)) copy.ended = true;
  }
  return { deviceId, messageId, copies };
}

export const historyRoute: Route = {
  method: 'GET',
  path: '/devices/{id}/messages/deviceBound/history',
  operation: () => ({ permission: 'ServiceConnect' }),
  async handle({ ctx, res, params, query }) {
    const id = params.id!;
    const messageId = queryValue(query, 'messageid');
    if (messageId === undefined || messageId === '') {
      throw new FerryError('ArgumentInvalid', 'the query parameter messageId is required');
    }
    if (!(await ctx.registry.identity(id))) throw new FerryError('DeviceNotFound', `Device ${id} not found`);
    sendJson(res, 200, historyJson(id, messageId, await ctx.engine.messageHistory(id, messageId)));
  },
};
