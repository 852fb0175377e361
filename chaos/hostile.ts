/**
 * Part (c): hostile clients. Raw TCP connections that never send a ClientHello (on 8883, 5671 and
 * 443), TLS connections that never send CONNECT, the AMQP header or an HTTP request, slowloris
 * HTTP requests (a header byte every two seconds), MQTT subscribers with keep-alive 0 that stop
 * reading while their queue is full of large messages, and a flood of idle connections. Whether
 * the hub still holds each socket is read from its /proc entries (a client that never reads may
 * never see the hub's FIN); a socket it still holds past its deadline is counted, and so is one
 * still waiting in its accept queue. A flood overflows the accept queues: the kernel drops some
 * connections the client already sees as established, and the hub never gets them. Those are
 * counted apart (refused), not as past the deadline.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';
import { createSasToken } from '@ferry/common';
import type { BenchDevice } from '../bench/kit/bench-hub.js';
import { sendRaw } from '../test/compat/helpers/send.js';
import { mqttLength } from './frames.js';
import type { ChaosHub } from './hub.js';
import { connectionKey, hubConnections } from './proc.js';

export type HostileKind = 'no ClientHello' | 'TLS, no first packet' | 'slowloris HTTP' | 'never-reading MQTT' | 'flood';
export const HOSTILE_KINDS: readonly HostileKind[] = [
  'no ClientHello',
  'TLS, no first packet',
  'slowloris HTTP',
  'never-reading MQTT',
  'flood',
];

export interface HostileOptions {
  /**
   * Every socket that stops making progress must be closed within this long (from its connect;
   * for a never-reading subscriber, from the moment its queue was filled).
   */
  deadlineMs: number;
  /** Idle connections opened at once (spread over the three ports). */
  flood: number;
  /** Connections of each other kind, per port where it applies. */
  perKind: number;
  log: (line: string) => void;
}

export interface HostileCounts {
  sockets: number;
  /** Closed by the hub within the deadline. */
  closed: number;
  /** Still held by the hub (or waiting in its accept queue) past the deadline, or closed late. */
  pastDeadline: number;
  /** Never held by the hub: dropped by the kernel when an accept queue overflowed. */
  notAccepted: number;
}

interface Tracked {
  kind: HostileKind;
  socket: Socket;
  opened: number;
  /** connectionKey, once connected. */
  key?: string;
  seenHeld: boolean;
  /** Seen waiting in the hub's accept queue at the last look. */
  queued: boolean;
  clientSawClose: boolean;
  closedAt?: number;
}

const GRACE_MS = 5_000;
const POLL_MS = 1_000;
const BIG = Buffer.alloc(60_000, 0x61);

function track(list: Tracked[], kind: HostileKind, socket: Socket): Tracked {
  const t: Tracked = { kind, socket, opened: Date.now(), seenHeld: false, queued: false, clientSawClose: false };
  socket.on('error', () => undefined);
  socket.once('connect', () => {
    t.key = connectionKey(socket.localAddress ?? '', socket.localPort ?? 0, socket.remotePort ?? 0);
  });
  socket.once('close', () => {
    t.clientSawClose = true;
  });
  list.push(t);
  return t;
}

function mqttString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), mqttLength(body.length), body]);
}

/** CONNECT (MQTT 3.1.1, keep-alive 0, clean session 0, device SAS) and SUBSCRIBE to the C2D topic, QoS 1. */
function connectAndSubscribe(hub: ChaosHub, d: BenchDevice): Buffer {
  const password = createSasToken({
    resourceUri: `${hub.endpoint.address}/devices/${d.deviceId}`,
    key: d.key,
    expiry: Math.ceil(Date.now() / 1000) + 3600,
  });
  const connect = packet(
    0x10,
    Buffer.concat([
      mqttString('MQTT'),
      Buffer.from([4, 0xc0, 0, 0]),
      mqttString(d.deviceId),
      mqttString(`${hub.endpoint.address}/${d.deviceId}/?api-version=2021-04-12`),
      mqttString(password),
    ]),
  );
  const subscribe = packet(
    0x82,
    Buffer.concat([Buffer.from([0, 1]), mqttString(`devices/${d.deviceId}/messages/devicebound/#`), Buffer.from([1])]),
  );
  return Buffer.concat([connect, subscribe]);
}

/** Notes, every POLL_MS while `on()`, which sockets the hub no longer holds. */
async function watch(hub: ChaosHub, list: readonly Tracked[], on: () => boolean): Promise<void> {
  while (on()) {
    await hub.ready();
    const { held, queued } = hubConnections(hub.pid(), hub.endpoint.address);
    const now = Date.now();
    for (const t of list) {
      if (t.closedAt !== undefined || t.key === undefined) continue;
      t.queued = queued.has(t.key);
      if (held.has(t.key)) t.seenHeld = true;
      else if (t.seenHeld || t.clientSawClose) t.closedAt = now;
    }
    await sleep(POLL_MS);
  }
}

export async function hostile(hub: ChaosHub, o: HostileOptions): Promise<Map<HostileKind, HostileCounts>> {
  const list: Tracked[] = [];
  const { address, ports } = hub.endpoint;
  // Registered before the flood: while it lasts, new connections may be refused (connections.maxPendingHandshakes).
  const readers = await hub.createDevices(`hostile-reader-${Date.now()}`, Math.min(2, o.perKind));
  const all = [ports.mqtts, ports.amqps, ports.https];
  const tls = (port: number) => tlsConnect({ host: address, port, secureContext: hub.secureContext });
  // Never-reading subscribers: connect, subscribe, stop reading, then fill their queues.
  for (const d of readers) {
    const t = track(list, 'never-reading MQTT', tls(ports.mqtts));
    t.socket.once('secureConnect', () => t.socket.write(connectAndSubscribe(hub, d)));
    await Promise.race([new Promise((resolve) => t.socket.once('data', resolve)), sleep(10_000)]);
    t.socket.pause();
    // It was answered, so the hub held it (a paused socket may never see the hub's FIN).
    t.seenHeld = true;
  }
  // 120 messages of 60 KB each (more than loopback socket buffers hold), four sends at a time.
  await Promise.all(
    readers.flatMap((d) =>
      Array.from({ length: 4 }, async () => {
        for (let n = 0; n < 30; n++) {
          const res = await sendRaw(hub.process, d.deviceId, { body: BIG }).catch(() => undefined);
          if (res && res.status !== 204) break;
        }
      }),
    ),
  );
  const filled = Date.now();
  for (const t of list) if (t.kind === 'never-reading MQTT') t.opened = filled;
  // Then the rest, watched from the start, so a socket the hub closes early is seen closed early.
  let watching = true;
  const watcher = watch(hub, list, () => watching);
  for (let i = 0; i < o.perKind; i++) {
    for (const port of all) track(list, 'no ClientHello', tcpConnect({ host: address, port }));
    for (const port of all) track(list, 'TLS, no first packet', tls(port));
    const slow = track(list, 'slowloris HTTP', tls(ports.https));
    slow.socket.once('secureConnect', () => {
      slow.socket.write(`POST /devices/x/messages/deviceBound?api-version=2021-04-12 HTTP/1.1\r\nHost: ${address}\r\n`);
      const drip = setInterval(() => (slow.socket.destroyed ? clearInterval(drip) : slow.socket.write('X')), 2000);
      slow.socket.once('close', () => clearInterval(drip));
    });
  }
  for (let i = 0; i < o.flood; i++) track(list, 'flood', tcpConnect({ host: address, port: all[i % 3]! }));

  o.log(`hostile: ${list.length} sockets open; watching them for ${o.deadlineMs / 1000} s past their deadline`);

  const end = Date.now() + o.deadlineMs + GRACE_MS;
  while (Date.now() < end && !list.every((t) => t.closedAt !== undefined)) await sleep(POLL_MS);
  watching = false;
  await watcher;
  const counts = new Map<HostileKind, HostileCounts>(
    HOSTILE_KINDS.map((k) => [k, { sockets: 0, closed: 0, pastDeadline: 0, notAccepted: 0 }]),
  );
  for (const t of list) {
    const c = counts.get(t.kind)!;
    c.sockets++;
    // Never held by the hub, nor waiting for it to accept (whether or not the client saw it connect).
    const dropped = !t.seenHeld && !t.queued && t.closedAt === undefined;
    if (dropped) {
      c.notAccepted++;
      t.socket.destroy();
      continue;
    }
    const late = t.closedAt === undefined || t.closedAt - t.opened > o.deadlineMs + GRACE_MS;
    if (late) c.pastDeadline++;
    else c.closed++;
    t.socket.destroy();
  }
  return counts;
}
