/** What the DeviceClient needs of a transport; one implementation per protocol. */
import type { FerryError, ReceivedFields } from '@ferry/common';
import type { TokenSource } from '@ferry/common/client';

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
  /** A message was pushed (MQTT, AMQP). */
  message(m: ReceivedMessage): void;
  /** The connection was lost; the client reconnects. */
  lost(err: FerryError): void;
}

export interface DeviceTransport {
  /** Opens the connection and subscribes to C2D (HTTPS: nothing to open). */
  connect(events: TransportEvents): Promise<void>;
  /** HTTPS only: one receive request; null when the queue is empty. */
  poll?(): Promise<ReceivedMessage | null>;
  /** AMQP: how many messages the client is ready to take now. */
  wanted?(n: number): void;
  settle(lockToken: string, how: Settlement): Promise<void>;
  /** Puts a new SAS token on the open connection; false when the transport must reconnect for that (MQTT). */
  renewToken(): Promise<boolean>;
  close(): Promise<void>;
}
