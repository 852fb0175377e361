/**
 * C2D over AMQP (TLS on 5671, or WebSocket with AMQPWSB10), as the official client does it
 * (official-sdk-wire.md B): CBS put-token, then a receiver on `/devices/{id}/messages/devicebound`.
 * Link credit is only what the app asked for, so no message sits locked in a buffer unseen.
 * complete = accepted, reject = rejected, abandon = released.
 */
import { amqpBodyBytes, FerryError, receivedFromAmqp } from '@ferry/common';
import { AmqpConnection, errorFromAmqp } from '@ferry/common/client';
import type { Delivery, Receiver } from 'rhea';
import type { DeviceTransport, Settlement, TransportEvents, TransportTarget } from './transport.js';

export type AmqpOptions = TransportTarget;

let generations = 0;

export class AmqpTransport implements DeviceTransport {
  private connection: AmqpConnection | undefined;
  private receiver: Receiver | undefined;
  private generation = 0;
  private nextId = 0;
  private readonly unsettled = new Map<string, Delivery>();

  constructor(private readonly o: AmqpOptions) {}

  async connect(events: TransportEvents): Promise<void> {
    this.unsettled.clear();
    const { host, port, websocket, ca, tokens } = this.o;
    const connection = await AmqpConnection.open({
      host,
      port,
      websocket,
      ca,
      audience: tokens.audience,
      token: () => tokens.token(),
    });
    this.generation = ++generations;
    const generation = this.generation;
    try {
      this.receiver = await connection.openReceiver({
        source: { address: `/devices/${this.o.deviceId}/messages/devicebound` },
        autoaccept: false,
        credit_window: 0,
      });
    } catch (err) {
      await connection.close();
      throw err;
    }
    this.connection = connection;
    connection.onClosed((err) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.receiver = undefined;
      events.lost(err);
    });
    this.receiver.on('receiver_close', (ctx) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.receiver = undefined;
      void connection.close();
      const error = ctx.receiver?.error as { condition?: unknown; description?: unknown } | undefined;
      // No condition: the hub just closed the link (a transient drop); else its reason decides.
      events.lost(
        error?.condition
          ? errorFromAmqp(error)
          : new FerryError('DeviceConnectionClosedRemotely', 'The hub closed the C2D link'),
      );
    });
    this.receiver.on('message', (ctx) => {
      const delivery = ctx.delivery!;
      const msg = ctx.message!;
      const lockToken = `amqp:${generation}:${++this.nextId}`;
      this.unsettled.set(lockToken, delivery);
      events.message({ ...receivedFromAmqp(msg as never), body: amqpBodyBytes(msg.body), lockToken });
    });
  }

  wanted(n: number): void {
    const receiver = this.receiver;
    if (!receiver) return;
    // rhea keeps the credit left on the link in `credit` (not in its typings).
    const more = n - ((receiver as unknown as { credit: number }).credit ?? 0);
    if (more > 0) receiver.add_credit(more);
  }

  async settle(lockToken: string, how: Settlement): Promise<void> {
    const delivery = this.unsettled.get(lockToken);
    if (!delivery || !this.connection) {
      throw new FerryError(
        'DeviceMessageLockLost',
        'The connection that delivered this message is gone or it was settled already; the hub delivers it again',
      );
    }
    this.unsettled.delete(lockToken);
    if (how === 'complete') delivery.accept();
    else if (how === 'reject') delivery.reject();
    else delivery.release();
  }

  async renewToken(): Promise<boolean> {
    if (!this.connection) return false;
    await this.connection.putToken();
    return true;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.receiver = undefined;
    await connection?.close();
  }
}
