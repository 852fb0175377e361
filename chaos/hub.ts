/**
 * A real `ferry hub start` process for the campaign (test/compat/harness.ts starts it on its own
 * loopback address with the standard ports and the test CA), with its operations endpoint on a
 * free port of 127.0.0.1, and a watcher that samples its liveness (GET /health), memory (RSS from /proc) and
 * exits. A hub that exits on its own, or stops answering /health, is counted and started again so
 * the campaign can go on.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { parseDeviceConnectionString } from '@ferry/common';
import { readHubInfo } from '@ferry/hub';
import type { BenchDevice, HubEndpoint } from '../bench/kit/bench-hub.js';
import { type HubProcess, startHub } from '../test/compat/harness.js';
import { alive, rssBytes } from './proc.js';

/** /health must answer within this long, or the hub counts as hung. */
const HANG_MS = 10_000;
const SAMPLE_MS = 500;

export interface HubHealth {
  /** Exits the campaign did not cause (a crash, an abort). */
  exits: number;
  /** Times /health did not answer for HANG_MS while the process ran (the campaign then killed it). */
  hangs: number;
  rssStart: number;
  rssPeak: number;
  /** Sampled after the part's load stopped and the hub had a moment to settle. */
  rssEnd: number;
  /** Where the RSS is at the start and at the end (memoryBreakdown), when /metrics answered. */
  memoryStart?: string;
  memoryEnd?: string;
}

export class ChaosHub {
  readonly endpoint: HubEndpoint;
  readonly secureContext: SecureContext;
  readonly health: HubHealth = { exits: 0, hangs: 0, rssStart: 0, rssPeak: 0, rssEnd: 0 };
  /** The campaign itself is killing or restarting the hub: the watcher looks away. */
  private expectingDown = false;
  private watching: NodeJS.Timeout | undefined;
  private probing = false;
  private lastHealthy = Date.now();
  private recovering: Promise<void> | undefined;
  private readonly troubleListeners = new Set<(what: string) => void>();

  private constructor(
    readonly process: HubProcess,
    private readonly opsPort: number,
  ) {
    const info = readHubInfo(process.dataDir);
    if (!info) throw new Error(`hub at ${process.address} wrote no hub.json`);
    const ca = readFileSync(process.caFile, 'utf8');
    this.endpoint = {
      address: process.address,
      ports: info.ports,
      ca,
      serviceConnectionString: process.connectionString('service'),
    };
    this.secureContext = createSecureContext({ ca });
  }

  static async start(config: Record<string, unknown>): Promise<ChaosHub> {
    const opsPort = await freePort();
    const hub = await startHub({ config: { ...config, observability: { port: opsPort, bind: '127.0.0.1' } } });
    const chaos = new ChaosHub(hub, opsPort);
    chaos.health.rssStart = chaos.health.rssPeak = rssBytes(chaos.pid()) ?? 0;
    chaos.health.memoryStart = await chaos.memoryBreakdown();
    chaos.watch();
    return chaos;
  }

  pid(): number {
    const info = readHubInfo(this.process.dataDir);
    if (!info) throw new Error('hub.json is gone');
    return info.pid;
  }

  rss(): number {
    return rssBytes(this.pid()) ?? 0;
  }

  async createDevices(prefix: string, count: number): Promise<BenchDevice[]> {
    const out: BenchDevice[] = [];
    for (let i = 0; i < count; i++) {
      const cs = await this.process.createDevice(`${prefix}-${i}`);
      const parsed = parseDeviceConnectionString(cs);
      out.push({ deviceId: parsed.deviceId, key: parsed.sharedAccessKey! });
    }
    return out;
  }

  /** GET /health on the operations port; true when it answered 200 within `ms`. */
  healthy(ms = HANG_MS): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.opsPort, path: '/health', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.setTimeout(ms, () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /**
   * Open connections, V8's heap (used / total), memory V8's objects hold outside it (Buffers) and glibc's heaps (in use / free, when the hub has the
   * native-memory addon) from the hub's /metrics: what of the RSS is JavaScript and what native (docs/memory.md).
   */
  async memoryBreakdown(): Promise<string | undefined> {
    const text = await new Promise<string | undefined>((resolve) => {
      const req = request({ host: '127.0.0.1', port: this.opsPort, path: '/metrics', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(res.statusCode === 200 ? body : undefined));
      });
      req.setTimeout(HANG_MS, () => req.destroy());
      req.on('error', () => resolve(undefined));
      req.end();
    });
    if (!text) return undefined;
    const mib = (name: string) => {
      const m = text.match(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)`, 'm'));
      return m ? (Number(m[1]) / 2 ** 20).toFixed(1) : '?';
    };
    const connections = [...text.matchAll(/^ferry_connections\{[^}]*\} (\S+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    return (
      `${connections} connections open, ` +
      `V8 heap ${mib('nodejs_heap_size_used_bytes')} / ${mib('nodejs_heap_size_total_bytes')} MiB (used / total), ` +
      `external ${mib('nodejs_external_memory_bytes')} MiB, ` +
      `glibc ${mib('ferry_process_native_heap_bytes{state="in_use"}')} / ${mib('ferry_process_native_heap_bytes{state="free"}')} MiB ` +
      `(in use / free; mmapped ${mib('ferry_process_native_heap_bytes{state="mmapped"}')})`
    );
  }

  private watch(): void {
    this.watching = setInterval(() => {
      if (this.expectingDown || this.recovering) return;
      const pid = this.pid();
      if (!alive(pid)) {
        this.health.exits++;
        this.recover('exited');
        return;
      }
      this.health.rssPeak = Math.max(this.health.rssPeak, rssBytes(pid) ?? 0);
      if (Date.now() - this.lastHealthy > HANG_MS) {
        this.health.hangs++;
        this.recover('stopped answering /health');
        return;
      }
      if (this.probing) return;
      this.probing = true;
      void this.healthy(HANG_MS).then((ok) => {
        this.probing = false;
        if (ok) this.lastHealthy = Date.now();
      });
    }, SAMPLE_MS);
  }

  /** Calls `listener` when the hub exits or hangs by itself (before it is started again); returns an unsubscribe. */
  onTrouble(listener: (what: string) => void): () => void {
    this.troubleListeners.add(listener);
    return () => this.troubleListeners.delete(listener);
  }

  private recover(why: string): void {
    for (const l of this.troubleListeners) l(why);
    const tail = why === 'exited' ? `; its last output:\n${this.process.output().slice(-1500)}` : '';
    process.stderr.write(`chaos: the hub ${why}, starting it again${tail}\n`);
    this.recovering = (async () => {
      await this.process.kill();
      await this.process.restart();
      this.lastHealthy = Date.now();
    })().finally(() => {
      this.recovering = undefined;
    });
  }

  /** Resolves once the hub is up (after a recovery the watcher started, if any). */
  async ready(): Promise<void> {
    while (this.recovering) await this.recovering;
  }

  /** SIGKILL, as the campaign's own fault (not counted). */
  async kill(): Promise<void> {
    await this.ready();
    this.expectingDown = true;
    await this.process.kill();
  }

  async restart(): Promise<void> {
    await this.process.restart();
    this.lastHealthy = Date.now();
    this.expectingDown = false;
  }

  /** Samples the settled RSS, stops watching and stops the hub. */
  async stop(): Promise<void> {
    await this.ready();
    this.health.rssEnd = this.rss();
    this.health.memoryEnd = await this.memoryBreakdown();
    clearInterval(this.watching);
    this.expectingDown = true;
    await this.process.stop();
  }
}

/** A port nothing listens on now, for the hub's operations endpoint. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
