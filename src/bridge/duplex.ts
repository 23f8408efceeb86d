/**
 * The bridge to Node's streams: `toDuplex(stream)` makes a `stream.Duplex`
 * of any percore stream, `fromDuplex(duplex)` a rent stream of any Node duplex.
 *
 * ## The model
 * Node's ecosystem — `node:tls`, `node:http`, undici, `ws` — takes a
 * `Duplex` (usually a `net.Socket`). `toDuplex()` gives it one over a percore
 * connection, so a percore server can terminate TLS with `node:tls` or serve
 * HTTP with `node:http`, and a percore connection can carry an undici or `ws`
 * client. It behaves as a `net.Socket` does where those libraries look:
 *
 * - **reading**: one read in flight at a time into a buffer of the bridge's
 *   (a pool buffer over a percore stream), each chunk pushed as a copy; when
 *   `push()` says the reader is full it stops reading until `_read` is called
 *   again (back-pressure: the bytes wait in the kernel, so TCP slows the peer);
 * - **writing**: each chunk (corked chunks as one) goes out with `writeAll`,
 *   and the write callback runs once the stream took it (back-pressure: Node
 *   buffers up to `highWaterMark`, then `write()` returns false);
 * - **ending**: the end of the stream pushes `null`; `end()` is a `shutdown()`
 *   (FIN) once every write went out; with `allowHalfOpen: false` (the
 *   default, as `net.Socket`) the end of reading ends writing too. Under
 *   `node:tls` pass `allowHalfOpen: true`: TLS still writes after the peer's
 *   FIN (its close_notify and the last replies) and ends the duplex itself;
 * - **destroying**: `destroy()` closes the percore stream (cancelling what is
 *   in flight) and gives the buffer back; errors arrive with their codes
 *   (`ECONNRESET`, `EPIPE`, …);
 * - `setNoDelay`, `setKeepAlive` (a no-op), `setTimeout` (idle timer, the
 *   `'timeout'` event), `remoteAddress`/`remotePort`/`remoteFamily`,
 *   `localAddress`/`localPort`, `address()`, `bytesRead`, `bytesWritten`.
 *
 * Bytes are never lost or reordered: one read and one write are in flight at
 * a time, each in the order Node hands them over.
 *
 * ```ts
 * import * as tls from 'node:tls';
 * import { TcpListener, toDuplex } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:8443');
 * for await (const stream of listener) {
 *   const socket = new tls.TLSSocket(toDuplex(stream, { allowHalfOpen: true }), { isServer: true, key, cert });
 *   socket.on('data', (d) => socket.write(d));           // a TLS echo on a percore connection
 * }
 * ```
 * and `http.createServer(handler).emit('connection', toDuplex(stream))` serves
 * HTTP/1.1 over it.
 *
 * `fromDuplex(duplex)` goes the other way: any Node duplex (a `net.Socket`, a
 * `tls.TLSSocket`, a `PassThrough` pair) as a `RentStream`, so `copy()`,
 * `BufReader` and codecs work over it; its `read` waits for `'readable'`,
 * its `writeAll` resolves once the duplex's write callback ran, `shutdown()`
 * is `end()`, `close()` is `destroy()`.
 */
import { Duplex } from 'node:stream';
import { abortError, codedError, invalidArgType, type PercoreError } from '../errors/errors';
import { validateInteger, validateUint8Array } from '../errors/validate';
import { giveBack, takeBuffer } from '../io/buf-common';
import { type IoOptions, isRentReader, isRentWriter, type RentResult, type RentStream } from '../io/rent';
import type { Runtime } from '../runtime/runtime';

/** Options of `toDuplex()`. */
export interface ToDuplexOptions {
  /** Keep the writing side open after the end of reading (default false, as `net.Socket`). */
  allowHalfOpen?: boolean;
  /** The read buffer's size (default: a pool buffer's, else 16384). */
  readSize?: number;
  /** Node's buffering limits (default Node's). */
  readableHighWaterMark?: number;
  writableHighWaterMark?: number;
  /** The runtime to borrow the read buffer from, when `stream` is not a percore stream. */
  runtime?: Runtime;
}

interface Addressed {
  setNoDelay?(noDelay?: boolean): void;
  peerAddress?(): { address: string; port: number; family: string };
  localAddress?(): { address: string; port: number; family: string };
  close?(): Promise<void> | void;
  inner?: unknown;
}

/** Finds the first of `stream` and its `inner` chain with `method`. */
function through(stream: unknown, method: keyof Addressed): Addressed | undefined {
  for (
    let s = stream as Addressed | undefined, i = 0;
    s !== undefined && s !== null && i < 8;
    s = s.inner as Addressed, i++
  ) {
    if (typeof s[method] === 'function') return s;
  }
  return undefined;
}

/** A `stream.Duplex` over a percore stream (see the module docs). */
export class PercoreDuplex extends Duplex {
  /** The percore stream carried. */
  readonly stream: RentStream;
  /** Bytes read from the stream and pushed. */
  bytesRead = 0;
  /** Bytes the stream took. */
  bytesWritten = 0;
  /** Always false: the stream is connected when it is wrapped (as net.Socket's). */
  readonly connecting = false;
  private readBuf: Uint8Array | undefined;
  private readRuntime: Runtime | undefined;
  private readonly readSize: number | undefined;
  private readonly runtime: Runtime | undefined;
  private reading: Promise<void> | undefined;
  private idleMs = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private remote: { address: string; port: number; family: string } | undefined | null = null;
  private local: { address: string; port: number; family: string } | undefined | null = null;

  constructor(stream: RentStream, options: ToDuplexOptions = {}) {
    super({
      allowHalfOpen: options.allowHalfOpen === true,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
    });
    this.stream = stream;
    this.readSize = options.readSize;
    this.runtime = options.runtime;
  }

  override _read(): void {
    if (this.reading === undefined) this.reading = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      if (this.readBuf === undefined) {
        const { buf, runtime } = takeBuffer(this.stream, this.readSize, this.runtime);
        this.readBuf = buf;
        this.readRuntime = runtime;
      }
      for (;;) {
        const buf = this.readBuf;
        const [n] = await this.stream.read(buf, buf.length);
        if (this.destroyed) return;
        this.touch();
        if (n === 0) {
          this.push(null);
          return;
        }
        this.bytesRead += n;
        if (!this.push(Buffer.from(buf.subarray(0, n)))) return; // full: _read calls again
      }
    } catch (err) {
      if (!this.destroyed) this.destroy(stripBuffer(err));
    } finally {
      this.reading = undefined;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.stream.writeAll(chunk, chunk.length).then(
      () => {
        this.bytesWritten += chunk.length;
        this.touch();
        callback();
      },
      (err) => callback(stripBuffer(err)),
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const all = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this._write(all, 'latin1', callback); // the encoding is unused: chunks are Buffers
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.stream.shutdown().then(
      () => callback(),
      (err: PercoreError) => callback(err?.code === 'ENOTCONN' ? null : err),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.clearIdle();
    const closer = through(this.stream, 'close');
    const closed = closer !== undefined ? Promise.resolve(closer.close!()) : Promise.resolve();
    // Close first (it cancels a read in flight), then the read buffer is free to give back.
    closed
      .catch(() => {})
      .then(() => this.reading)
      .catch(() => {})
      .then(() => {
        if (this.readBuf !== undefined) giveBack(this.readBuf, this.readRuntime);
        this.readBuf = undefined;
        callback(error);
      });
  }

  /** Sets TCP_NODELAY on the stream (or the stream it wraps). */
  setNoDelay(noDelay = true): this {
    const s = through(this.stream, 'setNoDelay');
    if (s !== undefined && !this.destroyed) s.setNoDelay!(noDelay);
    return this;
  }

  /** A no-op (keep-alive probes are not exposed yet); returns this. */
  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  /** Emits `'timeout'` after `ms` with no byte read or written (0 turns it off). */
  setTimeout(ms: number, callback?: () => void): this {
    validateInteger(ms, 'ms', 0, 2 ** 31 - 1);
    this.idleMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.clearIdle();
    this.touch();
    return this;
  }

  /** No-ops, for code written for `net.Socket`. */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.peer()?.address;
  }
  get remotePort(): number | undefined {
    return this.peer()?.port;
  }
  get remoteFamily(): string | undefined {
    return this.peer()?.family;
  }
  get localAddress(): string | undefined {
    return this.self()?.address;
  }
  get localPort(): number | undefined {
    return this.self()?.port;
  }
  /** This end's address, as `net.Socket#address()`. */
  address(): { address: string; port: number; family: string } | Record<string, never> {
    return this.self() ?? {};
  }

  private peer() {
    if (this.remote === null) this.remote = addressOf(this.stream, 'peerAddress');
    return this.remote;
  }
  private self() {
    if (this.local === null) this.local = addressOf(this.stream, 'localAddress');
    return this.local;
  }

  private touch(): void {
    if (this.idleMs === 0) return;
    if (this.idleTimer !== undefined) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.emit('timeout');
      }, this.idleMs);
      this.idleTimer.unref();
    }
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

function addressOf(stream: unknown, which: 'peerAddress' | 'localAddress') {
  const s = through(stream, which);
  if (s === undefined) return undefined;
  try {
    const a = s[which]!();
    return { address: a.address, port: a.port, family: a.family };
  } catch {
    return undefined;
  }
}

/** The rent error's buffer is ours, not Node's: leave it out of what Node reports. */
function stripBuffer(err: unknown): Error {
  if (typeof err === 'object' && err !== null) delete (err as PercoreError).buffer;
  return err as Error;
}

/** A `stream.Duplex` over `stream` (see the module docs). */
export function toDuplex(stream: RentStream, options?: ToDuplexOptions): PercoreDuplex {
  if (!isRentReader(stream) || !isRentWriter(stream)) {
    throw invalidArgType('stream', 'a rent stream (read, readExact, write, writeAll, shutdown)', stream);
  }
  return new PercoreDuplex(stream, options);
}

// ---- fromDuplex

/** A rent stream over a Node duplex (see the module docs). */
export class DuplexStream implements RentStream {
  private chunk: Buffer | undefined;
  private offset = 0;
  private ended = false;
  private failed: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    /** The Node stream carried. */
    readonly duplex: Duplex,
  ) {
    const wake = () => {
      const w = this.wake;
      this.wake = undefined;
      w?.();
    };
    duplex.on('readable', wake);
    duplex.on('end', () => {
      this.ended = true;
      wake();
    });
    duplex.on('error', (err) => {
      this.failed ??= err;
      wake();
    });
    duplex.on('close', () => {
      if (!this.ended) this.failed ??= codedError('ERR_STREAM_PREMATURE_CLOSE', 'Premature close');
      wake();
    });
  }

  async read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    validateUint8Array(buf, 'buf');
    const limit = typeof length === 'number' ? length : buf.length;
    validateInteger(limit, 'length', 0, buf.length);
    const signal = typeof length === 'object' ? length.signal : options?.signal;
    for (;;) {
      if (this.chunk !== undefined) {
        const n = Math.min(limit, this.chunk.length - this.offset);
        buf.set(this.chunk.subarray(this.offset, this.offset + n));
        this.offset += n;
        if (this.offset === this.chunk.length) this.chunk = undefined;
        return [n, buf];
      }
      if (limit === 0) return [0, buf];
      const next = this.duplex.read() as Buffer | string | null;
      if (next !== null) {
        this.chunk = typeof next === 'string' ? Buffer.from(next) : next;
        this.offset = 0;
        continue;
      }
      if (this.ended || this.duplex.readableEnded) return [0, buf];
      if (this.failed !== undefined) throw Object.assign(this.failed, { buffer: buf });
      await this.waitForData(signal, buf);
    }
  }

  async readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    const limit = typeof length === 'number' ? length : buf.length;
    const opts = typeof length === 'object' ? length : options;
    let done = 0;
    while (done < limit) {
      const [n] = await this.read(buf.subarray(done, limit), opts);
      if (n === 0) {
        const err = codedError('ERR_STREAM_PREMATURE_CLOSE', 'the stream ended before the bytes asked for');
        err.bytesRead = done;
        err.buffer = buf;
        throw err;
      }
      done += n;
    }
    return [limit, buf];
  }

  async write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    validateUint8Array(buf, 'buf');
    const n = typeof length === 'number' ? length : buf.length;
    validateInteger(n, 'length', 0, buf.length);
    const signal = typeof length === 'object' ? length.signal : options?.signal;
    if (signal?.aborted) throw Object.assign(abortError(signal.reason), { buffer: buf });
    if (this.failed !== undefined) throw Object.assign(this.failed, { buffer: buf, bytesWritten: 0 });
    const copy = Buffer.from(buf.subarray(0, n)); // Node keeps the chunk: the caller's buffer comes back now
    await new Promise<void>((resolve, reject) => {
      this.duplex.write(copy, (err) =>
        err ? reject(Object.assign(err, { buffer: buf, bytesWritten: 0 })) : resolve(),
      );
    });
    return [n, buf];
  }

  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.write(buf, length, options);
  }

  /** `end()`: resolves once every write went out (`'finish'`). */
  shutdown(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.duplex.writableFinished) return resolve();
      const onError = (err: Error) => reject(err);
      this.duplex.once('error', onError);
      this.duplex.end(() => {
        this.duplex.removeListener('error', onError);
        resolve();
      });
    });
  }

  /** `destroy()`: resolves once the duplex emitted `'close'`. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.duplex.closed) return resolve();
      this.duplex.once('close', () => resolve());
      this.duplex.destroy();
    });
  }

  private waitForData(signal: AbortSignal | undefined, buf: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(Object.assign(abortError(signal.reason), { buffer: buf }));
      const onAbort = () => {
        this.wake = undefined;
        reject(Object.assign(abortError(signal!.reason), { buffer: buf }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
    });
  }
}

/** A rent stream over a Node duplex (see the module docs). */
export function fromDuplex(duplex: Duplex): DuplexStream {
  if (typeof duplex !== 'object' || duplex === null || typeof (duplex as Duplex).read !== 'function') {
    throw invalidArgType('duplex', 'a stream.Duplex', duplex);
  }
  return new DuplexStream(duplex);
}
