/**
 * `prefixed(stream, bytes)`: a stream whose first reads replay `bytes`, for
 * protocol detection (Monoio's `PrefixedReadIo`).
 *
 * ## The model
 * A server that speaks two protocols on one port reads the first bytes,
 * decides (a TLS ClientHello starts with 0x16, HTTP/2's preface with
 * `PRI * HTTP/2.0`, RESP with `*`), and hands the connection on to the
 * protocol's handler — which must see those bytes too. `prefixed()` wraps the
 * stream so its reads return `bytes` first (a copy taken at the call, so the
 * buffer they were read into is yours again), then read the stream itself.
 * Writes, `shutdown` and `close` go straight to the stream; the stream itself
 * is `inner` (the Node bridge finds `setNoDelay` and the addresses there).
 *
 * ```ts
 * import { prefixed, toDuplex, type TcpStream } from 'percore';
 * async function route(stream: TcpStream) {
 *   const [n, buf] = await stream.read(new Uint8Array(16));
 *   const replay = prefixed(stream, buf.subarray(0, n));
 *   if (n > 0 && buf[0] === 0x16) return serveTls(toDuplex(replay));   // a TLS handshake
 *   return servePlain(replay);
 * }
 * ```
 * With a `BufReader` no wrapper is needed: `peek(n)` looks without consuming.
 */
import { validateInteger, validateUint8Array } from '../errors/validate';
import type { IoOptions, RentResult, RentStream } from './rent';

/** A stream whose reads replay a prefix first (see the module docs). */
export class PrefixedStream<S extends RentStream = RentStream> implements RentStream {
  private prefix: Uint8Array;
  private at = 0;

  constructor(
    /** The stream wrapped. */
    readonly inner: S,
    prefix: Uint8Array,
  ) {
    validateUint8Array(prefix, 'bytes');
    this.prefix = prefix.slice();
  }

  /** Prefix bytes not read yet. */
  get pending(): number {
    return this.prefix.length - this.at;
  }

  read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    const left = this.prefix.length - this.at;
    if (left === 0) return this.inner.read(buf, length, options);
    try {
      validateUint8Array(buf, 'buf');
      const limit = typeof length === 'number' ? length : buf.length;
      validateInteger(limit, 'length', 0, buf.length);
      const n = Math.min(left, limit);
      buf.set(this.prefix.subarray(this.at, this.at + n));
      this.at += n;
      if (this.at === this.prefix.length) {
        this.prefix = new Uint8Array(0);
        this.at = 0;
      }
      return Promise.resolve([n, buf]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    const left = this.prefix.length - this.at;
    if (left === 0) return this.inner.readExact(buf, length, options);
    validateUint8Array(buf, 'buf');
    const limit = typeof length === 'number' ? length : buf.length;
    const opts = typeof length === 'object' ? length : options;
    const [n] = await this.read(buf, limit);
    if (n === limit) return [limit, buf];
    try {
      await this.inner.readExact(buf.subarray(n, limit), limit - n, opts);
    } catch (err) {
      const e = err as { bytesRead?: number; buffer?: Uint8Array };
      if (typeof e === 'object' && e !== null) {
        if (typeof e.bytesRead === 'number') e.bytesRead += n;
        e.buffer = buf;
      }
      throw err;
    }
    return [limit, buf];
  }

  write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.inner.write(buf, length, options);
  }

  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult> {
    return this.inner.writeAll(buf, length, options);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  /** Closes the inner stream (if it has `close`). */
  async close(): Promise<void> {
    const inner = this.inner as RentStream & { close?: () => Promise<void> | void };
    if (typeof inner.close === 'function') await inner.close();
  }
}

/** Wraps `stream` so its reads return a copy of `bytes` first (see the module docs). */
export function prefixed<S extends RentStream>(stream: S, bytes: Uint8Array): PrefixedStream<S> {
  return new PrefixedStream(stream, bytes);
}
