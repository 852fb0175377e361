/**
 * C2D over HTTPS, IoT Hub's polling pattern (official-sdk-wire.md C): GET leases the next
 * message (204: none), DELETE completes, DELETE ?reject rejects, POST .../abandon abandons.
 */
import { FerryError, headerReader, receivedFromHeaders } from '@ferry/common';
import { type HttpsTarget, httpsCall, ok, type TokenSource } from '@ferry/common/client';
import type { DeviceTransport, ReceivedMessage, Settlement } from './transport.js';

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

  private call(method: string, suffix: string, headers: Record<string, string> = {}) {
    return httpsCall(this.o, {
      method,
      path: `${this.base}${suffix}`,
      authorization: this.o.tokens.token(),
      headers: { 'user-agent': this.o.userAgent, ...headers },
    }).then(ok);
  }

  async poll(): Promise<ReceivedMessage | null> {
    const reply = await this.call('GET', '', { 'iothub-to': this.base });
    if (reply.status === 204) return null;
    const fields = receivedFromHeaders(Object.keys(reply.headers), headerReader(reply.headers));
    const { lockToken, ...rest } = fields;
    if (!lockToken) throw new FerryError('ServerError', 'The hub sent a message without an ETag (lock token)');
    return { ...rest, body: reply.body, lockToken };
  }

  async settle(lockToken: string, how: Settlement): Promise<void> {
    const token = `/${encodeURIComponent(lockToken)}`;
    const ifMatch = { 'if-match': lockToken };
    if (how === 'abandon') await this.call('POST', `${token}/abandon`, ifMatch);
    else await this.call('DELETE', how === 'reject' ? `${token}?reject` : token, ifMatch);
  }

  async renewToken(): Promise<boolean> {
    return true; // every request signs a fresh token
  }

  async close(): Promise<void> {}
}
