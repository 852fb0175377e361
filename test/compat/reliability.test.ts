/**
 * Issue 7 end to end, against a real hub over TLS: what the hub answers on the wire matches what
 * it stored, and malformed AMQP input closes one connection while the hub keeps serving.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import iothub from 'azure-iothub';
import { createWebSocketStream, WebSocket } from 'ws';
import { type HubProcess, startHub } from './harness.js';
import { attachSender, CODE, c2d, outcomes, RawAmqp, transfer } from './helpers/amqp-raw.js';
import { serviceSas } from './helpers/auth.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 60_000 };
const DEPTH = 25;
const PAIRS = 20;

let hub: HubProcess;

before(async () => {
  hub = await startHub({
    config: { c2d: { maxQueueDepth: DEPTH }, connections: { tlsHandshakeTimeoutMs: 1000, firstPacketTimeoutMs: 1000 } },
  });
  await hub.createDevice('room');
  await hub.createDevice('full');
});

after(async () => {
  await hub?.stop();
});

async function queued(deviceId: string): Promise<number> {
  const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  return Number((await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount);
}

test(
  'interleaved sends to a full and a non-full queue in one TCP segment: every answer matches what was stored',
  T,
  async () => {
    const raw = await RawAmqp.tls(hub);
    await raw.openAsService(serviceSas(hub));
    raw.write(attachSender(0, '/messages/devicebound'));
    await raw.next(CODE.attach);
    await raw.next(CODE.flow);

    // Fill 'full' to its limit, in one write.
    raw.write(...Array.from({ length: DEPTH }, (_, i) => transfer(0, i, c2d('full', `fill-${i}`))));
    await raw.until(() => outcomes(raw.performatives).size === DEPTH);
    for (const [, answer] of outcomes(raw.performatives)) assert.equal(answer.outcome, 'accepted');

    // Now pairs: one to a device with room (stored), one to the full device (refused), all in one write.
    const target = new Map<number, string>();
    const pairs: Buffer[] = [];
    for (let i = 0; i < PAIRS; i++) {
      for (const device of ['room', 'full']) {
        const id = DEPTH + target.size;
        target.set(id, device);
        pairs.push(transfer(0, id, c2d(device, `${device}-${i}`)));
      }
    }
    raw.write(...pairs);
    await raw.until(() => outcomes(raw.performatives).size === DEPTH + target.size);
    const answers = outcomes(raw.performatives);
    for (const [id, device] of target) {
      const answer = answers.get(id);
      if (device === 'room') assert.equal(answer?.outcome, 'accepted', `delivery ${id} was stored: ${answer?.outcome}`);
      else
        assert.deepEqual(answer, { outcome: 'rejected', condition: 'amqp:resource-limit-exceeded' }, `delivery ${id}`);
    }
    raw.destroy();
    assert.equal(await queued('room'), PAIRS);
    assert.equal(await queued('full'), DEPTH);
  },
);

/** The input that killed the hub (issue 7): AMQP header, then an array32 of 0x7fffffff nulls. */
const KILLER = Buffer.from('414d5150000100000000001802000000005310c01001f0000000057fffffff40', 'hex');

for (const transport of ['tls', 'ws'] as const) {
  test(
    `the 32-byte frame on ${transport === 'tls' ? '5671' : 'the AMQP WebSocket on 443'} closes that connection with amqp:decode-error; the hub keeps serving`,
    T,
    async () => {
      const bad = await (transport === 'tls' ? RawAmqp.tls(hub) : RawAmqp.ws(hub));
      bad.write(KILLER);
      const close = await bad.next(CODE.close);
      assert.equal((close.error as { condition?: string } | undefined)?.condition, 'amqp:decode-error');
      await withTimeout(bad.closed, 10_000, 'the hub to close the connection after amqp:decode-error');
      // Another connection is served at once (the event loop is not stuck decoding).
      const good = await RawAmqp.tls(hub);
      await good.openAsService(serviceSas(hub));
      good.destroy();
    },
  );
}

/** Resolves when the hub has closed the stream; we never end it ourselves. */
function closedByHub(stream: Duplex): Promise<void> {
  stream.on('error', () => {});
  stream.resume();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.once('end', () => resolve());
  });
}

test('sockets that never send a ClientHello, or nothing after TLS, are closed on 8883, 5671 and 443', T, async () => {
  const waits: Array<Promise<void>> = [];
  for (const port of [8883, 5671, 443]) {
    // No ClientHello at all (issue 7: these were kept for good).
    const raw = netConnect(port, hub.address);
    waits.push(closedByHub(raw));
    // TLS, then no CONNECT / AMQP header / HTTP request.
    const tls = tlsConnect({ host: hub.address, port, ca: readFileSync(hub.caFile) });
    await once(tls, 'secureConnect');
    waits.push(closedByHub(tls));
  }
  for (const protocol of ['mqtt', 'AMQPWSB10']) {
    const ws = new WebSocket(`wss://${hub.address}/$iothub/websocket`, protocol, { ca: readFileSync(hub.caFile) });
    await once(ws, 'open');
    waits.push(closedByHub(createWebSocketStream(ws)));
  }
  await Promise.all(waits);
  // And the hub still serves.
  const good = await RawAmqp.tls(hub);
  await good.openAsService(serviceSas(hub));
  good.destroy();
});
