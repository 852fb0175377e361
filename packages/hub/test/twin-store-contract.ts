/**
 * The twins domain's store contract, run on every adapter (twin-store.test.ts): twins stored
 * with their device, compare-and-swap writes, deletion with the device, and a table of queries
 * whose device sets must equal the in-memory reference evaluation (evaluate.ts) of the same tree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { InProcessSignalBus } from '../src/cluster/in-process-signal-bus.js';
import type { Store } from '../src/store/types.js';
import { matches, parseQuery, type TwinEntry, Twins } from '../src/twins/index.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

/** When the queries run: a2's one C2D message (expiry T0 + 30 s) has expired by then. */
const NOW = T0 + 60_000;

function twinsOver(store: Store, clock = new ManualClock(T0)): Twins {
  return new Twins({
    store,
    clock,
    presence: async () => ({ connectionState: 'Disconnected', lastActivityTime: undefined }),
    c2dCount: async () => 0,
    signals: new InProcessSignalBus(),
  });
}

/** Every device and twin, as the reference sees them (with their C2D queue depth). */
async function everything(store: Store): Promise<TwinEntry[]> {
  return store.queryTwins({ where: null, limit: 10_000, now: NOW, withC2dCount: true });
}

/** Seeds devices whose twins differ in every way the query table looks at. */
async function seed(store: Store): Promise<void> {
  const twins = twinsOver(store);
  const specs: Array<[string, 'enabled' | 'disabled', Record<string, unknown> | null, Record<string, unknown> | null]> =
    [
      [
        'a1',
        'enabled',
        { site: 'plant-1', floor: 1, nested: { zone: 'north', level: 3 } },
        { fw: '1.0', temp: 20.5, on: true },
      ],
      ['a2', 'enabled', { site: 'plant-2', floor: 2 }, { fw: '1.1', temp: 30, on: false }],
      ['a3', 'disabled', { site: 'plant-3', floor: 3, nested: { zone: 'south' } }, { fw: '2.0', temp: -4 }],
      ['b1', 'enabled', { site: 'plant-3', floor: '3' }, null],
      ['b2', 'enabled', { site: 'Plant-3', tagsOnly: true }, { fw: 2 }],
      ['c1', 'enabled', null, null],
      ['c2', 'enabled', { floor: 10, nested: { zone: "o'hare" } }, { nested: { deep: { value: 7 } } }],
    ];
  for (const [id, status, tags, desired] of specs) {
    assert.equal(await store.insertDevice(device(id, status)), true);
    if (tags) await twins.update(id, { tags }, 'patch');
    if (desired) await twins.update(id, { properties: { desired } }, 'patch');
  }
  await twins.updateReported('a1', { battery: 80, fw: { version: '1.0' } });
  await twins.updateReported('a2', { battery: 15 });
  await twins.updateReported('b1', { battery: 15, fw: { version: '2.0' } });
  // a1 and b2 connected (b2 then gone), c2 connected on another node: presence is hub-wide.
  await store.writePresence([
    { deviceId: 'a1', nodeId: 'n1', kind: 'connect', at: T0 },
    { deviceId: 'b2', nodeId: 'n1', kind: 'connect', at: T0 },
    { deviceId: 'b2', nodeId: 'n1', kind: 'disconnect', at: T0 + 1 },
    { deviceId: 'c2', nodeId: 'n2', kind: 'connect', at: T0 },
    // Last activity: a1 2 s after its connect, a2 at 5 s without a connection; a3, b1, c1 never.
    { deviceId: 'a1', nodeId: 'n1', kind: 'activity', at: T0 + 2000 },
    { deviceId: 'a2', nodeId: 'n1', kind: 'activity', at: T0 + 5000 },
  ]);
  // Queued C2D messages: a1 two, b1 one, a2 one that has expired by NOW (still in the table).
  await store.commit(
    [
      { kind: 'enqueue', message: message('a1', 'm1') },
      { kind: 'enqueue', message: message('a1', 'm2') },
      { kind: 'enqueue', message: message('b1', 'm3') },
      { kind: 'enqueue', message: message('a2', 'm4', { expiryTimeUtc: T0 + 30_000 }) },
    ],
    T0,
    POLICY,
  );
}

/** Queries and, for some, the ids the reference must give (so the reference itself is checked). */
const QUERIES: Array<[string, string[]?]> = [
  // lastActivityTime compares as a time: with or without milliseconds, any zone; never = year 1.
  ["SELECT * FROM devices WHERE lastActivityTime > '2026-01-01T00:00:01Z'", ['a1', 'a2']],
  ["SELECT * FROM devices WHERE lastActivityTime = '2026-01-01T00:00:00Z'", ['b2', 'c2']],
  ["SELECT * FROM devices WHERE lastActivityTime >= '2026-01-01'", ['a1', 'a2', 'b2', 'c2']],
  ["SELECT * FROM devices WHERE lastActivityTime > '2026-01-01T01:00:02+01:00'", ['a2']],
  ["SELECT * FROM devices WHERE lastActivityTime < '2026-01-01T00:00:00Z'", ['a3', 'b1', 'c1']],
  ["SELECT * FROM devices WHERE lastActivityTime = '0001-01-01T00:00:00Z'", ['a3', 'b1', 'c1']],
  [
    "SELECT * FROM devices WHERE lastActivityTime IN ['2026-01-01T00:00:05Z', '2026-01-01T00:00:02.000Z']",
    ['a1', 'a2'],
  ],
  [
    "SELECT * FROM devices WHERE lastActivityTime < '2026-01-01T00:00:03Z' AND connectionState = 'Connected'",
    ['a1', 'c2'],
  ],
  ["SELECT * FROM devices WHERE lastActivityTime > 'yesterday'", []],
  ["SELECT * FROM devices WHERE NOT (lastActivityTime > 'yesterday')", []],
  ['SELECT * FROM devices WHERE lastActivityTime != 5', []],
  ['SELECT * FROM devices WHERE IS_DEFINED(lastActivityTime)', ['a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2']],
  // cloudToDeviceMessageCount: messages queued and not expired at NOW.
  ['SELECT * FROM devices WHERE cloudToDeviceMessageCount = 2', ['a1']],
  ['SELECT * FROM devices WHERE cloudToDeviceMessageCount > 0', ['a1', 'b1']],
  ["SELECT * FROM devices WHERE cloudToDeviceMessageCount = 0 AND tags.site = 'plant-2'", ['a2']],
  ['SELECT * FROM devices WHERE cloudToDeviceMessageCount < 1', ['a2', 'a3', 'b2', 'c1', 'c2']],
  ['SELECT * FROM devices WHERE cloudToDeviceMessageCount IN [1, 2]', ['a1', 'b1']],
  ["SELECT * FROM devices WHERE cloudToDeviceMessageCount = '2'", []],
  ['SELECT * FROM devices WHERE NOT cloudToDeviceMessageCount >= 1.5', ['a2', 'a3', 'b1', 'b2', 'c1', 'c2']],
  ["SELECT * FROM devices WHERE connectionState = 'Connected'", ['a1', 'c2']],
  ["SELECT * FROM devices WHERE connectionState = 'Disconnected' AND tags.site = 'plant-3'", ['a3', 'b1']],
  ["SELECT * FROM devices WHERE connectionState != 'Connected' AND tags.floor >= 2", ['a2', 'a3']],
  ["SELECT * FROM devices WHERE tags.site = 'plant-3'", ['a3', 'b1']],
  ["SELECT * FROM devices WHERE tags.site != 'plant-3'", ['a1', 'a2', 'b2']],
  ['SELECT * FROM devices WHERE tags.floor = 3', ['a3']],
  ["SELECT * FROM devices WHERE tags.floor = '3'", ['b1']],
  ['SELECT * FROM devices WHERE tags.floor > 1', ['a2', 'a3', 'c2']],
  ['SELECT * FROM devices WHERE tags.floor >= 2 AND tags.floor < 10', ['a2', 'a3']],
  ["SELECT * FROM devices WHERE tags.site < 'plant-2'", ['a1', 'b2']],
  ["SELECT * FROM devices WHERE tags.nested.zone = 'north'", ['a1']],
  ["SELECT * FROM devices WHERE tags.nested.zone = 'o''hare'", ['c2']],
  ['SELECT * FROM devices WHERE tags.nested.level <= 3', ['a1']],
  ["SELECT * FROM devices WHERE tags.site IN ['plant-1', 'plant-2']", ['a1', 'a2']],
  ["SELECT * FROM devices WHERE tags.site NOT IN ['plant-1', 'plant-2']", ['a3', 'b1', 'b2']],
  ["SELECT * FROM devices WHERE tags.floor IN [3, '3']", ['a3', 'b1']],
  ['SELECT * FROM devices WHERE IS_DEFINED(tags.nested)', ['a1', 'a3', 'c2']],
  ['SELECT * FROM devices WHERE NOT IS_DEFINED(tags.site)', ['c1', 'c2']],
  ['SELECT * FROM devices WHERE properties.desired.on = true', ['a1']],
  ['SELECT * FROM devices WHERE properties.desired.on != true', ['a2']],
  ['SELECT * FROM devices WHERE properties.desired.temp < 25', ['a1', 'a3']],
  ["SELECT * FROM devices WHERE properties.desired.fw = '2.0' OR properties.desired.fw = 2", ['a3', 'b2']],
  ['SELECT * FROM devices WHERE properties.desired.nested.deep.value = 7', ['c2']],
  ['SELECT * FROM devices WHERE properties.reported.battery < 20', ['a2', 'b1']],
  ["SELECT * FROM devices WHERE properties.reported.fw.version = '2.0' AND tags.site = 'plant-3'", ['b1']],
  ["SELECT * FROM devices WHERE NOT (tags.site = 'plant-3' OR tags.site = 'plant-1')", ['a2', 'b2']],
  ["SELECT * FROM devices WHERE status = 'disabled'", ['a3']],
  ["SELECT * FROM devices WHERE deviceId IN ['a1', 'c1', 'zz']", ['a1', 'c1']],
  ["SELECT * FROM devices WHERE deviceId > 'b' AND authenticationType = 'sas'"],
  ['SELECT * FROM devices WHERE statusReason = null'],
  ['SELECT * FROM devices WHERE version > 2'],
  ['SELECT * FROM devices WHERE tags.floor = null', []],
  ['SELECT * FROM devices WHERE tags.nested = 3', []],
  ['SELECT * FROM devices WHERE tags.site > 3', []],
  ['SELECT * FROM devices WHERE properties.desired.on < true', []],
  ["select * from DEVICES where (tags.floor > 0 and not tags.floor = 2) or deviceId = 'c1'", ['a1', 'a3', 'c1', 'c2']],
  ['SELECT * FROM devices', ['a1', 'a2', 'a3', 'b1', 'b2', 'c1', 'c2']],
];

export function runTwinStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`twin store contract: ${name}`, () => {
    test('a device without a written twin has the default twin; a write needs the device', async () => {
      const store = await open();
      try {
        assert.equal(await store.getTwin('nobody'), undefined);
        await store.insertDevice(device('d1'));
        const entry = await store.getTwin('d1');
        assert.equal(entry?.device.deviceId, 'd1');
        assert.equal(entry?.twin, undefined);
        const twins = twinsOver(store);
        const t = await twins.get('d1');
        assert.equal(t.version, 1);
        assert.equal(t.etag, 'AAAAAAAAAAE=');
        assert.equal(t.properties.desired.$version, 1);
        await assert.rejects(twins.update('nobody', { tags: { a: 1 } }, 'patch'), { errorName: 'DeviceNotFound' });
      } finally {
        await store.close();
      }
    });

    // Microsoft's twin_e2e_tests.js compares keys in order; jsonb had sorted them (bar before foo).
    test('a twin keeps the order of its keys as written', async () => {
      const store = await open();
      try {
        await store.insertDevice(device('d1'));
        const twins = twinsOver(store);
        await twins.update('d1', { tags: { zeta: 1, alpha: { foo: 1, bar: 2 } } }, 'patch');
        await twins.update('d1', { properties: { desired: { foo: { z: 1, a: 2 }, bar: 3 } } }, 'patch');
        await twins.updateReported('d1', { yy: 1, xx: { q: 1, b: 2 } });
        const t = await twins.get('d1');
        assert.deepEqual(Object.keys(t.tags), ['zeta', 'alpha']);
        assert.deepEqual(Object.keys(t.tags.alpha as object), ['foo', 'bar']);
        assert.deepEqual(
          Object.keys(t.properties.desired).filter((k) => !k.startsWith('$')),
          ['foo', 'bar'],
        );
        assert.deepEqual(Object.keys(t.properties.desired.foo as object), ['z', 'a']);
        assert.deepEqual(
          Object.keys(t.properties.reported).filter((k) => !k.startsWith('$')),
          ['yy', 'xx'],
        );
        assert.deepEqual(Object.keys(t.properties.reported.xx as object), ['q', 'b']);
      } finally {
        await store.close();
      }
    });

    test('writes are compare-and-swap on the twin version', async () => {
      const store = await open();
      try {
        await store.insertDevice(device('d1'));
        const twins = twinsOver(store);
        await twins.update('d1', { tags: { a: 1 } }, 'patch');
        const stored = (await store.getTwin('d1'))!.twin!;
        assert.equal(stored.version, 2);
        assert.deepEqual(stored.tags, { a: 1 });
        assert.equal(await store.writeTwin({ ...stored, version: 3 }, 1), 'conflict');
        assert.equal(await store.writeTwin({ ...stored, version: 3 }, null), 'conflict');
        assert.equal(await store.writeTwin({ ...stored, version: 3 }, 2), 'written');
        assert.equal(await store.writeTwin({ ...stored, deviceId: 'ghost', version: 2 }, null), 'deviceNotFound');
        assert.equal((await store.getTwin('d1'))!.twin!.version, 3);
      } finally {
        await store.close();
      }
    });

    test('desired, reported and their metadata round-trip; deleting the device deletes its twin', async () => {
      const store = await open();
      try {
        await store.insertDevice(device('d1'));
        const clock = new ManualClock(T0);
        const twins = twinsOver(store, clock);
        await twins.update('d1', { properties: { desired: { cfg: { rate: 5, mode: 'fast' } } } }, 'patch');
        clock.advance(1000);
        await twins.update('d1', { properties: { desired: { cfg: { rate: 6 } } } }, 'patch');
        assert.equal(await twins.updateReported('d1', { rate: 6, gone: 1 }), 2);
        assert.equal(await twins.updateReported('d1', { gone: null }), 3);
        const t = await twins.get('d1');
        assert.deepEqual(
          { ...t.properties.desired, $metadata: undefined },
          { cfg: { rate: 6, mode: 'fast' }, $version: 3, $metadata: undefined },
        );
        const meta = t.properties.desired.$metadata as Record<string, Record<string, Record<string, unknown>>>;
        assert.equal(meta.cfg!.rate!.$lastUpdated, new Date(T0 + 1000).toISOString());
        assert.equal(meta.cfg!.rate!.$lastUpdatedVersion, 3);
        assert.equal(meta.cfg!.mode!.$lastUpdated, new Date(T0).toISOString());
        assert.equal(meta.cfg!.mode!.$lastUpdatedVersion, 2);
        assert.deepEqual(
          { ...t.properties.reported, $metadata: undefined },
          { rate: 6, $version: 3, $metadata: undefined },
        );
        assert.equal(t.version, 5);
        assert.equal(await store.deleteDevice('d1'), true);
        await store.insertDevice(device('d1'));
        assert.equal((await store.getTwin('d1'))!.twin, undefined);
      } finally {
        await store.close();
      }
    });

    test('the query table: SQL gives the devices the reference evaluation gives', async () => {
      const store = await open();
      try {
        await seed(store);
        const all = await everything(store);
        assert.equal(all.length, 7);
        // What the reference reads: the store's last activity (ms) and queue depth per device.
        assert.deepEqual(Object.fromEntries(all.map((e) => [e.device.deviceId, [e.lastActivityAt, e.c2dCount]])), {
          a1: [T0 + 2000, 2],
          a2: [T0 + 5000, 0],
          a3: [undefined, 0],
          b1: [undefined, 1],
          b2: [T0, 0],
          c1: [undefined, 0],
          c2: [T0, 0],
        });
        for (const [text, expected] of QUERIES) {
          const { where } = parseQuery(text);
          const reference = all.filter((e) => matches(where, e)).map((e) => e.device.deviceId);
          if (expected) assert.deepEqual(reference, expected, `reference for ${text}`);
          const got = (await store.queryTwins({ where, limit: 100, now: NOW })).map((e) => e.device.deviceId);
          assert.deepEqual(got, reference, text);
        }
      } finally {
        await store.close();
      }
    });

    test('paging by device id, COUNT() and GROUP BY through the domain', async () => {
      const store = await open();
      try {
        await seed(store);
        const twins = twinsOver(store);
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await twins.query("SELECT * FROM devices WHERE deviceId != 'c1'", 2, token);
          assert.equal(page.itemType, 'Twin');
          assert.ok(page.items.length <= 2);
          seen.push(...page.items.map((t) => (t as { deviceId: string }).deviceId));
          token = page.continuation;
          pages++;
        } while (token !== undefined && pages < 10);
        assert.deepEqual(seen, ['a1', 'a2', 'a3', 'b1', 'b2', 'c2']);
        const count = await twins.query("SELECT COUNT() AS n FROM devices WHERE tags.site = 'plant-3'", 10, undefined);
        assert.deepEqual(count.items, [{ n: 2 }]);
        const none = await twins.query("SELECT COUNT() AS n FROM devices WHERE tags.site = 'nowhere'", 10, undefined);
        assert.deepEqual(none.items, [{ n: 0 }]);
        const groups = await twins.query(
          'SELECT properties.reported.battery AS battery, COUNT() AS n FROM devices GROUP BY properties.reported.battery',
          10,
          undefined,
        );
        const sorted = (groups.items as Array<{ battery?: number; n: number }>).sort(
          (x, y) => (x.battery ?? 0) - (y.battery ?? 0),
        );
        assert.deepEqual(sorted, [{ n: 4 }, { battery: 15, n: 2 }, { battery: 80, n: 1 }]);
        const byState = await twins.query(
          'SELECT connectionState, COUNT() AS n FROM devices GROUP BY connectionState',
          10,
          undefined,
        );
        assert.deepEqual(
          (byState.items as Array<{ connectionState: string; n: number }>).sort((x, y) => x.n - y.n),
          [
            { connectionState: 'Connected', n: 2 },
            { connectionState: 'Disconnected', n: 5 },
          ],
        );
        const projected = await twins.query(
          'SELECT deviceId, tags.site FROM devices WHERE tags.floor = 1',
          10,
          undefined,
        );
        assert.deepEqual(projected.items, [{ deviceId: 'a1', site: 'plant-1' }]);
        assert.equal(projected.itemType, 'Raw');
        // Projected as the twin shows them; the queue depth counted at the domain's clock.
        const atNow = twinsOver(store, new ManualClock(NOW));
        const registryFields = await atNow.query(
          'SELECT deviceId, lastActivityTime, cloudToDeviceMessageCount AS queued FROM devices WHERE cloudToDeviceMessageCount > 0',
          10,
          undefined,
        );
        assert.deepEqual(registryFields.items, [
          { deviceId: 'a1', lastActivityTime: '2026-01-01T00:00:02.000Z', queued: 2 },
          { deviceId: 'b1', lastActivityTime: '0001-01-01T00:00:00Z', queued: 1 },
        ]);
        const byQueue = await atNow.query(
          'SELECT cloudToDeviceMessageCount AS queued, COUNT() AS n FROM devices GROUP BY cloudToDeviceMessageCount',
          10,
          undefined,
        );
        assert.deepEqual(
          (byQueue.items as Array<{ queued: number; n: number }>).sort((x, y) => x.queued - y.queued),
          [
            { queued: 0, n: 5 },
            { queued: 1, n: 1 },
            { queued: 2, n: 1 },
          ],
        );
        const byActivity = await atNow.query(
          "SELECT lastActivityTime, COUNT() AS n FROM devices WHERE lastActivityTime <= '2026-01-01T00:00:00Z' GROUP BY lastActivityTime",
          10,
          undefined,
        );
        assert.deepEqual(
          (byActivity.items as Array<{ lastActivityTime: string; n: number }>).sort((x, y) => x.n - y.n),
          [
            { lastActivityTime: '2026-01-01T00:00:00.000Z', n: 2 },
            { lastActivityTime: '0001-01-01T00:00:00Z', n: 3 },
          ],
        );
        // Jobs pick their devices with the same SQL.
        assert.deepEqual(await atNow.selectDevices('cloudToDeviceMessageCount = 1', '', 10), ['b1']);
      } finally {
        await store.close();
      }
    });
  });
}
