/**
 * The floor under any Node.js hub: RSS (and the CPU to accept it) per idle TLS connection of a bare `tls.Server` of this
 * Node.js (the hub's certificate code, TLS 1.3, nothing read or written after the handshake but
 * a few bytes), and of a bare `net.Server` for comparison. The peer bench's scenario d measures
 * Ferry's idle MQTT/TLS connections; this says how much of that is Node's TLS itself: OpenSSL's
 * per-connection state (Node already sets SSL_MODE_RELEASE_BUFFERS), Node's TLSWrap and its
 * memory BIOs, and the TLSSocket over a net.Socket in the JavaScript heap.
 *
 * Each server runs in a process of its own, its clients in another (the server's RSS is its own
 * alone). Sizes (environment):
 *   FERRY_BENCH_TLS_CONNECTIONS   connections held at once (default 5000)
 */
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { ensureTlsMaterial } from '@ferry/hub';
import { envInt } from './stats.js';

const ADDRESS = '127.0.0.1';
const IN_FLIGHT = 100;

interface ClientArgs {
  kind: 'tls' | 'net';
  port: number;
  count: number;
  ca?: string;
}

/** Child process: open `count` connections, say 'held', keep them until told to exit. */
async function clients(args: ClientArgs): Promise<void> {
  const held: Socket[] = [];
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s =
        args.kind === 'tls'
          ? tlsConnect({ host: ADDRESS, port: args.port, ca: args.ca }, () => {
              s.write('x');
              resolve();
            })
          : netConnect({ host: ADDRESS, port: args.port }, () => {
              s.write('x');
              resolve();
            });
      s.on('error', reject);
      held.push(s);
    });
  for (let i = 0; i < args.count; i += IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, args.count - i) }, open));
  }
  process.send?.('held');
  process.on('message', () => process.exit(0));
}

async function settledRss(): Promise<number> {
  let last = process.memoryUsage().rss;
  for (let i = 0; i < 30; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const now = process.memoryUsage().rss;
    if (Math.abs(now - last) < last * 0.005) return now;
    last = now;
  }
  return last;
}

async function measure(
  kind: 'tls' | 'net',
  count: number,
): Promise<{ perConn: number; heapPerConn: number; cpuUsPerConn: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-tls-floor-'));
  const material = ensureTlsMaterial({ dataDir: dir, hosts: [ADDRESS], tls: {} });
  const accepted: Socket[] = [];
  const onSocket = (s: Socket) => {
    accepted.push(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
  };
  const server: Server =
    kind === 'tls'
      ? createTlsServer({ key: material.keyPem, cert: material.certPem }, onSocket)
      : createNetServer(onSocket);
  await new Promise<void>((r) => server.listen(0, ADDRESS, r));
  const port = (server.address() as { port: number }).port;
  const rss0 = await settledRss();
  const heap0 = process.memoryUsage().heapUsed;
  const cpu0 = process.cpuUsage();
  const ca = kind === 'tls' && material.caFile ? readFileSync(material.caFile, 'utf8') : undefined;
  const child = fork(fileURLToPath(import.meta.url), ['--clients'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.send({ kind, port, count, ca } satisfies ClientArgs);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`client process exited (${code})`)));
  });
  while (accepted.length < count) await new Promise((r) => setTimeout(r, 20));
  const cpu = process.cpuUsage(cpu0);
  const rss1 = await settledRss();
  const heap1 = process.memoryUsage().heapUsed;
  child.kill();
  for (const s of accepted) s.destroy();
  server.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    perConn: (rss1 - rss0) / count,
    heapPerConn: (heap1 - heap0) / count,
    cpuUsPerConn: (cpu.user + cpu.system) / count,
  };
}

export async function run(): Promise<void> {
  const count = envInt('FERRY_BENCH_TLS_CONNECTIONS', 5000);
  const rows = [];
  for (const kind of ['tls', 'net'] as const) {
    // Each server in a fresh process: memory one leaves behind is not charged to the other.
    const out = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--server', kind], {
      env: { ...process.env, FERRY_BENCH_TLS_CONNECTIONS: String(count) },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (out.status !== 0) throw new Error(`tls-floor: the ${kind} server process failed (${out.status ?? out.signal})`);
    const r = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as {
      perConn: number;
      heapPerConn: number;
      cpuUsPerConn: number;
    };
    rows.push({
      server: kind === 'tls' ? 'node:tls Server (TLS 1.3)' : 'node:net Server (no TLS)',
      connections: count,
      'RSS KiB/conn': Math.round((r.perConn / 1024) * 10) / 10,
      'heap KiB/conn': Math.round((r.heapPerConn / 1024) * 10) / 10,
      'server CPU µs/conn': Math.round(r.cpuUsPerConn),
    });
  }
  console.log(`Idle connections held by a bare Node.js ${process.version} server (no protocol on top)`);
  console.table(rows);
}

const mode = process.argv.indexOf('--server');
if (mode !== -1) {
  const kind = process.argv[mode + 1] === 'net' ? 'net' : 'tls';
  const r = await measure(kind, envInt('FERRY_BENCH_TLS_CONNECTIONS', 5000));
  console.log(JSON.stringify(r));
  process.exit(0);
}
if (process.argv.includes('--clients')) {
  process.once('message', (args: ClientArgs) => void clients(args));
}
