/** The single-process signal bus: listeners by device, feedback listeners, a throwing listener contained. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InProcessSignalBus } from '../src/cluster/in-process-signal-bus.js';

describe('InProcessSignalBus', () => {
  test("a device's listeners hear its signals, not another device's; unsubscribed, they hear nothing", () => {
    const bus = new InProcessSignalBus();
    const heard: string[] = [];
    const offA = bus.onDevice('a', () => heard.push('a1'));
    bus.onDevice('a', () => heard.push('a2'));
    bus.onDevice('b', () => heard.push('b'));
    bus.notifyDevice('a');
    bus.notifyDevice('nobody');
    assert.deepEqual(heard, ['a1', 'a2']);
    offA();
    offA(); // twice is harmless
    bus.notifyDevice('a');
    bus.notifyDevice('b');
    assert.deepEqual(heard, ['a1', 'a2', 'a2', 'b']);
  });

  test('the same function twice is called twice, and one unsubscribe removes one', () => {
    const bus = new InProcessSignalBus();
    let n = 0;
    const fn = () => n++;
    const off = bus.onDevice('a', fn);
    bus.onDevice('a', fn);
    bus.notifyDevice('a');
    assert.equal(n, 2);
    off();
    bus.notifyDevice('a');
    assert.equal(n, 3);
  });

  test('a listener that unsubscribes another during a signal does not make it miss that signal', () => {
    const bus = new InProcessSignalBus();
    const heard: string[] = [];
    let offSecond: () => void = () => undefined;
    bus.onDevice('a', () => {
      heard.push('first');
      offSecond();
    });
    offSecond = bus.onDevice('a', () => heard.push('second'));
    bus.notifyDevice('a');
    bus.notifyDevice('a');
    assert.deepEqual(heard, ['first', 'second', 'first']);
  });

  test('a throwing listener is reported and the others still run', () => {
    const errors: unknown[] = [];
    const bus = new InProcessSignalBus((err) => errors.push(err));
    let after = 0;
    bus.onDevice('a', () => {
      throw new Error('boom');
    });
    bus.onDevice('a', () => after++);
    bus.onFeedback(() => {
      throw new Error('feedback boom');
    });
    bus.onFeedback(() => after++);
    assert.doesNotThrow(() => bus.notifyDevice('a'));
    assert.doesNotThrow(() => bus.notifyFeedback());
    assert.equal(after, 2);
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['boom', 'feedback boom'],
    );
  });

  test('wakeAll signals every device listener and every feedback listener once', () => {
    const bus = new InProcessSignalBus();
    const heard: string[] = [];
    bus.onDevice('a', () => heard.push('a'));
    bus.onDevice('b', () => heard.push('b'));
    const offFeedback = bus.onFeedback(() => heard.push('feedback'));
    bus.wakeAll();
    assert.deepEqual(heard.sort(), ['a', 'b', 'feedback']);
    offFeedback();
    heard.length = 0;
    bus.wakeAll();
    assert.deepEqual(heard.sort(), ['a', 'b']);
  });
});
