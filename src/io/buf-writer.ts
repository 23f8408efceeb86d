/**
 * `BufWriter`: buffered, corked writing over any rent stream.
 *
 * ## The model
 * A handler that writes a header, then a body, then a trailer costs three
 * syscalls when each write goes to the socket. A `BufWriter` copies writes
 * into a buffer of its own and sends the buffer with one `writeAll` at the
 * **end of the JavaScript job** that wrote it: the first write of a job
 * queues a microtask that, once the microtask queue has run dry (every
 * `await` on the writer's settled promises included), flushes. So writes
 * made in one job — one completion's handler, however many `await`s it runs —
 * leave as one syscall (corking, as `socket.cork()` + `uncork()` on the next
 * tick). When the inner stream is a percore stream the buffer is a pool
 * buffer, sent with no copy.
 *
 * `write` and `writeAll` copy the bytes, so they hand your buffer back at
 * once (`[n, buf]`, n = all of it) and resolve as soon as the bytes are
 * buffered. A write that does not fit waits for the buffer to drain first
 * (back-pressure); one larger than the buffer goes straight to the stream,
 * after what is buffered. While a flush is in flight, new writes go to a
 * second buffer, sent right after it. A failure to send is sticky: the next
 * `write`, `flush` or `shutdown` rejects with it.
 *
 * A server that answers and then reads again can leave the replies to the
 * cork: the send goes out at the end of the job, in flight beside the next
 * read, with no wait for its completion before reading (examples/resp.ts;
 * measured in bench/resp/README.md). `await flush()` when the program must
 * know the bytes left (before closing, or to report a send error there).
 *
 * `tryWrite(bytes | string)` is the synchronous form for parsers that answer
 * many requests in one go: it buffers and returns true, or returns false when
 * the bytes do not fit (then `await flush()` or use `write`).
 *
 * `shutdown()` flushes, then shuts the inner stream down; `close()` flushes
 * (ignoring an error), gives the buffers back and closes the inner stream;
 * `release()` gives the buffers back at once, dropping what is unsent.
 *
 * ```ts
 * import { BufWriter } from 'percore';
 * const out = new BufWriter(stream);   // any rent stream: here a TcpStream
 * await out.write(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n'));
 * await out.write(Buffer.from('hi'));   // both leave in one send, at the end of this job
 * await out.close();                    // flushed, buffers back, stream closed
 * ```
 */

import { invalidArgType } from '../errors/errors';
import { validateInteger, validateUint8Array } from '../errors/validate';
import { queueJob } from '../runtime/microtask';
import type { Runtime } from '../runtime/runtime';
import { giveBack, released, takeBuffer } from './buf-common';
import type { IoOptions, RentResult, RentWriter } from './rent';

/** Options of `new BufWriter()`. */
export interface BufWriterOptions {
  /** The buffer's size. Default: the runtime's `bufferSize` over a percore
   * stream (a pool buffer), else 8192. */
  capacity?: number;
  /** Flush at the end of each job (default true). With false, only a full
   * buffer, `flush()`, `shutdown()` and `close()` send. */
  cork?: boolean;
  /** The runtime to borrow pool buffers from, when the inner stream is not a percore stream. */
  runtime?: Runtime;
}

interface Slot {
  buf: Uint8Array;
  /** A Buffer over the same memory, for string encoding (made on first use). */
  text: Buffer | undefined;
  runtime: Runtime | undefined;
}

const RESOLVED = Promise.resolve();

/** Strings up to this length are copied by `putAscii` when they are ASCII. */
const SHORT_STRING = 64;

function isAsciiCompatible(encoding: BufferEncoding): boolean {
  return (
    encoding === 'utf8' ||
    encoding === 'latin1' ||
    encoding === 'ascii' ||
    encoding === 'utf-8' ||
    encoding === 'binary'
  );
}

/** A buffered, corked writer over any `RentWriter` (see the module docs). */
export class BufWriter implements RentWriter {
  /** The stream written to. */
  readonly inner: RentWriter;
  /** The buffer's size. */
  readonly capacity: number;
  /** Bytes the inner stream has taken. */
  bytesWritten = 0;
  private active: Slot;
  private spare: Slot | undefined;
  private len = 0;
  /** The buffer a send is in flight from (and how much of it), if any. */
  private sending: Slot | undefined;
  private sendingLength = 0;
  /** `flush()` calls waiting for the send in flight and all buffered after it. */
  private drainWaiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private error: unknown;
  private scheduled = false;
  private closed = false;
  private readonly cork: boolean;
  private readonly runtime: Runtime | undefined;
  private readonly flushAtEnd = () => process.nextTick(this.corkFlush);
  private readonly corkFlush = () => {
    this.scheduled = false;
    // An error is sticky: the next call reports it.
    if (this.len > 0 && !this.closed && this.sending === undefined) this.sendNext();
  };

  constructor(inner: RentWriter, options: BufWriterOptions = {}) {
    if (typeof inner !== 'object' || inner === null || typeof inner.writeAll !== 'function') {
      throw invalidArgType('inner', 'a rent stream (with writeAll)', inner);
    }
    if (options.capacity !== undefined) validateInteger(options.capacity, 'options.capacity', 1, 2 ** 30);
    this.inner = inner;
    this.cork = options.cork !== false;
    const { buf, runtime } = takeBuffer(inner, options.capacity, options.runtime);
    this.active = { buf, text: undefined, runtime };
    this.runtime = runtime ?? options.runtime;
    this.capacity = buf.length;
  }

  /** Bytes buffered and not yet handed to the inner stream. */
  get buffered(): number {
    return this.len;
  }

  /** Buffers the first `length` bytes (default all) of `buf` (a copy);
   * resolves `[length, buf]` once they are buffered (see the module docs). */
  write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    let n: number;
    try {
      this.check();
      validateUint8Array(buf, 'buf');
      if (typeof length === 'number') validateInteger(length, 'length', 0, buf.length);
      n = typeof length === 'number' ? length : buf.length;
    } catch (err) {
      return Promise.reject(err);
    }
    if (n <= this.capacity - this.len) {
      this.put(buf, n);
      return Promise.resolve([n, buf]);
    }
    return this.writeSlow(buf, n, typeof length === 'object' ? length : options);
  }

  /** The same as `write`: a buffered write always takes every byte. */
  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.write(buf, length, options);
  }

  /** Buffers `data` (bytes, or a string encoded as `encoding`, default utf8)
   * at once if it fits and returns true; else buffers nothing and returns
   * false. Throws the sticky send error, or `ERR_SOCKET_CLOSED`. */
  tryWrite(data: Uint8Array | string, encoding: BufferEncoding = 'utf8'): boolean {
    this.check();
    const room = this.capacity - this.len;
    if (typeof data === 'string') {
      if (data.length > room) return false; // every encoding takes at least a byte per char but ucs2/hex/base64
      if (data.length <= SHORT_STRING && isAsciiCompatible(encoding) && this.putAscii(data)) return true;
      const slot = this.active;
      if (slot.text === undefined) slot.text = Buffer.from(slot.buf.buffer, slot.buf.byteOffset, slot.buf.length);
      if (data.length * 3 > room && Buffer.byteLength(data, encoding) > room) return false;
      const wasEmpty = this.len === 0;
      this.len += slot.text.write(data, this.len, encoding);
      if (wasEmpty) this.schedule();
      return true;
    }
    if (data.length > room) return false;
    this.put(data, data.length);
    return true;
  }

  /** Sends everything buffered; resolves once the inner stream took it (and
   * anything written meanwhile). Rejects with the sticky send error. */
  flush(): Promise<void> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.closed) return Promise.reject(released('BufWriter'));
    if (this.len === 0 && this.sending === undefined) return RESOLVED;
    const drained = new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
    if (this.sending === undefined) this.sendNext();
    return drained;
  }

  /** Flushes, then shuts the inner stream down for writing. */
  async shutdown(): Promise<void> {
    await this.flush();
    await this.inner.shutdown();
  }

  /** Gives the buffers back at once (what is unsent is dropped; a buffer in
   * flight comes back when its write ends) and leaves the stream open. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    this.len = 0;
    if (this.sending === undefined) this.giveBackAll();
  }

  /** Flushes (an error is ignored: the stream is closed anyway), gives the
   * buffers back and closes the inner stream if it has `close()`. */
  async close(): Promise<void> {
    if (!this.closed) {
      try {
        await this.flush();
      } catch {
        // closing anyway
      }
      this.release();
    }
    const inner = this.inner as RentWriter & { close?: () => Promise<void> | void };
    if (typeof inner.close === 'function') await inner.close();
  }

  // ---- the machinery

  private check(): void {
    if (this.error !== undefined) throw this.error;
    if (this.closed) throw released('BufWriter');
  }

  /** Copies a short string of ASCII characters (one byte each in every
   * ASCII-compatible encoding) with a loop rather than Buffer#write, whose
   * call into C++ costs more than the copy for a reply line or a header.
   * False (nothing counted) at the first non-ASCII character. */
  private putAscii(data: string): boolean {
    const buf = this.active.buf;
    const at = this.len;
    const n = data.length;
    for (let i = 0; i < n; i++) {
      const c = data.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at + i] = c;
    }
    this.len += n;
    if (at === 0 && n > 0) this.schedule();
    return true;
  }

  private put(buf: Uint8Array, n: number): void {
    const wasEmpty = this.len === 0;
    if (n === buf.length) this.active.buf.set(buf, this.len);
    else this.active.buf.set(buf.subarray(0, n), this.len);
    this.len += n;
    if (wasEmpty && n > 0) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || !this.cork) return;
    this.scheduled = true;
    // A microtask that queues a tick: Node runs ticks queued from a microtask
    // once the microtask queue is empty, i.e. at the end of this job.
    queueJob(this.flushAtEnd);
  }

  private async writeSlow(buf: Uint8Array, n: number, options: IoOptions | undefined): Promise<RentResult> {
    await this.flush();
    this.check();
    if (n <= this.capacity - this.len) {
      this.put(buf, n);
      return [n, buf];
    }
    // Larger than the buffer: straight to the stream (nothing is buffered now).
    const result = await this.inner.writeAll(buf, n, options);
    this.bytesWritten += n;
    return result;
  }

  // The send loop, as callbacks rather than an async function: corking makes
  // one send per job, so this is a hot path (no promise of its own per send).

  /** Sends the active buffer, swapping in the spare; on completion, again
   * until nothing is buffered, then settles the `flush()` calls waiting. */
  private sendNext(): void {
    if (this.len === 0 || this.closed) {
      this.drained(undefined);
      return;
    }
    const out = this.active;
    const n = this.len;
    try {
      this.active = this.spare ?? this.newSlot();
    } catch (err) {
      this.drained(err);
      return;
    }
    this.spare = undefined;
    this.len = 0;
    this.sending = out;
    this.sendingLength = n;
    let sent: Promise<RentResult>;
    try {
      sent = this.inner.writeAll(out.buf, n);
    } catch (err) {
      this.sendFailed(err); // a RentWriter that threw rather than rejected
      return;
    }
    sent.then(this.sent, this.sendFailed);
  }

  private readonly sent = (): void => {
    this.bytesWritten += this.sendingLength;
    this.spare = this.sending;
    this.sendNext();
  };

  private readonly sendFailed = (err: unknown): void => {
    this.error = err;
    this.spare = this.sending;
    this.drained(err);
  };

  /** Nothing is in flight any more: give the buffers back if released, and
   * settle the waiting `flush()` calls (with `err` if the send failed). */
  private drained(err: unknown): void {
    this.sending = undefined;
    if (this.closed) this.giveBackAll();
    if (this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  private newSlot(): Slot {
    const { buf, runtime } = takeBuffer(this.inner, this.capacity, this.runtime);
    return { buf, text: undefined, runtime };
  }

  private giveBackAll(): void {
    for (const slot of [this.active, this.spare]) if (slot !== undefined) giveBack(slot.buf, slot.runtime);
    this.spare = undefined;
    this.active = { buf: new Uint8Array(0), text: undefined, runtime: undefined };
  }
}
