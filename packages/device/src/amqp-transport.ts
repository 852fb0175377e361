/**
 * A device over AMQP (TLS on 5671, or WebSocket with AMQPWSB10), as the official client does it
 * (official-sdk-wire.md B): CBS put-token; once the app receives, a receiver on
 * `/devices/{id}/messages/devicebound` (feature 'c2d'). Link credit is only what the app asked for,
 * so no message sits locked in a buffer unseen.
 * complete = accepted, reject = rejected, abandon = released. Telemetry goes on a sender to
 * `/devices/{id}/messages/events` (a batch as one transfer of Microsoft's batch format) and
 * resolves when the hub accepts it; twins and methods on their own links (amqp-channels.ts).
 */
import { amqpBodyBytes, amqpFromEvent, FerryError, receivedFromAmqp } from '@ferry/common';
import { AmqpConnection, dataMessage, errorFromAmqp, SenderOutcomes } from '@ferry/common/client';
import rhea, { type AmqpError, type Delivery, type Receiver } from 'rhea';
import { AmqpMethodChannel, AmqpTwinChannel } from './amqp-channels.js';
import type { OutgoingEvent } from './events.js';
import type {
  DeviceTransport,
  Feature,
  Settlement,
  TransportEvents,
  TransportTarget,
  TwinOperation,
  TwinReply,
} from './transport.js';

/** The message format of a batch (Microsoft's vendor format), as the C and .NET SDKs send it. */
const BATCH_FORMAT = 0x80013700;

export type AmqpOptions = TransportTarget;

let generations = 0;

export class AmqpTransport implements DeviceTransport {
  private connection: AmqpConnection | undefined;
  private receiver: Receiver | undefined;
  private generation = 0;
  private nextId = 0;
  private readonly unsettled = new Map<string, Delivery>();
  private events: TransportEvents | undefined;
  /** Opened on first use on each connection. */
  private eventsLink: Promise<SenderOutcomes> | undefined;
  private readonly features = new Set<Feature>();
  private twin: AmqpTwinChannel | undefined;
  private methods: AmqpMethodChannel | undefined;

  constructor(private readonly o: AmqpOptions) {}

  async connect(events: TransportEvents): Promise<void> {
    this.unsettled.clear();
    this.events = events;
    this.eventsLink = undefined;
    this.twin = undefined;
    this.methods = undefined;
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
    this.receiver = undefined;
    try {
      for (const feature of this.features) await this.openFeature(connection, feature);
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
  }

  private async openFeature(connection: AmqpConnection, feature: Feature): Promise<void> {
    const { deviceId } = this.o;
    const closed = (what: string, error: AmqpError | undefined) => this.linkClosed(connection, what, error);
    if (feature === 'c2d') this.receiver = await this.openC2d(connection);
    else if (feature === 'twin') this.twin = await AmqpTwinChannel.open(connection, deviceId, this.events!, closed);
    else this.methods = await AmqpMethodChannel.open(connection, deviceId, this.events!, closed);
  }

  /**
   * The hub closed one of our links: the connection is lost, whichever feature it served (a
   * disabled device has all its links detached, and a client may have no C2D link to notice it by).
   */
  private linkClosed(connection: AmqpConnection, what: string, error: AmqpError | undefined): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.receiver = undefined;
    void connection.close();
    // No condition: the hub just closed the link (a transient drop); else its reason decides.
    this.events?.lost(
      error?.condition
        ? errorFromAmqp(error)
        : new FerryError('DeviceConnectionClosedRemotely', `The hub closed the ${what} link`),
    );
  }

  /** The C2D receiver, without credit until the app waits for a message. */
  private async openC2d(connection: AmqpConnection): Promise<Receiver> {
    const generation = this.generation;
    const events = this.events!;
    const receiver = await connection.openReceiver({
      source: { address: `/devices/${this.o.deviceId}/messages/devicebound` },
      autoaccept: false,
      credit_window: 0,
    });
    receiver.on('receiver_close', (ctx) =>
      this.linkClosed(connection, 'C2D', ctx.receiver?.error as AmqpError | undefined),
    );
    receiver.on('message', (ctx) => {
      const delivery = ctx.delivery!;
      const msg = ctx.message!;
      const lockToken = `amqp:${generation}:${++this.nextId}`;
      this.unsettled.set(lockToken, delivery);
      events.message({ ...receivedFromAmqp(msg as never), body: amqpBodyBytes(msg.body), lockToken });
    });
    return receiver;
  }

  private connected(): AmqpConnection {
    if (!this.connection) throw new FerryError('ServiceUnavailable', 'Not connected to the hub');
    return this.connection;
  }

  async enable(feature: Feature): Promise<void> {
    if (this.features.has(feature)) return;
    await this.openFeature(this.connected(), feature);
    this.features.add(feature);
  }

  twinRequest(operation: TwinOperation, body: Buffer | undefined): Promise<TwinReply> {
    if (!this.twin) return Promise.reject(new FerryError('ServiceUnavailable', 'The twin link is not open'));
    return this.twin.twinRequest(operation, body);
  }

  async answerMethod(rid: string, status: number, payload: Buffer): Promise<void> {
    if (!this.methods) throw new FerryError('ServiceUnavailable', 'The methods link is not open');
    await this.methods.answer(rid, status, payload);
  }

  async sendEvents(events: OutgoingEvent[]): Promise<void> {
    const connection = this.connected();
    this.eventsLink ??= connection
      .openSender({ target: { address: `/devices/${this.o.deviceId}/messages/events` } })
      .then((sender) => {
        const outcomes = new SenderOutcomes(sender);
        connection.onClosed((err) => outcomes.failAll(err));
        return outcomes;
      });
    const link = this.eventsLink;
    link.catch(() => {
      if (this.eventsLink === link) this.eventsLink = undefined;
    });
    const messages = events.map((e) => dataMessage(amqpFromEvent(e), e.body));
    if (messages.length === 1) return (await link).send(messages[0]!);
    const batch = rhea.message.encode({
      body: rhea.message.data_sections(messages.map((m) => rhea.message.encode(m))),
    });
    return (await link).send(batch, BATCH_FORMAT);
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
