/**
 * chaos/proc.ts reads which connections a process holds from /proc (Linux): a connection is named
 * by the client's address and port and the server's port, and counted held only while the server
 * side is open.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { connectionKey, hubConnections } from '../../chaos/proc.js';
import { waitFor } from './helpers/wait.js';

test('hubConnections names the connections this process holds, and drops one it closed', async () => {
  const accepted: Socket[] = [];
  const server = createServer((s) => accepted.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = connect({ host: '127.0.0.1', port });
  client.on('error', () => undefined);
  await once(client, 'connect');
  await waitFor(() => (accepted.length > 0 ? true : undefined), { what: 'the server to accept the connection' });
  const key = connectionKey(client.localAddress!, client.localPort!, port);
  // The client side is this process's too: only the server side's key names the server port.
  const { held, queued } = hubConnections(process.pid, '127.0.0.1');
  assert.ok(held.has(key), `${key} not in ${[...held].join(', ')}`);
  assert.ok(!queued.has(key));
  assert.ok(!held.has(connectionKey(client.localAddress!, client.localPort!, port + 1)));
  accepted[0]!.destroy();
  await once(client, 'close');
  assert.ok(!hubConnections(process.pid, '127.0.0.1').held.has(key));
  server.close();
});
