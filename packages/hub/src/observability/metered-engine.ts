/** A C2dEngine that counts sends and settlements on their way to the real one. */
import { isFerryError } from '@ferry/common';
import type { C2dEngine } from '../engine/types.js';
import type { HubMetrics } from './metrics.js';

function resultOf(err: unknown): string {
  return isFerryError(err) ? err.errorName : 'error';
}

async function counted<T>(work: Promise<T>, count: (result: string) => void): Promise<T> {
  try {
    const value = await work;
    count('ok');
    return value;
  } catch (err) {
    count(resultOf(err));
    throw err;
  }
}

export function meteredEngine(engine: C2dEngine, metrics: HubMetrics): C2dEngine {
  const settle = (outcome: string) => (result: string) => metrics.settles.inc({ outcome, result });
  return {
    send: (deviceId, message) => counted(engine.send(deviceId, message), (result) => metrics.sends.inc({ result })),
    async sendMany(items) {
      const results = await engine.sendMany(items);
      for (const r of results) metrics.sends.inc({ result: r instanceof Error ? resultOf(r) : 'ok' });
      return results;
    },
    receive: (deviceId, max) => engine.receive(deviceId, max),
    complete: (deviceId, lockToken) => counted(engine.complete(deviceId, lockToken), settle('complete')),
    abandon: (deviceId, lockToken) => counted(engine.abandon(deviceId, lockToken), settle('abandon')),
    reject: (deviceId, lockToken) => counted(engine.reject(deviceId, lockToken), settle('reject')),
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
