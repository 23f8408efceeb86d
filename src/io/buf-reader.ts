/**
 * `BufReader`: buffered reading over any rent stream.
 *
 * ## The model
 * A protocol parser wants lines, frames and "the next 4 bytes", while the
 * kernel hands out whatever arrived. A `BufReader` reads big chunks from its
 * inner stream into one buffer of its own and serves the parser from there.
 * When the inner stream is a percore stream (`TcpStream`, any `FdStream`) that
 * buffer is a pool buffer (`runtime.buffer()`), so the kernel reads straight
 * into it with no copy; over any other `RentReader` it is a plain buffer.
 *
 * **What it hands out.** `peek`, `readUntil`, `readLine`, `readExact(n)` and
 * the frame iterators return *views* of that buffer: no copy, valid until the
 * next call on the reader (the next call may move or overwrite those bytes).
 * Keep bytes longer with `view.slice()` or `Buffer.from(view)`; the `lines()`
 * iterator yields strings, which are copies. The rent-style `read(buf)` and
 * `readExact(buf)` copy into the buffer you pass, as any `RentReader` does,
 * so `copy()`, the Node bridge and codecs take a `BufReader` like any stream.
 * One call at a time: a call made while another is pending rejects with
 * `ERR_PERCORE_BUSY` (cheap misuse detection; they are never queued), and so
 * does passing one of the reader's own views to `read(buf)`.
 *
 * **Bounded memory.** The buffer starts at `capacity` and grows (a plain
 * buffer, doubling) only as far as `maxLength` when a line, a frame or a
 * `peek` needs it; a line or frame longer than that rejects with
 * `ERR_PERCORE_LINE_TOO_LONG` (`ERR_PERCORE_FRAME_TOO_LONG` for `peek` and
 * `readExact(n)`), leaving the bytes buffered (skip them with `consume`). Once
 * the grown buffer is drained the reader goes back to its pool buffer.
 *
 * `close()` gives the pool buffer back and closes the inner stream (if it has
 * `close`); `release()` gives the buffer back and leaves the stream open.
 *
 * ```ts
 * import { BufReader, TcpListener } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * for await (const stream of listener) {
 *   const reader = new BufReader(stream, { maxLength: 1024 });
 *   for await (const line of reader.lines()) {     // CRLF or LF, as strings
 *     await stream.writeAll(Buffer.from(`${line.toUpperCase()}\n`));
 *   }
 *   await reader.close();                          // the buffer back, the stream closed
 * }
 * ```
 */
import { codedError, invalidArgType, type PercoreError } from '../errors/errors';
import { validateInteger, validateUint8Array } from '../errors/validate';
import type { Runtime } from '../runtime/runtime';
import { busy, giveBack, released, takeBuffer, tooLong } from './buf-common';
import type { IoOptions, RentReader, RentResult } from './rent';

/** Options of `new BufReader()`. */
export interface BufReaderOptions {
  /** The buffer's size. Default: the runtime's `bufferSize` over a percore
   * stream (a pool buffer), else 8192. Over a percore stream a capacity larger
   * than `bufferSize` makes a plain buffer (reads then copy through the pool). */
  capacity?: number;
  /** The longest line, frame or `peek` the reader buffers; beyond it the
   * buffer never grows. Default: `max(capacity, 65536)`. */
  maxLength?: number;
  /** The runtime to borrow the pool buffer from, when the inner stream is not
   * a percore stream but you still want one (e.g. a `prefixed()` TcpStream). */
  runtime?: Runtime;
}

const LF = 0x0a;
const CR = 0x0d;

/** A buffered reader over any `RentReader` (see the module docs). */
export class BufReader implements RentReader {
  /** The stream read from. */
  readonly inner: RentReader;
  /** The longest line, frame or peek this reader buffers. */
  readonly maxLength: number;
  private buf: Uint8Array;
  /** The buffer from `takeBuffer` (pool or plain); `buf` is it unless grown. */
  private home: Uint8Array | undefined;
  private homeRuntime: Runtime | undefined;
  private start = 0;
  private end = 0;
  private eof = false;
  private pending = false;
  private closed = false;

  constructor(inner: RentReader, options: BufReaderOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof inner.read !== 'function') {
      throw invalidArgType('inner', 'a rent stream (with read)', inner);
    }
    if (options.capacity !== undefined) validateInteger(options.capacity, 'options.capacity', 1, 2 ** 30);
    const { buf, runtime } = takeBuffer(inner, options.capacity, options.runtime);
    const maxLength = options.maxLength ?? Math.max(buf.length, 65536);
    validateInteger(maxLength, 'options.maxLength', 1, 2 ** 30);
    this.inner = inner;
    this.buf = buf;
    this.home = buf;
    this.homeRuntime = runtime;
    this.maxLength = maxLength;
  }

  /** How many bytes are buffered (read from the stream, not yet handed out). */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Whether the inner stream has ended (what is buffered is all that is left). */
  get ended(): boolean {
    return this.eof;
  }

  /** A view of every buffered byte, valid until the next call. */
  bufferedView(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Reads once from the inner stream into the buffer (making room first);
   * resolves with the bytes added, 0 at the end of the stream. Rejects with
   * `ERR_PERCORE_FRAME_TOO_LONG` when `maxLength` bytes are buffered already. */
  fill(options?: IoOptions): Promise<number> {
    // The hot path of a request/response server (one fill per request), so
    // it is `run(fillOnce)` without the async frames: one promise of the
    // inner read and one `then`.
    let target: Uint8Array;
    try {
      this.check();
      if (this.eof) return Promise.resolve(0);
      target = this.room('frame');
    } catch (err) {
      return Promise.reject(err);
    }
    this.pending = true;
    try {
      return this.inner.read(target, target.length, options).then(this.filled, this.fillFailed);
    } catch (err) {
      this.pending = false; // a RentReader that threw rather than rejected
      return Promise.reject(err);
    }
  }

  private readonly filled = (result: RentResult): number => {
    this.pending = false;
    if (this.closed) {
      this.giveBackBuffer();
      return 0;
    }
    return this.took(result[0]);
  };

  private readonly fillFailed = (err: unknown): never => {
    this.pending = false;
    if (this.closed) this.giveBackBuffer();
    throw err;
  };

  /** Resolves a view of the next `n` bytes without consuming them, reading
   * as needed; shorter only at the end of the stream. `n` may not exceed
   * `maxLength` (`ERR_PERCORE_FRAME_TOO_LONG`). */
  peek(n: number, options?: IoOptions): Promise<Uint8Array> {
    return this.run(async () => {
      validateInteger(n, 'n', 0, Number.MAX_SAFE_INTEGER);
      if (n > this.maxLength) throw tooLong('frame', this.maxLength, n);
      while (this.end - this.start < n && !this.eof) await this.fillOnce('frame', options);
      return this.buf.subarray(this.start, Math.min(this.end, this.start + n));
    });
  }

  /** Skips `n` buffered bytes (`n <= buffered`), e.g. after `peek`. */
  consume(n: number): void {
    this.check();
    validateInteger(n, 'n', 0, this.end - this.start);
    this.start += n;
    if (this.start === this.end) this.reset();
  }

  /** Resolves a view of the bytes up to and including the next `byte`; at
   * the end of the stream, the bytes left (without it), or `null` if none.
   * Rejects with `ERR_PERCORE_LINE_TOO_LONG` if `byte` is not within
   * `maxLength` bytes (they stay buffered). */
  readUntil(byte: number, options?: IoOptions): Promise<Uint8Array | null> {
    return this.run(async () => {
      validateInteger(byte, 'byte', 0, 255);
      const at = await this.find(byte, options);
      if (at < 0) return this.rest();
      const view = this.buf.subarray(this.start, at + 1);
      this.start = at + 1;
      return view;
    });
  }

  /** Resolves a view of the next line without its end (LF or CRLF); at the
   * end of the stream the last unterminated line, then `null`. Rejects with
   * `ERR_PERCORE_LINE_TOO_LONG` as `readUntil` does. */
  readLine(options?: IoOptions): Promise<Uint8Array | null> {
    return this.run(() => this.line(options));
  }

  /** The lines as strings (copies, decoded as `encoding`, default utf8), CRLF
   * or LF, until the end of the stream. */
  async *lines(encoding: BufferEncoding = 'utf8'): AsyncGenerator<string, void, undefined> {
    for (;;) {
      const line = await this.readLine();
      if (line === null) return;
      yield Buffer.from(line.buffer, line.byteOffset, line.length).toString(encoding);
    }
  }

  /** Reads into `buf` (rent style, a copy): buffered bytes first; with none
   * buffered and `length` at least the buffer's size, straight from the
   * inner stream. Resolves `[n, buf]`, `n === 0` at the end of the stream. */
  read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.run(async () => {
      const [limit, opts] = this.args(buf, length, options);
      if (limit === 0) return [0, buf];
      if (this.start === this.end) {
        if (this.eof) return [0, buf];
        if (limit >= this.buf.length) return this.inner.read(buf, limit, opts);
        await this.fillOnce('frame', opts);
      }
      const n = Math.min(limit, this.end - this.start);
      buf.set(this.buf.subarray(this.start, this.start + n));
      this.start += n;
      if (this.start === this.end) this.reset();
      return [n, buf];
    });
  }

  /** Two forms. `readExact(n)` resolves a view of the next `n` bytes
   * (`n <= maxLength`, else `ERR_PERCORE_FRAME_TOO_LONG`), valid until the
   * next call. `readExact(buf, length?)` fills `buf` (rent style, a copy).
   * Both reject with `ERR_STREAM_PREMATURE_CLOSE` and `bytesRead` if the
   * stream ends first (the rent form's error carries `buf`). */
  readExact(n: number, options?: IoOptions): Promise<Uint8Array>;
  readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult>;
  readExact(
    what: number | Uint8Array,
    length?: number | IoOptions,
    options?: IoOptions,
  ): Promise<Uint8Array | RentResult> {
    if (typeof what === 'number') {
      return this.run(async () => {
        validateInteger(what, 'n', 0, Number.MAX_SAFE_INTEGER);
        if (what > this.maxLength) throw tooLong('frame', this.maxLength, what);
        const opts = typeof length === 'object' ? length : options;
        while (this.end - this.start < what) {
          if (this.eof) throw premature(this.end - this.start);
          await this.fillOnce('frame', opts);
        }
        const view = this.buf.subarray(this.start, this.start + what);
        this.start += what;
        return view;
      });
    }
    return this.run(async () => {
      const [limit, opts] = this.args(what, length, options);
      const have = Math.min(limit, this.end - this.start);
      what.set(this.buf.subarray(this.start, this.start + have));
      this.start += have;
      if (this.start === this.end) this.reset();
      if (have === limit) return [limit, what] as RentResult;
      if (this.eof) throw Object.assign(premature(have), { buffer: what });
      // The rest straight from the stream, into the caller's buffer at `have`.
      const tail = what.subarray(have, limit);
      try {
        await this.inner.readExact(tail, tail.length, opts);
      } catch (err) {
        const e = err as PercoreError;
        if (typeof e === 'object' && e !== null) {
          if (typeof e.bytesRead === 'number') e.bytesRead += have;
          e.buffer = what;
        }
        throw err;
      }
      return [limit, what] as RentResult;
    });
  }

  /** Gives the buffer back (a pool buffer to its runtime) and leaves the
   * inner stream open; buffered bytes are dropped. Further calls reject with
   * `ERR_SOCKET_CLOSED`. Idempotent. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.pending) this.giveBackBuffer();
  }

  private giveBackBuffer(): void {
    const home = this.home;
    this.home = undefined;
    this.buf = new Uint8Array(0);
    this.start = this.end = 0;
    if (home !== undefined) giveBack(home, this.homeRuntime);
  }

  /** `release()`, then closes the inner stream if it has a `close()`. */
  async close(): Promise<void> {
    this.release();
    const inner = this.inner as RentReader & { close?: () => Promise<void> | void };
    if (typeof inner.close === 'function') await inner.close();
  }

  // ---- the machinery

  /** One call at a time: the rest reject with ERR_PERCORE_BUSY. */
  private async run<T>(body: () => Promise<T>): Promise<T> {
    this.check();
    this.pending = true;
    try {
      return await body();
    } finally {
      this.pending = false;
      // Released while a read was in flight: the buffer was the read's until now.
      if (this.closed) this.giveBackBuffer();
    }
  }

  private check(): void {
    if (this.closed) throw released('BufReader');
    if (this.pending) throw busy('BufReader');
  }

  private args(buf: Uint8Array, length: number | IoOptions | undefined, options: IoOptions | undefined) {
    validateUint8Array(buf, 'buf');
    if (buf.buffer === this.buf.buffer && overlaps(buf, this.buf)) {
      throw codedError(
        'ERR_PERCORE_BUSY',
        "BufReader: buf is a view of the reader's own buffer (one it handed out): copy it first",
      );
    }
    if (typeof length === 'number') {
      validateInteger(length, 'length', 0, buf.length);
      return [length, options] as const;
    }
    return [buf.length, length ?? options] as const;
  }

  private async line(options?: IoOptions): Promise<Uint8Array | null> {
    const at = await this.find(LF, options, 'line');
    if (at < 0) return this.rest();
    const lineEnd = at > this.start && this.buf[at - 1] === CR ? at - 1 : at;
    const view = this.buf.subarray(this.start, lineEnd);
    this.start = at + 1;
    return view;
  }

  /** The index in `buf` of the next `byte`, reading as needed; -1 at the end of the stream. */
  private async find(byte: number, options?: IoOptions, what: 'line' | 'frame' = 'line'): Promise<number> {
    let from = this.start;
    for (;;) {
      const at = this.buf.indexOf(byte, from);
      if (at >= 0 && at < this.end) {
        if (at - this.start >= this.maxLength) throw tooLong(what, this.maxLength);
        return at;
      }
      if (this.eof) return -1;
      if (this.end - this.start >= this.maxLength) throw tooLong(what, this.maxLength);
      const scanned = this.end - this.start;
      await this.fillOnce(what, options);
      from = this.start + scanned;
    }
  }

  /** What is left at the end of the stream, or null. */
  private rest(): Uint8Array | null {
    if (this.start === this.end) return null;
    const view = this.buf.subarray(this.start, this.end);
    this.start = this.end;
    return view;
  }

  /** Makes room (compacting, or growing up to maxLength), then reads once. */
  private async fillOnce(what: 'line' | 'frame', options?: IoOptions): Promise<number> {
    if (this.eof) return 0;
    const target = this.room(what);
    const [n] = await this.inner.read(target, target.length, options);
    if (this.closed) return 0;
    return this.took(n);
  }

  /** Where the next read goes: after the buffered bytes, making room first. */
  private room(what: 'line' | 'frame'): Uint8Array {
    if (this.start === this.end) this.reset();
    if (this.end === this.buf.length) this.makeRoom(what);
    return this.end === 0 ? this.buf : this.buf.subarray(this.end);
  }

  /** Counts `n` bytes read into the buffer (0: the end of the stream). */
  private took(n: number): number {
    if (n === 0) this.eof = true;
    this.end += n;
    return n;
  }

  private makeRoom(what: 'line' | 'frame'): void {
    const live = this.end - this.start;
    if (this.start > 0 && (live <= this.buf.length >>> 1 || this.buf.length >= this.maxLength)) {
      this.buf.copyWithin(0, this.start, this.end);
      this.start = 0;
      this.end = live;
      return;
    }
    if (this.buf.length >= this.maxLength) throw tooLong(what, this.maxLength);
    const grown = new Uint8Array(Math.min(this.maxLength, this.buf.length * 2));
    grown.set(this.buf.subarray(this.start, this.end));
    this.buf = grown;
    this.start = 0;
    this.end = live;
  }

  /** Empty: back to the start of the home buffer. */
  private reset(): void {
    this.start = this.end = 0;
    if (this.home !== undefined && this.buf !== this.home) this.buf = this.home;
  }
}

function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function premature(bytesRead: number): PercoreError {
  const err = codedError('ERR_STREAM_PREMATURE_CLOSE', 'the stream ended before the bytes asked for');
  err.bytesRead = bytesRead;
  return err;
}
