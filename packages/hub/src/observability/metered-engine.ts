/**
 * A C2dEngine that counts sends and settlements on their way to the real one, and times each
 * message's wait: enqueue to delivery, delivery to settle (delivery-timing.ts). Per message that
 * adds a clock read and a map entry, no promise or closure; per receiver, one wrapper object.
 */
import { type Delivery, isFerryError } from '@ferry/common';
import { type Clock, systemClock } from '../clock.js';
import type { C2dEngine, ReceiverHandlers } from '../engine/types.js';
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

export function meteredEngine(engine: C2dEngine, metrics: HubMetrics, clock: Clock = systemClock): C2dEngine {
  const timing = metrics.deliveries;
  const delivered = (batch: Delivery[]): Delivery[] => {
    timing.delivered(batch, clock.now());
    return batch;
  };
  const sent = (result: string) => metrics.countSends(result);
  const sendDone = () => metrics.inFlightChange('send', -1);
  const settleDone = () => metrics.inFlightChange('settle', -1);
  const settledBy: Record<string, (result: string) => void> = {
    complete: (result) => metrics.countSettle('complete', result),
    abandon: (result) => metrics.countSettle('abandon', result),
    reject: (result) => metrics.countSettle('reject', result),
  };
  const settling = <T>(
    work: () => Promise<T>,
    outcome: 'complete' | 'abandon' | 'reject',
    lockToken: string,
  ): Promise<T> => {
    timing.settling(lockToken, clock.now());
    metrics.inFlightChange('settle', 1);
    return counted(work, settledBy[outcome]!, settleDone);
  };
  return {
    send(deviceId, message, origin) {
      metrics.inFlightChange('send', 1);
      return counted(() => engine.send(deviceId, message, origin), sent, sendDone);
    },
    sendMany(items) {
      // No async function: a service's sends often come one per call (a promise and two handlers, no more).
      const n = items.length;
      metrics.inFlightChange('send', n);
      return engine.sendMany(items).then(
        (results) => {
          metrics.inFlightChange('send', -n);
          let ok = 0;
          for (const r of results) {
            if (r instanceof Error) sent(resultOf(r));
            else ok++;
          }
          if (ok > 0) metrics.countSends('ok', ok);
          return results;
        },
        (err: unknown) => {
          metrics.inFlightChange('send', -n);
          throw err;
        },
      );
    },
    receive: (deviceId, max, protocol) => engine.receive(deviceId, max, protocol).then(delivered),
    ...(engine.openReceiver && {
      openReceiver(deviceId, handlers, protocol) {
        // One wrapper per receiver (a connection), called per batch.
        const metered: ReceiverHandlers = {
          onDeliveries: (batch) => handlers.onDeliveries(delivered(batch)),
          onError: (err) => handlers.onError(err),
        };
        return engine.openReceiver!(deviceId, metered, protocol);
      },
    }),
    complete: (deviceId, lockToken) => settling(() => engine.complete(deviceId, lockToken), 'complete', lockToken),
    abandon: (deviceId, lockToken) => settling(() => engine.abandon(deviceId, lockToken), 'abandon', lockToken),
    reject: (deviceId, lockToken) => settling(() => engine.reject(deviceId, lockToken), 'reject', lockToken),
    ...(engine.settleTo && {
      settleTo(deviceId, lockToken, action, done) {
        timing.settling(lockToken, clock.now());
        metrics.inFlightChange('settle', 1);
        engine.settleTo!(deviceId, lockToken, action, (err) => {
          settledBy[action]!(err ? resultOf(err) : 'ok');
          metrics.inFlightChange('settle', -1);
          done(err);
        });
      },
    }),
    release(deviceId, lockTokens) {
      timing.released(lockTokens);
      return engine.release(deviceId, lockTokens);
    },
    purge: (deviceId) => engine.purge(deviceId),
    messageHistory: (deviceId, messageId) => engine.messageHistory(deviceId, messageId),
    deadLetters: (deviceId, limit) => engine.deadLetters(deviceId, limit),
    requeueDeadLetter: (deviceId, seq) => engine.requeueDeadLetter(deviceId, seq),
    deleteDeadLetter: (deviceId, seq) => engine.deleteDeadLetter(deviceId, seq),
    queueDepth: (deviceId) => engine.queueDepth(deviceId),
    onAvailable: (deviceId, listener) => engine.onAvailable(deviceId, listener),
    receiveFeedback: () => engine.receiveFeedback(),
    completeFeedback: (lockToken) => engine.completeFeedback(lockToken),
    abandonFeedback: (lockToken) => engine.abandonFeedback(lockToken),
    rejectFeedback: (lockToken) => engine.rejectFeedback(lockToken),
    onFeedbackAvailable: (listener) => engine.onFeedbackAvailable(listener),
  };
}
