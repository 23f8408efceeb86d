// A stream's `recv()` side: one multishot buffer-select receive kept armed
// across calls, buffers received ahead of the program (at most RECV_AHEAD),
// and the `recv()` calls waiting for one.
import * as L from '../core/layout';
import { ECANCELED, ENOBUFS, ENOSPC } from '../errors/errno';
import { abortError, type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { type Cancellable, cancelOnAbort, kCancel } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import type { Runtime } from '../runtime/runtime';
import { noRecvBuffers } from '../runtime/submit-errors';
import { captureSettlers, settlers } from './settlers';
import type { OpStream, StreamOp } from './stream-op';

/** Buffers a stream's receive fills ahead of `recv()` calls before it is paused. */
export const RECV_AHEAD = 4;

/** What a `recv()` settles with: a buffer, `null` at the end of the stream, or an error. */
type RecvResult = Uint8Array | null | PercoreError;

/** A stream's `recv()` side: one multishot buffer-select RECV, armed by the
 * first `recv()` and kept armed across calls, the results it delivered that no
 * `recv()` has taken yet (at most about RECV_AHEAD: the receive is cancelled
 * when that many wait, and armed again when a `recv()` finds none), and the
 * `recv()` calls waiting for one (only while none waits). */
export class Receiver implements OpHandler, StreamOp, Stalled {
  private id = 0;
  private armed = false;
  /** Waiting in the runtime for an op slot or a recv-set buffer (not armed). */
  private stalled = false;
  /** What it waits for when stalled: a recv-set buffer (else an op slot). */
  private starved = false;
  /** A cancel was asked for: too many results waiting, nobody waiting, or close. */
  private pausing = false;
  private closeReason: PercoreError | undefined;
  private readonly results: RecvResult[] = [];
  private readonly waiters: RecvWaiter[] = [];
  /** `stop()` calls waiting for the receive to be disarmed. */
  private stoppers: ((buffers: Uint8Array[]) => void)[] | undefined = undefined;
  prev: StreamOp | undefined = undefined;
  next: StreamOp | undefined = undefined;
  readonly reads = true;
  readonly writes = false;

  constructor(
    private readonly rt: Runtime,
    private readonly stream: OpStream,
  ) {}

  /** Whether the kernel or the queue holds something of the stream's. */
  get holding(): boolean {
    return this.armed || this.stalled || this.results.length > 0;
  }

  recv(signal: AbortSignal | undefined): Promise<Uint8Array | null> {
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (this.results.length > 0) {
      const result = this.results.shift()!;
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    }
    const promise = new Promise<Uint8Array | null>(captureSettlers) as Promise<Uint8Array | null> & Cancellable;
    const waiter = new RecvWaiter(this, settlers.resolve, settlers.reject, signal);
    promise[kCancel] = waiter;
    this.waiters.push(waiter);
    if (!this.armed && !this.stalled) this.arm();
    return promise;
  }

  private arm(): void {
    const rt = this.rt;
    const id = rt.core.submitRecvSelect(this.stream.fd, rt.bufferSize, 1);
    if (id === -ENOSPC) {
      this.wait(false); // the op table is full: wait for a slot
      return;
    }
    try {
      rt.track(id, this, 'recv');
    } catch (err) {
      this.fail(id === -ENOBUFS ? noRecvBuffers() : (err as PercoreError));
      return;
    }
    this.id = id;
    this.armed = true;
    this.pausing = false;
    this.stream.started(this);
  }

  /** Waits in the runtime for a slot, or (`starved`) for a recv-set buffer. */
  private wait(starved: boolean): void {
    this.stalled = true;
    this.starved = starved;
    this.rt.stall(this);
  }

  /** Stalled: a buffer or a slot may be free. Arms again if a `recv()` still
   * waits (a starved receive only once a recv-set buffer is back in the pick
   * set: arming with none would fail again at once). */
  resume(): void {
    this.stalled = false;
    if (this.waiters.length === 0 || this.closeReason !== undefined) return;
    if (this.starved && this.rt.core.counter(7) === 0) this.wait(true);
    else this.arm();
  }

  /** The runtime closed while it waited. */
  abort(): void {
    this.stalled = false;
    this.fail(runtimeClosed());
  }

  /** Asks the kernel to stop the receive; its final delivery comes later. */
  private pause(): void {
    if (this.stalled) {
      this.stalled = false;
      this.rt.unstall(this);
      return;
    }
    if (!this.armed || this.pausing) return;
    this.pausing = true;
    this.rt.cancel(this.id);
  }

  /** Disarms the receive (see `FdStream.stopRecv`): waiting `recv()` calls
   * reject with `reason`; resolves, once the kernel has let go, with the
   * buffers received ahead and not taken, in order (the program's now). */
  stop(reason: PercoreError): Promise<Uint8Array[]> {
    this.fail(reason);
    this.pause(); // a stalled receive just leaves the queue
    if (!this.armed) return Promise.resolve(this.takeBuffers());
    if (this.stoppers === undefined) this.stoppers = [];
    const stoppers = this.stoppers;
    const promise = new Promise<Uint8Array[]>((resolve) => {
      stoppers.push(resolve);
    });
    this.pause();
    return promise;
  }

  /** The data received ahead, handed to the program. An end of stream or an
   * error waiting behind them is dropped: the socket reports it again to the
   * next read (a TCP end of stream repeats; after a reset, reads see the end). */
  private takeBuffers(): Uint8Array[] {
    const buffers: Uint8Array[] = [];
    for (const result of this.results.splice(0)) if (result instanceof Uint8Array) buffers.push(result);
    return buffers;
  }

  /** StreamOp: the stream closes. */
  cancel(reason: PercoreError): void {
    this.close(reason);
  }

  /** Rejects every waiting `recv()`, gives back every buffer received and not
   * taken, and stops the receive. */
  close(reason: PercoreError): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.fail(reason);
    for (const result of this.results.splice(0)) if (result instanceof Uint8Array) this.rt.release(result);
    this.pause();
  }

  /** A waiting `recv()` gave up (abort, timeout): with nobody else waiting,
   * the receive stops; what it already received waits for the next call. */
  forget(waiter: RecvWaiter): void {
    const at = this.waiters.indexOf(waiter);
    if (at >= 0) this.waiters.splice(at, 1);
    if (this.waiters.length === 0) this.pause();
  }

  complete(res: number, flags: number): void {
    const rt = this.rt;
    if (res > 0 && (flags & L.CQE_F_BUFFER) !== 0) {
      const buf = rt.poolView(flags >>> L.CQE_BUFFER_SHIFT, res);
      if (this.closeReason !== undefined) rt.release(buf);
      else this.deliver(buf);
    }
    if ((flags & L.CQE_F_MORE) !== 0) {
      if (this.results.length >= RECV_AHEAD) this.pause(); // backpressure
      return;
    }
    // The receive is over.
    this.armed = false;
    this.pausing = false;
    this.stream.settled(this);
    if (this.stoppers !== undefined) {
      this.stopped(res);
      return;
    }
    if (res > 0) {
      // data in the final delivery: taken above
    } else if (res === 0) {
      this.deliver(null);
    } else if (res === CLOSED_RESULT) {
      this.fail(runtimeClosed());
      return;
    } else if (res === -ENOBUFS) {
      // Data came with no buffer to put it in: it stays in the socket, and the
      // receive waits for the program (or a copy) to give a recv buffer back.
      if (this.waiters.length > 0 && this.closeReason === undefined && !rt.isClosed) this.wait(true);
      return;
    } else if (res !== -ECANCELED) {
      this.deliver(systemError(res, 'recv'));
    }
    if (this.waiters.length > 0 && this.closeReason === undefined && !rt.isClosed) this.arm();
  }

  /** The receive `stop()` asked to end is over: hand the buffers received
   * ahead to the `stop()` calls. A `recv()` made meanwhile arms it again. */
  private stopped(res: number): void {
    const stoppers = this.stoppers!;
    this.stoppers = undefined;
    const buffers = this.closeReason === undefined ? this.takeBuffers() : [];
    for (const resolve of stoppers) resolve(buffers);
    if (res === CLOSED_RESULT) this.fail(runtimeClosed());
    else if (this.waiters.length > 0 && this.closeReason === undefined && !this.rt.isClosed) this.arm();
  }

  private deliver(result: RecvResult): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      if (this.closeReason === undefined) this.results.push(result);
      return;
    }
    waiter.settle(result);
  }

  /** Rejects every waiting `recv()` with `err`. */
  private fail(err: PercoreError): void {
    for (const waiter of this.waiters.splice(0)) waiter.settle(err);
  }
}

/** One `recv()` waiting for its stream's receive. */
class RecvWaiter {
  private onAbort: (() => void) | undefined = undefined;
  private done = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly resolve: (v: Uint8Array | null) => void,
    private readonly reject: (e: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal !== undefined) this.onAbort = cancelOnAbort(signal, this);
  }

  settle(result: RecvResult): void {
    if (this.done) return;
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    if (result instanceof Error) this.reject(result);
    else this.resolve(result);
  }

  /** Gives up (abort, timeout): rejects with `reason`; no byte is lost. */
  cancel(reason: PercoreError): void {
    if (this.done) return;
    this.receiver.forget(this);
    this.settle(reason);
  }
}
