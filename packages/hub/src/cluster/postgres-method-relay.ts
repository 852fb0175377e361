/**
 * Direct methods across the nodes of one PostgreSQL hub. The node that takes the HTTP request
 * (the origin) writes the call to method_calls and NOTIFYs it in the same statement; every node
 * hears it, and the one whose connection takes the device's calls claims the row (an UPDATE, so
 * exactly one node delivers it even while an older connection elsewhere is being cut), hands it to
 * the device, and writes the device's answer back into the row with a NOTIFY to the origin, which
 * takes (deletes) the row and answers the HTTP request. A connection that attaches later claims
 * the calls still waiting for its device: that is how the connect timeout works across nodes.
 *
 * The origin withdraws a call nobody claimed when its claim time is over: the connect timeout, or
 * the route window when that is shorter (a connect timeout of 0 still needs the few milliseconds a
 * NOTIFY and a claim take; a device with no connection anywhere gets DeviceNotOnline after the
 * window). docs/methods.md says why this path and not a node-to-node hop.
 */
import { randomUUID } from 'node:crypto';
import { ERRORS, type ErrorName, FerryError, toFerryError } from '@ferry/common';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { LocalMethods, MethodCall, MethodRelay, MethodResult } from '../methods/index.js';
import { type CallAnswer, type ClaimedCall, MethodCallQueries } from '../store/postgres/method-call-queries.js';
import type { PostgresSignalBus } from './postgres-signal-bus.js';

/** How long a call for a device no node holds may wait for a claim when its connect timeout is shorter. */
export const ROUTE_WINDOW_MS = 2000;
/** How often the rows of crashed origins are deleted. */
const PRUNE_EVERY_MS = 60_000;

export interface PostgresMethodRelayOptions {
  local: LocalMethods;
  calls: Pick<
    MethodCallQueries,
    'insert' | 'claim' | 'claimWaiting' | 'answer' | 'take' | 'withdraw' | 'drop' | 'prune'
  >;
  bus: Pick<
    PostgresSignalBus,
    'methodCallNotice' | 'methodAnswerNotice' | 'onMethodCall' | 'onMethodAnswer' | 'onSignalsMissed'
  >;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  routeWindowMs?: number;
}

export class PostgresMethodRelay implements MethodRelay {
  /** Calls this node inserted, waiting for their answer: what to do when one is announced. */
  private readonly waiting = new Map<string, () => void>();
  private readonly windowMs: number;
  private readonly unsubscribe: Array<() => void>;
  private pruneTimer: { cancel(): void } | undefined;

  constructor(private readonly o: PostgresMethodRelayOptions) {
    this.windowMs = o.routeWindowMs ?? ROUTE_WINDOW_MS;
    this.unsubscribe = [
      o.bus.onMethodCall((id, deviceId) => {
        if (o.local.isAttached(deviceId)) this.claimed(o.calls.claim(id, o.nodeId).then((c) => (c ? [c] : [])));
      }),
      o.bus.onMethodAnswer((id) => this.waiting.get(id)?.()),
      o.bus.onSignalsMissed(() => {
        // Answers and calls announced while the LISTEN connection was down: read them now.
        for (const take of this.waiting.values()) take();
        const devices = o.local.attachedDevices();
        if (devices.length > 0) this.claimed(o.calls.claimWaiting(devices, o.nodeId));
      }),
    ];
    this.schedulePrune();
  }

  stop(): void {
    for (const off of this.unsubscribe) off();
    this.pruneTimer?.cancel();
  }

  attached(deviceId: string): void {
    this.claimed(this.o.calls.claimWaiting([deviceId], this.o.nodeId));
  }

  invoke(deviceId: string, call: MethodCall): Promise<MethodResult> {
    const { calls, bus, clock, nodeId } = this.o;
    const id = randomUUID();
    const claimWithinMs = Math.max(call.connectTimeoutMs, this.windowMs);
    return new Promise<MethodResult>((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        this.waiting.delete(id);
        claimTimer.cancel();
        backstop.cancel();
        settle();
      };
      const fail = (err: unknown) => finish(() => reject(toFerryError(err)));
      this.waiting.set(id, () => {
        calls.take(id).then((a) => {
          if (a) finish(() => settleWith(a, resolve, reject));
        }, fail);
      });
      const claimTimer = clock.setTimer(() => {
        calls.withdraw(id).then((withdrawn) => {
          if (withdrawn)
            fail(
              new FerryError(
                'DeviceNotOnline',
                `device ${deviceId} is not online (no connection on any node subscribed to direct methods${call.connectTimeoutMs > 0 ? ` within ${call.connectTimeoutMs / 1000} s` : ''})`,
              ),
            );
        }, fail);
      }, claimWithinMs);
      // The holder answers GatewayTimeout itself; this covers a holder that died with the call.
      const backstop = clock.setTimer(
        () => {
          fail(
            new FerryError(
              'GatewayTimeout',
              `device ${deviceId} did not answer method ${call.methodName} within ${call.responseTimeoutMs / 1000} s`,
            ),
          );
          calls
            .drop(id)
            .catch((err: unknown) => this.o.logger.warn({ err }, 'could not delete a timed-out method call'));
        },
        claimWithinMs + call.responseTimeoutMs + this.windowMs,
      );
      calls
        .insert(
          {
            id,
            deviceId,
            originNode: nodeId,
            methodName: call.methodName,
            payloadJson: call.payloadJson,
            responseTimeoutMs: call.responseTimeoutMs,
            claimWithinMs,
            expiresInMs: claimWithinMs + call.responseTimeoutMs + 2 * this.windowMs,
          },
          bus.methodCallNotice(id, deviceId),
        )
        .catch(fail);
    });
  }

  /** Hands claimed calls to the device's connection here and writes each answer back for its origin. */
  private claimed(claims: Promise<ClaimedCall[]>): void {
    claims.then(
      (list) => {
        for (const c of list) void this.serve(c);
      },
      (err: unknown) => this.o.logger.warn({ err }, 'could not claim direct method calls'),
    );
  }

  private async serve(c: ClaimedCall): Promise<void> {
    const { local, calls, bus, nodeId, logger } = this.o;
    const call = {
      methodName: c.methodName,
      payloadJson: c.payloadJson,
      responseTimeoutMs: c.responseTimeoutMs,
      connectTimeoutMs: 0,
    };
    let answer: CallAnswer;
    try {
      const result = await (local.callHere(c.deviceId, call) ??
        Promise.reject(
          new FerryError('DeviceNotOnline', `device ${c.deviceId} disconnected before its call was delivered`),
        ));
      answer = { status: result.status, payloadJson: JSON.stringify(result.payload ?? null) };
    } catch (err) {
      const e = toFerryError(err);
      answer = { errorName: e.errorName, errorMessage: e.message };
    }
    try {
      const origin = await calls.answer(c.id, nodeId, answer, bus.methodAnswerNotice());
      // A node ignores its own NOTIFYs: a call it both took and delivered is taken here.
      if (origin === nodeId) this.waiting.get(c.id)?.();
    } catch (err) {
      logger.warn({ err, deviceId: c.deviceId }, 'could not write a direct method answer for its origin node');
    }
  }

  private schedulePrune(): void {
    this.pruneTimer = this.o.clock.setTimer(() => {
      this.o.calls.prune().then(
        () => undefined,
        (err: unknown) => this.o.logger.debug({ err }, 'could not prune method calls'),
      );
      this.schedulePrune();
    }, PRUNE_EVERY_MS);
  }
}

/** The relay of a PostgreSQL hub's node, as Methods takes it (its `relay` option). */
export function postgresMethodRelay(
  store: { pool: pg.Pool; nodeId: string },
  bus: PostgresMethodRelayOptions['bus'],
  clock: Clock,
  logger: Logger,
): (local: LocalMethods) => PostgresMethodRelay {
  const calls = new MethodCallQueries(store.pool);
  return (local) => new PostgresMethodRelay({ local, calls, bus, nodeId: store.nodeId, clock, logger });
}

function settleWith(a: CallAnswer, resolve: (r: MethodResult) => void, reject: (e: unknown) => void): void {
  if ('status' in a) {
    resolve({ status: a.status, payload: JSON.parse(a.payloadJson) as unknown });
    return;
  }
  const name = (a.errorName in ERRORS ? a.errorName : 'ServerError') as ErrorName;
  reject(new FerryError(name, a.errorMessage));
}
