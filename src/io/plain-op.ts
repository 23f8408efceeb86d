// An operation with no buffer (connect, shutdown, close), and the close that
// every descriptor owner ends with.
import { ECANCELED, ENOSPC } from '../errors/errno';
import { abortError, type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import type { Runtime } from '../runtime/runtime';

/** What a `PlainOp` reports in its errors, and what may abort it. */
export interface PlainOpOptions {
  /** The `syscall` of its system errors. */
  syscall: string;
  /** Appended to a system error's message, e.g. the address connected to. */
  detail?: string;
  /** Cancels the op, which then rejects with an `AbortError`. */
  signal?: AbortSignal;
}

/** An operation with no buffer: connect, shutdown, close. Its promise can
 * carry it under `kCancel`, so `timeout()` cancels it in the kernel. */
export class PlainOp implements OpHandler, Stalled {
  private id = 0;
  private rt: Runtime | undefined;
  /** What submits it (called again when it waited for an op slot). */
  private submitFn: ((rt: Runtime) => number) | undefined;
  private stalled = false;
  private reason: PercoreError | undefined;
  private done = false;
  private readonly syscall: string;
  private readonly detail: string | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(
    options: PlainOpOptions,
    private readonly resolve: (res: number) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.syscall = options.syscall;
    this.detail = options.detail;
    this.signal = options.signal;
  }

  /** Submits through `submit` (the core's answer: an op id or -errno) and
   * tracks it; lets the signal cancel it. When the op table is full it waits
   * for a slot rather than failing. Throws any other submit error. */
  start(rt: Runtime, submit: (rt: Runtime) => number): void {
    this.rt = rt;
    this.submitFn = submit;
    this.submitNow();
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private submitNow(): void {
    const rt = this.rt!;
    const id = this.submitFn!(rt);
    if (id === -ENOSPC) {
      this.stalled = true;
      rt.stall(this);
      return;
    }
    rt.track(id, this, this.syscall);
    this.id = id;
  }

  /** An op slot may be free: submit again. */
  resume(): void {
    this.stalled = false;
    try {
      this.submitNow();
    } catch (err) {
      this.settle(err);
    }
  }

  /** The runtime closed while it waited for a slot. */
  abort(): void {
    this.stalled = false;
    this.complete(CLOSED_RESULT);
  }

  /** Cancels the operation; it rejects with `reason` unless its result already arrived. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined || this.done || this.rt === undefined) return;
    this.reason = reason;
    if (this.stalled) {
      this.stalled = false;
      this.rt.unstall(this);
      this.settle(reason);
      return;
    }
    this.rt.cancel(this.id);
  }

  private settle(err: unknown): void {
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.reject(err);
  }

  complete(res: number): void {
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    if (res >= 0) this.resolve(res);
    else if (res === CLOSED_RESULT) this.reject(runtimeClosed());
    else if (res === -ECANCELED && this.reason !== undefined) this.reject(this.reason);
    else this.reject(systemError(res, this.syscall, this.detail));
  }

  private readonly onAbort = (): void => this.cancel(abortError(this.signal?.reason));
}

/** Closes `fd` through the ring, then calls `finish` whatever the result: a
 * close that fails has still released the descriptor. A closed runtime has
 * already closed every fd it owned. */
export function submitCloseThen(rt: Runtime, fd: number, finish: () => void): void {
  if (rt.isClosed) {
    finish();
    return;
  }
  const id = rt.core.submitClose(fd);
  if (id === -ENOSPC) {
    // The op table is full: close at once instead. Safe, because callers
    // close only once no operation of theirs is in flight on the fd.
    rt.nativeDriver.closeFd(fd);
    finish();
    return;
  }
  const op = new PlainOp(
    { syscall: 'close' },
    () => finish(),
    () => finish(),
  );
  op.start(rt, () => id);
}
