/**
 * A device over HTTPS. C2D is IoT Hub's polling pattern (official-sdk-wire.md C): GET leases the
 * next message (204: none), DELETE completes, DELETE ?reject rejects, POST .../abandon abandons.
 * Telemetry is `POST /devices/{id}/messages/events` (204 once durable): one message with its
 * properties in headers, or a batch as the official client writes it (a JSON array of
 * {body: base64, properties}, which carries application properties only).
 */
import { FerryError, headerReader, receivedFromHeaders, sendHeaders } from '@ferry/common';
import { type HttpsTarget, httpsCall, ok, type TokenSource } from '@ferry/common/client';
import type { OutgoingEvent } from './events.js';
import type { DeviceTransport, ReceivedMessage, Settlement } from './transport.js';

const BATCH_TYPE = 'application/vnd.microsoft.iothub.json';

export interface HttpsOptions extends HttpsTarget {
  deviceId: string;
  tokens: TokenSource;
  userAgent: string;
}

export class HttpsTransport implements DeviceTransport {
  private readonly base: string;

  constructor(private readonly o: HttpsOptions) {
    this.base = `/devices/${encodeURIComponent(o.deviceId)}/messages/devicebound`;
  }

  async connect(): Promise<void> {}

  private call(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) {
    return httpsCall(this.o, {
      method,
      path,
      authorization: this.o.tokens.token(),
      headers: { 'user-agent': this.o.userAgent, ...headers },
      ...(body ? { body } : {}),
    }).then(ok);
  }

  async sendEvents(events: OutgoingEvent[]): Promise<void> {
    const path = `/devices/${encodeURIComponent(this.o.deviceId)}/messages/events`;
    if (events.length === 1) {
      const { body, ...fields } = events[0]!;
      await this.call('POST', path, sendHeaders(fields), body);
      return;
    }
    const items = events.map(({ body, properties, ...system }) => {
      const carried = Object.keys(system).filter((k) => system[k as keyof typeof system] !== undefined);
      if (carried.length > 0) {
        throw new FerryError(
          'ArgumentInvalid',
          `Over HTTPS a batch carries only body and properties, not ${carried.join(', ')}; send such messages one at a time, or use mqtt or amqp`,
        );
      }
      const props = Object.fromEntries(Object.entries(properties ?? {}).map(([k, v]) => [`iothub-app-${k}`, v]));
      return { body: body.toString('base64'), properties: props };
    });
    await this.call('POST', path, { 'content-type': BATCH_TYPE }, Buffer.from(JSON.stringify(items), 'utf8'));
  }

  async poll(): Promise<ReceivedMessage | null> {
    const reply = await this.call('GET', this.base, { 'iothub-to': this.base });
    if (reply.status === 204) return null;
    const fields = receivedFromHeaders(Object.keys(reply.headers), headerReader(reply.headers));
    const { lockToken, ...rest } = fields;
    if (!lockToken) throw new FerryError('ServerError', 'The hub sent a message without an ETag (lock token)');
    return { ...rest, body: reply.body, lockToken };
  }

  async settle(lockToken: string, how: Settlement): Promise<void> {
    const token = `${this.base}/${encodeURIComponent(lockToken)}`;
    const ifMatch = { 'if-match': lockToken };
    if (how === 'abandon') await this.call('POST', `${token}/abandon`, ifMatch);
    else await this.call('DELETE', how === 'reject' ? `${token}?reject` : token, ifMatch);
  }

  async renewToken(): Promise<boolean> {
    return true; // every request signs a fresh token
  }

  async close(): Promise<void> {}
}
