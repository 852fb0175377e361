/**
 * A private Mosquitto for the peer benchmark: Debian's /usr/sbin/mosquitto (or FERRY_PEER_MOSQUITTO)
 * with a config of our own in a temp dir: one TLS listener on a loopback address and a free port,
 * certificates made by the hub's own TLS code (ensureTlsMaterial), persistence on, anonymous
 * clients, the same in-flight window per client as Ferry's mqtt.maxInflight, and queues deep
 * enough for the offline scenario. Never the system's Mosquitto on 1883.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ensureTlsMaterial } from '@ferry/hub';

export interface MosquittoOptions {
  address: string;
  /** max_inflight_messages: QoS 1 messages in flight per client. */
  maxInflight: number;
  /** max_queued_messages: per client, beyond the in-flight ones. */
  maxQueued: number;
  /**
   * Lines of Mosquitto configuration that replace the defaults below with the same option name, or
   * add to them (FERRY_PEER_MOSQUITTO_CONF, `;` between lines): to measure what a setting costs.
   */
  extra?: readonly string[];
}

/** FERRY_PEER_MOSQUITTO_CONF: extra Mosquitto configuration lines, `;` between them. */
export function mosquittoExtraConf(): string[] {
  return (process.env.FERRY_PEER_MOSQUITTO_CONF ?? '')
    .split(';')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** `base` with each line of `extra` in place of the base line of the same option (else at the end). */
export function withOverrides(base: readonly string[], extra: readonly string[]): string[] {
  const option = (line: string) => line.split(/\s+/)[0];
  const replaced = new Set(extra.map(option));
  return [...base.filter((l) => !replaced.has(option(l))), ...extra];
}

export interface PrivateMosquitto {
  pid: number;
  address: string;
  port: number;
  /** PEM of the CA that issued the broker's certificate. */
  ca: string;
  stop(): Promise<void>;
}

export function mosquittoBinary(): string {
  return process.env.FERRY_PEER_MOSQUITTO ?? '/usr/sbin/mosquitto';
}

/** A port the OS says is free on `address` now (closed again before Mosquitto binds it). */
export async function freePort(address: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

async function listening(address: string, port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited (${child.exitCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: address, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto is not listening on ${address}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a private Mosquitto; stop() ends it (SIGTERM, it saves its persistence file) and removes its dir. */
export async function startMosquitto(o: MosquittoOptions): Promise<PrivateMosquitto> {
  const bin = mosquittoBinary();
  if (!existsSync(bin))
    throw new Error(`no Mosquitto at ${bin} (apt-get install mosquitto, or set FERRY_PEER_MOSQUITTO)`);
  const dir = mkdtempSync(join(tmpdir(), 'ferry-peer-mosquitto-'));
  // The hub's own TLS code: a private CA in <dir>/tls, and a server certificate for the address.
  const tls = ensureTlsMaterial({ dataDir: dir, hosts: [o.address], tls: {} });
  const caFile = tls.caFile!;
  writeFileSync(join(dir, 'server.pem'), tls.certPem);
  writeFileSync(join(dir, 'server.key'), tls.keyPem, { mode: 0o600 });
  const port = await freePort(o.address);
  const defaults = [
    // Run as whoever runs the bench (as root, Mosquitto would otherwise switch to user mosquitto).
    `user ${userInfo().username}`,
    'per_listener_settings false',
    'allow_anonymous true',
    `listener ${port} ${o.address}`,
    `cafile ${caFile}`,
    `certfile ${join(dir, 'server.pem')}`,
    `keyfile ${join(dir, 'server.key')}`,
    'persistence true',
    `persistence_location ${dir}/`,
    `max_inflight_messages ${o.maxInflight}`,
    `max_queued_messages ${o.maxQueued}`,
    'max_connections -1',
    // As Ferry's listeners do: no Nagle delay on small packets.
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    // Said so it shows beside FERRY_PEER_MOSQUITTO_CONF: Mosquitto 2.0's default, a snapshot of
    // its in-memory store every 30 minutes (and on exit), not a write per message.
    'autosave_interval 1800',
  ];
  const config = `${withOverrides(defaults, o.extra ?? []).join('\n')}\n`;
  writeFileSync(join(dir, 'mosquitto.conf'), config);
  const child = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Its errors and warnings, but not the one about running as root (`user` above handles that).
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    for (const line of text.split('\n')) if (line && !line.includes('run as root')) console.error(`mosquitto: ${line}`);
  });
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await listening(o.address, port, child, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    cleanUp();
    throw err;
  }
  return {
    pid: child.pid!,
    address: o.address,
    port,
    ca: readFileSync(caFile, 'utf8'),
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      cleanUp();
    },
  };
}
