/** The official AMQP clients (azure-iothub Client, azure-iot-device with azure-iot-device-amqp) with inboxes to await. */
import { readFileSync } from 'node:fs';
import common from 'azure-iot-common';
import deviceSdk, { type Client as DeviceClient, type Message } from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import iothub from 'azure-iothub';
import type { HubProcess } from './harness.js';
import { Inbox } from './helpers/inbox.js';
import { withTimeout } from './helpers/wait.js';

export type AmqpTransportName = 'Amqp' | 'AmqpWs';

/** A queue of things an event emits, awaited in order. */
export interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  statusCode: string;
}

export interface Service {
  client: iothub.Client;
  feedback: Inbox<FeedbackRecord>;
  close(): Promise<void>;
}

export async function openService(
  hub: HubProcess,
  transport: AmqpTransportName,
  withFeedback = true,
): Promise<Service> {
  const client = iothub.Client.fromConnectionString(hub.ownerConnectionString, iothub[transport]);
  client.on('error', () => {});
  await withTimeout(client.open(), 20_000, 'service client open');
  const feedback = new Inbox<FeedbackRecord>();
  if (withFeedback) {
    const { result: receiver } = (await withTimeout(
      client.getFeedbackReceiver(),
      20_000,
      'feedback receiver',
    )) as unknown as {
      result: NodeJS.EventEmitter;
    };
    receiver.on('message', (m: { data: Buffer }) => {
      for (const r of JSON.parse(m.data.toString('utf8')) as FeedbackRecord[]) feedback.push(r);
    });
    receiver.on('error', () => {});
  }
  return {
    client,
    feedback,
    close: async () => {
      await withTimeout(client.close(), 10_000, 'service close').catch(() => undefined);
    },
  };
}

export function c2dMessage(
  body: string,
  o: { messageId?: string; ack?: string; expiryTimeUtc?: number } = {},
): common.Message {
  const m = new common.Message(body);
  if (o.messageId) m.messageId = o.messageId;
  if (o.ack) m.ack = o.ack;
  if (o.expiryTimeUtc) m.expiryTimeUtc = o.expiryTimeUtc;
  return m;
}

/** Sends and returns the error the SDK raised, or undefined when the hub accepted. */
export async function sendResult(svc: Service, deviceId: string, m: common.Message): Promise<Error | undefined> {
  try {
    await withTimeout(svc.client.send(deviceId, m), 20_000, 'send');
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

export interface AmqpDevice {
  client: DeviceClient;
  inbox: Inbox<Message>;
  close(): Promise<void>;
}

export async function openAmqpDevice(
  hub: HubProcess,
  connectionString: string,
  transport: AmqpTransportName,
  options: Record<string, unknown> = {},
): Promise<AmqpDevice> {
  const client = deviceSdk.Client.fromConnectionString(connectionString, deviceAmqp[transport]);
  client.on('error', () => {});
  // Options and open first: a `message` listener connects at once (official-sdk-wire.md G.17).
  await withTimeout(
    client.setOptions({ ca: readFileSync(hub.caFile, 'utf8'), ...options }),
    10_000,
    'device setOptions',
  );
  await withTimeout(client.open(), 20_000, 'device open');
  const inbox = new Inbox<Message>();
  client.on('message', inbox.push);
  return {
    client,
    inbox,
    close: async () => {
      client.removeAllListeners('message');
      await withTimeout(client.close(), 10_000, 'device close').catch(() => undefined);
    },
  };
}

/** The AMQP message annotations under the SDK's Message (transportObj is the rhea message). */
export function annotation(m: Message, name: string): unknown {
  const t = (m as unknown as { transportObj?: { message_annotations?: Record<string, unknown> } }).transportObj;
  return t?.message_annotations?.[name];
}
