/**
 * I/O layer: presents any Duplex to rhea as the minimal socket it expects (`on`, `write`, `end`,
 * `destroy`). rhea removes every 'data'/'error'/'end' listener of a socket it aborts, so it gets
 * this adapter rather than the stream: the gateway's own listeners stay in place, and bytes pass
 * through one guard before rhea sees them.
 */
import type { Duplex } from 'node:stream';

type Handler = (arg?: unknown) => void;

export interface AdapterHooks {
  /**
   * Sees each chunk before rhea: how many of its bytes rhea may have (all, or those before a
   * refused frame); after a refusal rhea gets nothing more, and `refused` is called.
   */
  admit(chunk: Buffer): number;
  refused(): void;
  /** After each write rhea makes, with what the stream's write() returned. */
  wrote(ok: boolean): void;
}

export class RheaSocketAdapter {
  private handlers: Record<'data' | 'error' | 'end', Handler[]> = { data: [], error: [], end: [] };
  private ended = false;
  private reading = true;
  private corked = false;

  constructor(
    private readonly stream: Duplex,
    private readonly id: string,
    private readonly hooks: AdapterHooks,
  ) {
    stream.on('data', (chunk: Buffer) => {
      if (!this.reading) return;
      const admitted = hooks.admit(chunk);
      if (admitted < chunk.length) this.reading = false;
      if (admitted > 0) {
        const data = admitted < chunk.length ? chunk.subarray(0, admitted) : chunk;
        for (const h of this.handlers.data) h(data);
      }
      if (!this.reading) hooks.refused();
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

  /** rhea gets no more input (the connection is being closed for what it sent). */
  stopReading(): void {
    this.reading = false;
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
    const ok = this.stream.write(buf);
    this.hooks.wrote(ok);
    return ok;
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
