/** What the DeviceClient needs of a transport; one implementation per protocol. */
import type { FerryError, ReceivedFields } from '@ferry/common';
import type { TokenSource } from '@ferry/common/client';
import type { OutgoingEvent } from './events.js';

/** A received C2D message. Settle it with the client's complete, abandon or reject. */
export interface ReceivedMessage extends ReceivedFields {
  body: Buffer;
  /** Identifies this delivery when settling it. Over MQTT and AMQP it is valid on this connection only. */
  lockToken: string;
}

export type Settlement = 'complete' | 'abandon' | 'reject';

/** Where and as whom a transport connects (what MQTT and AMQP both need). */
export interface TransportTarget {
  host: string;
  port: number;
  websocket: boolean;
  deviceId: string;
  ca: string | Buffer | undefined;
  tokens: TokenSource;
}

export interface TransportEvents {
  /** A message was pushed (MQTT, AMQP, once 'c2d' is enabled). */
  message(m: ReceivedMessage): void;
  /** A desired-properties patch (MQTT, AMQP, once 'twin' is enabled); the body is the JSON patch. */
  desired(patch: Buffer, version: number | undefined): void;
  /** A direct method call (MQTT, AMQP, once 'methods' is enabled). */
  method(call: MethodCall): void;
  /** The connection was lost; the client reconnects. */
  lost(err: FerryError): void;
}

/**
 * What the connection carries beyond telemetry, each subscribed only once the app asks for it (as
 * azure-iot-device does), so a client that only sends leases no C2D message; an enabled feature is
 * enabled again on every reconnect.
 */
export type Feature = 'c2d' | 'twin' | 'methods';

export type TwinOperation = 'get' | 'patch-reported';

/** A twin answer: its status, the reported version of a patch, the JSON body. */
export interface TwinReply {
  status: number;
  version: number | undefined;
  body: Buffer;
}

export interface MethodCall {
  methodName: string;
  /** The hub's request id, to answer with. */
  rid: string;
  payload: Buffer;
}

export interface DeviceTransport {
  /** Opens the connection and enables again the features enabled before (HTTPS: nothing to open). */
  connect(events: TransportEvents): Promise<void>;
  /** HTTPS only: one receive request; null when the queue is empty. */
  poll?(): Promise<ReceivedMessage | null>;
  /** AMQP: how many messages the client is ready to take now. */
  wanted?(n: number): void;
  settle(lockToken: string, how: Settlement): Promise<void>;
  /** Telemetry: resolves once the hub has taken every message (PUBACK, accepted, 204). */
  sendEvents(events: OutgoingEvent[]): Promise<void>;
  /** MQTT, AMQP: subscribes to C2D messages, to twin answers and desired changes, or to method calls. */
  enable?(feature: Feature): Promise<void>;
  twinRequest?(operation: TwinOperation, body: Buffer | undefined): Promise<TwinReply>;
  answerMethod?(rid: string, status: number, payload: Buffer): Promise<void>;
  /** Puts a new SAS token on the open connection; false when the transport must reconnect for that (MQTT). */
  renewToken(): Promise<boolean>;
  close(): Promise<void>;
}
