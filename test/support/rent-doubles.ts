// Rent-contract test doubles for the buffered I/O, codec and bridge tests:
// a stream in memory whose reads come in chosen chunk sizes and whose writes
// are recorded one call at a time.
import type { IoOptions, RentResult, RentStream } from '../../src/index';

function lengthOf(buf: Uint8Array, length: number | IoOptions | undefined): number {
  return typeof length === 'number' ? length : buf.length;
}

export class MemoryStream implements RentStream {
  /** Each writeAll/write call's bytes, in order. */
  readonly writes: Buffer[] = [];
  reads = 0;
  shutdowns = 0;
  closed = 0;
  private at = 0;
  private chunkAt = 0;
  constructor(
    private readonly input: Uint8Array = new Uint8Array(0),
    private readonly options: {
      chunks?: number[];
      failWrites?: Error;
      /** Bytes taken before writes fail with EPIPE (the part that fits is kept, reported as `bytesWritten`). */
      failAfter?: number;
      writeDelayMs?: number;
    } = {},
  ) {}

  get written(): Buffer {
    return Buffer.concat(this.writes);
  }

  async read(buf: Uint8Array, length?: number | IoOptions): Promise<RentResult> {
    this.reads++;
    const chunks = this.options.chunks;
    const chunk = chunks === undefined ? Infinity : chunks[this.chunkAt++ % chunks.length];
    const n = Math.min(lengthOf(buf, length), chunk, this.input.length - this.at);
    buf.set(this.input.subarray(this.at, this.at + n));
    this.at += n;
    return [n, buf];
  }

  async readExact(buf: Uint8Array, length?: number | IoOptions): Promise<RentResult> {
    const limit = lengthOf(buf, length);
    let done = 0;
    while (done < limit) {
      const [n] = await this.read(buf.subarray(done, limit));
      if (n === 0)
        throw Object.assign(new Error('premature'), {
          code: 'ERR_STREAM_PREMATURE_CLOSE',
          bytesRead: done,
          buffer: buf,
        });
      done += n;
    }
    return [limit, buf];
  }

  async write(buf: Uint8Array, length?: number | IoOptions): Promise<RentResult> {
    return this.writeAll(buf, length);
  }

  async writeAll(buf: Uint8Array, length?: number | IoOptions): Promise<RentResult> {
    if (this.options.writeDelayMs) await new Promise((r) => setTimeout(r, this.options.writeDelayMs));
    if (this.options.failWrites) throw Object.assign(this.options.failWrites, { buffer: buf, bytesWritten: 0 });
    const room = (this.options.failAfter ?? Infinity) - this.written.length;
    if (lengthOf(buf, length) > room) {
      this.writes.push(Buffer.from(buf.subarray(0, room)));
      throw Object.assign(new Error('write EPIPE'), {
        code: 'EPIPE',
        syscall: 'write',
        bytesWritten: room,
        buffer: buf,
      });
    }
    this.writes.push(Buffer.from(buf.subarray(0, lengthOf(buf, length))));
    return [lengthOf(buf, length), buf];
  }

  async shutdown(): Promise<void> {
    this.shutdowns++;
  }

  async close(): Promise<void> {
    this.closed++;
  }
}
