/**
 * Regression (issue 7): dispositions of transfers the hub receives must carry each transfer's own
 * outcome. rhea 3.0.5 wrote `disposition {first:2,last:3,state:accepted}` when transfer 2 was
 * stored and transfer 3 refused, because a range of one delivery was extended without comparing
 * outcomes. These tests read the disposition frames the hub actually wrote.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import rhea, { type Delivery, type EventContext } from 'rhea';
import { writeDispositions } from '../src/gateways/amqp/rhea-patches.js';
import { dispositions, outcomeById, tapWrites } from './amqp-frames.js';
import { type AmqpHarness, c2d, eventually, startAmqpHarness } from './amqp-harness.js';

// rhea's typings omit its outcome constructors.
const outcome = rhea.message as unknown as Record<'accepted' | 'rejected', (f?: object) => { described(): unknown }>;
const accepted = () => outcome.accepted().described() as { descriptor: { value: unknown } };
const rejected = () =>
  outcome.rejected({ error: { condition: 'x' } }).described() as { descriptor: { value: unknown } };

describe('disposition ranges', () => {
  /** Fake deliveries of one receiving link; the frames they produce are collected. */
  function run(states: Array<'a' | 'r' | 'none'>, ids = states.map((_, i) => i)) {
    const out: Array<{ first: number; last: number; state: unknown; settled: boolean }> = [];
    const session = { output: (f: unknown) => out.push(f as (typeof out)[number]) };
    const link = { is_receiver: () => true, session, connection: { _register() {} } };
    const deliveries = states.map((s, i) => ({
      id: ids[i]!,
      settled: true,
      remote_settled: false,
      link,
      ...(s === 'a' ? { state: accepted() } : s === 'r' ? { state: rejected() } : {}),
    }));
    writeDispositions(deliveries, (f) => f);
    return out;
  }

  test('a delivery without an id gets no disposition, and the others theirs', () => {
    const frames = run(['a', 'a', 'a'], [0, undefined as unknown as number, 1]);
    assert.deepEqual(
      frames.map((f) => [f.first, f.last]),
      [[0, 1]],
    );
  });

  test('a stored transfer and a refused one settled together get two frames', () => {
    const frames = run(['a', 'r']);
    assert.equal(frames.length, 2);
    assert.deepEqual(
      frames.map((f) => [f.first, f.last]),
      [
        [0, 0],
        [1, 1],
      ],
    );
    assert.equal((frames[1]!.state as { descriptor: { value: number } }).descriptor.value, 0x25);
  });

  test('runs of accepted merge; rejected never do; every id is answered once with its own outcome', () => {
    const states: Array<'a' | 'r'> = ['a', 'a', 'r', 'r', 'a', 'r', 'a', 'a', 'a', 'r'];
    const frames = run(states);
    const seen = new Map<number, number>();
    for (const f of frames) {
      const code = (f.state as { descriptor: { value: number } }).descriptor.value;
      if (f.first !== f.last) assert.equal(code, 0x24, 'only accepted outcomes share a range');
      for (let id = f.first; id <= f.last; id++) seen.set(id, code);
    }
    assert.deepEqual(
      [...seen.entries()].sort((x, y) => x[0] - y[0]).map(([, c]) => c),
      states.map((s) => (s === 'a' ? 0x24 : 0x25)),
    );
    assert.equal(frames.length, 7);
  });

  test('gaps in ids split ranges; a delivery updated twice is written once', () => {
    const frames = run(['a', 'a', 'a'], [1, 2, 4]);
    assert.deepEqual(
      frames.map((f) => [f.first, f.last]),
      [
        [1, 2],
        [4, 4],
      ],
    );
    const session = { frames: [] as unknown[] };
    const link = { is_receiver: () => true, session: { output: (f: unknown) => session.frames.push(f) } };
    const d = { id: 7, settled: true, remote_settled: false, link, state: rejected() };
    writeDispositions([d, d] as never, (f) => f);
    assert.equal(session.frames.length, 1);
  });
});

describe('AMQP service sends to full and non-full queues, settled in one tick', () => {
  // Room for every send to 'room'; 'full' is filled to the limit first.
  const DEPTH = 25;
  const PAIRS = 20;
  let h: AmqpHarness;
  let tap: { bytes(): Buffer } | undefined;
  before(async () => {
    h = await startAmqpHarness({
      c2d: { maxQueueDepth: DEPTH },
      onSocket: (s: Socket) => {
        tap = tapWrites(s);
      },
    });
    await h.createDevice('room');
    await h.createDevice('full');
    const fill = Array.from({ length: DEPTH }, (_, i) => ({
      deviceId: 'full',
      message: { body: Buffer.from(`f${i}`) },
    }));
    await h.engine.sendMany(fill as never);
  });
  after(() => h.close());

  test('every disposition on the wire matches what was stored', async () => {
    const c = await h.connect();
    const wire = tap!;
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    const { link: sender, error } = await c.attachSender('/messages/devicebound');
    assert.equal(error, undefined);
    await eventually(() => sender.sendable(), 'credit');

    const target = new Map<number, 'room' | 'full'>();
    const answered = new Map<number, string>();
    const onOutcome = (state: string) => (ctx: EventContext) => answered.set((ctx.delivery as Delivery).id, state);
    sender.on('accepted', onOutcome('accepted'));
    sender.on('rejected', onOutcome('rejected'));
    // All in one tick: rhea writes them together and the hub settles them in one batch.
    for (let i = 0; i < PAIRS; i++) {
      for (const device of ['room', 'full'] as const) {
        const d = sender.send(c2d(device, `${device}-${i}`));
        target.set(d.id, device);
      }
    }
    await eventually(() => answered.size === target.size, 'every send answered', h.engine);

    const byId = outcomeById(dispositions(wire.bytes()));
    for (const [id, device] of target) {
      const d = byId.get(id);
      assert.ok(d, `delivery ${id} has a disposition`);
      if (device === 'room') assert.equal(d.outcome, 'accepted', `delivery ${id} (stored) answered ${d.outcome}`);
      else {
        assert.equal(d.outcome, 'rejected', `delivery ${id} (refused) answered ${d.outcome}`);
        assert.equal(d.condition, 'amqp:resource-limit-exceeded');
      }
      assert.equal(answered.get(id), d.outcome);
    }
    assert.equal(await h.engine.queueDepth('room'), PAIRS);
    assert.equal(await h.engine.queueDepth('full'), DEPTH);
    await c.close();
  });
});
