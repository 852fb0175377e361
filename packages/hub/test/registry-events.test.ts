/** Registry.onDeviceChange: fired after committed updates and deletes, never for failed writes. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { type ErrorName, isFerryError } from '@ferry/common';
import { pino } from 'pino';
import { ManualClock } from '../src/clock.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import type { DeviceIdentity } from '../src/registry/types.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');
const KEY_C = Buffer.alloc(32, 3).toString('base64');

type Event = { deviceId: string; identity: DeviceIdentity | undefined; stored: DeviceIdentity | undefined };

async function setup() {
  const store = new SqliteStore({ path: ':memory:' });
  const lines: string[] = [];
  const logger = pino(
    { level: 'error' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
  const registry = new DeviceRegistry({
    store,
    engine: { queueDepth: async () => 0 },
    clock: new ManualClock(),
    logger,
  });
  await registry.init();
  const events: Event[] = [];
  const pending: Array<Promise<void>> = [];
  registry.onDeviceChange((deviceId, identity) => {
    // What the store holds when the listener runs: the change must already be committed.
    pending.push(
      registry.identity(deviceId).then((stored) => {
        events.push({ deviceId, identity, stored });
      }),
    );
  });
  const drained = async () => {
    await Promise.all(pending.splice(0));
    return events.splice(0);
  };
  return { store, registry, drained, lines };
}

describe('Registry.onDeviceChange', () => {
  test('an update fires once, after the commit, with the new status and keys', async () => {
    const { registry, drained } = await setup();
    await registry.create({
      deviceId: 'd1',
      authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    });
    assert.deepEqual(await drained(), [], 'create does not fire');
    await registry.update('d1', { deviceId: 'd1', status: 'disabled' }, '*');
    const [e, ...rest] = await drained();
    assert.deepEqual(rest, []);
    assert.equal(e?.deviceId, 'd1');
    assert.equal(e?.identity?.status, 'disabled');
    assert.equal(e?.identity?.primaryKey, KEY_A);
    assert.deepEqual(e?.stored, e?.identity);

    await registry.update('d1', { authentication: { symmetricKey: { primaryKey: KEY_C } } }, '*');
    const [k] = await drained();
    assert.equal(k?.identity?.primaryKey, KEY_C);
    assert.equal(k?.identity?.secondaryKey, KEY_B);
  });

  test('a delete fires with undefined after the device is gone', async () => {
    const { registry, drained } = await setup();
    await registry.create({ deviceId: 'd1' });
    await registry.delete('d1');
    assert.deepEqual(await drained(), [{ deviceId: 'd1', identity: undefined, stored: undefined }]);
  });

  test('failed updates and deletes fire nothing', async () => {
    const { registry, drained } = await setup();
    await registry.create({ deviceId: 'd1' });
    const failed = (name: ErrorName) => (err: unknown) => isFerryError(err, name);
    await assert.rejects(registry.update('d1', { status: 'disabled' }, '"stale"'), failed('PreconditionFailed'));
    await assert.rejects(registry.update('nope', { status: 'disabled' }, '*'), failed('DeviceNotFound'));
    await assert.rejects(registry.delete('d1', '"stale"'), failed('PreconditionFailed'));
    await assert.rejects(registry.delete('nope'), failed('DeviceNotFound'));
    assert.deepEqual(await drained(), []);
    assert.equal((await registry.get('d1')).status, 'enabled');
  });

  test('unsubscribing stops the calls; the same function subscribed twice is called twice', async () => {
    const { registry } = await setup();
    await registry.create({ deviceId: 'd1' });
    const seen: string[] = [];
    const listener = (id: string) => seen.push(id);
    const off1 = registry.onDeviceChange(listener);
    const off2 = registry.onDeviceChange(listener);
    await registry.update('d1', { status: 'disabled' }, '*');
    assert.deepEqual(seen, ['d1', 'd1']);
    off1();
    off1();
    await registry.update('d1', { status: 'enabled' }, '*');
    assert.deepEqual(seen, ['d1', 'd1', 'd1']);
    off2();
    await registry.delete('d1');
    assert.equal(seen.length, 3);
  });

  test('a throwing listener does not fail the write, is logged, and the others still run', async () => {
    const { registry, drained, lines } = await setup();
    await registry.create({ deviceId: 'd1' });
    registry.onDeviceChange(() => {
      throw new Error('listener bug');
    });
    const after: string[] = [];
    registry.onDeviceChange((id) => after.push(id));
    const json = await registry.update('d1', { status: 'disabled' }, '*');
    assert.equal(json.status, 'disabled');
    await registry.delete('d1');
    assert.deepEqual(after, ['d1', 'd1']);
    assert.equal((await drained()).length, 2);
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /device-change listener failed/);
    assert.match(lines[0]!, /listener bug/);
  });
});
