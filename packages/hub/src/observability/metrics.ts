/**
 * Prometheus metrics, in a registry of the hub's own (no global state, so two hubs in one test
 * process do not collide). Minimal on purpose: connections, sends, settlements, work in flight.
 * Nothing here queries the store: a scrape must stay cheap however deep the queues are.
 * Per-message figures are tallied in plain numbers and handed to prom-client at each scrape
 * (its inc() with labels hashes them per call: too dear for every message).
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface ConnectionSource {
  readonly connectionCount: number;
}

export class HubMetrics {
  readonly registry = new Registry();
  readonly connectionsTotal: Counter<'protocol' | 'transport'>;
  readonly sends: Counter<'result'>;
  readonly settles: Counter<'outcome' | 'result'>;
  /** Sends and settlements handed to the engine and not yet answered (mostly: waiting for a group commit). */
  readonly inFlight: Gauge<'operation'>;
  private readonly sources = new Map<string, ConnectionSource>();
  private readonly sendTally = new Tally();
  private readonly settleTally = new Tally();
  private readonly inFlightNow = { send: 0, settle: 0 };

  constructor() {
    this.connectionsTotal = new Counter({
      name: 'ferry_connections_total',
      help: 'Connections accepted, by protocol and transport.',
      labelNames: ['protocol', 'transport'],
      registers: [this.registry],
    });
    const { sendTally, settleTally, inFlightNow } = this;
    this.sends = new Counter({
      name: 'ferry_c2d_sends_total',
      help: 'C2D sends, by result (ok or the IoT Hub error name).',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        sendTally.publish((result, n) => this.inc({ result }, n));
      },
    });
    this.settles = new Counter({
      name: 'ferry_c2d_settles_total',
      help: 'C2D settlements by devices, by outcome (complete, abandon, reject) and result.',
      labelNames: ['outcome', 'result'],
      registers: [this.registry],
      collect() {
        settleTally.publish((key, n) => {
          const [outcome, result] = key.split(' ') as [string, string];
          this.inc({ outcome, result }, n);
        });
      },
    });
    // Kept up to date by the metered engine, so a scrape reads a number instead of querying the store.
    this.inFlight = new Gauge({
      name: 'ferry_c2d_operations_in_flight',
      help: 'C2D sends and settlements accepted by the engine and not yet committed, by operation (send, settle).',
      labelNames: ['operation'],
      registers: [this.registry],
      collect() {
        this.set({ operation: 'send' }, inFlightNow.send);
        this.set({ operation: 'settle' }, inFlightNow.settle);
      },
    });
    const sources = this.sources;
    new Gauge({
      name: 'ferry_connections',
      help: 'Open device and service connections, by protocol.',
      labelNames: ['protocol'],
      registers: [this.registry],
      collect() {
        for (const [protocol, source] of sources) this.set({ protocol }, source.connectionCount);
      },
    });
  }

  /** `n` sends ended with `result` ('ok' or the IoT Hub error name). */
  countSends(result: string, n = 1): void {
    this.sendTally.add(result, n);
  }

  /** A settlement (complete, abandon, reject) ended with `result`. */
  countSettle(outcome: string, result: string): void {
    this.settleTally.add(`${outcome} ${result}`, 1);
  }

  /** Sends or settlements handed to the engine (+) or answered (-). */
  inFlightChange(operation: 'send' | 'settle', delta: number): void {
    this.inFlightNow[operation] += delta;
  }

  /** A gateway whose live connection count is read at each scrape. */
  watchConnections(protocol: string, source: ConnectionSource): void {
    this.sources.set(protocol, source);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Counts by key, handed to a prom-client counter as the increase since the last scrape. */
class Tally {
  private readonly totals = new Map<string, number>();
  private readonly published = new Map<string, number>();

  add(key: string, n: number): void {
    this.totals.set(key, (this.totals.get(key) ?? 0) + n);
  }

  publish(inc: (key: string, n: number) => void): void {
    for (const [key, total] of this.totals) {
      const n = total - (this.published.get(key) ?? 0);
      if (n === 0) continue;
      inc(key, n);
      this.published.set(key, total);
    }
  }
}
