/**
 * Issue 23: AMQP clients from other stacks against a real hub over TLS.
 * - The Azure IoT C SDK asks for the SASL mechanism MSSBCBS ("anonymous now, a CBS token
 *   follows"): rhea as the client with only that mechanism connects, puts a token on $cbs and sends.
 * - Qpid Proton names its $cbs sender and receiver alike (a link name is unique per direction);
 *   the hub dropped the connection without a close frame ("Attach already received"). Debian's
 *   python3-qpid-proton attaches both with one name, puts a token, and opens the link it covers.
 * - One name attached twice in the same direction is a protocol error: closed with a close frame
 *   (amqp:invalid-field), never a silent drop.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseHubConnectionString } from '@ferry/common';
import type { Connection, EventContext, Message } from 'rhea';
import { type HubProcess, startHub } from './harness.js';
import { amqpConnection } from './helpers/amqp-device.js';
import { deviceSas, serviceSas } from './helpers/auth.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 60_000 };
const PROTON_CLIENT = fileURLToPath(new URL('./clients/proton-cbs.py', import.meta.url));

let hub: HubProcess;
let deviceCs: string;

before(async () => {
  hub = await startHub();
  deviceCs = await hub.createDevice('other-stack-1');
});

after(async () => {
  await hub?.stop();
});

/** A rhea client connection over TLS (never reconnecting), open. */
function connect(extra: Record<string, unknown> = {}): Promise<Connection> {
  return amqpConnection(hub, extra);
}

/** Puts `token` on $cbs over `conn`; resolves with the reply's status code. */
async function putToken(conn: Connection, token: string, audience: string): Promise<unknown> {
  const replies = conn.open_receiver({ source: '$cbs', autoaccept: true });
  const requests = conn.open_sender({ target: '$cbs' });
  await withTimeout(new Promise((r) => requests.once('sendable', r)), 10_000, '$cbs credit');
  const reply = new Promise<unknown>((resolve) =>
    replies.once('message', (ctx: EventContext) => resolve(ctx.message?.application_properties?.['status-code'])),
  );
  requests.send({
    message_id: 'put-1',
    reply_to: 'cbs',
    application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
    body: token,
  } as Message);
  return withTimeout(reply, 10_000, 'put-token reply');
}

test("SASL MSSBCBS (the C SDK's mechanism): connect, put a token, send a C2D message", T, async () => {
  let offered: unknown;
  const conn = await connect({
    sasl_mechanisms: {
      MSSBCBS: () => ({
        start(callback: (err: unknown, response: Buffer) => void) {
          callback(undefined, Buffer.alloc(0));
        },
      }),
    },
  });
  try {
    offered = (conn as unknown as { sasl_transport?: { mechanism_name?: string } }).sasl_transport?.mechanism_name;
    assert.equal(offered, 'MSSBCBS');
    const host = parseHubConnectionString(hub.connectionString('service')).hostName;
    assert.equal(await putToken(conn, serviceSas(hub, 'service'), host), 200);
    const sender = conn.open_sender({ target: '/messages/devicebound' });
    await withTimeout(new Promise((r) => sender.once('sendable', r)), 10_000, 'service send credit');
    const outcome = new Promise<string>((resolve) => {
      sender.once('accepted', () => resolve('accepted'));
      sender.once('rejected', (ctx: EventContext) => resolve(`rejected ${JSON.stringify(ctx.delivery?.remote_state)}`));
    });
    sender.send({ to: '/devices/other-stack-1/messages/devicebound', message_id: 'mssbcbs-1', body: 'hi' } as Message);
    assert.equal(await withTimeout(outcome, 10_000, 'send outcome'), 'accepted');
  } finally {
    conn.close();
  }
});

test('Qpid Proton: $cbs sender and receiver with one name, a put-token, then the link it covers', T, async () => {
  const token = deviceSas(deviceCs);
  const audience = decodeURIComponent(/sr=([^&]*)/.exec(token)![1]!);
  const { stdout } = await promisify(execFile)(
    '/usr/bin/python3',
    [PROTON_CLIENT, hub.address, hub.caFile, token, audience, 'other-stack-1'],
    { timeout: 30_000 },
  ).catch((err: Error & { stderr?: string }) => {
    throw new Error(
      `the Proton client failed (is python3-qpid-proton installed?): ${err.message}\n${err.stderr ?? ''}`,
    );
  });
  const answer = JSON.parse(stdout.trim()) as { status: number; correlationId: string; c2dSource: string };
  assert.deepEqual(answer, {
    status: 200,
    correlationId: 'put-1',
    c2dSource: '/devices/other-stack-1/messages/devicebound',
  });
});

test('one name attached twice in one direction: the connection is closed with amqp:invalid-field', T, async () => {
  const conn = await connect();
  const closed = new Promise<unknown>((resolve) => {
    conn.once('connection_close', () => resolve(conn.error));
    conn.once('disconnected', () => resolve('disconnected without a close frame'));
  });
  // rhea as a client keeps its links by name as well, so the first one is opened under another
  // name and its attach frame renamed before it goes out.
  const first = conn.open_sender({ target: '$cbs', name: 'twice-first' });
  (first as unknown as { local: { attach: { name: string } } }).local.attach.name = 'twice';
  conn.open_sender({ target: '$cbs', name: 'twice' });
  const error = (await withTimeout(closed, 10_000, 'the close')) as { condition?: string } | string;
  assert.equal(typeof error === 'string' ? error : error?.condition, 'amqp:invalid-field');
});
