/**
 * IoT Hub's limits on a direct method invocation: a method name of printable US-ASCII without
 * the separators IoT Hub excludes, at most 128 KB of JSON payload, responseTimeoutInSeconds in
 * 5..300 (30 by default), connectTimeoutInSeconds in 0..300 (0 by default).
 */
import { FerryError } from '@ferry/common';
import type { MethodCall } from './types.js';

export const LIMITS = {
  maxPayloadBytes: 128 * 1024,
  maxNameLength: 128,
  minResponseTimeoutSeconds: 5,
  maxResponseTimeoutSeconds: 300,
  defaultResponseTimeoutSeconds: 30,
  maxConnectTimeoutSeconds: 300,
} as const;

/** Printable US-ASCII without SP, HT and ( ) < > @ , ; : \ " / [ ] ? = { } $. */
const NAME = /^[!#%&'*+\-.0-9A-Z^_`a-z|~]+$/;

export function parseMethodCall(body: unknown): MethodCall {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new FerryError('ArgumentInvalid', 'the body must be a JSON object with "methodName"');
  const b = body as Record<string, unknown>;
  const name = b.methodName;
  if (name === undefined || name === null || name === '')
    throw new FerryError('ArgumentNull', 'methodName is required');
  if (typeof name !== 'string') throw new FerryError('ArgumentInvalid', 'methodName must be a string');
  if (name.length > LIMITS.maxNameLength || !NAME.test(name))
    throw new FerryError(
      'ArgumentInvalid',
      `methodName "${name.slice(0, 40)}" must be at most ${LIMITS.maxNameLength} printable US-ASCII characters without spaces or ( ) < > @ , ; : \\ " / [ ] ? = { } $`,
    );
  const payloadJson = JSON.stringify(b.payload === undefined ? null : b.payload);
  const size = Buffer.byteLength(payloadJson);
  if (size > LIMITS.maxPayloadBytes)
    throw new FerryError(
      'MessageTooLarge',
      `the method payload is ${size} bytes; IoT Hub allows at most ${LIMITS.maxPayloadBytes} (128 KB)`,
    );
  const response = seconds(
    b.responseTimeoutInSeconds,
    'responseTimeoutInSeconds',
    LIMITS.minResponseTimeoutSeconds,
    LIMITS.maxResponseTimeoutSeconds,
    LIMITS.defaultResponseTimeoutSeconds,
  );
  const connect = seconds(b.connectTimeoutInSeconds, 'connectTimeoutInSeconds', 0, LIMITS.maxConnectTimeoutSeconds, 0);
  return { methodName: name, payloadJson, responseTimeoutMs: response * 1000, connectTimeoutMs: connect * 1000 };
}

function seconds(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new FerryError('ArgumentInvalid', `${name} must be a whole number of seconds from ${min} to ${max}`);
  return value;
}
