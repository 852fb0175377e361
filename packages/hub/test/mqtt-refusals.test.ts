/** A device that keeps sending refused SUBSCRIBEs is closed at connections.maxRefusals (issue 7). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestHub, subscribe } from './mqtt-helpers.js';

test('refused subscriptions are answered 0x80 until maxRefusals, then the connection is closed', async () => {
  const hub = await startTestHub({ connections: { maxRefusals: 10, loggedRefusals: 2 } });
  const key = await hub.device('dev1');
  await hub.device('dev2');
  const { client } = await hub.connect('dev1', key);
  for (let i = 1; i < 10; i++) assert.deepEqual(await subscribe(client, 'dev2', 1, i), [0x80]);
  // The own topic is still granted: refusals alone count.
  assert.deepEqual(await subscribe(client, 'dev1', 1, 20), [1]);
  client.send({ cmd: 'subscribe', messageId: 21, subscriptions: [{ topic: '#', qos: 0 }] });
  await client.waitClosed();
});
