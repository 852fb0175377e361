/** What WorkerStore and its worker say to each other. */
import type { Store } from '../types.js';

export type StoreMethod = Exclude<keyof Store, symbol>;

export interface Call {
  id: number;
  method: StoreMethod;
  args: unknown[];
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** An error as it crosses the thread boundary (structured clone keeps name and message, not code). */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

export function wireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, stack: err.stack, ...(typeof code === 'string' && { code }) };
}

export function fromWire(w: WireError): Error {
  const err = new Error(w.message);
  err.name = w.name;
  if (w.stack) err.stack = w.stack;
  if (w.code !== undefined) (err as Error & { code?: string }).code = w.code;
  return err;
}

/** A Uint8Array that crossed postMessage back to a Buffer (sharing its memory); anything else as is. */
export function toBuffer<T>(v: T): T | Buffer {
  if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return v;
}
