/**
 * An Event Hubs receiver on `{hub}/ConsumerGroups/{group}/Partitions/{n}`: our sender link. It
 * starts where the selector filter says, then sends the partition's events as the peer grants
 * credit, and waits for new ones (telemetry.onAppended: this node's appends and, on PostgreSQL,
 * other nodes'). Each reader keeps its own position, so consumer groups read independently.
 */
import type { Logger } from 'pino';
import type { AmqpError, Sender } from 'rhea';
import type { Operation } from '../../../auth/types.js';
import type { Telemetry } from '../../../telemetry/telemetry.js';
import type { LinkHandler } from '../link-handler.js';
import { senderCapacity } from '../rhea-internals.js';
import { eventMessage } from './event-message.js';

/** Events read from the store at a time. */
const READ_BATCH = 100;

export class PartitionReader implements LinkHandler {
  private next = 0;
  /** Messages given to rhea on this link. */
  private handed = 0;
  private reading = false;
  private again = false;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly sender: Sender,
    private readonly partition: number,
    readonly requires: Operation,
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
  ) {
    this.unsubscribe = telemetry.onAppended((p) => {
      if (p === partition) this.pump();
    });
    sender.on('sendable', () => this.pump());
  }

  /** Starts at `first` (a sequence number from the filter). */
  start(first: number): void {
    this.next = first;
    this.pump();
  }

  async detached(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
  }

  async close(error: AmqpError): Promise<void> {
    if (this.closed) return;
    await this.detached();
    this.sender.close(error);
  }

  private pump(): void {
    if (this.closed) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    const credit = senderCapacity(this.sender, this.handed);
    if (credit <= 0) return;
    this.reading = true;
    this.again = false;
    this.telemetry.read(this.partition, this.next, Math.min(credit, READ_BATCH)).then(
      (events) => {
        this.reading = false;
        if (this.closed) return;
        for (const e of events) {
          this.sender.send(eventMessage(e));
          this.handed++;
          this.next = e.sequenceNumber + 1;
        }
        if (events.length > 0 || this.again) this.pump();
      },
      (err: unknown) => {
        this.reading = false;
        this.logger.warn({ err, partition: this.partition }, 'reading the event log failed');
        void this.close({ condition: 'amqp:internal-error', description: 'Reading the partition failed' });
      },
    );
  }
}
