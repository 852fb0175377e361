/**
 * Prometheus metrics, in a registry of the hub's own (no global state, so two hubs in one test
 * process do not collide). Minimal on purpose: connections, sends, completes.
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
