/**
 * AMQP with a TLS client certificate (x509=true): no CBS; the device link's address names the
 * device the certificate must prove. SASL EXTERNAL is offered to such a connection. A registry
 * change that no longer accepts the certificate detaches the link.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { ConnectionOptions } from 'rhea';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import { thumbprintsOf, X509Authenticator } from '../src/auth/x509.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import { Engine } from '../src/engine/engine.js';
import { createAmqpGateway } from '../src/gateways/amqp/index.js';
import type { StreamGateway } from '../src/gateways/context.js';
import { CaCertificates } from '../src/registry/ca-certificates.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { selfSignedCertificate } from '../src/tls/device-certs.js';
import { Client } from './amqp-harness.js';
import { within } from './deadline.js';

const C2D = (id: string) => `/devices/${id}/messages/devicebound`;
/** What rhea's own ExternalClient does: an empty initial response. */
const EXTERNAL = { EXTERNAL: () => ({ start: (cb: (e: unknown, r: string) => void) => cb(undefined, '') }) };

describe('AMQP with X.509 client certificates', () => {
  const clock = new ManualClock(Date.now());
  const store = new SqliteStore({ path: ':memory:' });
  const engine = new Engine({ store, clock, c2d: DEFAULT_CONFIG.c2d, feedback: DEFAULT_CONFIG.feedback });
  const registry = new DeviceRegistry({ store, engine, clock });
  const mine = new X509Certificate(selfSignedCertificate('dev1').certPem);
  const other = new X509Certificate(selfSignedCertificate('dev1').certPem);
  let gateway: StreamGateway;
  let server: Server;
  let port: number;
  const clients: Client[] = [];

  before(async () => {
    engine.start();
    await registry.init();
    const x509 = new X509Authenticator({ registry, caCertificates: new CaCertificates(store, clock), clock });
    gateway = createAmqpGateway({
      engine,
      registry,
      auth: new SasAuthenticator({ registry, hosts: ['localhost'], clock }),
      config: DEFAULT_CONFIG,
      clock,
      logger: pino({ level: 'silent' }),
      hubName: 'localhost',
      x509,
    });
    // Every connection presents `mine`, as a TLS listener would report it.
    server = createServer((socket) =>
      gateway.handle(socket, {
        remoteAddress: '127.0.0.1',
        transport: 'memory',
        clientCertificates: { chain: [mine], verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    await registry.create({
      deviceId: 'dev1',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprintsOf(mine).sha1 } },
    });
    await registry.create({ deviceId: 'sas1' });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await gateway.close();
    server.close();
    await engine.stop();
    await store.close();
  });

  async function connect(opts: Partial<ConnectionOptions> = {}): Promise<Client> {
    const c = new Client(port, opts);
    clients.push(c);
    await within(c.opened, 'the hub to open the AMQP connection');
    return c;
  }

  test('no SASL, no CBS: the device link opens and receives; another device is refused', async () => {
    const c = await connect();
    const { link, error } = await c.attachReceiver(C2D('dev1'));
    assert.equal(error, undefined);
    await engine.send('dev1', { messageId: 'x1', body: Buffer.from('hi') });
    const [ctx] = (await once(link, 'message')) as [{ message: { message_id: string } }];
    assert.equal(ctx.message.message_id, 'x1');
    const refused = await c.attachReceiver(C2D('sas1'));
    assert.equal(refused.error?.condition, 'amqp:unauthorized-access');
  });

  test('SASL EXTERNAL is accepted for a connection with a certificate', async () => {
    const c = await connect({ sasl_mechanisms: EXTERNAL } as unknown as Partial<ConnectionOptions>);
    assert.equal((await c.attachReceiver(C2D('dev1'))).error, undefined);
  });

  test('a thumbprint change that drops the certificate detaches the link', async () => {
    const c = await connect();
    const { link } = await c.attachReceiver(C2D('dev1'));
    const closed = c.linkClosed(link);
    await registry.update(
      'dev1',
      { authentication: { x509Thumbprint: { primaryThumbprint: thumbprintsOf(other).sha256 } } },
      '*',
    );
    assert.equal((await closed)?.condition, 'amqp:unauthorized-access');
    assert.equal((await c.attachReceiver(C2D('dev1'))).error?.condition, 'amqp:unauthorized-access');
  });
});
