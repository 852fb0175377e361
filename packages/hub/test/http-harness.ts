/**
 * The HTTP gateway in-process on the real stack: Engine over SqliteStore(':memory:'),
 * DeviceRegistry, SasAuthenticator, a manual clock, and a plain node:http server on 127.0.0.1:0
 * calling handle() (TLS belongs to the listeners and is tested there).
 */
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { C2dConfig, FeedbackConfig, HubConfig } from '../src/config/types.js';
import { createInspector } from '../src/console/inspector.js';
import type { ConsoleFiles } from '../src/console/static-files.js';
import { Engine } from '../src/engine/engine.js';
import { createHttpGateway } from '../src/gateways/http/gateway.js';
import { HubMetrics } from '../src/observability/metrics.js';
import { CaCertificates } from '../src/registry/ca-certificates.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import type { DeviceJson } from '../src/registry/types.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WAIT_MS } from './deadline.js';
import { type TestTokens, testTokens } from './test-tokens.js';

export const HOST = 'localhost';
export const API = 'api-version=2021-04-12';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json(): unknown;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent as separate writes without Content-Length (chunked). */
  chunks?: Buffer[];
  /** false: a connection of its own instead of the keep-alive pool. */
  agent?: false;
}

export interface HttpHarness extends TestTokens {
  clock: ManualClock;
  engine: Engine;
  registry: DeviceRegistry;
  config: Readonly<HubConfig>;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  request(method: string, path: string, opts?: RequestOptions): Promise<HttpResponse>;
  /** A policy token as the service SDK makes it: sr = raw host. */
  /** A device-key token as the device SDK makes it: sr = encoded host/devices/{id}. */
  createDevice(deviceId: string, status?: 'enabled' | 'disabled'): Promise<DeviceJson>;
  /** Moves the clock and waits for the engine to handle what fell due. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpHarness(
  overrides: {
    c2d?: Partial<C2dConfig>;
    feedback?: Partial<FeedbackConfig>;
    maxBodyBytes?: number;
    /** The console's files; without them /console is an unknown path (console.enabled false). */
    consoleFiles?: ConsoleFiles;
  } = {},
): Promise<HttpHarness> {
  const clock = new ManualClock();
  const config: HubConfig = {
    ...DEFAULT_CONFIG,
    c2d: { ...DEFAULT_CONFIG.c2d, ...overrides.c2d },
    feedback: { ...DEFAULT_CONFIG.feedback, batchDelayMs: 0, ...overrides.feedback },
    http: { maxBodyBytes: overrides.maxBodyBytes ?? DEFAULT_CONFIG.http.maxBodyBytes },
  };
  const logger = pino({ level: 'silent' });
  const store = new SqliteStore({ path: ':memory:' });
  const engine = new Engine({ store, clock, c2d: config.c2d, feedback: config.feedback, logger });
  engine.start();
  const registry = new DeviceRegistry({ store, engine, clock });
  await registry.init();
  const auth = new SasAuthenticator({ registry, hosts: [HOST], clock });
  const caCertificates = new CaCertificates(store, clock);
  const inspector = createInspector({ store, clock, metrics: new HubMetrics(), connections: {}, feedback: engine });
  const gateway = createHttpGateway(
    { engine, registry, auth, config, clock, logger, hubName: HOST, caCertificates },
    {
      inspector,
      files: overrides.consoleFiles,
    },
  );
  const server: Server = createServer((req, res) => gateway.handle(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    clock,
    engine,
    registry,
    config,
    baseUrl: `http://127.0.0.1:${port}`,
    request(method, path, opts = {}) {
      return new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, method, path, headers: opts.headers, agent: opts.agent },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks);
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                body,
                json: () => JSON.parse(body.toString()),
              });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        // Idle this long (no answer, no bytes): fail the test by name instead of hanging it.
        req.setTimeout(WAIT_MS, () => req.destroy(new Error(`${method} ${path}: no answer within ${WAIT_MS} ms`)));
        if (opts.chunks) {
          for (const c of opts.chunks) req.write(c);
          req.end();
        } else req.end(opts.body);
      });
    },
    ...testTokens(registry, HOST, clock),
    createDevice(deviceId, status = 'enabled') {
      return registry.create({ deviceId, status });
    },
    async advance(ms) {
      // What was submitted before the time passes is committed before it (settles may wait a
      // couple of real milliseconds for company; the manual clock must not overtake them).
      await engine.idle();
      clock.advance(ms);
      await engine.idle();
    },
    async close() {
      await gateway.close();
      server.closeAllConnections();
      server.close();
      await engine.stop();
      await store.close();
    },
  };
}

/** Asserts nothing itself: returns what a test needs of IoT Hub's error envelope. */
export function hubError(res: HttpResponse): { code: string | undefined; message: string } {
  const body = res.json() as { Message?: string };
  return { code: res.headers['iothub-errorcode'] as string | undefined, message: body.Message ?? '' };
}
