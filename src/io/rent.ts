/**
 * The rent contract: what every percore stream is, whatever carries its bytes.
 *
 * ## The model
 * A read or a write takes ownership of the buffer you pass and gives it back
 * with the result: `const [n, buf] = await stream.read(buf)`. While the
 * operation is in flight the buffer is the operation's, and an operation that
 * fails, is aborted or times out rejects with its buffer in `err.buffer`, so a
 * buffer is never lost with an error. This is Monoio's `AsyncReadRent` /
 * `AsyncWriteRent`, in promises.
 *
 * Everything generic over streams is written against these interfaces, never
 * against a transport: `copy()` relays any `RentReader` into any `RentWriter`
 * (inside the core when both are descriptors of one runtime, in JavaScript
 * otherwise), and so will buffered readers and the bridge to Node's streams.
 * `TcpStream` implements it; so can a test double or a TLS layer:
 *
 * ```ts
 * import { copy, type RentStream, type IoOptions } from 'percore';
 * // a stream that serves "hello" and swallows what it is sent
 * class Hello implements RentStream {
 *   private sent = false;
 *   async read(buf: Uint8Array, _length?: number | IoOptions): Promise<[number, Uint8Array]> {
 *     if (this.sent) return [0, buf];
 *     this.sent = true;
 *     buf.set(Buffer.from('hello'));
 *     return [5, buf];
 *   }
 *   async readExact(buf: Uint8Array, length?: number | IoOptions) { return this.read(buf, length); }
 *   async write(buf: Uint8Array, length?: number | IoOptions): Promise<[number, Uint8Array]> {
 *     return [typeof length === 'number' ? length : buf.length, buf];
 *   }
 *   async writeAll(buf: Uint8Array, length?: number | IoOptions) { return this.write(buf, length); }
 *   async shutdown(): Promise<void> {}
 * }
 * const n = await copy(new Hello(), new Hello());   // 5
 * ```
 */

/** Options of a single read or write. */
export interface IoOptions {
  /** Abort the operation: it rejects with an `AbortError` carrying the buffer
   * (unless its result had already arrived, which it then resolves with). */
  signal?: AbortSignal;
}

/** A rent operation's result: the byte count and the buffer, handed back. */
export type RentResult = [number, Uint8Array];

/** The reading half of the rent contract. */
export interface RentReader {
  /** Reads at most `length` bytes (default `buf.length`) into the start of
   * `buf`; resolves `[n, buf]`, `n === 0` at the end of the stream. */
  read(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult>;
  /** Fills the first `length` bytes (default all) of `buf`; rejects with
   * `ERR_STREAM_PREMATURE_CLOSE` and `bytesRead` if the stream ends first. */
  readExact(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult>;
}

/** The writing half of the rent contract. */
export interface RentWriter {
  /** Writes some (at least one) of the first `length` bytes of `buf`. */
  write(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult>;
  /** Writes all of the first `length` bytes of `buf`; on failure the error
   * carries the buffer and `bytesWritten`. */
  writeAll(buf: Uint8Array, length?: number | IoOptions, options?: IoOptions): Promise<RentResult>;
  /** Ends the writing side (a TCP FIN); reads may go on. */
  shutdown(): Promise<void>;
}

/** A stream both read and written with rented buffers. */
export interface RentStream extends RentReader, RentWriter {}

/** Whether `value` has the reading half of the contract. */
export function isRentReader(value: unknown): value is RentReader {
  const v = value as RentReader | null;
  return typeof v === 'object' && v !== null && typeof v.read === 'function' && typeof v.readExact === 'function';
}

/** Whether `value` has the writing half of the contract. */
export function isRentWriter(value: unknown): value is RentWriter {
  const v = value as RentWriter | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.write === 'function' &&
    typeof v.writeAll === 'function' &&
    typeof v.shutdown === 'function'
  );
}
