/**
 * Prometheus metrics, in a registry of the hub's own (no global state, so two hubs in one test
 * process do not collide): the process (prom-client's default metrics), connections and
 * refusals, sends and settlements, group commits, how long messages wait, what is pending.
 * Nothing here queries the store: a scrape must stay cheap however deep the queues are.
 * Per-message figures are tallied in plain numbers and typed arrays and handed to prom-client at
 * each scrape (its inc() and observe() with labels build objects per call: too dear for every
 * message). docs/operations.md says what each family means and what healthy looks like.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { CommitObserver } from '../engine/engine.js';
import type { MethodObserver, MethodOutcome } from '../methods/index.js';
import type { CommitResult, NodeCounters, QueueOp } from '../store/types.js';
import { DeliveryTiming } from './delivery-timing.js';
import { FastHistogram, GROUP_SIZE_BUCKETS, LATENCY_BUCKETS } from './histogram.js';
import type { NativeHeap } from './native-heap.js';
import { PendingCounts } from './pending-counts.js';

export interface ConnectionSource {
  readonly connectionCount: number;
}

/** prom-client default gauges whose `_total` suffix promtool reserves for counters. */
const NOT_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** What the gateways report of refused connections and requests (a narrow view of HubMetrics). */
export interface RefusalMeter {
  /** A connection or a request on one was refused; `cause` is a short stable word (a label). */
  refused(protocol: string, cause: string): void;
}

/** What the metrics read of the telemetry domain. */
export interface TelemetrySource {
  onIngested(fn: (accepted: number, bytes: number) => void): () => void;
  onRefused(fn: (error: string, messages: number) => void): () => void;
}

/** Every result of ferry_methods_total, shown from the start (at 0). */
const METHOD_OUTCOMES: readonly MethodOutcome[] = [
  'success',
  'device_not_found',
  'device_not_online',
  'timeout',
  'error',
];

export class HubMetrics implements CommitObserver, RefusalMeter, MethodObserver {
  readonly registry = new Registry();
  readonly connectionsTotal: Counter<'protocol' | 'transport'>;
  readonly sends: Counter<'result'>;
  readonly settles: Counter<'outcome' | 'result'>;
  /** Sends and settlements handed to the engine and not yet answered (mostly: waiting for a group commit). */
  readonly inFlight: Gauge<'operation'>;
  private readonly sources = new Map<string, ConnectionSource>();
  private readonly d2c = { messages: 0, bytes: 0, refused: new Tally() };
  private readonly sendTally = new Tally();
  private readonly settleTally = new Tally();
  private readonly inFlightNow = { send: 0, settle: 0 };
  /** Group commits, their sync included, in seconds. */
  readonly commitSeconds: FastHistogram;
  /** Operations per group commit. */
  readonly commitOperations: FastHistogram;
  /** From a message's enqueue to its first delivery to a gateway, in seconds. */
  readonly deliverySeconds: FastHistogram;
  /** From a delivery to the device's settle, in seconds. */
  readonly settleSeconds: FastHistogram;
  /** Pending messages and feedback records, hub-wide, kept in memory (pending-counts.ts). */
  readonly pending = new PendingCounts();
  readonly deliveries: DeliveryTiming;
  private readonly refusals: Counter<'protocol' | 'cause'>;
  private readonly handshakeFailures: Counter<'port' | 'reason'>;
  private readonly methods: Counter<'result'>;
  /** Direct method invocations taken by this node, from the request to its answer or error, in seconds. */
  readonly methodSeconds: FastHistogram;
  private processMetrics = false;
  private isReady: () => boolean = () => false;

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
    const registry = this.registry;
    this.commitSeconds = new FastHistogram({
      name: 'ferry_store_commit_seconds',
      help: 'Group commits of C2D and feedback operations, from the start of the transaction to its answer, the sync to disk included.',
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.commitOperations = new FastHistogram({
      name: 'ferry_store_commit_operations',
      help: 'Operations (sends, leases, settles, scheduler batches...) written in one group commit.',
      buckets: GROUP_SIZE_BUCKETS,
      registry,
    });
    this.deliverySeconds = new FastHistogram({
      name: 'ferry_c2d_delivery_seconds',
      help: "From a C2D message's enqueue (its commit) to its first delivery on a device's connection (millisecond resolution).",
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.settleSeconds = new FastHistogram({
      name: 'ferry_c2d_settle_seconds',
      help: 'From a C2D delivery to the device settling it (complete, abandon, reject), for deliveries made by this node.',
      buckets: LATENCY_BUCKETS,
      registry,
    });
    this.deliveries = new DeliveryTiming(this.deliverySeconds, this.settleSeconds);
    const pending = this.pending;
    new Gauge({
      name: 'ferry_c2d_queue_messages',
      help: 'C2D messages pending hub-wide, by state (Enqueued, Invisible = locked for a delivery); kept in memory, recounted in the background.',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const f = pending.figures;
        this.set({ state: 'Enqueued' }, f.enqueued);
        this.set({ state: 'Invisible' }, f.invisible);
      },
    });
    new Gauge({
      name: 'ferry_feedback_records_pending',
      help: 'Feedback records hub-wide not yet taken by a service: waiting for a batch or in a feedback message.',
      registers: [registry],
      collect() {
        this.set(pending.figures.feedbackRecords);
      },
    });
    this.refusals = new Counter({
      name: 'ferry_refusals_total',
      help: 'Connections and requests refused, by protocol and cause (authentication, limits, addresses not served...).',
      labelNames: ['protocol', 'cause'],
      registers: [registry],
    });
    this.handshakeFailures = new Counter({
      name: 'ferry_tls_handshake_failures_total',
      help: 'TLS handshakes that failed or timed out, by listener port and reason.',
      labelNames: ['port', 'reason'],
      registers: [registry],
    });
    this.methods = new Counter({
      name: 'ferry_methods_total',
      help: 'Direct method invocations taken by this node (POST /twins/{id}/methods), by result: success, device_not_found, device_not_online, timeout, error.',
      labelNames: ['result'],
      registers: [registry],
    });
    for (const result of METHOD_OUTCOMES) this.methods.inc({ result }, 0);
    this.methodSeconds = new FastHistogram({
      name: 'ferry_methods_seconds',
      help: "Direct method invocations taken by this node, from the request to the device's answer or the error (on several nodes, the hop through PostgreSQL included).",
      buckets: LATENCY_BUCKETS,
      registry,
    });
    const ready = () => this.isReady();
    new Gauge({
      name: 'ferry_ready',
      help: 'Whether the hub is ready (1) as /ready says: started, not stopping, storage healthy.',
      registers: [registry],
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
    const { d2c } = this;
    new Counter({
      name: 'ferry_d2c_messages_total',
      help: 'Device-to-cloud (telemetry) messages appended to the event log.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(d2c.messages);
      },
    });
    new Counter({
      name: 'ferry_d2c_bytes_total',
      help: 'Body bytes of the device-to-cloud messages appended to the event log.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(d2c.bytes);
      },
    });
    new Counter({
      name: 'ferry_d2c_refused_total',
      help: 'Device-to-cloud messages refused, by IoT Hub error name.',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        d2c.refused.publish((result, n) => this.inc({ result }, n));
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

  /**
   * prom-client's default metrics (process_*, nodejs_*: memory, CPU, event-loop lag, GC, heap
   * spaces, handles), once. A hub calls it; unit tests of the metrics leave them out.
   */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters fail `promtool check metrics`; the same figures remain by type
    // (nodejs_active_handles{type}, ...), and sum() over them gives the totals.
    for (const name of NOT_COUNTERS) this.registry.removeSingleMetric(name);
  }

  /**
   * glibc's heaps (mallinfo2, read at each scrape) where the native-memory addon loaded: what the
   * process's native side uses and what glibc keeps free for it (docs/memory.md).
   */
  watchNativeHeap(native: Pick<NativeHeap, 'info'>): void {
    new Gauge({
      name: 'ferry_process_native_heap_bytes',
      help: "glibc's malloc (mallinfo2), by state: in_use and free inside its heaps (free counts pages malloc_trim gave back to the system), mmapped = large allocations mapped on their own.",
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const m = native.info();
        this.set({ state: 'in_use' }, m.uordblks);
        this.set({ state: 'free' }, m.fordblks);
        this.set({ state: 'mmapped' }, m.hblkhd);
      },
    });
  }

  /** What /ready answers, read at each scrape (ferry_ready). */
  watchReadiness(isReady: () => boolean): void {
    this.isReady = isReady;
  }

  /** Several nodes: every series carries this node's id (as its log lines do). */
  setNode(node: string): void {
    this.registry.setDefaultLabels({ node });
  }

  groupCommitted(seconds: number, operations: number): void {
    this.commitSeconds.record(seconds);
    this.commitOperations.record(operations);
  }

  applied(ops: readonly QueueOp[], result: CommitResult): void {
    this.pending.apply(ops, result);
  }

  refused(protocol: string, cause: string): void {
    this.refusals.inc({ protocol, cause });
  }

  methodDone(outcome: MethodOutcome, seconds: number): void {
    this.methods.inc({ result: outcome });
    this.methodSeconds.record(seconds);
  }

  /** A TLS handshake on the listener of `port` failed (`reason`: a short word, see listeners.ts). */
  handshakeFailed(port: number, reason: string): void {
    this.handshakeFailures.inc({ port: String(port), reason });
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

  /** Telemetry accepted and refused, counted as the domain reports it. */
  watchTelemetry(source: TelemetrySource): void {
    source.onIngested((n, bytes) => {
      this.d2c.messages += n;
      this.d2c.bytes += bytes;
    });
    source.onRefused((error, n) => this.d2c.refused.add(error, n));
  }

  /**
   * Devices connected hub-wide, on every node (issue 28), as this node's heartbeat last read them
   * (cluster/node-heartbeat.ts): a scrape reads no store.
   */
  watchHubConnections(source: { readonly hubConnected: number }): void {
    new Gauge({
      name: 'ferry_hub_devices_connected',
      help: "Devices connected hub-wide, on every node, as this node's last heartbeat read them (every cluster.nodeTimeoutMs / 3).",
      registers: [this.registry],
      collect() {
        this.set(source.hubConnected);
      },
    });
  }

  /** Telemetry appended on this node since it started: messages and body bytes. */
  telemetryTotals(): { messages: number; bytes: number } {
    return { messages: this.d2c.messages, bytes: this.d2c.bytes };
  }

  /** This node's C2D and telemetry totals since it started (what its heartbeat publishes). */
  async totals(): Promise<NodeCounters> {
    const [sends, settles] = await Promise.all([this.sends.get(), this.settles.get()]);
    const settled = (outcome: string) =>
      settles.values
        .filter((v) => v.labels.outcome === outcome && v.labels.result === 'ok')
        .reduce((n, v) => n + v.value, 0);
    return {
      c2d: {
        sent: sends.values.filter((v) => v.labels.result === 'ok').reduce((n, v) => n + v.value, 0),
        completed: settled('complete'),
        abandoned: settled('abandon'),
        rejected: settled('reject'),
      },
      telemetry: this.telemetryTotals(),
    };
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
