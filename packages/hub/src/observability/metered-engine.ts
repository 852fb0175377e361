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
  const sent = (result: string) => metrics.countSends(result);
  const sendDone = () => metrics.inFlightChange('send', -1);
  const settleDone = () => metrics.inFlightChange('settle', -1);
  const settledBy: Record<string, (result: string) => void> = {
    complete: (result) => metrics.countSettle('complete', result),
    abandon: (result) => metrics.countSettle('abandon', result),
    reject: (result) => metrics.countSettle('reject', result),
  };
  const settling = <T>(work: () => Promise<T>, outcome: 'complete' | 'abandon' | 'reject'): Promise<T> => {
    metrics.inFlightChange('settle', 1);
    return counted(work, settledBy[outcome]!, settleDone);
  };
  return {
    send(deviceId, message) {
      metrics.inFlightChange('send', 1);
      return counted(() => engine.send(deviceId, message), sent, sendDone);
    },
    async sendMany(items) {
      metrics.inFlightChange('send', items.length);
      try {
        const results = await engine.sendMany(items);
        let ok = 0;
        for (const r of results) {
          if (r instanceof Error) sent(resultOf(r));
          else ok++;
        }
        if (ok > 0) metrics.countSends('ok', ok);
        return results;
      } finally {
        metrics.inFlightChange('send', -items.length);
      }
    },
    receive: (deviceId, max) => engine.receive(deviceId, max),
    ...(engine.openReceiver && {
      openReceiver: engine.openReceiver.bind(engine),
    }),
    complete: (deviceId, lockToken) => settling(() => engine.complete(deviceId, lockToken), 'complete'),
    abandon: (deviceId, lockToken) => settling(() => engine.abandon(deviceId, lockToken), 'abandon'),
    reject: (deviceId, lockToken) => settling(() => engine.reject(deviceId, lockToken), 'reject'),
    ...(engine.settleTo && {
      settleTo(deviceId, lockToken, action, done) {
        metrics.inFlightChange('settle', 1);
        engine.settleTo!(deviceId, lockToken, action, (err) => {
          settledBy[action]!(err ? resultOf(err) : 'ok');
          metrics.inFlightChange('settle', -1);
          done(err);
        });
      },
    }),
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
