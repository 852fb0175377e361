/**
 * Prometheus metrics, in a registry of the hub's own (no global state, so two hubs in one test
 * process do not collide). Minimal on purpose: connections, sends, settlements, work in flight.
 * Nothing here queries the store: a scrape must stay cheap however deep the queues are.
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

  constructor() {
    this.connectionsTotal = new Counter({
      name: 'ferry_connections_total',
      help: 'Connections accepted, by protocol and transport.',
      labelNames: ['protocol', 'transport'],
      registers: [this.registry],
    });
    this.sends = new Counter({
      name: 'ferry_c2d_sends_total',
      help: 'C2D sends, by result (ok or the IoT Hub error name).',
      labelNames: ['result'],
      registers: [this.registry],
    });
    this.settles = new Counter({
      name: 'ferry_c2d_settles_total',
      help: 'C2D settlements by devices, by outcome (complete, abandon, reject) and result.',
      labelNames: ['outcome', 'result'],
      registers: [this.registry],
    });
    // Kept up to date by the metered engine, so a scrape reads a number instead of querying the store.
    this.inFlight = new Gauge({
      name: 'ferry_c2d_operations_in_flight',
      help: 'C2D sends and settlements accepted by the engine and not yet committed, by operation (send, settle).',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    this.inFlight.set({ operation: 'send' }, 0);
    this.inFlight.set({ operation: 'settle' }, 0);
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

  /** A gateway whose live connection count is read at each scrape. */
  watchConnections(protocol: string, source: ConnectionSource): void {
    this.sources.set(protocol, source);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
