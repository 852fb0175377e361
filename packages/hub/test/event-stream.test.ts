/** EventStreams on their own: the cap on open streams, and closeAll at hub stop. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../src/clock.js';
import type { HubInspector } from '../src/console/inspector.js';
import { sendError } from '../src/gateways/http/errors.js';
import { EventStreams } from '../src/gateways/http/event-stream.js';

const empty = { bounds: [], cumulative: [], count: 0, sum: 0 };
const inspector: HubInspector = {
  pending: async () => [],
  stats: async () => ({
    time: new Date(0).toISOString(),
    connections: {},
    devicesConnected: 0,
    c2d: { sent: 0, completed: 0, abandoned: 0, rejected: 0 },
    queues: { enqueued: 0, invisible: 0 },
    feedbackRecords: 0,
    telemetry: { messages: 0, bytes: 0 },
    latency: { commit: empty, delivery: empty, settle: empty },
  }),
  onFeedbackRecords: () => () => {},
  recentFeedback: () => [],
};

test('one stream more than the cap is 429 ThrottlingException; closeAll ends the open ones', async () => {
  const clock = new ManualClock();
  const log = pino({ level: 'silent' });
  const streams = new EventStreams(2);
  const server = createServer((_req, res) => {
    try {
      streams.start(res, { inspector, intervalMs: 60_000, expiresAt: clock.now() + 3_600_000, clock, log });
    } catch (err) {
      sendError(res, err, log, clock);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const open = async (): Promise<IncomingMessage> => {
    const req = request({ host: '127.0.0.1', port, path: '/events', agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    return res;
  };
  try {
    const a = await open();
    const b = await open();
    assert.deepEqual([a.statusCode, b.statusCode], [200, 200]);
    const c = await open();
    assert.equal(c.statusCode, 429);
    assert.equal(c.headers['iothub-errorcode'], 'ThrottlingException');
    c.resume();
    const ended = Promise.all(
      [a, b].map((r) => {
        r.resume();
        return once(r, 'end');
      }),
    );
    streams.closeAll();
    await ended;
    // Closed streams free their places (the server sees the close a moment after the client).
    let d = await open();
    for (let i = 0; i < 100 && d.statusCode !== 200; i++) {
      d.resume();
      await new Promise((r) => setTimeout(r, 50));
      d = await open();
    }
    assert.equal(d.statusCode, 200);
    d.destroy();
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
