/**
 * Bounds AMQP frames before rhea decodes them: walks the byte stream frame by frame (protocol
 * headers included, for the SASL-then-AMQP switch) and reports the first frame whose declared
 * size is below the 8-byte frame header or above the max-frame-size we advertised (AMQP 1.0
 * 2.3.1, 2.7.1). rhea itself buffers whatever size a peer announces.
 */
const HEADER = Buffer.from('AMQP');
const FRAME_HEADER_SIZE = 8;

export class FrameGuard {
  /** Bytes of the current frame still to pass. */
  private skip = 0;
  /** The first bytes of the next frame or protocol header, while fewer than needed have arrived. */
  private readonly head = Buffer.alloc(8);
  private headLength = 0;

  constructor(private readonly maxFrameSize: number) {}

  /**
   * Checks the next chunk of the stream. Returns undefined when it is fine, else why it is
   * refused and where in the chunk the refused frame starts (what comes before may be decoded).
   */
  check(chunk: Buffer): { reason: string; offset: number } | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.head[this.headLength++] = chunk[i++]!;
      if (this.headLength < 4) continue;
      if (this.head.subarray(0, 4).equals(HEADER)) {
        // A protocol header (8 bytes): at the start, and again after SASL.
        if (this.headLength === 8) this.headLength = 0;
        continue;
      }
      const size = this.head.readUInt32BE(0);
      this.headLength = 0;
      const offset = Math.max(0, i - 4);
      if (size < FRAME_HEADER_SIZE) return { reason: `frame size ${size} is below the 8-byte frame header`, offset };
      if (size > this.maxFrameSize) {
        return { reason: `frame of ${size} bytes exceeds max-frame-size ${this.maxFrameSize}`, offset };
      }
      this.skip = size - 4;
    }
    return undefined;
  }
}
