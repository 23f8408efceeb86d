// An operation with no buffer (connect, shutdown, close), and the close that
// every descriptor owner ends with.
import { ECANCELED } from '../errors/errno';
import { abortError, type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { CLOSED_RESULT, type OpHandler } from '../runtime/op-handler';
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
export class PlainOp implements OpHandler {
  private id = 0;
  private rt: Runtime | undefined;
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

  /** Submitted as op `id` (the core's answer): tracks it, and lets the signal
   * cancel it. Throws the submit's error (e.g. the op table is full). */
  track(rt: Runtime, id: number): void {
    rt.track(id, this, this.syscall);
    this.rt = rt;
    this.id = id;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Cancels the operation; it rejects with `reason` unless its result already arrived. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined || this.done || this.rt === undefined) return;
    this.reason = reason;
    this.rt.cancel(this.id);
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
  const op = new PlainOp(
    { syscall: 'close' },
    () => finish(),
    () => finish(),
  );
  op.track(rt, rt.core.submitClose(fd));
}
