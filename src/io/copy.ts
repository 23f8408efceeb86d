/**
 * `copy()`: relay a stream into another inside the runtime.
 *
 * ## The model
 * A proxy or an echo written with `read` and `writeAll` crosses into
 * JavaScript twice per buffer: each completion resolves a promise whose
 * continuation submits the next operation. `copy(from, to)` hands the whole
 * loop to the core: it receives, sends what arrived, receives again, and
 * writes each next operation itself from the loop turn that saw the previous
 * one complete. JavaScript hears from it once, when it ends: at the end of
 * `from` (resolving with the number of bytes copied), on an error of either
 * stream, on abort, or when either stream closes.
 *
 * Buffers: when the runtime has a recv set (`RuntimeOptions.recvBuffers`, on
 * by default), each receive takes one of its buffers only when data arrives
 * and the send that empties it gives it back, so a copy waiting for data
 * holds no buffer; if the set is empty it waits for one (no data is lost and
 * the copy does not fail). Without a recv set the copy holds one pool buffer
 * of its own until it ends.
 *
 * Nothing is lost when it ends early: the error carries `bytesCopied` and
 * `unwritten`, the bytes taken from `from` that `to` never got, in order.
 *
 * ```ts
 * import { TcpListener, copy } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * for await (const stream of listener) {
 *   copy(stream, stream)                  // an echo: bytes go back where they came from
 *     .catch(() => {})                    // a reset peer is not the server's problem
 *     .finally(() => stream.close());
 * }
 * ```
 *
 * `copy()` takes any `RentReader` and `RentWriter` (src/io/rent.ts). Between
 * two descriptor streams of one runtime (`TcpStream`s) the core runs the
 * relay (src/io/core-relay.ts); between any others the same loop runs in
 * JavaScript over the contract (src/io/js-relay.ts), with the same results
 * and errors.
 *
 * While a core relay runs it owns the reading side of `from` and the writing side
 * of `to`: your own `read`/`recv` on `from` and `write`/`writeAll` on `to`
 * reject with `ERR_PERCORE_BUSY`. Writing to `from` or reading from `to` is
 * fine, which is how a proxy runs two copies, one per direction:
 * ```ts
 * await Promise.all([copy(client, upstream, { end: true }), copy(upstream, client, { end: true })]);
 * ```
 */
import { abortError, codedError, invalidArgType } from '../errors/errors';
import { validateSignal } from '../errors/validate';
import { type Cancellable, kCancel } from '../runtime/cancel';
import { EMPTY, withProgress } from './copy-progress';
import { CoreRelay } from './core-relay';
import { FdStream } from './fd-stream';
import { relayInJs } from './js-relay';
import { isRentReader, isRentWriter, type RentReader, type RentWriter } from './rent';

/** Options of `copy()`. */
export interface CopyOptions {
  /** At the end of `from`, shut `to` down for writing (it sends FIN) before
   * resolving, as a proxy passes a half-close on. Default false. */
  end?: boolean;
  /** Stop the copy: it rejects with an `AbortError` carrying `bytesCopied`
   * and `unwritten` (unless it had already ended, which it then resolves with). */
  signal?: AbortSignal;
}

/** Copies everything `from` sends into `to` until `from` ends; resolves with
 * the number of bytes copied. Between two streams of one runtime the bytes
 * move inside the core with no JavaScript per buffer, through the recv set
 * (or one pool buffer of the relay's own when the runtime has none); see the
 * module docs.
 * ```ts
 * const n = await copy(client, upstream, { end: true }); // then upstream got FIN
 * ```
 * Rejects with a system error (`ECONNRESET`, `EPIPE`; `syscall` says which side:
 * `'read'` is `from`, `'write'` and `'shutdown'` are `to`), an `AbortError`,
 * `ERR_SOCKET_CLOSED` if either stream is closed meanwhile, or
 * `ERR_PERCORE_RUNTIME_CLOSED`; each error carries `bytesCopied` and
 * `unwritten`. Rejects at once with `ERR_INVALID_ARG_TYPE` when a side is not
 * a rent stream, and, for two descriptor streams, with `ERR_PERCORE_BUSY` when
 * `from` is being read (a `read`, `recv` or another copy) or `to` written,
 * and with `ERR_INVALID_ARG_VALUE` when they belong to different runtimes.
 * When the op table is full (or the runtime has no recv set and no pool
 * buffer is free) it waits for a slot (or a buffer) rather than failing:
 * back-pressure, in FIFO order with the runtime's other waiting work; the
 * streams are the relay's from the call on, and closing either, the signal
 * or `timeout()` still stop it. */
export function copy(from: RentReader, to: RentWriter, options?: CopyOptions): Promise<number> {
  try {
    if (!isRentReader(from)) throw invalidArgType('from', 'a rent stream (with read and readExact)', from);
    if (!isRentWriter(to)) throw invalidArgType('to', 'a rent stream (with write, writeAll and shutdown)', to);
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw invalidArgType('options', 'of type object', options);
    }
    if (options?.end !== undefined && typeof options.end !== 'boolean') {
      throw invalidArgType('options.end', 'of type boolean', options.end);
    }
    validateSignal(options?.signal, 'options.signal');
    if (from instanceof FdStream && to instanceof FdStream) checkCoreRelay(from, to);
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = options?.signal;
  const end = options?.end === true;
  if (signal?.aborted) return Promise.reject(withProgress(abortError(signal.reason), 0, EMPTY));
  if (!(from instanceof FdStream && to instanceof FdStream)) {
    const runtime = from instanceof FdStream ? from.rt : to instanceof FdStream ? to.rt : undefined;
    return relayInJs(from, to, { end, signal, runtime });
  }
  let settle!: { resolve: (n: number) => void; reject: (e: unknown) => void };
  const promise = new Promise<number>((resolve, reject) => {
    settle = { resolve, reject };
  }) as Promise<number> & Cancellable;
  const relay = new CoreRelay({ from, to, signal }, settle.resolve, settle.reject);
  promise[kCancel] = relay;
  relay.begin(end);
  return promise;
}

/** Throws unless the kernel can relay `from` into `to` now (`caller`: the
 * function named in the errors; `spliceCopy()` checks the same). */
export function checkCoreRelay(from: FdStream, to: FdStream, caller = 'copy()'): void {
  if (to.rt !== from.rt) {
    throw codedError('ERR_INVALID_ARG_VALUE', `${caller}: both streams must belong to the same runtime`, TypeError);
  }
  for (const stream of from === to ? [from] : [from, to]) {
    if (stream.isClosing) throw codedError('ERR_SOCKET_CLOSED', `${stream.constructor.name} is closed`);
  }
  from.rt.assertOpen();
  if (from.copyingFrom || from.receiver?.holding || busyWith(from, true)) {
    throw codedError(
      'ERR_PERCORE_BUSY',
      `${caller}: \`from\` is being read (a read, recv or copy is in flight, or recv() has data waiting)`,
    );
  }
  if (to.copyingTo || busyWith(to, false)) {
    throw codedError('ERR_PERCORE_BUSY', `${caller}: \`to\` is being written (a write or copy is in flight)`);
  }
}

/** Whether `stream` has an operation in flight that reads (or writes) it. */
function busyWith(stream: FdStream, reads: boolean): boolean {
  for (let op = stream.firstOp; op !== undefined; op = op.next) {
    if (reads ? op.reads : op.writes) return true;
  }
  return false;
}
