/**
 * The official service client (azure-iothub Client over AMQP) pointed at the bench hub. The SDK
 * takes no CA option (it trusts NODE_EXTRA_CA_CERTS, read once at process start), so we wrap its
 * AMQP base transport's connect() to add the hub's CA and the OS-chosen port. Everything above
 * the socket (CBS put-token, the /messages/devicebound sender link, one send per message awaiting
 * its disposition) is the SDK's own.
 *
 * The SDK attaches its sender link lazily, on the first send, and every send issued before that
 * attach completes attaches a link of its own (azure-iothub dist/amqp.js: `if (!this._c2dLink)`):
 * a burst of 256 sends on a fresh client asks for 256 links, and the hub refuses those beyond
 * amqp.maxLinksPerConnection. So open() sends one warm-up message first, awaited.
 */
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import type { HubEndpoint } from './bench-hub.js';

type ConnectFn = (config: Record<string, unknown>, done: (err?: Error) => void) => void;

export interface ServiceClient {
  /** Messages open() sent to warm the link up (they count in the hub's sends and completes). */
  readonly warmUpMessages: number;
  /** Resolves when the hub accepted the message (AMQP disposition Accepted). */
  send(deviceId: string, body: Buffer, messageId: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens the client; the warm-up message goes to `warmUpDeviceId` with a body too short to be a stamped one. */
export async function openServiceClient(endpoint: HubEndpoint, warmUpDeviceId: string): Promise<ServiceClient> {
  const client = iothub.Client.fromConnectionString(endpoint.serviceConnectionString, iothub.Amqp);
  const base = (client as unknown as { _transport?: { _amqp?: { connect?: ConnectFn } } })._transport?._amqp;
  if (typeof base?.connect !== 'function') {
    throw new Error('azure-iothub internals changed: cannot hand the service client the hub CA in-process');
  }
  const connect = base.connect.bind(base);
  base.connect = (config, done) =>
    connect(
      { ...config, uri: `amqps://${endpoint.address}:${endpoint.ports.amqps}`, sslOptions: { ca: endpoint.ca } },
      done,
    );
  client.on('error', () => undefined);
  await client.open();
  await client.send(warmUpDeviceId, new common.Message(Buffer.from('w')));
  return {
    warmUpMessages: 1,
    async send(deviceId, body, messageId) {
      const m = new common.Message(body);
      m.messageId = messageId;
      await client.send(deviceId, m);
    },
    async close() {
      await client.close();
    },
  };
}
