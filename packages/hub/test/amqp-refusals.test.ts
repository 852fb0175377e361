/**
 * Regression (issue 7): a connection making hundreds of refused attaches wrote one info line each
 * (205 MB of log in 10 minutes of fuzzing). Refusals are now logged up to
 * connections.loggedRefusals, then counted and summarised once; at connections.maxRefusals the
 * connection is closed with amqp:resource-limit-exceeded.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { startAmqpHarness } from './amqp-harness.js';

function capture() {
  const lines: Array<{ msg: string; [k: string]: unknown }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

test('refused attaches: a few logged, the rest counted, the connection closed at maxRefusals', async () => {
  const log = capture();
  const h = await startAmqpHarness({ connections: { maxRefusals: 40, loggedRefusals: 3 }, logger: log.logger });
  try {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    const refused: string[] = [];
    // Refused attaches, one after another, as a fuzzer makes them.
    for (let i = 0; i < 39; i++) {
      const r = await c.attachSender(`/nowhere/${i}`);
      refused.push(String(r.error?.condition));
    }
    assert.ok(refused.every((x) => x === 'amqp:not-found'));
    const closed = c.closed;
    // Whether or not the hub answers it, the connection is closed: that is what this waits for.
    c.attachReceiver('/nowhere/last').catch(() => undefined);
    const err = await closed;
    assert.equal(err && 'condition' in err ? err.condition : undefined, 'amqp:resource-limit-exceeded');
  } finally {
    await h.close();
  }
  {
    const count = (msg: string) => log.lines.filter((l) => l.msg === msg).length;
    assert.equal(count('link refused'), 3);
    assert.equal(count('further refusals on this connection are counted, not logged'), 1);
    assert.equal(count('too many refused requests: closing the connection'), 1);
    const summary = log.lines.find((l) => l.msg === 'refused requests on this connection');
    assert.equal(summary?.refused, 40);
  }
});
