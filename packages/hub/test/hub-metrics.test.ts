import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError, type OutgoingMessage } from '@ferry/common';
import type { C2dEngine } from '../src/engine/types.js';
import { meteredEngine } from '../src/observability/metered-engine.js';
import { HubMetrics } from '../src/observability/metrics.js';

/** Only what the metered calls reach; anything else fails the test loudly. */
function fakeEngine(): C2dEngine {
  const unused = () => {
    throw new Error('not used by this test');
  };
  return {
    send: async (deviceId: string) => {
      if (deviceId === 'missing') throw new FerryError('DeviceNotFound');
      return { messageId: 'm', sequenceNumber: 1 };
    },
    sendMany: async (items) =>
      items.map(({ deviceId }) =>
        deviceId === 'missing' ? new FerryError('DeviceNotFound') : { messageId: undefined, sequenceNumber: 2 },
      ),
    complete: async (_d: string, token: string) => {
      if (token === 'lost') throw new FerryError('DeviceMessageLockLost');
    },
    abandon: async () => {},
    reject: async () => {},
    receive: unused,
    release: unused,
    purge: unused,
    queueDepth: unused,
    onAvailable: unused,
    receiveFeedback: unused,
    completeFeedback: unused,
    abandonFeedback: unused,
    rejectFeedback: unused,
    onFeedbackAvailable: unused,
  };
}

const message: OutgoingMessage = { body: Buffer.from('x') };

test('sends and settlements are counted by result, errors still reach the caller', async () => {
  const metrics = new HubMetrics();
  const engine = meteredEngine(fakeEngine(), metrics);
  await engine.send('d1', message);
  await assert.rejects(engine.send('missing', message), (err: Error) => err instanceof FerryError);
  await engine.sendMany([
    { deviceId: 'd1', message },
    { deviceId: 'missing', message },
  ]);
  await engine.complete('d1', 't');
  await assert.rejects(engine.complete('d1', 'lost'));
  await engine.reject('d1', 't');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_sends_total\{result="ok"\} 2/);
  assert.match(text, /ferry_c2d_sends_total\{result="DeviceNotFound"\} 2/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="ok"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="DeviceMessageLockLost"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="reject",result="ok"\} 1/);
});

test('live connections are read from the gateways at scrape time; two hubs do not share counters', async () => {
  const a = new HubMetrics();
  const b = new HubMetrics();
  const gateway = { connectionCount: 3 };
  a.watchConnections('mqtt', gateway);
  a.connectionsTotal.inc({ protocol: 'mqtt', transport: 'ws' });
  assert.match(await a.text(), /ferry_connections\{protocol="mqtt"\} 3/);
  gateway.connectionCount = 1;
  assert.match(await a.text(), /ferry_connections\{protocol="mqtt"\} 1/);
  assert.match(await a.text(), /ferry_connections_total\{protocol="mqtt",transport="ws"\} 1/);
  assert.doesNotMatch(await b.text(), /protocol="mqtt"/);
});

test('sends and settlements waiting for the engine are counted in flight, and leave the gauge when answered', async () => {
  const metrics = new HubMetrics();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow: C2dEngine = {
    ...fakeEngine(),
    send: async () => {
      await gate;
      return { messageId: 'm', sequenceNumber: 1 };
    },
    complete: async () => {
      await gate;
      throw new FerryError('DeviceMessageLockLost');
    },
  };
  const engine = meteredEngine(slow, metrics);
  const sends = [engine.send('d1', message), engine.send('d2', message)];
  const settle = engine.complete('d1', 't');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="send"\} 2/);
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="settle"\} 1/);
  release();
  await Promise.all(sends);
  await assert.rejects(settle);
  const after = await metrics.text();
  assert.match(after, /ferry_c2d_operations_in_flight\{operation="send"\} 0/);
  assert.match(after, /ferry_c2d_operations_in_flight\{operation="settle"\} 0/);
});

test('settlements answered through the callback path are counted by outcome and result, and in flight until answered', async () => {
  const metrics = new HubMetrics();
  const answers: Array<() => void> = [];
  const withCallbacks: C2dEngine = {
    ...fakeEngine(),
    settleTo: (_deviceId, lockToken, _action, done) =>
      answers.push(() => done(lockToken === 'lost' ? new FerryError('DeviceMessageLockLost') : undefined)),
  };
  const engine = meteredEngine(withCallbacks, metrics);
  const results: Array<Error | undefined> = [];
  engine.settleTo!('d1', 't', 'complete', (err) => results.push(err));
  engine.settleTo!('d1', 'lost', 'complete', (err) => results.push(err));
  engine.settleTo!('d1', 't', 'abandon', (err) => results.push(err));
  assert.match(await metrics.text(), /ferry_c2d_operations_in_flight\{operation="settle"\} 3/);
  for (const answer of answers) answer();
  assert.equal(results.length, 3);
  assert.equal(results[0], undefined);
  assert.ok(results[1] instanceof FerryError && results[1].errorName === 'DeviceMessageLockLost');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="settle"\} 0/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="ok"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="DeviceMessageLockLost"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="abandon",result="ok"\} 1/);
});

test('an engine without the callback path gives a metered engine without it (gateways use the promise methods)', () => {
  assert.equal(meteredEngine(fakeEngine(), new HubMetrics()).settleTo, undefined);
});
