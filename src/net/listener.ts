/**
 * What every listening socket shares (libuv's `stream.c` to `tcp.c`): one
 * multishot accept kept armed while the program takes connections, the queue
 * of connections accepted ahead of it (bounded: past `ACCEPT_QUEUE_LIMIT` the
 * accept is not re-armed and connections wait in the kernel's backlog), the
 * back-off after transient accept errors, and close. A transport
 * (`TcpListener`, `UnixListener`) adds how it binds and what an accepted
 * connection becomes.
 *
 * ```ts
 * import { TcpListener, TcpStream } from 'percore';
 * const listener = await TcpListener.bind('127.0.0.1:0');
 * const client = await TcpStream.connect(listener.localAddress());
 * for await (const stream of listener) {   // until the listener closes
 *   await stream.close();
 *   break;
 * }
 * await Promise.all([client.close(), listener.close()]);
 * ```
 */
import * as L from '../core/layout';
import { ECANCELED, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM, ENOSPC, EPERM } from '../errors/errno';
import { abortError, type PercoreError, runtimeClosed, socketClosed, systemError } from '../errors/errors';
import { validateSignal } from '../errors/validate';
import { submitCloseThen } from '../io/plain-op';
import { captureSettlers, settlers } from '../io/settlers';
import { type Cancellable, cancelOnAbort, kCancel } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import type { Runtime } from '../runtime/runtime';

/** A listening socket: `accept()` or `for await (const stream of listener)`. */
export abstract class StreamListener<S> implements AsyncIterable<S>, OpHandler, Stalled {
  /** Accepts that failed with a transient error (`EMFILE`, `ENFILE`,
   * `ENOBUFS`, `ENOMEM`, `ECONNABORTED`, `EPERM`): out of descriptors or
   * memory, or a connection that died in the queue. They do not reach
   * `accept()`: the listener stops asking the kernel for connections for
   * `ACCEPT_BACKOFF_MS` (so a server out of descriptors does not spin, as
   * libuv and nginx do) and then goes on serving. Watch this counter (and
   * `lastAcceptError`) to see a server running out of descriptors. */
  acceptErrors = 0;
  /** The last transient accept error (see `acceptErrors`), or undefined. */
  lastAcceptError: PercoreError | undefined = undefined;
  private acceptId = 0;
  private armed = false;
  /** Waiting for an op slot to arm the accept. */
  private stalled = false;
  /** Backing off after a transient accept error. */
  /** Backing off after a transient accept error: a timer on the runtime's
   * clock (virtual under simulation), aborted by `close()`. */
  private backoff: AbortController | undefined = undefined;
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;
  private readonly accepted: number[] = [];
  private readonly waiters: AcceptWaiter<S>[] = [];
  private failure: PercoreError | undefined;

  /** @internal */
  protected constructor(
    /** @internal */ readonly rt: Runtime,
    readonly fd: number,
    /** The class name errors give (`ERR_SOCKET_CLOSED`). */
    private readonly kind: string,
  ) {}

  /** @internal whether `close()` was called (or the runtime closed). */
  get isClosing(): boolean {
    return this.closing;
  }

  /** @internal the stream of an accepted connection. */
  protected abstract wrap(fd: number): S;

  /** @internal called once the socket is closed (a Unix listener unlinks its path). */
  protected onClosed(): void {}

  /** The next connection. Rejects with `ERR_SOCKET_CLOSED` once the listener
   * is closed. `options.signal` and `timeout()` give the call up: it rejects
   * with the `AbortError` (or `TimeoutError`) and a connection that arrives
   * later goes to the next `accept()`, never to the one given up.
   * ```ts
   * const stream = await timeout(1000, listener.accept()).catch(() => null);   // null: nobody came within 1 s
   * ```
   */
  accept(options?: { signal?: AbortSignal }): Promise<S> {
    try {
      validateSignal(options?.signal, 'options.signal');
      if (this.closing) throw socketClosed(this.kind);
      if (options?.signal?.aborted) throw abortError(options.signal.reason);
    } catch (err) {
      return Promise.reject(err);
    }
    const fd = this.accepted.shift();
    if (fd !== undefined) {
      if (!this.armed && !this.stalled && this.backoff === undefined) this.arm();
      return Promise.resolve(this.wrap(fd));
    }
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      if (!this.armed && !this.stalled && this.backoff === undefined) this.arm();
      return Promise.reject(err);
    }
    const promise = new Promise<S>(captureSettlers) as Promise<S> & Cancellable;
    const waiter = new AcceptWaiter(this.waiters, settlers.resolve, settlers.reject, options?.signal);
    promise[kCancel] = waiter;
    this.waiters.push(waiter);
    if (!this.armed && !this.stalled && this.backoff === undefined) this.arm();
    return promise;
  }

  /** Connections until the listener closes; the loop then ends. */
  async *[Symbol.asyncIterator](): AsyncIterator<S> {
    while (!this.closing) {
      try {
        yield await this.accept();
      } catch (err) {
        if ((err as PercoreError).code === 'ERR_SOCKET_CLOSED') return;
        throw err;
      }
    }
  }

  /** Stops accepting, closes connections accepted but not yet taken, and closes
   * the socket. Pending `accept()` calls reject with `ERR_SOCKET_CLOSED`. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => {
      this.finishClose = resolve;
    });
    for (const fd of this.accepted.splice(0)) this.rt.nativeDriver.closeFd(fd);
    for (const waiter of this.waiters.splice(0)) waiter.reject(socketClosed(this.kind));
    this.backoff?.abort();
    this.backoff = undefined;
    if (this.stalled) {
      this.stalled = false;
      this.rt.unstall(this);
    }
    if (this.armed) this.rt.cancel(this.acceptId);
    else this.closeSocket();
    return this.closed;
  }

  /** @internal a delivery for the accept op. */
  complete(res: number, flags: number): void {
    if ((flags & L.CQE_F_MORE) === 0) this.armed = false;
    if (res === CLOSED_RESULT) {
      this.closing = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(runtimeClosed());
      this.finishClose?.();
      return;
    }
    if (res >= 0) {
      if (this.closing) this.rt.nativeDriver.closeFd(res);
      else {
        const waiter = this.waiters.shift();
        if (waiter !== undefined) waiter.resolve(this.wrap(res));
        else this.accepted.push(res);
      }
    } else if (res !== -ECANCELED && !this.closing) {
      const err = systemError(res, 'accept');
      if (TRANSIENT_ACCEPT_ERRORS.has(-res)) {
        this.acceptErrors++;
        this.lastAcceptError = err;
        this.backOff();
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter !== undefined) waiter.reject(err);
      else this.failure = err;
      return; // re-armed by the next accept(), so a persistent error cannot spin
    }
    if (this.armed) return;
    if (this.closing) this.closeSocket();
    else if (this.backoff === undefined && (this.waiters.length > 0 || this.accepted.length < ACCEPT_QUEUE_LIMIT)) {
      this.arm();
    }
  }

  /** Stops accepting for a while after a transient error, then goes on. */
  private backOff(): void {
    if (this.armed) this.rt.cancel(this.acceptId); // a multishot accept still armed would fail again at once
    if (this.backoff !== undefined) return;
    const backoff = new AbortController();
    this.backoff = backoff;
    this.rt.sleep(ACCEPT_BACKOFF_MS, { signal: backoff.signal }).then(
      () => {
        if (this.backoff !== backoff) return;
        this.backoff = undefined;
        if (!this.isClosing && !this.armed && !this.stalled) this.arm();
      },
      () => {
        /* aborted by close(), or the runtime closed */
      },
    );
  }

  /** @internal arms the multishot accept (after `listen`). */
  protected arm(): void {
    if (this.rt.isClosed) return;
    const id = this.rt.core.submitAccept(this.fd, 1);
    if (id === -ENOSPC) {
      // The op table is full: accept again once a slot frees up.
      this.stalled = true;
      this.rt.stall(this);
      return;
    }
    this.rt.track(id, this, 'accept');
    this.acceptId = id;
    this.armed = true;
  }

  /** @internal an op slot may be free: arm the accept. */
  resume(): void {
    this.stalled = false;
    if (!this.closing && !this.armed) this.arm();
  }

  /** @internal the runtime closed while the accept waited for a slot. */
  abort(): void {
    this.stalled = false;
    this.complete(CLOSED_RESULT, 0);
  }

  private closeSocket(): void {
    submitCloseThen(this.rt, this.fd, () => {
      this.onClosed();
      this.finishClose!();
    });
  }
}

/** One `accept()` waiting for a connection; giving up takes it out of the
 * listener's queue, so no connection is handed to a call nobody awaits. */
class AcceptWaiter<S> {
  private onAbort: (() => void) | undefined = undefined;
  private done = false;

  constructor(
    private readonly queue: AcceptWaiter<S>[],
    private readonly resolveFn: (s: S) => void,
    private readonly rejectFn: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal !== undefined) this.onAbort = cancelOnAbort(signal, this);
  }

  resolve(stream: S): void {
    this.settled();
    this.resolveFn(stream);
  }

  reject(err: unknown): void {
    this.settled();
    this.rejectFn(err);
  }

  /** Gives up (abort, timeout): rejects with `reason`. */
  cancel(reason: PercoreError): void {
    if (this.done) return;
    const at = this.queue.indexOf(this);
    if (at >= 0) this.queue.splice(at, 1);
    this.reject(reason);
  }

  private settled(): void {
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

/** Transient accept errors: counted and backed off from, never thrown at the program. */
const TRANSIENT_ACCEPT_ERRORS = new Set([EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, EPERM]);
/** How long a listener waits after a transient accept error before accepting again. */
const ACCEPT_BACKOFF_MS = 50;

/** Connections accepted ahead of the program before the listener stops asking the kernel for more. */
const ACCEPT_QUEUE_LIMIT = 256;
