/**
 * Start real `ferry hub start` processes for end-to-end tests with the official SDKs.
 * CONTRACT (implemented by the CLI/listeners engineer; other tests code against it).
 *
 * scripts/test.mjs runs `ferry hub ca --data-dir <tmp>/ferry-test-ca` (which creates the CA when
 * missing and prints its path) before the compat run, starts the compat test process with
 * NODE_EXTRA_CA_CERTS=<that CA file> (the service SDK only trusts CAs given that way, at start-up)
 * and FERRY_TEST_CA_DIR=<tmp>/ferry-test-ca. startHub() copies that CA into each new data dir
 * (`<dataDir>/tls/ca.pem`, `<dataDir>/tls/ca-key.pem`) so the hub issues its server certificate from it.
 *
 * Each hub gets its own loopback address (127.0.P.2, 127.0.P.3, ..., P derived from the test process id) with the standard ports
 * 443 / 8883 / 5671, and that address is the HostName in every connection string (the
 * certificate carries it as an IP SAN).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSasToken, formatDeviceConnectionString, parseHubConnectionString } from '@ferry/common';
import { ensureCa, parseConfig, readHubInfo, readPolicyConnectionString } from '@ferry/hub';

export interface StartHubOptions {
  /** Config overrides written to a JSON config file passed with --config, e.g. { c2d: { lockTimeoutMs: 2000 } }. */
  config?: Record<string, unknown>;
  /** Reuse a data dir (e.g. a previous hub's) instead of a fresh temp dir. */
  dataDir?: string;
  /** Reuse an address instead of the next free one. */
  address?: string;
  env?: Record<string, string>;
  /** A PostgreSQL store (passed as --store-url and --store-schema): hubs given the same one are nodes of one hub. */
  store?: { url: string; schema: string };
  /** More host names the hub answers to (--host), after its address; its certificate names them too. */
  hosts?: string[];
}

export interface HubProcess {
  /** Loopback address the hub binds to, also its HostName. */
  readonly address: string;
  readonly dataDir: string;
  /** PEM file of the hub's CA. */
  readonly caFile: string;
  /** iothubowner connection string. */
  readonly ownerConnectionString: string;
  /** Connection string of any shared access policy (iothubowner, service, device, registryRead, registryReadWrite). */
  connectionString(policy: string): string;
  /** Creates a device through the registry REST API; returns its primary-key connection string. */
  createDevice(deviceId: string, opts?: { status?: 'enabled' | 'disabled' }): Promise<string>;
  /** SIGTERM, waits for exit, returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, waits for exit. */
  kill(): Promise<void>;
  /** Starts the hub again with the same address, data dir and config. */
  restart(): Promise<void>;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
}

export const CLI_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
/** What `ferry hub start` prints once it serves (packages/cli/src/commands/hub-start.ts READY_LINE). */
const READY_LINE = 'Ferry hub ready';
const POLICIES = ['iothubowner', 'service', 'device', 'registryRead', 'registryReadWrite'] as const;
const START_TIMEOUT_MS = 30_000;
/** A graceful stop drains and writes the last group commit: seconds, not this. */
const STOP_TIMEOUT_MS = 30_000;
/** An HTTPS request that gets no byte back for this long fails, naming the request. */
const REQUEST_TIMEOUT_MS = 30_000;
const API = 'api-version=2021-04-12';

// 127.0.<pid-derived>.<counter>: parallel test processes get different /24s, so their hubs never
// share an address; 127.0.0.0/8 all routes to lo on Linux.
const octet3 = 1 + (process.pid % 250);
let nextHost = 2;

function nextAddress(): string {
  const host = nextHost;
  nextHost = nextHost >= 254 ? 2 : nextHost + 1;
  return `127.0.${octet3}.${host}`;
}

/** The shared test CA (scripts/test.mjs makes it); made here when a test file is run on its own. */
function testCaDir(): string {
  const dir = process.env.FERRY_TEST_CA_DIR ?? join(tmpdir(), 'ferry-test-ca');
  ensureCa(dir);
  if (!process.env.NODE_EXTRA_CA_CERTS) {
    process.stderr.write(
      `harness: NODE_EXTRA_CA_CERTS is not set, so the service SDK will not trust the hub; run tests with \`node scripts/test.mjs\` or set NODE_EXTRA_CA_CERTS=${join(dir, 'tls', 'ca.pem')}\n`,
    );
  }
  return dir;
}

function seedCa(dataDir: string): void {
  const from = join(testCaDir(), 'tls');
  const to = join(dataDir, 'tls');
  if (existsSync(join(to, 'ca.pem'))) return;
  mkdirSync(to, { recursive: true, mode: 0o700 });
  copyFileSync(join(from, 'ca.pem'), join(to, 'ca.pem'));
  copyFileSync(join(from, 'ca-key.pem'), join(to, 'ca-key.pem'));
  chmodSync(join(to, 'ca-key.pem'), 0o600);
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The exit code once the process has exited; rejects, naming `what`, when it has not within `ms`. */
function exited(child: ChildProcess, ms: number, what: string): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`${what}: the process had not exited after ${ms} ms`));
    }, ms);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      resolve(code);
    };
    child.once('exit', onExit);
  });
}

class HubProcessImpl implements HubProcess {
  readonly caFile: string;
  ownerConnectionString = '';
  /** The HTTPS port the hub bound (443 unless the config says otherwise). */
  httpsPort = 443;
  private child: ChildProcess | undefined;
  private printed = '';
  private strings = new Map<string, string>();

  constructor(
    readonly address: string,
    readonly dataDir: string,
    private readonly configFile: string,
    private readonly env: Record<string, string>,
    private readonly store: { url: string; schema: string } | undefined,
    private readonly hosts: readonly string[] = [],
  ) {
    this.caFile = join(dataDir, 'tls', 'ca.pem');
  }

  /** Spawns the hub and resolves once it prints the ready line; rejects with its output otherwise. */
  async launch(): Promise<void> {
    const args = [CLI_BIN, 'hub', 'start', '--data-dir', this.dataDir, '--host', this.address];
    for (const host of this.hosts) args.push('--host', host);
    args.push('--bind', this.address, '--config', this.configFile);
    if (this.store) args.push('--store-url', this.store.url, '--store-schema', this.store.schema);
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    running.add(child);
    child.once('exit', () => running.delete(child));
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`hub at ${this.address} not ready after ${START_TIMEOUT_MS} ms:\n${this.printed}`));
      }, START_TIMEOUT_MS);
      const fail = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`hub at ${this.address} exited with ${code} before it was ready:\n${this.printed}`));
      };
      child.once('exit', fail);
      child.stderr!.on('data', (c: Buffer) => {
        this.printed += c.toString('utf8');
      });
      child.stdout!.on('data', (c: Buffer) => {
        const text = c.toString('utf8');
        this.printed += text;
        stdout += text;
        if (stdout.includes(READY_LINE)) {
          clearTimeout(timer);
          child.off('exit', fail);
          resolve();
        }
      });
    });
    this.httpsPort = readHubInfo(this.dataDir)?.ports.https ?? 443;
    const config = parseConfig({ flags: { dataDir: this.dataDir, ...(this.store ? { store: this.store } : {}) } });
    for (const policy of POLICIES) {
      this.strings.set(policy, await readPolicyConnectionString({ config, policy, host: this.address }));
    }
    this.ownerConnectionString = this.connectionString('iothubowner');
  }

  connectionString(policy: string): string {
    const cs = this.strings.get(policy);
    if (!cs) throw new Error(`no shared access policy ${policy}; the hub has ${[...this.strings.keys()].join(', ')}`);
    return cs;
  }

  async createDevice(deviceId: string, opts: { status?: 'enabled' | 'disabled' } = {}): Promise<string> {
    const owner = parseHubConnectionString(this.ownerConnectionString);
    const authorization = createSasToken({
      resourceUri: owner.hostName,
      encode: false,
      key: owner.sharedAccessKey,
      keyName: owner.sharedAccessKeyName,
      expiry: Math.ceil(Date.now() / 1000) + 3600,
    });
    const res = await hubRequest(this, 'PUT', `/devices/${encodeURIComponent(deviceId)}?${API}`, {
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId, status: opts.status ?? 'enabled' }),
    });
    const text = res.body.toString('utf8');
    if (res.status !== 200) throw new Error(`createDevice ${deviceId}: ${res.status} ${text.slice(0, 300)}`);
    const device = JSON.parse(text) as { authentication: { symmetricKey: { primaryKey: string } } };
    return formatDeviceConnectionString({
      hostName: this.address,
      deviceId,
      sharedAccessKey: device.authentication.symmetricKey.primaryKey,
    });
  }

  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child) return null;
    child.kill('SIGTERM');
    try {
      return await exited(child, STOP_TIMEOUT_MS, `hub at ${this.address} after SIGTERM`);
    } catch (err) {
      // A hub that does not stop fails the test that stopped it, and is not left running.
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; killed it. Its last output:\n${this.printed.slice(-2000)}`);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await exited(child, STOP_TIMEOUT_MS, `hub at ${this.address} after SIGKILL`);
  }

  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) await this.stop();
    await this.launch();
  }

  output(): string {
    return this.printed;
  }
}

export async function startHub(opts: StartHubOptions = {}): Promise<HubProcess> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ferry-hub-'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  seedCa(dataDir);
  const configFile = join(dataDir, 'test-config.json');
  // Several hubs run at once, each on its own loopback address; their operations endpoints would
  // all want 127.0.0.1:9464, so it is off unless a test asks for it (operations.test.ts covers it).
  const config = {
    ...opts.config,
    log: { level: 'warn', ...(opts.config?.log as object | undefined) },
    observability: { port: 0, ...(opts.config?.observability as object | undefined) },
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  // A hub of another test process may hold an address; try the next ones before giving up.
  for (let attempt = 0; ; attempt++) {
    const address = opts.address ?? nextAddress();
    const hub = new HubProcessImpl(address, dataDir, configFile, opts.env ?? {}, opts.store, opts.hosts);
    try {
      await hub.launch();
      return hub;
    } catch (err) {
      if (opts.address || attempt >= 4 || !hub.output().includes('EADDRINUSE')) throw err;
    }
  }
}

function requestOptions(hub: HubProcess, method: string, path: string, headers: Record<string, string> | undefined) {
  const port = hub instanceof HubProcessImpl ? hub.httpsPort : 443;
  return { host: hub.address, port, method, path, ca: readFileSync(hub.caFile, 'utf8'), agent: false, headers };
}

/** A GET kept open (a Server-Sent Events stream): the text read so far, and closing it. */
export async function hubStream(
  hub: HubProcess,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; text(): string; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(requestOptions(hub, 'GET', path, headers), (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, text: () => text, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** HTTPS request to a hub (CA trusted), for raw protocol tests. */
export function hubRequest(
  hub: HubProcess,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      requestOptions(hub, method, path, {
        ...(body ? { 'content-length': String(body.length) } : {}),
        ...opts.headers,
      }),
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(
        new Error(`${method} ${path} to the hub at ${hub.address}: no answer within ${REQUEST_TIMEOUT_MS} ms`),
      ),
    );
    req.end(body);
  });
}
