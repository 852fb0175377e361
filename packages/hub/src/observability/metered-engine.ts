/** A C2dEngine that counts sends and settlements on their way to the real one. */
import { isFerryError } from '@ferry/common';
import type { C2dEngine } from '../engine/types.js';
import type { HubMetrics } from './metrics.js';

function resultOf(err: unknown): string {
  return isFerryError(err) ? err.errorName : 'error';
}

async function counted<T>(work: () => Promise<T>, count: (result: string) => void, done: () => void): Promise<T> {
  try {
    const value = await work();
    count('ok');
    return value;
  } catch (err) {
    count(resultOf(err));
    throw err;
  } finally {
    done();
  }
}

export function meteredEngine(engine: C2dEngine, metrics: HubMetrics): C2dEngine {
  const { inFlight } = metrics;
  const sent = (result: string) => metrics.sends.inc({ result });
  const sendDone = () => inFlight.dec({ operation: 'send' });
  const settle = (outcome: string) => (result: string) => metrics.settles.inc({ outcome, result });
  const settleDone = () => inFlight.dec({ operation: 'settle' });
  const settling = <T>(work: () => Promise<T>, outcome: string): Promise<T> => {
    inFlight.inc({ operation: 'settle' });
    return counted(work, settle(outcome), settleDone);
  };
  return {
    send(deviceId, message) {
      inFlight.inc({ operation: 'send' });
      return counted(() => engine.send(deviceId, message), sent, sendDone);
    },
    async sendMany(items) {
      inFlight.inc({ operation: 'send' }, items.length);
      try {
        const results = await engine.sendMany(items);
        for (const r of results) sent(r instanceof Error ? resultOf(r) : 'ok');
        return results;
      } finally {
        inFlight.dec({ operation: 'send' }, items.length);
      }
    },
    receive: (deviceId, max) => engine.receive(deviceId, max),
    ...(engine.awaitMessages && {
      awaitMessages: engine.awaitMessages.bind(engine),
    }),
    complete: (deviceId, lockToken) => settling(() => engine.complete(deviceId, lockToken), 'complete'),
    abandon: (deviceId, lockToken) => settling(() => engine.abandon(deviceId, lockToken), 'abandon'),
    reject: (deviceId, lockToken) => settling(() => engine.reject(deviceId, lockToken), 'reject'),
    release: (deviceId, lockTokens) => engine.release(deviceId, lockTokens),
    purge: (deviceId) => engine.purge(deviceId),
    queueDepth: (deviceId) => engine.queueDepth(deviceId),
    onAvailable: (deviceId, listener) => engine.onAvailable(deviceId, listener),
    receiveFeedback: () => engine.receiveFeedback(),
    completeFeedback: (lockToken) => engine.completeFeedback(lockToken),
    abandonFeedback: (lockToken) => engine.abandonFeedback(lockToken),
    rejectFeedback: (lockToken) => engine.rejectFeedback(lockToken),
    onFeedbackAvailable: (listener) => engine.onFeedbackAvailable(listener),
  };
}
