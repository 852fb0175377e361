/**
 * The Ferry side of the peer benchmark, in a process of its own (so /proc/<pid>/stat charges it
 * exactly as it charges Mosquitto): a real hub (bench-hub.ts: Hub.start, loopback, TLS, durable
 * SQLite in a temp data dir). Commands: start, devices (one create each, or `bulk`: the registry's
 * bulk import, for many thousands), stop.
 */
import { type BenchDevice, type BenchHub, type HubEndpoint, startBenchHub } from '../kit/bench-hub.js';
import { serveLoad } from '../kit/load.js';
import { type ProfileRun, startProfile } from '../kit/profile.js';

if (process.env.FERRY_PEER_DIAG) await import('./diag.js');

export interface FerryServerInit {
  /** Configuration flags for the hub (HubConfig's shape). */
  overrides: Record<string, unknown>;
}

serveLoad<FerryServerInit>((init) => {
  let bench: BenchHub | undefined;
  let profiling: ProfileRun | undefined;
  let runs = 0;
  return {
    async start(): Promise<{ endpoint: HubEndpoint; pid: number; maxInflight: number; partitions: number }> {
      bench = await startBenchHub(init.overrides);
      profiling = await startProfile(`peer-ferry-${process.pid}-${++runs}`);
      const { config } = bench.hub;
      return {
        endpoint: bench.endpoint,
        pid: process.pid,
        maxInflight: config.mqtt.maxInflight,
        partitions: config.events.partitions,
      };
    },
    async devices(arg: unknown): Promise<BenchDevice[]> {
      const { prefix, count, bulk } = arg as { prefix: string; count: number; bulk?: boolean };
      if (!bench) throw new Error('start first');
      return bulk ? bench.importDevices(prefix, count) : bench.createDevices(prefix, count);
    },
    async stop(): Promise<null> {
      await profiling?.stop();
      profiling = undefined;
      await bench?.stop();
      bench = undefined;
      return null;
    },
  };
});
