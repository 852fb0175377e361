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
import { device, T0 } from './store-contract-kit.js';

function twinsOver(store: Store, clock = new ManualClock(T0)): Twins {
  return new Twins({
    store,
    clock,
    presence: async () => ({ connectionState: 'Disconnected', lastActivityTime: undefined }),
    c2dCount: async () => 0,
    signals: new InProcessSignalBus(),
  });
}

/** Every device and twin, as the reference sees them. */
async function everything(store: Store): Promise<TwinEntry[]> {
  return store.queryTwins({ where: null, limit: 10_000 });
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
  ]);
}

/** Queries and, for some, the ids the reference must give (so the reference itself is checked). */
const QUERIES: Array<[string, string[]?]> = [
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
        for (const [text, expected] of QUERIES) {
          const { where } = parseQuery(text);
          const reference = all.filter((e) => matches(where, e)).map((e) => e.device.deviceId);
          if (expected) assert.deepEqual(reference, expected, `reference for ${text}`);
          const got = (await store.queryTwins({ where, limit: 100 })).map((e) => e.device.deviceId);
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
      } finally {
        await store.close();
      }
    });
  });
}
