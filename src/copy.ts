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
 * While a copy runs it owns the reading side of `from` and the writing side
 * of `to`: your own `read`/`recv` on `from` and `write`/`writeAll` on `to`
 * reject with `ERR_PERCORE_BUSY`. Writing to `from` or reading from `to` is
 * fine, which is how a proxy runs two copies, one per direction:
 * ```ts
 * await Promise.all([copy(client, upstream, { end: true }), copy(upstream, client, { end: true })]);
 * ```
 */
import { ECANCELED } from './errno';
import { abortError, codedError, invalidArgType, PercoreError, runtimeClosed, systemError } from './errors';
import { CLOSED_RESULT, OpHandler, Runtime } from './runtime';
import { kCancel, Cancellable, cancelOnAbort } from './cancel';
import { StreamOp, TcpStream } from './tcp';
import { validateSignal } from './validate';

/** Options of `copy()`. */
export interface CopyOptions {
  /** At the end of `from`, shut `to` down for writing (it sends FIN) before
   * resolving, as a proxy passes a half-close on. Default false. */
  end?: boolean;
  /** Stop the copy: it rejects with an `AbortError` carrying `bytesCopied`
   * and `unwritten` (unless it had already ended, which it then resolves with). */
  signal?: AbortSignal;
}

/** The core's `copyInfo(id, what)` questions (assembly/copy.ts). */
const INFO_TOTAL = 0;
const INFO_UNSENT_OFFSET = 1;
const INFO_UNSENT_LENGTH = 2;
const INFO_PHASE = 3;
const INFO_BUFFER = 4;
/** The core's COPY_F_* options. */
const COPY_F_END = 1;
const COPY_F_SELECT = 2;
/** What each phase of the relay was doing, for a system error's `syscall`. */
const PHASE_SYSCALLS = ['read', 'write', 'shutdown'];

/** Copies everything `from` sends into `to` until `from` ends; resolves with
 * the number of bytes copied. The bytes move inside the runtime through one
 * pool buffer, with no JavaScript per buffer (see the module docs).
 * ```ts
 * const n = await copy(client, upstream, { end: true }); // then upstream got FIN
 * ```
 * Rejects with a system error (`ECONNRESET`, `EPIPE`; `syscall` says which side:
 * `'read'` is `from`, `'write'` and `'shutdown'` are `to`), an `AbortError`,
 * `ERR_SOCKET_CLOSED` if either stream is closed meanwhile, or
 * `ERR_PERCORE_RUNTIME_CLOSED`; each error carries `bytesCopied` and
 * `unwritten`. Rejects at once with `ERR_PERCORE_BUSY` when `from` is being
 * read (a `read`, `recv` or another copy) or `to` written, with
 * `ERR_INVALID_ARG_VALUE` when the streams belong to different runtimes, and
 * with `ERR_PERCORE_NO_BUFFERS` when no pool buffer is free. */
export function copy(from: TcpStream, to: TcpStream, options?: CopyOptions): Promise<number> {
  let rt: Runtime;
  try {
    if (!(from instanceof TcpStream)) throw invalidArgType('from', 'an instance of TcpStream', from);
    if (!(to instanceof TcpStream)) throw invalidArgType('to', 'an instance of TcpStream', to);
    if (options !== undefined && (typeof options !== 'object' || options === null)) {
      throw invalidArgType('options', 'of type object', options);
    }
    if (options?.end !== undefined && typeof options.end !== 'boolean') {
      throw invalidArgType('options.end', 'of type boolean', options.end);
    }
    validateSignal(options?.signal, 'options.signal');
    rt = from.rt;
    if (to.rt !== rt) {
      throw codedError('ERR_INVALID_ARG_VALUE', 'copy(): both streams must belong to the same runtime', TypeError);
    }
    for (const stream of from === to ? [from] : [from, to]) {
      if (stream.isClosing) throw codedError('ERR_SOCKET_CLOSED', 'TcpStream is closed');
    }
    rt.assertOpen();
    if (from.copyingFrom || from.receiver?.holding || busyWith(from, true)) {
      throw codedError('ERR_PERCORE_BUSY', 'copy(): `from` is being read (a read, recv or copy is in flight, or recv() has data waiting)');
    }
    if (to.copyingTo || busyWith(to, false)) {
      throw codedError('ERR_PERCORE_BUSY', 'copy(): `to` is being written (a write or copy is in flight)');
    }
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = options?.signal;
  if (signal?.aborted) return Promise.reject(withProgress(abortError(signal.reason), 0, EMPTY));
  let settle!: { resolve: (n: number) => void; reject: (e: unknown) => void };
  const promise = new Promise<number>((resolve, reject) => { settle = { resolve, reject }; }) as Promise<number> & Cancellable;
  const op = new CopyOp(rt, from, to, settle.resolve, settle.reject, signal);
  promise[kCancel] = op;
  op.begin(options?.end === true ? COPY_F_END : 0);
  return promise;
}

const EMPTY = new Uint8Array(0);

/** Whether `stream` has an operation in flight that reads (or writes) it. */
function busyWith(stream: TcpStream, reads: boolean): boolean {
  for (let op = stream.firstOp; op !== undefined; op = op.next) {
    if (reads ? op.reads : op.writes) return true;
  }
  return false;
}

function withProgress(err: PercoreError, copied: number, unwritten: Uint8Array): PercoreError {
  err.bytesCopied = copied;
  err.unwritten = unwritten;
  return err;
}

/** One relay: the core's COPY op, in `from`'s list of operations in flight
 * (and, through `toLink`, in `to`'s), so that closing either stream stops it. */
class CopyOp implements OpHandler, StreamOp {
  private id = 0;
  private reason: PercoreError | undefined;
  private onAbort: (() => void) | undefined;
  /** Its entry in `to`'s list, when `to` is another stream. */
  private readonly toLink: StreamOp | undefined;
  prev: StreamOp | undefined = undefined;
  next: StreamOp | undefined = undefined;
  readonly reads = true;
  readonly writes: boolean;

  constructor(
    private readonly rt: Runtime,
    private readonly from: TcpStream,
    private readonly to: TcpStream,
    private readonly resolve: (n: number) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.writes = from === to;
    this.toLink = from === to ? undefined : {
      prev: undefined, next: undefined, reads: false, writes: true,
      cancel: (reason) => this.cancel(reason),
    };
  }

  begin(options: number): void {
    const rt = this.rt;
    // With a recv set, each receive takes a buffer only when data arrives;
    // without one, the copy holds a pool buffer of its own until it ends.
    let buffer = -1;
    if (rt.recvSetSize > 0) {
      options |= COPY_F_SELECT;
    } else {
      buffer = rt.core.bufAlloc();
      if (buffer < 0) {
        return this.reject(withProgress(codedError('ERR_PERCORE_NO_BUFFERS',
          'copy(): every pool buffer is in use; release buffers or create the runtime with more'), 0, EMPTY));
      }
    }
    const id = rt.core.submitCopy(this.from.fd, this.to.fd, buffer, options);
    try {
      rt.track(id, this, 'copy');
    } catch (err) {
      if (buffer >= 0) rt.unlend(buffer);
      return this.reject(withProgress(err as PercoreError, 0, EMPTY));
    }
    this.id = id;
    this.from.copyingFrom = true;
    this.to.copyingTo = true;
    this.from.started(this);
    if (this.toLink !== undefined) this.to.started(this.toLink);
    if (this.signal !== undefined) {
      this.onAbort = cancelOnAbort(this.signal, this);
    }
  }

  /** Stops the copy; it rejects with `reason` unless it had already ended. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.rt.cancel(this.id);
  }

  complete(res: number): void {
    const rt = this.rt;
    const core = rt.core;
    // The op is in the batch that delivered it (or the runtime just closed
    // under it): its record is still readable.
    const copied = core.copyInfo(this.id, INFO_TOTAL);
    const unsent = core.copyInfo(this.id, INFO_UNSENT_LENGTH);
    const phase = core.copyInfo(this.id, INFO_PHASE);
    // The buffer the relay held when it ended (none for a select relay that
    // had sent everything): the program's now, given back below.
    const buffer = core.copyInfo(this.id, INFO_BUFFER);
    // Copied out before the buffer goes back to the pool (the memory
    // outlives a closed runtime, so even then nothing is lost).
    const unwritten = unsent > 0 ? rt.poolSlice(buffer, core.copyInfo(this.id, INFO_UNSENT_OFFSET), unsent) : EMPTY;
    if (buffer >= 0 && !rt.isClosed) rt.freeBuffer(buffer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.from.copyingFrom = false;
    this.to.copyingTo = false;
    this.from.settled(this);
    if (this.toLink !== undefined) this.to.settled(this.toLink);
    if (res === 0) return this.resolve(copied);
    let err: PercoreError;
    if (res === CLOSED_RESULT) err = runtimeClosed();
    else if (res === -ECANCELED && this.reason !== undefined) err = this.reason;
    else err = systemError(res, PHASE_SYSCALLS[phase] ?? 'copy');
    this.reject(withProgress(err, copied, unwritten));
  }
}
