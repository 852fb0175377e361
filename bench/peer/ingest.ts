/**
 * Scenario e of the peer benchmark, telemetry ingest, on a fresh server of its own: N devices
 * (publishers.ts) publish QoS 1 telemetry as fast as each PUBLISH is acknowledged, and one reader
 * (ingest-reader.ts) reads everything back: from Ferry's Event Hubs-compatible endpoint (the
 * events are durable before their PUBACK), from Mosquitto as one subscriber to every device's
 * topic (persistence on). The row: publish throughput (acknowledged messages/s), publish-to-read
 * latency percentiles, the reader's lag behind the last acknowledgement, server CPU-µs per
 * message (its work after the last acknowledgement included: settle()), RSS, messages
 * acknowledged but never read, and each load process's CPU.
 */
import type { LoadGroup } from './load-group.js';
import {
  type DeliveryPart,
  type FleetResult,
  mergeDeliveries,
  mergeSends,
  type SendPart,
  type SendResult,
  shares,
} from './merge.js';
import { procSample } from './proc.js';
import type { PublishArg } from './publishers.js';
import type { Figures } from './scenarios.js';
import { pgCpuMeter, settle } from './scenarios.js';

export const INGEST_ROW = 'e ingest (telemetry)';
/** Nothing read for this long ends the wait: what has not arrived by then is lost. */
const QUIET_MS = 20_000;
/** How often the bench asks the readers how many they have. */
const POLL_MS = 10;

export interface IngestSizes {
  messages: number;
  perDevice: number;
  bodyBytes: number;
  devices: number;
}

export interface IngestParts {
  pid: number;
  /** As RunParts.pgCpu (scenarios.ts): Ferry on PostgreSQL only. */
  pgCpu?: () => number;
  /** The devices, in several processes (load-group.ts fleetInits). */
  publishers: LoadGroup;
  /** The readers, which read everything between them (ingest-reader.ts). */
  readers: LoadGroup;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every reader's part once `total` arrived between them, or none came for QUIET_MS. (Which reader
 * gets a message is the server's choice, so no reader knows its share: the bench polls their
 * counts; each delivery's time was taken by its reader, so polling does not blur the figures.)
 */
async function gathered(readers: LoadGroup, total: number): Promise<FleetResult> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = (await readers.all<number>('count')).reduce((a, b) => a + b, 0);
    if (n >= total) break;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > QUIET_MS) {
      break;
    }
    await sleep(POLL_MS);
  }
  return mergeDeliveries(await readers.all<DeliveryPart>('part'));
}

/** The numbers base..base+total-1 read back, published by the processes in consecutive ranges. */
async function exchange(p: IngestParts, arg: PublishArg): Promise<{ sent: SendResult; got: FleetResult }> {
  await p.readers.all('expect', { base: arg.base, total: arg.total });
  const counts = shares(arg.total, p.publishers.size);
  const bases = counts.map((_, k) => arg.base + counts.slice(0, k).reduce((a, b) => a + b, 0));
  const sent = mergeSends(
    await p.publishers.each<SendPart>('publish', (k) => ({ ...arg, base: bases[k]!, total: counts[k]! })),
  );
  const got = await gathered(p.readers, arg.total);
  return { sent, got };
}

export async function measureIngest(p: IngestParts, s: IngestSizes): Promise<Figures> {
  await p.readers.all('open');
  await p.publishers.all('connect');
  // Warm-up (not measured): one message per device.
  const warmUp = await exchange(p, { base: 0, total: s.devices, perDevice: 1, bodyBytes: s.bodyBytes });
  if (warmUp.got.unique < warmUp.sent.accepted) {
    throw new Error(`ingest warm-up: the reader read ${warmUp.got.unique} of ${warmUp.sent.accepted} messages`);
  }
  await settle(p.pid);
  const s0 = procSample(p.pid);
  const pg = pgCpuMeter(p.pgCpu);
  const { sent, got } = await exchange(p, {
    base: s.devices,
    total: s.messages,
    perDevice: s.perDevice,
    bodyBytes: s.bodyBytes,
  });
  await settle(p.pid);
  const s1 = procSample(p.pid);
  if (sent.errors > 0) console.warn(`  ingest: ${sent.errors} publishes failed, the first: ${sent.firstError}`);
  await p.publishers.all('close');
  await p.readers.all('close');
  const perS = (n: number, ns: bigint) => (ns > 0n ? Math.round((n * 1e9) / Number(ns)) : 0);
  return {
    rate: perS(sent.accepted, sent.tSent - sent.t0),
    p50: got.p50,
    p99: got.p99,
    p999: got.p999,
    lagMs: got.tLast > sent.tSent ? Math.round(Number(got.tLast - sent.tSent) / 1e5) / 10 : 0,
    cpuUsPerMsg: Math.round((s1.cpuUs - s0.cpuUs) / Math.max(1, sent.accepted)),
    ...pg(sent.accepted),
    rssMiB: Math.round((s1.rss / 2 ** 20) * 10) / 10,
    lost: sent.accepted - got.unique,
    dup: got.duplicates,
    fleetCpu: sent.cpu,
    readerCpu: got.cpu,
  };
}
