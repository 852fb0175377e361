/** InflightWindow answers as a Map of packet ids in publish order would, through id wrap-around. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivery } from '@ferry/common';
import { InflightWindow } from '../src/gateways/mqtt/inflight-window.js';

const delivery = (n: number) => ({ sequenceNumber: n, lockToken: `t${n}` }) as unknown as Delivery;

/** Drives a window and a Map alike, allocating ids as the delivery pump does, and compares them. */
function model(seed: number) {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const window = new InflightWindow();
  const map = new Map<number, Delivery>();
  let next = 1;
  let n = 0;
  const allocate = () => {
    for (;;) {
      const id = next;
      next = id === 0xffff ? 1 : id + 1;
      assert.equal(window.has(id), map.has(id), `has(${id})`);
      if (!map.has(id)) return id;
    }
  };
  const add = () => {
    const id = allocate();
    const d = delivery(++n);
    window.add(id, d);
    map.set(id, d);
  };
  const take = (id: number) => {
    assert.equal(window.take(id), map.get(id), `take(${id})`);
    map.delete(id);
  };
  const check = () => {
    assert.equal(window.size, map.size);
    assert.deepEqual(window.entries(), [...map.entries()]);
  };
  return { window, map, add, take, check, random, setNext: (id: number) => (next = id), added: () => n };
}

test('in-order and out-of-order PUBACKs, unknown ids, clear: the same answers as a Map', () => {
  const m = model(7);
  for (let i = 0; i < 20_000; i++) {
    const r = m.random();
    if (m.map.size < 16 && r < 0.55) m.add();
    else if (r < 0.85 && m.map.size > 0) m.take([...m.map.keys()][0]!);
    else if (r < 0.97 && m.map.size > 0) m.take([...m.map.keys()][Math.floor(m.random() * m.map.size)]!);
    else if (r < 0.995) m.take(1 + Math.floor(m.random() * 0xffff));
    else {
      m.window.clear();
      m.map.clear();
    }
    m.check();
  }
});

test('ids wrap round past ones still in flight: they are skipped, and the window stays right', () => {
  const m = model(11);
  m.setNext(0xfff0);
  m.add(); // 0xfff0, never acknowledged
  const pinned = new Set([...m.map.keys()]);
  // Two laps of the id space with a few in flight: allocation meets the pinned ids twice.
  for (let i = 0; m.added() < 2 * 0xffff + 100; i++) {
    const free = [...m.map.keys()].filter((id) => !pinned.has(id));
    if (i === 30_000) {
      m.add(); // a second one kept from the middle of the first lap
      pinned.add([...m.map.keys()].at(-1)!);
    } else if (free.length < 3) m.add();
    else m.take(free[Math.floor(m.random() * free.length)]!);
    if (i % 1000 === 0) m.check();
  }
  m.check();
  assert.equal(pinned.size, 2);
  for (const id of pinned) assert.ok(m.map.has(id));
  while (m.map.size > 0) m.take([...m.map.keys()][0]!);
  m.check();
  for (let i = 0; i < 10; i++) m.add();
  m.check();
});
