/**
 * Regression (issue 29, memory): mqtt-packet builds 65,536 two-byte Buffers, about 6 MiB of heap
 * kept for the process's life, on the first packet it encodes, unless told not to. The hub tells it
 * not to; a connect, a SUBACK and a disconnect leave the cache empty.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { writeToStream } from 'mqtt-packet';
import { startTestHub, subscribe } from './mqtt-helpers.js';

const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

test('the MQTT gateway encodes packets without building mqtt-packet’s packet-id buffer cache', async () => {
  const hub = await startTestHub();
  const key = await hub.device('cache-1');
  const { client, connack } = await hub.connect('cache-1', key);
  assert.equal(connack.returnCode, 0);
  assert.deepEqual(await subscribe(client, 'cache-1'), [1]);
  assert.equal(writeToStream.cacheNumbers, false);
  assert.equal(Object.keys(numbers.cache).length, 0, 'mqtt-packet built its number cache');
  client.send({ cmd: 'disconnect' });
  await client.waitClosed();
  client.end();
  await hub.gateway.close();
});
