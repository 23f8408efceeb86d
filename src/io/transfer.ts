// One read or write on a descriptor-backed stream, or a run of them for
// readExact/writeAll, as one op handler: lends the buffer (a pool view as it
// is, anything else through a bounce buffer), submits, resubmits the rest of
// an exact transfer, and settles with the buffer handed back.
import * as L from '../core/layout';
import { ECANCELED, ENOSPC } from '../errors/errno';
import {
  abortError,
  bufferInFlight,
  codedError,
  type PercoreError,
  runtimeClosed,
  systemError,
} from '../errors/errors';
import { cancelOnAbort } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import { FORBIDDEN, type Runtime } from '../runtime/runtime';
import type { RentResult } from './rent';
import { settlers } from './settlers';
import { type LaneOp, type OpStream, type StreamOp, withBuffer } from './stream-op';

/** What kind of transfer an operation is: declared once per kind, so a call
 * names its kind rather than passing bare flags. */
export interface TransferKind {
  /** RECV/SEND for streams; READ/WRITE at a position, for files. */
  readonly opcode: typeof L.OP_RECV | typeof L.OP_SEND | typeof L.OP_READ | typeof L.OP_WRITE;
  /** Whether it goes on until `length` bytes moved (readExact, writeAll). */
  readonly exact: boolean;
  /** The `syscall` of its system errors. */
  readonly syscall: 'read' | 'write';
}

export const READ: TransferKind = Object.freeze({ opcode: L.OP_RECV, exact: false, syscall: 'read' });
export const READ_EXACT: TransferKind = Object.freeze({ opcode: L.OP_RECV, exact: true, syscall: 'read' });
export const WRITE: TransferKind = Object.freeze({ opcode: L.OP_SEND, exact: false, syscall: 'write' });
export const WRITE_ALL: TransferKind = Object.freeze({ opcode: L.OP_SEND, exact: true, syscall: 'write' });
export const READ_AT: TransferKind = Object.freeze({ opcode: L.OP_READ, exact: false, syscall: 'read' });
export const READ_EXACT_AT: TransferKind = Object.freeze({ opcode: L.OP_READ, exact: true, syscall: 'read' });
export const WRITE_AT: TransferKind = Object.freeze({ opcode: L.OP_WRITE, exact: false, syscall: 'write' });
export const WRITE_ALL_AT: TransferKind = Object.freeze({ opcode: L.OP_WRITE, exact: true, syscall: 'write' });

/** Buffers that are not pool views but are rented by an operation in flight.
 * The kernel never sees them (a pool buffer stands in), but the operation owns
 * them until it resolves: a second operation on the same array is the same
 * mistake as reusing a lent pool buffer, and is refused the same way. */
const rentedArrays = new WeakSet<Uint8Array>();

/** One read or write, or a run of them for `readExact`/`writeAll`. Takes the
 * settle functions of the promise just created with `captureSettlers`. */
export class TransferOp implements OpHandler, LaneOp, Stalled {
  private id = 0;
  /** Waiting in the runtime for a bounce buffer or an op slot (nothing in the kernel). */
  private stalled = false;
  /** 0: waiting for its turn, 1: in flight (in the stream's list), 2: settled. */
  private state = 0;
  private done = 0;
  private bounce = -1;
  /** Where `buf` lies in the runtime's arena, or -1: not a pool view (a bounce buffer stands in). */
  private arenaOffset = -1;
  /** Whether `buf` is a non-pool array this operation holds in `rentedArrays`. */
  private rented = false;
  private reason: PercoreError | undefined;
  /** The signal's listener, made only when there is a signal (most calls have none). */
  private onAbort: (() => void) | undefined = undefined;
  private readonly resolve: (v: RentResult) => void;
  private readonly reject: (e: unknown) => void;
  prev: StreamOp | undefined = undefined;
  next: StreamOp | undefined = undefined;
  waitNext: LaneOp | undefined = undefined;

  get reads(): boolean {
    return this.kind.opcode === L.OP_RECV || this.kind.opcode === L.OP_READ;
  }
  get writes(): boolean {
    return !this.reads;
  }

  constructor(
    private readonly stream: OpStream,
    private readonly kind: TransferKind,
    private readonly buf: Uint8Array,
    /** Bytes of `buf` to move, from its start. */
    private readonly limit: number,
    private readonly signal: AbortSignal | undefined,
    /** READ/WRITE kinds: the file position of the first byte (each resubmit of
     * an exact run goes on from where the last one ended). */
    private readonly position = 0,
  ) {
    this.resolve = settlers.resolve;
    this.reject = settlers.reject;
  }

  begin(): void {
    if (this.signal?.aborted) {
      this.state = 2;
      this.reject(withBuffer(abortError(this.signal.reason), this.buf));
      return;
    }
    if (this.limit === 0) {
      this.state = 2;
      this.resolve([0, this.buf]);
      return;
    }
    // A pool buffer's ownership is the core's to check; any other array is ours.
    const rt = this.stream.rt;
    this.arenaOffset = rt.arenaOffsetOf(this.buf);
    const pooled = this.arenaOffset >= 0;
    if (this.arenaOffset === FORBIDDEN) {
      this.state = 2;
      this.reject(withBuffer(forbiddenView(), this.buf));
      return;
    }
    if (!pooled) {
      if (rentedArrays.has(this.buf)) {
        this.state = 2;
        this.reject(withBuffer(bufferInFlight(), this.buf));
        return;
      }
      // Rented from the call on, even while it waits its turn.
      rentedArrays.add(this.buf);
      this.rented = true;
    }
    if (this.signal !== undefined) this.onAbort = cancelOnAbort(this.signal, this);
    // Until it ends, a pool buffer is the operation's: release() refuses it
    // even before the kernel has it (waiting its turn or an op slot).
    if (pooled) rt.rent(this.arenaOffset, 1);
    if (this.stream.admit(this)) {
      this.run();
      return;
    }
    // Waiting its turn: a pool buffer the kernel (or another waiting
    // operation) holds is refused now, as the core would refuse it at once.
    if (pooled) {
      if (rentedArrays.has(this.buf) || rt.isLent(this.arenaOffset)) {
        this.stream.dequeue(this);
        this.finish(undefined, bufferInFlight());
        return;
      }
      rentedArrays.add(this.buf);
      this.rented = true;
    }
  }

  /** Goes to the kernel: at once when its direction of the stream was free,
   * else once the operations issued before it have settled. */
  run(): void {
    this.state = 1;
    this.stream.started(this);
    try {
      this.submit();
    } catch (err) {
      this.finish(undefined, err as PercoreError);
    }
  }

  /** Cancels the operation; it rejects with `reason` unless its result already arrived. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined || this.state === 2) return;
    this.reason = reason;
    if (this.state === 0) {
      // Still waiting for its turn: nothing of it reached the kernel.
      this.stream.dequeue(this);
      this.finish(undefined, reason);
      return;
    }
    if (this.stalled) {
      this.stalled = false;
      this.stream.rt.unstall(this);
      this.finish(undefined, reason);
      return;
    }
    this.stream.rt.cancel(this.id);
  }

  /** A pool buffer or op slot may be free: try the submit again. */
  resume(): void {
    this.stalled = false;
    try {
      this.submit();
    } catch (err) {
      this.finish(undefined, err as PercoreError);
    }
  }

  /** The runtime closed while it waited for a buffer or a slot. */
  abort(): void {
    this.stalled = false;
    this.finish(undefined, runtimeClosed());
  }

  complete(res: number): void {
    const rt = this.stream.rt;
    if (this.bounce >= 0) {
      if (res > 0 && this.reads) {
        if (this.buf.byteLength < this.done + res) {
          // The program detached (transferred) the array meanwhile: the
          // bytes have nowhere to go. Coded, not a TypeError in the loop.
          this.freeBounce();
          this.finish(undefined, detachedError());
          return;
        }
        rt.copyOut(this.bounce, this.buf, this.done, res);
      }
      this.freeBounce();
    }
    if (res > 0) {
      this.done += res;
      if (this.kind.exact && this.done < this.limit && this.reason === undefined && !rt.isClosed) {
        try {
          this.submit();
          return;
        } catch (err) {
          this.finish(undefined, err as PercoreError);
          return;
        }
      }
      this.finish(this.done);
      return;
    }
    if (res === 0) {
      if (this.kind.exact && this.reads) {
        const err = codedError(
          'ERR_STREAM_PREMATURE_CLOSE',
          `the stream ended after ${this.done} of ${this.limit} bytes`,
        );
        this.finish(undefined, err);
        return;
      }
      this.finish(this.done);
      return;
    }
    if (res === CLOSED_RESULT) {
      this.finish(undefined, runtimeClosed());
      return;
    }
    if (res === -ECANCELED && this.reason !== undefined) {
      this.finish(undefined, this.reason);
      return;
    }
    this.finish(undefined, systemError(res, this.kind.syscall));
    return;
  }

  private submit(): void {
    const rt = this.stream.rt;
    rt.assertOpen(); // a waiting operation's turn can come as the runtime closes
    if (this.arenaOffset < 0 && this.buf.byteLength < this.limit) throw detachedError();
    const isRecv = this.reads;
    const length = this.limit - this.done;
    const bounced = isRecv
      ? rt.lendForRecv(this.buf, this.arenaOffset, this.done, length)
      : rt.lendForSend(this.buf, this.arenaOffset, this.done, length);
    if (rt.lentIndex < 0) {
      // Every pool buffer is in use: wait for one (back-pressure, not an error).
      this.stalled = true;
      rt.stall(this);
      return;
    }
    if (bounced) this.bounce = rt.lentIndex;
    const fd = this.stream.fd;
    const id = this.submitOne(rt, fd, isRecv);
    if (id === -ENOSPC) {
      // The op table is full: wait for a slot, first in line, then give the
      // bounce buffer back (which may wake those behind).
      this.stalled = true;
      rt.stall(this);
      this.freeBounce();
      return;
    }
    try {
      rt.track(id, this, this.kind.syscall);
    } catch (err) {
      this.freeBounce();
      throw err;
    }
    this.id = id;
  }

  /** The SQE for the bytes `rt.lend*` lent: op id or -errno. */
  private submitOne(rt: Runtime, fd: number, isRecv: boolean): number {
    const core = rt.core;
    switch (this.kind.opcode) {
      case L.OP_RECV:
        return core.submitRecv(fd, rt.lentIndex, rt.lentOffset, rt.lentLength);
      case L.OP_SEND:
        return core.submitSend(fd, rt.lentIndex, rt.lentOffset, rt.lentLength);
      default: {
        const at = this.position + this.done;
        return isRecv
          ? core.submitRead(fd, rt.lentIndex, rt.lentOffset, rt.lentLength, at)
          : core.submitWrite(fd, rt.lentIndex, rt.lentOffset, rt.lentLength, at);
      }
    }
  }

  private freeBounce(): void {
    if (this.bounce < 0) return;
    const index = this.bounce;
    this.bounce = -1;
    this.stream.rt.unlend(index);
  }

  private finish(n: number | undefined, err?: PercoreError): void {
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    if (this.rented) rentedArrays.delete(this.buf);
    if (this.arenaOffset >= 0) this.stream.rt.rent(this.arenaOffset, -1);
    const wasInFlight = this.state === 1;
    this.state = 2;
    // Settling lets the next operation of this direction run, so the stream
    // hears of it before the program does: order is kept.
    if (wasInFlight) this.stream.settled(this);
    if (err === undefined) {
      this.resolve([n!, this.buf]);
      return;
    }
    if (this.kind.exact) {
      if (this.reads) err.bytesRead = this.done;
      else (err as PercoreError & { bytesWritten?: number }).bytesWritten = this.done;
    }
    // A run that was cut short after moving some bytes still reports them.
    this.reject(withBuffer(err, this.buf));
  }
}

/** A plain array detached (transferred) while an operation held it. */
export function detachedError(): PercoreError {
  return codedError(
    'ERR_INVALID_STATE',
    'the buffer was detached (transferred) while the operation held it; its bytes are lost to it',
  );
}

/** A view of the core's memory that is no live pool buffer. */
function forbiddenView(): PercoreError {
  return codedError(
    'ERR_INVALID_ARG_VALUE',
    'the buffer is a view of the runtime memory but no live pool buffer (released already, or outside the pool)',
    TypeError,
  );
}
