import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { isFerryError } from '@ferry/common';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { ConnectionInfo, StreamGateway } from '../src/gateways/context.js';
import { bindError, type ListenerOptions, Listeners, pickProtocol } from '../src/listeners/index.js';
import { ensureTlsMaterial, type TlsMaterial } from '../src/tls/index.js';

const ADDRESS = '127.0.0.1';
const logger = pino({ level: 'silent' });

/** A gateway that records what it is handed and echoes every byte back, prefixed with its name. */
class EchoGateway implements StreamGateway {
  readonly seen: ConnectionInfo[] = [];
  readonly streams: Duplex[] = [];
  closed = false;
  constructor(private readonly name: string) {}
  get connectionCount(): number {
    return this.streams.filter((s) => !s.destroyed).length;
  }
  handle(stream: Duplex, info: ConnectionInfo): void {
    this.seen.push(info);
    this.streams.push(stream);
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => stream.write(Buffer.concat([Buffer.from(`${this.name}:`), chunk])));
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.streams) s.end();
  }
}

let dir: string;
let material: TlsMaterial;
let ca: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-listeners-test-'));
  material = ensureTlsMaterial({ dataDir: dir, hosts: [ADDRESS], tls: {} });
  ca = readFileSync(material.caFile!, 'utf8');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function options(overrides: Partial<ListenerOptions> = {}) {
  const mqtt = new EchoGateway('mqtt');
  const amqp = new EchoGateway('amqp');
  const opts: ListenerOptions = {
    bind: ADDRESS,
    ports: { https: 0, mqtts: 0, amqps: 0 },
    tls: { certPem: material.certPem, keyPem: material.keyPem },
    gateways: {
      mqtt,
      amqp,
      http: {
        handle: (req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end(`http:${req.method} ${req.url}`);
        },
      },
    },
    logger,
    ...overrides,
  };
  return { opts, mqtt, amqp };
}

async function tlsExchange(port: number, text: string): Promise<{ reply: string; socket: TLSSocket }> {
  const socket = connect({ host: ADDRESS, port, ca });
  await once(socket, 'secureConnect');
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return { reply: data.toString(), socket };
}

function httpsGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: ADDRESS, port, path, ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function openWs(port: number, path: string, protocols: string[]): WebSocket {
  return new WebSocket(`wss://${ADDRESS}:${port}${path}`, protocols, { ca });
}

/** The status of a refused upgrade. */
async function refusedStatus(ws: WebSocket): Promise<number> {
  ws.on('error', () => {});
  const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
  ws.terminate();
  return res.statusCode;
}

describe('listeners over real TLS sockets', () => {
  let listeners: Listeners;
  let mqtt: EchoGateway;
  let amqp: EchoGateway;

  before(async () => {
    const o = options();
    mqtt = o.mqtt;
    amqp = o.amqp;
    listeners = await Listeners.start(o.opts);
  });
  after(() => listeners.close());

  test('MQTT over TLS reaches the MQTT gateway, AMQP over TLS the AMQP gateway', async () => {
    const m = await tlsExchange(listeners.ports.mqtts, 'hello');
    assert.equal(m.reply, 'mqtt:hello');
    const a = await tlsExchange(listeners.ports.amqps, 'AMQP');
    assert.equal(a.reply, 'amqp:AMQP');
    assert.equal(mqtt.seen.at(-1)?.transport, 'tls');
    assert.equal(amqp.seen.at(-1)?.remoteAddress, ADDRESS);
    m.socket.destroy();
    a.socket.destroy();
  });

  test('HTTPS requests go to the HTTP gateway', async () => {
    const res = await httpsGet(listeners.ports.https, '/devices?api-version=1');
    assert.deepEqual(res, { status: 200, body: 'http:GET /devices?api-version=1' });
  });

  for (const [protocol, gatewayName] of [
    ['mqtt', 'mqtt'],
    ['AMQPWSB10', 'amqp'],
  ] as const) {
    test(`a WebSocket with subprotocol ${protocol} is echoed and carries binary to the ${gatewayName} gateway`, async () => {
      const ws = openWs(listeners.ports.https, '/$iothub/websocket?iothub-no-client-cert=true', [protocol]);
      await once(ws, 'open');
      assert.equal(ws.protocol, protocol);
      ws.send(Buffer.from([1, 2, 3]));
      const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
      assert.equal(isBinary, true);
      assert.deepEqual(data, Buffer.concat([Buffer.from(`${gatewayName}:`), Buffer.from([1, 2, 3])]));
      const gateway = gatewayName === 'mqtt' ? mqtt : amqp;
      assert.equal(gateway.seen.at(-1)?.transport, 'ws');
      ws.close();
    });
  }

  test('a WebSocket offering no known subprotocol gets 400', async () => {
    assert.equal(await refusedStatus(openWs(listeners.ports.https, '/$iothub/websocket', ['mqttv3.1', 'foo'])), 400);
    assert.equal(await refusedStatus(openWs(listeners.ports.https, '/$iothub/websocket', [])), 400);
  });

  test('a WebSocket on another path gets 404', async () => {
    assert.equal(await refusedStatus(openWs(listeners.ports.https, '/somewhere', ['mqtt'])), 404);
  });
});

describe('shutdown', () => {
  test('stopAccepting refuses new connections; close drops the ones still open', async () => {
    const o = options();
    const listeners = await Listeners.start(o.opts);
    const open = await tlsExchange(listeners.ports.mqtts, 'x');
    const port = listeners.ports.mqtts;
    listeners.stopAccepting();
    const refused = connect({ host: ADDRESS, port, ca });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(open.socket.destroyed, false, 'an open connection survives stopAccepting');
    const closed = once(open.socket, 'close');
    await listeners.close();
    await closed;
  });
});

describe('bind failures', () => {
  test('a port already in use names the listener, address, port, cause and the option to change', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, ADDRESS, resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const o = options({ ports: { https: 0, mqtts: 0, amqps: port } });
      await assert.rejects(Listeners.start(o.opts), (err: Error) => {
        assert.ok(isFerryError(err));
        assert.match(err.message, new RegExp(`amqps on ${ADDRESS}:${port}`));
        assert.match(err.message, /already in use \(EADDRINUSE\)/);
        assert.match(err.message, /ports\.amqps \(--port-amqps\)/);
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  test('the listeners bound before the failure are closed again', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, ADDRESS, resolve));
    const { port: taken } = blocker.address() as { port: number };
    // Find a free port for https, then fail on mqtts: https must be released.
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, ADDRESS, resolve));
    const { port: httpsPort } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    try {
      await assert.rejects(Listeners.start(options({ ports: { https: httpsPort, mqtts: taken, amqps: 0 } }).opts));
      const again = createNetServer();
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.listen(httpsPort, ADDRESS, resolve);
      });
      again.close();
    } finally {
      blocker.close();
    }
  });

  test('EACCES says root or CAP_NET_BIND_SERVICE; EADDRNOTAVAIL points at --bind', () => {
    const denied = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
    const e1 = bindError({ name: 'https', address: '0.0.0.0', port: 443 }, denied);
    assert.match(e1.message, /port 443 needs root or CAP_NET_BIND_SERVICE/i);
    assert.match(e1.message, /--port-https/);
    assert.equal(e1.cause, denied);
    const notHere = Object.assign(new Error('listen EADDRNOTAVAIL'), { code: 'EADDRNOTAVAIL' });
    assert.match(bindError({ name: 'mqtts', address: '10.9.9.9', port: 8883 }, notHere).message, /--bind/);
  });
});

test('pickProtocol: the first known subprotocol, as spelled by the client', () => {
  assert.deepEqual(pickProtocol(['foo', ' mqtt']), { offered: 'mqtt', protocol: 'mqtt' });
  assert.deepEqual(pickProtocol(['amqpwsb10']), { offered: 'amqpwsb10', protocol: 'AMQPWSB10' });
  assert.equal(pickProtocol(['mqttv3.1']), undefined);
  // /$servicebus/websocket (the Event Hubs clients') serves AMQP only.
  assert.equal(pickProtocol(['mqtt'], ['AMQPWSB10']), undefined);
  assert.deepEqual(pickProtocol(['mqtt', 'AMQPWSB10'], ['AMQPWSB10']), { offered: 'AMQPWSB10', protocol: 'AMQPWSB10' });
});
