/**
 * Direct methods: pending calls, correlation, timeouts. A device connection subscribed to methods
 * attaches a sink (the newest wins); invoke() waits up to the connect timeout for one, hands it
 * the request under a fresh request id (rid) and waits up to the response timeout for
 * answer(deviceId, rid, ...). Nothing is kept: a call lives as long as its HTTP request, as in
 * IoT Hub, and is lost with the node that holds it. On several nodes a relay (cluster/) takes the
 * calls for devices no connection here takes, and hands this node the calls routed to it.
 *
 * Errors, as IoT Hub's: DeviceNotFound (404001) for an unknown device, DeviceNotOnline (404103)
 * when no connection subscribed within the connect timeout, GatewayTimeout (504101) when the
 * device did not answer within the response timeout.
 */
import { randomBytes } from 'node:crypto';
import { FerryError } from '@ferry/common';
import type { Clock, TimerHandle } from '../clock.js';
import type {
  AnswerOutcome,
  LocalMethods,
  MethodCall,
  MethodObserver,
  MethodOutcome,
  MethodRelay,
  MethodRequest,
  MethodResult,
  MethodSink,
} from './types.js';

export interface MethodsOptions {
  clock: Clock;
  deviceExists(deviceId: string): Promise<boolean>;
  /** Several nodes: routes calls to the node whose connection takes the device's calls. */
  relay?: (local: LocalMethods) => MethodRelay;
  observer?: MethodObserver;
}

const OUTCOMES: Readonly<Record<string, MethodOutcome>> = {
  DeviceNotFound: 'device_not_found',
  DeviceNotOnline: 'device_not_online',
  GatewayTimeout: 'timeout',
};

interface Pending {
  deviceId: string;
  methodName: string;
  timer: TimerHandle;
  resolve(result: MethodResult): void;
  reject(err: unknown): void;
}

export class Methods {
  private readonly sinks = new Map<string, MethodSink>();
  /** Calls waiting for their device to subscribe (the connect timeout), by device. */
  private readonly awaiting = new Map<string, Set<(sink: MethodSink) => void>>();
  private readonly pending = new Map<string, Pending>();
  /** rids: a per-process prefix and a counter, so no two nodes hand out the same. */
  private readonly ridPrefix = randomBytes(4).toString('hex');
  private ridSeq = 0;

  private readonly relay: MethodRelay | undefined;

  constructor(private readonly options: MethodsOptions) {
    this.relay = options.relay?.({
      callHere: (deviceId, call) => {
        const sink = this.sinks.get(deviceId);
        return sink ? this.call(deviceId, sink, call) : undefined;
      },
      isAttached: (deviceId) => this.sinks.has(deviceId),
      attachedDevices: () => [...this.sinks.keys()],
    });
  }

  /** A connection of the device subscribed to methods; returns the detach function. */
  attach(deviceId: string, sink: MethodSink): () => void {
    this.sinks.set(deviceId, sink);
    const waiting = this.awaiting.get(deviceId);
    if (waiting) {
      this.awaiting.delete(deviceId);
      for (const wake of waiting) wake(sink);
    }
    this.relay?.attached(deviceId);
    return () => {
      if (this.sinks.get(deviceId) === sink) this.sinks.delete(deviceId);
    };
  }

  /** The hub stops (the relay's listeners and background work end). */
  stop(): void {
    this.relay?.stop();
  }

  /** Whether a connection on this node takes the device's method calls. */
  isAttached(deviceId: string): boolean {
    return this.sinks.has(deviceId);
  }

  /** Calls in flight (for metrics and tests). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** A service's call: the device's answer, or DeviceNotFound, DeviceNotOnline, GatewayTimeout. */
  async invoke(deviceId: string, call: MethodCall): Promise<MethodResult> {
    const started = this.options.clock.now();
    const done = (outcome: MethodOutcome) =>
      this.options.observer?.methodDone(outcome, (this.options.clock.now() - started) / 1000);
    try {
      const result = await this.route(deviceId, call);
      done('success');
      return result;
    } catch (err) {
      done((err instanceof FerryError && OUTCOMES[err.errorName]) || 'error');
      throw err;
    }
  }

  private async route(deviceId: string, call: MethodCall): Promise<MethodResult> {
    if (!(await this.options.deviceExists(deviceId)))
      throw new FerryError('DeviceNotFound', `device ${deviceId} is not registered`);
    const sink = this.sinks.get(deviceId);
    if (sink) return this.call(deviceId, sink, call);
    if (this.relay) return this.relay.invoke(deviceId, call);
    return this.call(deviceId, await this.waitForSink(deviceId, call.connectTimeoutMs), call);
  }

  /**
   * A device's answer. 'unknown-rid' when no call of this device waits under that rid (never
   * sent, answered already, or timed out); 'not-json' fails the call (the payload must be JSON).
   */
  answer(deviceId: string, rid: string, status: number, payload: Buffer | string): AnswerOutcome {
    const p = this.pending.get(rid);
    if (!p || p.deviceId !== deviceId) return 'unknown-rid';
    this.pending.delete(rid);
    p.timer.cancel();
    const text = payload.toString();
    let parsed: unknown = null;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        p.reject(
          new FerryError(
            'ArgumentInvalid',
            `the device answered method ${p.methodName} with a payload that is not JSON (status ${status})`,
          ),
        );
        return 'not-json';
      }
    }
    p.resolve({ status, payload: parsed });
    return 'accepted';
  }

  private waitForSink(deviceId: string, ms: number): Promise<MethodSink> {
    const offline = () =>
      new FerryError(
        'DeviceNotOnline',
        `device ${deviceId} is not online (no connection subscribed to direct methods${ms > 0 ? ` within ${ms / 1000} s` : ''})`,
      );
    if (ms <= 0) return Promise.reject(offline());
    return new Promise((resolve, reject) => {
      let set = this.awaiting.get(deviceId);
      if (!set) {
        set = new Set();
        this.awaiting.set(deviceId, set);
      }
      const wake = (sink: MethodSink) => {
        timer.cancel();
        resolve(sink);
      };
      const timer = this.options.clock.setTimer(() => {
        const now = this.awaiting.get(deviceId);
        now?.delete(wake);
        if (now?.size === 0) this.awaiting.delete(deviceId);
        reject(offline());
      }, ms);
      set.add(wake);
    });
  }

  private call(deviceId: string, sink: MethodSink, call: MethodCall): Promise<MethodResult> {
    const rid = `${this.ridPrefix}${(++this.ridSeq).toString(16)}`;
    const request: MethodRequest = { rid, methodName: call.methodName, payloadJson: call.payloadJson };
    return new Promise((resolve, reject) => {
      const timer = this.options.clock.setTimer(() => {
        if (this.pending.get(rid)?.timer !== timer) return;
        this.pending.delete(rid);
        reject(
          new FerryError(
            'GatewayTimeout',
            `device ${deviceId} did not answer method ${call.methodName} within ${call.responseTimeoutMs / 1000} s`,
          ),
        );
      }, call.responseTimeoutMs);
      this.pending.set(rid, { deviceId, methodName: call.methodName, timer, resolve, reject });
      try {
        sink.deliver(request);
      } catch (err) {
        this.pending.delete(rid);
        timer.cancel();
        reject(err);
      }
    });
  }
}
