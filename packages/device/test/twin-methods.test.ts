/**
 * The device's twin follower and method dispatcher over ten-line fakes of their links: desired
 * updates reach the handler whole first, then in version order, one at a time, with stale
 * patches dropped; refused twin requests carry IoT Hub's code; method calls are answered by their
 * handler, 501 without one, 500 when it throws or returns no status.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import { MethodDispatcher } from '../src/device-methods.js';
import { type DesiredUpdate, TwinFollower } from '../src/device-twin.js';
import type { TwinReply } from '../src/transport.js';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const tick = () => new Promise((r) => setImmediate(r));

function follower(replies: TwinReply[]) {
  const requests: string[] = [];
  const twin = new TwinFollower({
    enableTwin: async () => {},
    request: async (operation, body) => {
      requests.push(`${operation} ${body?.toString() ?? ''}`.trim());
      const reply = replies.shift();
      if (!reply) throw new FerryError('ServiceUnavailable', 'no reply');
      return reply;
    },
  });
  return { twin, requests };
}

describe('TwinFollower', () => {
  test('the whole desired document first, then patches in order; a stale or repeated patch is dropped', async () => {
    const { twin } = follower([
      { status: 200, version: undefined, body: json({ desired: { rate: 1, $version: 3 }, reported: { $version: 1 } }) },
    ]);
    const seen: DesiredUpdate[] = [];
    let busy = false;
    await twin.follow(async (u) => {
      assert.equal(busy, false, 'one update at a time');
      busy = true;
      await tick();
      seen.push(u);
      busy = false;
    });
    twin.patched(json({ rate: 2 }), 3); // already in the whole document
    twin.patched(json({ rate: 4 }), 4);
    twin.patched(json({ rate: 0 }), 2); // older
    twin.patched(json({ rate: 5 }), 5);
    twin.patched(Buffer.from('not json'), 6);
    for (let i = 0; i < 10; i++) await tick();
    assert.deepEqual(
      seen.map((u) => [u.version, u.properties.rate, u.full]),
      [
        [3, 1, true],
        [4, 4, false],
        [5, 5, false],
      ],
    );
  });

  test('a patch that comes while the whole document is on its way is handed over after it', async () => {
    let answer: (r: TwinReply) => void = () => {};
    const twin = new TwinFollower({
      enableTwin: async () => {},
      request: () => new Promise<TwinReply>((resolve) => (answer = resolve)),
    });
    const seen: Array<[number, boolean]> = [];
    const following = twin.follow((u) => {
      seen.push([u.version, u.full]);
    });
    await tick();
    twin.patched(json({ rate: 2 }), 2);
    answer({ status: 200, version: undefined, body: json({ desired: { rate: 1, $version: 1 }, reported: {} }) });
    await following;
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(seen, [
      [1, true],
      [2, false],
    ]);
  });

  test('a refused request is the FerryError of its code; getTwin fills in missing versions', async () => {
    const { twin, requests } = follower([
      { status: 400, version: undefined, body: json({ errorCode: 400004, message: 'bad name' }) },
      { status: 204, version: 7, body: Buffer.alloc(0) },
      { status: 200, version: undefined, body: json({ desired: {}, reported: { fw: '1' } }) },
    ]);
    await assert.rejects(twin.updateReported({ $x: 1 }), (e: FerryError) => e.code === 400004);
    assert.equal(await twin.updateReported({ fw: '1' }), 7);
    assert.deepEqual(await twin.get(), { desired: { $version: 0 }, reported: { fw: '1', $version: 0 } });
    assert.deepEqual(requests, ['patch-reported {"$x":1}', 'patch-reported {"fw":"1"}', 'get']);
    await assert.rejects(twin.updateReported([] as never), (e: FerryError) => e.errorName === 'ArgumentInvalid');
  });
});

describe('MethodDispatcher', () => {
  test('handler, default handler, 501 without one, 500 when it throws or gives no status', async () => {
    const answers: Array<[string, number, unknown]> = [];
    let enabled = 0;
    const methods = new MethodDispatcher({
      enableMethods: async () => {
        enabled++;
      },
      answer: async (rid, status, payload) => {
        answers.push([rid, status, JSON.parse(payload.toString())]);
      },
    });
    await methods.on('echo', (r) => ({ status: 200, payload: r.payload }));
    await methods.on('boom', () => {
      throw new Error('broke');
    });
    await methods.on('none', () => ({}) as never);
    const call = (methodName: string, rid: string, payload = '{"a":1}') =>
      methods.called({ methodName, rid, payload: Buffer.from(payload) });
    call('echo', '1');
    call('missing', '2');
    call('boom', '3');
    call('none', '4');
    for (let i = 0; i < 5; i++) await tick();
    await methods.onAny((r) => ({ status: 404, payload: { unknown: r.methodName } }));
    call('missing', '5');
    await methods.on('echo', null);
    call('echo', '6', '');
    for (let i = 0; i < 5; i++) await tick();
    // Calls run concurrently: answers come in the order the handlers finish.
    assert.deepEqual(
      answers.sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        ['1', 200, { a: 1 }],
        ['2', 501, { message: 'The device has no handler for method "missing"' }],
        ['3', 500, { message: 'broke' }],
        ['4', 500, { message: 'The method handler returned no whole-number status' }],
        ['5', 404, { unknown: 'missing' }],
        ['6', 404, { unknown: 'echo' }],
      ],
    );
    assert.equal(enabled, 4);
  });
});
