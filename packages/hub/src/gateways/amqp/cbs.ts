/**
 * The claims-based-security node `$cbs` (official-sdk-wire.md B "CBS put-token", G.2;
 * c2d-semantics.md 5.3). Requests come on the peer's sender link to `$cbs`; replies go out on the
 * peer's receiver link from `$cbs`, with `status-code` an AMQP int and `correlation_id` the
 * request's message_id exactly (the Node SDK compares with ===).
 */
import { FerryError, toFerryError } from '@ferry/common';
import type { Logger } from 'pino';
import rhea, { type AmqpError, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Authenticator } from '../../auth/types.js';
import type { RefusalKey } from '../refusals.js';
import type { Claims } from './claims.js';
import { TRANSFER_LIMIT_EXCEEDED } from './errors.js';
import type { LinkHandler } from './link-handler.js';

const TOKEN_TYPES = new Set(['servicebus.windows.net:sastoken', 'azure-devices.net:sastoken']);
/** Put-tokens a peer may have in flight on one request link. */
const CBS_CREDIT = 16;

interface CbsDeps {
  auth: Authenticator;
  claims: Claims;
  logger: Logger;
  /** A put-token was refused (counted per connection, logged up to a limit). */
  refused(fields: object, message: string, label: string, key: RefusalKey): void;
}

interface Reply {
  status: number;
  description: string;
}

export class CbsNode {
  private readonly replyLinks = new Set<Sender>();

  constructor(private readonly deps: CbsDeps) {}

  /** The peer's sender link to `$cbs`. */
  serveRequests(receiver: Receiver): LinkHandler {
    let granted = CBS_CREDIT;
    let closed = false;
    receiver.add_credit(CBS_CREDIT);
    const handler: LinkHandler = {
      requires: undefined,
      detached: async () => {
        closed = true;
      },
      close: async (error: AmqpError) => {
        if (closed) return;
        closed = true;
        receiver.close(error);
      },
    };
    receiver.on('message', (ctx: EventContext) => {
      if (closed) return;
      if (granted <= 0) {
        void handler.close({ condition: TRANSFER_LIMIT_EXCEEDED, description: 'Transfer without link credit on $cbs' });
        return;
      }
      granted--;
      ctx.delivery?.accept();
      const request = ctx.message;
      void this.putToken(request).then((reply) => {
        if (request) this.reply(request, reply);
        if (!closed) {
          granted++;
          receiver.add_credit(1);
        }
      });
    });
    return handler;
  }

  /** The peer's receiver link from `$cbs`. */
  serveReplies(sender: Sender): LinkHandler {
    this.replyLinks.add(sender);
    const done = async () => {
      this.replyLinks.delete(sender);
    };
    return {
      requires: undefined,
      detached: done,
      close: async (error: AmqpError) => {
        await done();
        sender.close(error);
      },
    };
  }

  private async putToken(msg: Message | undefined): Promise<Reply> {
    try {
      const props: Record<string, unknown> = msg?.application_properties ?? {};
      if (props.operation !== 'put-token') {
        return { status: 400, description: `Unsupported $cbs operation "${String(props.operation ?? '')}"` };
      }
      if (typeof props.type !== 'string' || !TOKEN_TYPES.has(props.type)) {
        return { status: 400, description: `Unsupported token type "${String(props.type ?? '')}"` };
      }
      const body: unknown = msg?.body;
      const token = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : undefined;
      if (token === undefined) return { status: 400, description: 'The put-token body must be the token string' };
      const principal = await this.deps.auth.authenticate(token);
      const audience = typeof props.name === 'string' && props.name !== '' ? props.name : token;
      this.deps.claims.put(audience, principal);
      // info: renewals are rare (45 min by default) and worth seeing.
      this.deps.logger.info(
        { audience, principal: principal.kind === 'device' ? principal.deviceId : principal.policyName },
        'cbs put-token accepted',
      );
      return { status: 200, description: 'OK' };
    } catch (err) {
      const fe = toFerryError(err);
      if (fe.errorName === 'ServerError') this.deps.logger.error({ err }, 'cbs put-token failed');
      else
        this.deps.refused({ code: fe.code, reason: fe.message }, 'cbs put-token refused', `put-token ${fe.errorName}`, {
          device: deviceOfAudience(msg?.application_properties?.name),
          cause: fe.errorName,
        });
      return { status: fe.httpStatus, description: fe instanceof FerryError ? fe.message : 'Error' };
    }
  }

  private reply(request: Message, reply: Reply): void {
    const link = [...this.replyLinks].find((l) => l.is_open());
    if (!link) {
      this.deps.logger.info({ status: reply.status }, 'cbs put-token answered but the peer has no $cbs reply link');
      return;
    }
    // A message-id is a ulong, uuid, binary or string; anything else a peer sent (a list, a map)
    // is not echoed: rhea cannot encode it as a correlation-id and would throw.
    const id: unknown = request.message_id;
    let correlation = typeof id === 'string' || typeof id === 'number' || Buffer.isBuffer(id) ? id : undefined;
    // rhea writes a Buffer message id as a uuid; keep a binary id binary.
    if (Buffer.isBuffer(correlation) && correlation.length !== 16)
      correlation = rhea.types.wrap_binary(correlation) as unknown as Buffer;
    const msg: Message = {
      body: null,
      application_properties: {
        'status-code': rhea.types.wrap_int(reply.status),
        'status-description': reply.description,
      },
    };
    if (correlation !== undefined && correlation !== null) msg.correlation_id = correlation;
    if (typeof request.reply_to === 'string') msg.to = request.reply_to;
    link.send(msg);
  }
}

/** The device a put-token's audience names (`{host}/devices/{id}`), or undefined. */
function deviceOfAudience(audience: unknown): string | undefined {
  if (typeof audience !== 'string') return undefined;
  const m = /\/devices\/([^/?]+)/.exec(audience);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1];
  }
}
