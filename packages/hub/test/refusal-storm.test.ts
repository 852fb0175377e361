/**
 * A reconnect storm of refused devices (issue 23): seven devices reconnecting in a loop with a
 * refused credential wrote 19,122 log lines in 6 minutes, one per attempt. Here real MQTT
 * CONNECTs over TLS to an in-process hub, a few hundred of them, each refused with CONNACK 5: the
 * hub's pino output holds the first refusals of each device and one summary per device with the
 * count of the others (written at the latest when the hub stops). HTTPS requests with a refused
 * token are counted the same way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createSasToken } from '@ferry/common';
import pino from 'pino';
import { FIRST_LOGGED } from '../src/gateways/refusal-throttle.js';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';
import { ADDRESS, inProcessHubConfig, removeHubDirs } from './in-process-hub.js';
import { RawClient } from './mqtt-helpers.js';

const DEVICES = 7;
const ATTEMPTS = 40;
after(removeHubDirs);

interface Line {
  msg: string;
  component?: string;
  deviceId?: string;
  reason?: string;
  cause?: string;
  unlogged?: number;
}

/** One CONNECT with a token signed by a key the device does not have; resolves with the CONNACK code. */
async function refusedConnect(hub: Hub, ca: string, deviceId: string): Promise<number> {
  const socket = tlsConnect({ host: ADDRESS, port: hub.ports.mqtts, ca, servername: undefined });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const client = new RawClient(socket);
  const password = createSasToken({
    resourceUri: `${ADDRESS}/devices/${deviceId}`,
    key: Buffer.from('not the device key at all').toString('base64'),
    expiry: Math.ceil(Date.now() / 1000) + 600,
  });
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: deviceId,
    clean: true,
    keepalive: 60,
    username: `${ADDRESS}/${deviceId}/?api-version=2021-04-12`,
    password: Buffer.from(password),
  });
  const connack = await client.next('connack');
  await client.waitClosed();
  socket.destroy();
  return connack.returnCode ?? -1;
}

async function startHub(lines: Line[]): Promise<Hub> {
  const config = inProcessHubConfig('ferry-storm-test-', { observability: { port: 0 } });
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  return Hub.start(config, { logger });
}

/** A device's HTTPS receive with a token signed by a key it does not have; resolves with the status. */
function refusedReceive(hub: Hub, ca: string, deviceId: string): Promise<number> {
  const authorization = createSasToken({
    resourceUri: `${ADDRESS}/devices/${deviceId}`,
    key: Buffer.from('not the device key at all').toString('base64'),
    expiry: Math.ceil(Date.now() / 1000) + 600,
  });
  return new Promise((resolve, reject) => {
    request(
      {
        host: ADDRESS,
        port: hub.ports.https,
        path: `/devices/${deviceId}/messages/deviceBound?api-version=2021-04-12`,
        ca,
        agent: false,
        headers: { authorization },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    )
      .on('error', reject)
      .end();
  });
}

test('a reconnect storm of refused devices writes a bounded number of lines, and summaries that count every attempt', {
  timeout: 120_000,
}, async () => {
  const lines: Line[] = [];
  const hub = await startHub(lines);
  let stopped = false;
  try {
    const ids = Array.from({ length: DEVICES }, (_, i) => `storm-${i}`);
    for (const id of ids) {
      assert.equal(
        (await hubCall(hub, 'PUT', `/devices/${id}`, { body: JSON.stringify({ deviceId: id }) })).status,
        200,
      );
    }
    const ca = readFileSync(hub.caFile!, 'utf8');
    const before = lines.length;
    // Each device reconnects ATTEMPTS times, one attempt after the other; the devices at once.
    const codes = await Promise.all(
      ids.map(async (id) => {
        const got: number[] = [];
        for (let i = 0; i < ATTEMPTS; i++) got.push(await refusedConnect(hub, ca, id));
        return got;
      }),
    );
    assert.deepEqual(new Set(codes.flat()), new Set([5]), 'every CONNECT refused with CONNACK 5');
    await hub.stop();
    stopped = true;

    const storm = lines.slice(before);
    const refusedLines = storm.filter((l) => /CONNECT refused with CONNACK 5/.test(l.reason ?? ''));
    const summaries = storm.filter((l) => l.component === 'refusals');
    // 280 attempts: the first few per device, one summary per device, and the hub's stop lines.
    assert.ok(
      storm.length <= DEVICES * (FIRST_LOGGED + 1) + 20,
      `${storm.length} lines for ${DEVICES * ATTEMPTS} attempts`,
    );
    for (const id of ids) {
      assert.equal(refusedLines.filter((l) => l.deviceId === id).length, FIRST_LOGGED, `${id}: logged one by one`);
      const mine = summaries.filter((l) => l.deviceId === id);
      assert.ok(mine.length >= 1, `${id}: summarised`);
      assert.ok(mine.every((l) => l.cause === 'IotHubUnauthorizedAccess'));
      assert.equal(
        mine.reduce((n, l) => n + (l.unlogged ?? 0), 0),
        ATTEMPTS - FIRST_LOGGED,
        `${id}: every attempt counted`,
      );
    }
  } finally {
    if (!stopped) await hub.stop();
  }
});

test('HTTPS requests with a refused token: the first ones logged, the rest in the summary', {
  timeout: 60_000,
}, async () => {
  const lines: Line[] = [];
  const hub = await startHub(lines);
  let stopped = false;
  try {
    assert.equal((await hubCall(hub, 'PUT', '/devices/h1', { body: JSON.stringify({ deviceId: 'h1' }) })).status, 200);
    const ca = readFileSync(hub.caFile!, 'utf8');
    const before = lines.length;
    const statuses: number[] = [];
    for (let i = 0; i < ATTEMPTS; i++) statuses.push(await refusedReceive(hub, ca, 'h1'));
    assert.deepEqual(new Set(statuses), new Set([401]));
    await hub.stop();
    stopped = true;
    const storm = lines.slice(before);
    assert.equal(storm.filter((l) => l.msg === 'request refused').length, FIRST_LOGGED);
    const summaries = storm.filter((l) => l.component === 'refusals' && l.deviceId === 'h1');
    assert.equal(
      summaries.reduce((n, l) => n + (l.unlogged ?? 0), 0),
      ATTEMPTS - FIRST_LOGGED,
    );
    assert.ok(summaries.every((l) => l.cause === 'IotHubUnauthorizedAccess'));
  } finally {
    if (!stopped) await hub.stop();
  }
});
