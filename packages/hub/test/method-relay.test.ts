/**
 * The relay of direct methods between nodes (cluster/postgres-method-relay.ts) with a manual clock,
 * an in-memory method_calls table and a bus that hands each node's NOTIFYs to the others, as
 * PostgreSQL does: delivery to the node holding the device, the connect timeout across nodes, the
 * claim window, a holder whose device never answers, a holder that dies with the call, the origin
 * that is also the holder, and one delivery only when two nodes hold a connection. The real
 * PostgreSQL path runs in test/compat/methods-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import pino from 'pino';
import { ManualClock } from '../src/clock.js';
import { PostgresMethodRelay, ROUTE_WINDOW_MS } from '../src/cluster/postgres-method-relay.js';
import { type MethodCall, type MethodRequest, Methods } from '../src/methods/index.js';
import type { CallAnswer, ClaimedCall, NewMethodCall, Notice } from '../src/store/postgres/method-call-queries.js';

interface Row extends NewMethodCall {
  claimBy: number;
  holder?: string;
  answer?: CallAnswer;
}

/** method_calls in memory; every statement resolves on a later turn, as a query would. */
class FakeCalls {
  readonly rows = new Map<string, Row>();
  constructor(
    private readonly clock: ManualClock,
    private readonly notify: (n: Notice) => void,
  ) {}
  private later<T>(fn: () => T): Promise<T> {
    return new Promise((resolve) => setImmediate(() => resolve(fn())));
  }
  insert(c: NewMethodCall, notice: Notice) {
    return this.later(() => {
      this.rows.set(c.id, { ...c, claimBy: this.clock.now() + c.claimWithinMs });
      this.notify(notice);
    });
  }
  private claimed(r: Row, node: string): ClaimedCall {
    r.holder = node;
    const { id, deviceId, originNode, methodName, payloadJson, responseTimeoutMs } = r;
    return { id, deviceId, originNode, methodName, payloadJson, responseTimeoutMs };
  }
  private open = (r: Row | undefined): r is Row => !!r && !r.holder && r.claimBy > this.clock.now();
  claim(id: string, node: string) {
    return this.later(() => {
      const r = this.rows.get(id);
      return this.open(r) ? this.claimed(r, node) : undefined;
    });
  }
  claimWaiting(deviceIds: readonly string[], node: string) {
    return this.later(() =>
      [...this.rows.values()]
        .filter((r) => this.open(r) && deviceIds.includes(r.deviceId))
        .map((r) => this.claimed(r, node)),
    );
  }
  answer(id: string, node: string, a: CallAnswer, notice: Notice) {
    return this.later(() => {
      const r = this.rows.get(id);
      if (!r || r.holder !== node) return undefined;
      r.answer = a;
      this.notify({ channel: notice.channel, payload: `${notice.payload}${r.originNode}|${id}` });
      return r.originNode;
    });
  }
  take(id: string) {
    return this.later(() => {
      const a = this.rows.get(id)?.answer;
      if (a) this.rows.delete(id);
      return a;
    });
  }
  withdraw(id: string) {
    return this.later(() => !this.rows.get(id)?.holder && this.rows.delete(id));
  }
  drop(id: string) {
    return this.later(() => void this.rows.delete(id));
  }
  prune() {
    return this.later(() => 0);
  }
}

/** The nodes' NOTIFYs: "<node>|q|<id>|<device>" and "<node>|r|<origin>|<id>", never heard by their sender. */
class FakeBus {
  private readonly nodes: Array<{ node: string; call: (id: string, d: string) => void; answer: (id: string) => void }> =
    [];
  deliver(n: Notice): void {
    const [from, kind, x, y] = n.payload.split('|') as [string, string, string, string];
    for (const l of this.nodes) {
      if (l.node === from) continue;
      if (kind === 'q') l.call(x, y);
      else if (kind === 'r' && x === l.node) l.answer(y);
    }
  }
  forNode(node: string) {
    const entry = { node, call: (_: string, __: string) => {}, answer: (_: string) => {} };
    this.nodes.push(entry);
    return {
      methodCallNotice: (id: string, deviceId: string) => ({ channel: 'c', payload: `${node}|q|${id}|${deviceId}` }),
      methodAnswerNotice: () => ({ channel: 'c', payload: `${node}|r|` }),
      onMethodCall(fn: (id: string, d: string) => void) {
        entry.call = fn;
        return () => {};
      },
      onMethodAnswer(fn: (id: string) => void) {
        entry.answer = fn;
        return () => {};
      },
      onSignalsMissed: () => () => {},
    };
  }
}

function cluster(...names: string[]) {
  const clock = new ManualClock();
  const bus = new FakeBus();
  const calls = new FakeCalls(clock, (n) => bus.deliver(n));
  const nodes = Object.fromEntries(
    names.map((node) => {
      const nodeBus = bus.forNode(node);
      const methods = new Methods({
        clock,
        deviceExists: async () => true,
        relay: (local) =>
          new PostgresMethodRelay({
            local,
            calls,
            bus: nodeBus,
            nodeId: node,
            clock,
            logger: pino({ level: 'silent' }),
          }),
      });
      return [node, methods];
    }),
  ) as Record<string, Methods>;
  return { clock, calls, nodes };
}

/** Lets every pending statement and callback run (each fake statement takes a turn). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** A device connection: the requests it got. */
function device(methods: Methods, deviceId: string): MethodRequest[] {
  const got: MethodRequest[] = [];
  methods.attach(deviceId, { deliver: (r) => got.push(r) });
  return got;
}

const CALL: MethodCall = {
  methodName: 'reboot',
  payloadJson: '{"a":[1,"x"]}',
  responseTimeoutMs: 30_000,
  connectTimeoutMs: 0,
};

/** The outcome of a call: its result, or its IoT Hub error name; 'pending' while neither. */
function watch(p: Promise<unknown>) {
  const out: { value: unknown } = { value: 'pending' };
  p.then(
    (v) => (out.value = v),
    (e: unknown) => (out.value = e instanceof FerryError ? e.errorName : e),
  );
  return out;
}

describe('direct methods across nodes (the relay)', () => {
  test('a call through A reaches the device on B and its answer comes back exactly; the row is gone', async () => {
    const { nodes, calls } = cluster('A', 'B');
    const got = device(nodes.B!, 'd1');
    await settle();
    const result = watch(nodes.A!.invoke('d1', CALL));
    await settle();
    assert.equal(got.length, 1);
    assert.equal(got[0]!.payloadJson, CALL.payloadJson);
    assert.equal(nodes.B!.answer('d1', got[0]!.rid, 201, '{"ok":[true]}'), 'accepted');
    await settle();
    assert.deepEqual(result.value, { status: 201, payload: { ok: [true] } });
    assert.equal(calls.rows.size, 0);
  });

  test('a device connected nowhere: DeviceNotOnline once the route window is over, the row withdrawn', async () => {
    const { nodes, calls, clock } = cluster('A', 'B');
    const result = watch(nodes.A!.invoke('d1', CALL));
    await settle();
    clock.advance(ROUTE_WINDOW_MS - 1);
    await settle();
    assert.equal(result.value, 'pending');
    clock.advance(1);
    await settle();
    assert.equal(result.value, 'DeviceNotOnline');
    assert.equal(calls.rows.size, 0);
  });

  test('a device attaching to B within the connect timeout gets the call; after it, DeviceNotOnline', async () => {
    const { nodes, clock } = cluster('A', 'B');
    const late = watch(nodes.A!.invoke('d1', { ...CALL, connectTimeoutMs: 30_000 }));
    await settle();
    clock.advance(20_000);
    const got = device(nodes.B!, 'd1');
    await settle();
    assert.equal(got.length, 1);
    nodes.B!.answer('d1', got[0]!.rid, 200, '7');
    await settle();
    assert.deepEqual(late.value, { status: 200, payload: 7 });

    const tooLate = watch(nodes.A!.invoke('d2', { ...CALL, connectTimeoutMs: 10_000 }));
    await settle();
    clock.advance(10_000);
    await settle();
    assert.equal(tooLate.value, 'DeviceNotOnline');
    const got2 = device(nodes.B!, 'd2');
    await settle();
    assert.equal(got2.length, 0, 'a withdrawn call is not delivered');
  });

  test('a device on B that never answers: GatewayTimeout from B after the response timeout', async () => {
    const { nodes, clock, calls } = cluster('A', 'B');
    device(nodes.B!, 'd1');
    await settle();
    const result = watch(nodes.A!.invoke('d1', CALL));
    await settle();
    clock.advance(CALL.responseTimeoutMs);
    await settle();
    assert.equal(result.value, 'GatewayTimeout');
    assert.equal(calls.rows.size, 0);
  });

  test('a holder that dies with the call: A gives up by itself (GatewayTimeout) and drops the row', async () => {
    const { nodes, clock, calls } = cluster('A', 'B');
    device(nodes.B!, 'd1');
    await settle();
    const result = watch(nodes.A!.invoke('d1', CALL));
    await settle();
    const row = [...calls.rows.values()][0]!;
    assert.equal(row.holder, 'B');
    row.holder = 'dead'; // B's answer finds nothing to write: as if B had died
    clock.advance(CALL.responseTimeoutMs + 2 * ROUTE_WINDOW_MS);
    await settle();
    assert.equal(result.value, 'GatewayTimeout');
    assert.equal(calls.rows.size, 0);
  });

  test('the origin that is also the holder (its own device attached meanwhile) takes its own answer', async () => {
    const { nodes } = cluster('A', 'B');
    const result = watch(nodes.A!.invoke('d1', { ...CALL, connectTimeoutMs: 30_000 }));
    await settle();
    const got = device(nodes.A!, 'd1');
    await settle();
    assert.equal(got.length, 1);
    nodes.A!.answer('d1', got[0]!.rid, 200, 'null');
    await settle();
    assert.deepEqual(result.value, { status: 200, payload: null });
  });

  test('two nodes holding a connection of the device (the older being cut): one delivery only', async () => {
    const { nodes } = cluster('A', 'B', 'C');
    const onB = device(nodes.B!, 'd1');
    const onC = device(nodes.C!, 'd1');
    await settle();
    watch(nodes.A!.invoke('d1', CALL));
    await settle();
    assert.equal(onB.length + onC.length, 1);
  });
});
