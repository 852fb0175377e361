/**
 * I/O layer: presents any Duplex to rhea as the minimal socket it expects (`on`, `write`, `end`,
 * `destroy`). rhea removes every 'data'/'error'/'end' listener of a socket it aborts, so it gets
 * this adapter rather than the stream: the gateway's own listeners stay in place, and bytes pass
 * through one guard that bounds what a peer can make rhea buffer.
 */
import type { Duplex } from 'node:stream';

type Handler = (arg?: unknown) => void;

export class RheaSocketAdapter {
  private handlers: Record<'data' | 'error' | 'end', Handler[]> = { data: [], error: [], end: [] };
  private ended = false;
  private corked = false;

  constructor(
    private readonly stream: Duplex,
    private readonly id: string,
    /** Called after each chunk has been handed to rhea; may destroy the stream. */
    private readonly afterData: () => void,
  ) {
    stream.on('data', (chunk: Buffer) => {
      for (const h of this.handlers.data) h(chunk);
      this.afterData();
    });
    stream.on('error', (err: Error) => {
      for (const h of this.handlers.error) h(err);
    });
    // A Duplex may close without 'end' (destroyed, reset): rhea must still hear of it once.
    const eof = () => {
      if (this.ended) return;
      this.ended = true;
      for (const h of this.handlers.end) h();
    };
    stream.on('end', eof);
    stream.on('close', eof);
  }

  on(event: string, handler: Handler): this {
    if (event === 'data' || event === 'error' || event === 'end') this.handlers[event].push(handler);
    return this;
  }

  removeAllListeners(event?: string): this {
    if (event === 'data' || event === 'error' || event === 'end') this.handlers[event] = [];
    return this;
  }

  /** rhea writes frame by frame; the frames of one tick leave in one write (one TLS record). */
  write(buf: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(this.uncork);
    }
    return this.stream.write(buf);
  }

  private readonly uncork = () => {
    this.corked = false;
    this.stream.uncork();
  };

  end(): void {
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end();
  }

  destroy(): void {
    this.stream.destroy();
  }

  get_id_string(): string {
    return this.id;
  }
}
