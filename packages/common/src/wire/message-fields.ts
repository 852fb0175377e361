/** The fields of a C2D message as the SDKs and the CLI see them on receipt. */
import type { Ack } from '../message.js';

/** Everything a device learns about a message; a field is absent when the wire did not carry it. */
export interface ReceivedFields {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Carried by AMQP and HTTPS; over MQTT it is the application property `iothub-ack`. */
  ack?: Ack;
  /** ms since the epoch */
  expiryTimeUtc?: number;
  /** ms since the epoch */
  enqueuedTimeUtc?: number;
  sequenceNumber?: number;
  deliveryCount?: number;
  /** `/devices/{id}/messages/devicebound` */
  to?: string;
  properties: Record<string, string>;
}

export const ACKS: ReadonlySet<string> = new Set<Ack>(['none', 'positive', 'negative', 'full']);

/** A date-time as IoT Hub writes it (ISO 8601) in ms since the epoch; undefined when it is not one. */
export function parseTime(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

export function parseCount(text: string | undefined): number | undefined {
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/** Sets `key` only when `value` is defined: unset fields are never written (issue #13's rule). */
export function setDefined<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}
