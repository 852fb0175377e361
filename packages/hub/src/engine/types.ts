/**
 * What the gateways may ask of the C2D engine. Gateways speak only this interface; the engine
 * knows nothing of their wires. Every method that changes state resolves only after commit, and
 * fails with a FerryError carrying the IoT Hub code (DeviceNotFound, DeviceMessageLockLost, ...).
 */
import type { Delivery, FeedbackBatch, OutgoingMessage } from '@ferry/common';
import type { DeadLetter, HistoryEvent, SendOrigin, SettleAction } from '../store/types.js';
import type { DirectReceiver, ReceiverHandlers } from './waiting-receivers.js';

export type { DirectReceiver, HistoryEvent, ReceiverHandlers, SendOrigin, SettleAction };

/** One message of sendMany; `origin` (the sending policy, a job) goes into its history only. */
export interface SendItem {
  deviceId: string;
  message: OutgoingMessage;
  origin?: SendOrigin;
}

export interface SendResult {
  /** The message id as stored (the sender's, or undefined when it had none). */
  messageId: string | undefined;
  sequenceNumber: number;
}

export interface C2dEngine {
  /**
   * Enqueue one message. Checks device existence/enabled, size, expiry, ack, queue depth. `origin`
   * (the sending policy, a job id) is told in the message's history (docs/message-history.md).
   */
  send(deviceId: string, message: OutgoingMessage, origin?: SendOrigin): Promise<SendResult>;
  /** Enqueue many; each entry settles on its own (one may fail while the others commit). */
  sendMany(items: ReadonlyArray<SendItem>): Promise<Array<SendResult | Error>>;

  /**
   * Lease up to `max` (default 1) of the device's oldest Enqueued messages. [] when none.
   * `protocol` (mqtt, amqp, https) is told in the messages' history.
   */
  receive(deviceId: string, max?: number, protocol?: string): Promise<Delivery[]>;
  /**
   * For a receiver that found the queue empty (an MQTT connection, after almost every message):
   * registered once, then want(max) per wait. The next non-empty lease of up to max goes to
   * `handlers` (leased in the same transaction as the enqueue that made it available, when it
   * can); after pause() or close(), a lease already in flight still arrives there and is the
   * caller's to release. Optional: a gateway falls back to onAvailable + receive.
   */
  openReceiver?(deviceId: string, handlers: ReceiverHandlers, protocol?: string): DirectReceiver;
  /** Completed: removed; Success feedback when ack is positive/full. */
  complete(deviceId: string, lockToken: string): Promise<void>;
  /** Back to Enqueued in its place, delivery count + 1; dead-lettered at maxDeliveryCount. */
  abandon(deviceId: string, lockToken: string): Promise<void>;
  /** Dead-lettered with Rejected feedback. */
  reject(deviceId: string, lockToken: string): Promise<void>;
  /**
   * complete, abandon or reject, answered through a callback (`undefined` once committed, or the
   * FerryError): no promise per settle for a gateway that settles a message per packet. Optional:
   * a gateway falls back to the promise methods.
   */
  settleTo?(deviceId: string, lockToken: string, action: SettleAction, done: (err: Error | undefined) => void): void;
  /**
   * Return leased messages to Enqueued as a lock expiry would (no delivery count change unless
   * c2d.countLockExpiry). For a dropped link or connection. Unknown tokens are ignored.
   */
  release(deviceId: string, lockTokens: readonly string[]): Promise<void>;
  /** Dead-letter every pending message with status Purged; returns how many. */
  purge(deviceId: string): Promise<number>;
  /**
   * Ferry's kept dead letters (docs/dead-letters.md), oldest first, at most `limit`. Reads only.
   */
  deadLetters(deviceId: string, limit: number): Promise<DeadLetter[]>;
  /**
   * A kept dead letter back at the tail of the queue: new sequence number (returned), delivery
   * count 0, expiry now + c2d.defaultTtlMs. Fails with NotFound (no such dead letter),
   * DeviceNotFound or DeviceMaximumQueueDepthExceeded (the letter is kept then).
   */
  requeueDeadLetter(deviceId: string, sequenceNumber: number): Promise<number>;
  /** Removes a kept dead letter; NotFound when there is none. */
  deleteDeadLetter(deviceId: string, sequenceNumber: number): Promise<void>;
  /**
   * Every recorded step of the device's messages with this id (docs/message-history.md), by copy
   * then in order. Reads only; [] when none is kept (or history is off).
   */
  messageHistory(deviceId: string, messageId: string): Promise<HistoryEvent[]>;
  /** Enqueued + Invisible messages of one device. */
  queueDepth(deviceId: string): Promise<number>;
  /**
   * Called (without arguments) whenever the device may have a message to receive: a send, an
   * abandon, a lock expiry, a release. Returns an unsubscribe function. Signals may be spurious.
   */
  onAvailable(deviceId: string, listener: () => void): () => void;

  /** Lease the oldest feedback batch, or null when none is ready. */
  receiveFeedback(): Promise<FeedbackBatch | null>;
  completeFeedback(lockToken: string): Promise<void>;
  abandonFeedback(lockToken: string): Promise<void>;
  rejectFeedback(lockToken: string): Promise<void>;
  /** Like onAvailable, for the hub-wide feedback queue. */
  onFeedbackAvailable(listener: () => void): () => void;
}
