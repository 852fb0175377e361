/**
 * Direct methods on the device: one handler per method name, and optionally one for every other
 * name. A call to a name without a handler
 * is answered 501 and one whose handler throws 500, each with `{"message": ...}`, so the caller
 * learns why at once instead of waiting for its time-out.
 */
import { FerryError } from '@ferry/common';
import type { MethodCall } from './transport.js';

export interface MethodRequest {
  methodName: string;
  /** The caller's JSON payload, parsed (null when there was none). */
  payload: unknown;
  /** The hub's id of this call. */
  requestId: string;
}

export interface MethodResponse {
  /** Any whole number; the caller gets it as is (200 for success by convention). */
  status: number;
  /** Anything JSON can carry; undefined is sent as null. */
  payload?: unknown;
}

export type MethodHandler = (request: MethodRequest) => Promise<MethodResponse> | MethodResponse;

/** What methods need of the client: the methods feature on, and a way to answer. */
export interface MethodLink {
  enableMethods(): Promise<void>;
  answer(rid: string, status: number, payload: Buffer): Promise<void>;
}

function parsePayload(bytes: Buffer): unknown {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes.toString('utf8');
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value ?? null), 'utf8');
}

export class MethodDispatcher {
  private readonly handlers = new Map<string, MethodHandler>();
  private fallback: MethodHandler | undefined;

  constructor(private readonly link: MethodLink) {}

  async on(methodName: string, handler: MethodHandler | null): Promise<void> {
    if (typeof methodName !== 'string' || methodName === '') {
      throw new FerryError('ArgumentNull', 'onMethod() needs a method name');
    }
    if (handler === null) {
      this.handlers.delete(methodName);
      return;
    }
    if (typeof handler !== 'function') throw new FerryError('ArgumentInvalid', 'onMethod() needs a handler function');
    this.handlers.set(methodName, handler);
    await this.link.enableMethods();
  }

  /** The handler of every method without its own (as .NET's SetMethodDefaultHandlerAsync); null removes it. */
  async onAny(handler: MethodHandler | null): Promise<void> {
    if (handler !== null && typeof handler !== 'function') {
      throw new FerryError('ArgumentInvalid', 'setMethodDefaultHandler() needs a handler function or null');
    }
    this.fallback = handler ?? undefined;
    if (handler) await this.link.enableMethods();
  }

  /** A call from the hub: its handler's answer, or 501 / 500. Failing to answer is left to the caller's time-out. */
  called(call: MethodCall): void {
    void this.run(call)
      .then(
        ({ status, payload }) => this.link.answer(call.rid, status, payload),
        () => undefined,
      )
      .catch(() => undefined);
  }

  private async run(call: MethodCall): Promise<{ status: number; payload: Buffer }> {
    const handler = this.handlers.get(call.methodName) ?? this.fallback;
    if (!handler) {
      return { status: 501, payload: json({ message: `The device has no handler for method "${call.methodName}"` }) };
    }
    try {
      const response = await handler({
        methodName: call.methodName,
        payload: parsePayload(call.payload),
        requestId: call.rid,
      });
      if (!response || !Number.isInteger(response.status)) {
        return { status: 500, payload: json({ message: 'The method handler returned no whole-number status' }) };
      }
      return { status: response.status, payload: json(response.payload) };
    } catch (err) {
      return { status: 500, payload: json({ message: err instanceof Error ? err.message : String(err) }) };
    }
  }
}
