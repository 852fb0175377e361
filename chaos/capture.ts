/**
 * Valid sessions to mutate, recorded once from real clients: the official device SDK over MQTT,
 * AMQP and both WebSocket variants, the official service client over AMQP, and HTTPS sends,
 * receives and completes. Every byte a client writes to a TLS socket in this process is kept (a
 * wrapper on net.Socket's write path while recording), then split into the frames of its protocol.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { formatDeviceConnectionString } from '@ferry/common';
import common from 'azure-iot-common';
import { openAmqpDevice, openService } from '../test/compat/amqp-helpers.js';
import { receive, settle } from '../test/compat/helpers/device-raw.js';
import { send } from '../test/compat/helpers/send.js';
import { withTimeout } from '../test/compat/helpers/wait.js';
import { openMqttDevice } from '../test/compat/mqtt-helpers.js';
import { splitSession } from './frames.js';
import type { ChaosHub } from './hub.js';

export type FuzzProtocol = 'mqtt' | 'amqp' | 'http' | 'ws-mqtt' | 'ws-amqp';
export const FUZZ_PROTOCOLS: readonly FuzzProtocol[] = ['mqtt', 'amqp', 'http', 'ws-mqtt', 'ws-amqp'];

export interface Session {
  protocol: FuzzProtocol;
  /** The WebSocket upgrade request (ws-* only). */
  upgrade?: Buffer;
  /** Protocol frames (for ws-*, the inner MQTT or AMQP frames, unmasked). */
  frames: Buffer[];
}

/** Runs a recording step, again once or twice if a client gives up (a slow hub, a busy machine). */
async function attempt(what: string, step: () => Promise<void>): Promise<void> {
  for (let n = 1; ; n++) {
    try {
      return await step();
    } catch (err) {
      if (n === 3) throw new Error(`recording ${what}: ${(err as Error).message}`);
    }
  }
}

async function recordTraffic(hub: ChaosHub): Promise<void> {
  const p = hub.process;
  const [device] = await hub.createDevices(`fuzz-seed-${Date.now()}`, 1);
  const cs = formatDeviceConnectionString({
    hostName: hub.endpoint.address,
    deviceId: device!.deviceId,
    sharedAccessKey: device!.key,
  });
  const id = device!.deviceId;
  for (const transport of ['Mqtt', 'MqttWs'] as const) {
    await attempt(`the ${transport} device`, async () => {
      const d = await openMqttDevice(p, cs, transport);
      try {
        await send(p, id, {
          body: `seed ${transport}`,
          messageId: `seed-${transport}`,
          ack: 'full',
          properties: { k: 'v' },
        });
        await d.next(20_000);
      } finally {
        await d.close();
      }
    });
  }
  for (const transport of ['Amqp', 'AmqpWs'] as const) {
    await attempt(`the ${transport} device and service clients`, async () => {
      const d = await openAmqpDevice(p, cs, transport);
      try {
        const svc = await openService(p, transport, false);
        try {
          await withTimeout(svc.client.send(id, new common.Message('seed')), 20_000, 'seed send');
        } finally {
          await svc.close();
        }
        const m = await d.inbox.next(20_000);
        await withTimeout(d.client.complete(m), 10_000, 'complete');
      } finally {
        await d.close();
      }
    });
  }
  await attempt('HTTPS', async () => {
    await send(p, id, { body: 'seed https', messageId: 'seed-https' });
    const m = await receive(p, cs);
    if (m) await settle(p, cs, 'complete', m.lockToken);
  });
}

/** Records the sessions of real clients against `hub`. */
export async function recordSessions(hub: ChaosHub): Promise<Session[]> {
  const written = new Map<TLSSocket, Buffer[]>();
  // Every socket write ends in net.Socket's _writeGeneric (called a second time for data written
  // while the socket was still connecting, hence the check); TLS sockets hand it plaintext.
  type WriteGeneric = (writev: boolean, data: unknown, encoding: string, cb: unknown) => unknown;
  const proto = Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
  const original = proto._writeGeneric;
  proto._writeGeneric = function (this: Socket, writev, data, encoding, cb) {
    if (this instanceof TLSSocket && !this.connecting) {
      const list = written.get(this) ?? [];
      const parts = writev ? (data as Array<Buffer | { chunk: Buffer | string; encoding: string }>) : [data];
      for (const d of parts) {
        if (Buffer.isBuffer(d)) list.push(d);
        else if (typeof d === 'string') list.push(Buffer.from(d, encoding as BufferEncoding));
        else {
          const { chunk, encoding: e } = d as { chunk: Buffer | string; encoding: string };
          list.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, e as BufferEncoding));
        }
      }
      written.set(this, list);
    }
    return original.call(this, writev, data, encoding, cb);
  };
  try {
    await recordTraffic(hub);
  } finally {
    proto._writeGeneric = original;
  }
  const sessions: Session[] = [];
  for (const chunks of written.values()) {
    const s = splitSession(Buffer.concat(chunks));
    if (s) sessions.push(s);
  }
  for (const protocol of FUZZ_PROTOCOLS) {
    if (!sessions.some((s) => s.protocol === protocol)) throw new Error(`no ${protocol} session was recorded`);
  }
  return sessions;
}
