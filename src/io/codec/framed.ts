/**
 * Codecs: a stream of bytes as a stream of frames.
 *
 * ## The model
 * A codec says how one frame is cut from the bytes (`decode`, reading from a
 * `BufReader`) and how one is written (`encode`, into a `BufWriter`).
 * `framed(stream, codec)` puts a `BufReader` and a `BufWriter` over any rent
 * stream and gives back a `Framed`: an async iterable of the frames received
 * and `send(frame)`. Sends are corked like every `BufWriter` write: frames
 * sent in one job leave in one syscall. Memory is bounded by the codec's
 * maximum frame length; a longer frame rejects with
 * `ERR_PERCORE_LINE_TOO_LONG` / `ERR_PERCORE_FRAME_TOO_LONG`.
 *
 * Built in: `lines()` (strings, LF or CRLF in, `eol` out) and
 * `lengthDelimited()` (a 1-, 2- or 4-byte length, big- or little-endian,
 * then that many bytes). Writing your own is two functions.
 *
 * ```ts
 * import { framed, lines } from 'percore';
 * const chat = framed(stream, lines({ maxLength: 4096 }));   // any rent stream: here a TcpStream
 * await chat.send('HELLO');
 * for await (const line of chat) {            // strings, one per line
 *   if (line === 'BYE') break;
 *   await chat.send(`echo ${line}`);
 * }
 * await chat.close();                         // flushes, buffers back, stream closed
 * ```
 */
import type { Runtime } from '../../runtime/runtime';
import { BufReader } from '../buf-reader';
import { BufWriter } from '../buf-writer';
import type { RentStream } from '../rent';

/** How frames are cut from bytes and written as bytes. */
export interface Codec<Out, In = Out> {
  /** The longest frame: the reader never buffers more than this. */
  readonly maxLength: number;
  /** The next frame, or `null` at the end of the stream. A view of the
   * reader's buffer stays valid only until the next call on it. */
  decode(reader: BufReader): Promise<Out | null>;
  /** Writes one frame into `writer` (buffered, corked). */
  encode(frame: In, writer: BufWriter): Promise<void> | void;
}

/** Options of `framed()`. */
export interface FramedOptions {
  /** The runtime to borrow pool buffers from when `stream` is not a percore stream. */
  runtime?: Runtime;
  /** The write buffer's size (see `BufWriterOptions.capacity`). */
  writeCapacity?: number;
}

/** Frames over a stream: iterate to receive, `send` to write (see the module docs). */
export class Framed<Out, In = Out> implements AsyncIterable<Out> {
  readonly reader: BufReader;
  readonly writer: BufWriter;

  constructor(
    readonly stream: RentStream,
    readonly codec: Codec<Out, In>,
    options: FramedOptions = {},
  ) {
    this.reader = new BufReader(stream, { maxLength: Math.max(codec.maxLength, 16), runtime: options.runtime });
    this.writer = new BufWriter(stream, { runtime: options.runtime, capacity: options.writeCapacity });
  }

  /** The next frame, or `null` at the end of the stream. */
  next(): Promise<Out | null> {
    return this.codec.decode(this.reader);
  }

  /** Encodes `frame` into the write buffer; it leaves at the end of the job
   * (or sooner, when the buffer fills). Rejects with a sticky send error. */
  async send(frame: In): Promise<void> {
    await this.codec.encode(frame, this.writer);
  }

  /** Sends what is buffered now. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Out, void, undefined> {
    for (;;) {
      const frame = await this.next();
      if (frame === null) return;
      yield frame;
    }
  }

  /** Flushes, gives both buffers back and closes the stream. */
  async close(): Promise<void> {
    this.reader.release();
    await this.writer.close(); // closes the stream
  }
}

/** Frames `stream` with `codec` (see the module docs). */
export function framed<Out, In = Out>(
  stream: RentStream,
  codec: Codec<Out, In>,
  options?: FramedOptions,
): Framed<Out, In> {
  return new Framed(stream, codec, options);
}
