// The relay the core runs itself (OP_COPY, layout v3): `copy()` between two
// descriptor streams of one runtime. The core receives, sends and receives
// again from the loop turn that saw the previous step complete; this handler
// hears from it once, when it ends, and turns the end into a result or an
// error carrying `bytesCopied` and `unwritten`.
import { ECANCELED, ENOSPC } from '../errors/errno';
import { type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { cancelOnAbort } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import type { Runtime } from '../runtime/runtime';
import { EMPTY, withProgress } from './copy-progress';
import type { FdStream } from './fd-stream';
import type { StreamOp } from './stream-op';

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

/** One relay: the core's COPY op, in `from`'s list of operations in flight
 * (and, through `toLink`, in `to`'s), so that closing either stream stops it. */
export class CoreRelay implements OpHandler, StreamOp, Stalled {
  private id = 0;
  /** COPY_F_* of this relay. */
  private options = 0;
  /** Waiting in the runtime for an op slot or a pool buffer (nothing in the core). */
  private stalled = false;
  private ended = false;
  private reason: PercoreError | undefined;
  private onAbort: (() => void) | undefined;
  /** Its entry in `to`'s list, when `to` is another stream. */
  private readonly toLink: StreamOp | undefined;
  prev: StreamOp | undefined = undefined;
  next: StreamOp | undefined = undefined;
  readonly reads = true;
  readonly writes: boolean;

  private readonly rt: Runtime;
  private readonly from: FdStream;
  private readonly to: FdStream;
  private readonly signal: AbortSignal | undefined;

  constructor(
    options: { from: FdStream; to: FdStream; signal: AbortSignal | undefined },
    private readonly resolve: (n: number) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    const { from, to } = options;
    this.rt = from.rt;
    this.from = from;
    this.to = to;
    this.signal = options.signal;
    this.writes = from === to;
    this.toLink =
      from === to
        ? undefined
        : {
            prev: undefined,
            next: undefined,
            reads: false,
            writes: true,
            cancel: (reason) => this.cancel(reason),
          };
  }

  /** Starts the relay; `end`: shut `to` down for writing at the end of
   * `from`. It owns both streams' directions from now on, even while it waits
   * for an op slot (or, with no recv set, a pool buffer): then it is in the
   * runtime's FIFO of stalled work, and closing either stream or the signal
   * still stops it. */
  begin(end: boolean): void {
    const rt = this.rt;
    // With a recv set, each receive takes a buffer only when data arrives;
    // without one, the copy holds a pool buffer of its own until it ends.
    this.options = (end ? COPY_F_END : 0) | (rt.recvSetSize > 0 ? COPY_F_SELECT : 0);
    this.from.copyingFrom = true;
    this.to.copyingTo = true;
    this.from.started(this);
    if (this.toLink !== undefined) this.to.started(this.toLink);
    if (this.signal !== undefined) this.onAbort = cancelOnAbort(this.signal, this);
    this.submit();
  }

  /** Submits the core's COPY op, or waits (stalls) for what it lacks. */
  private submit(): void {
    const rt = this.rt;
    if (rt.isClosed) {
      this.end(runtimeClosed(), 0, EMPTY);
      return;
    }
    let buffer = -1;
    if ((this.options & COPY_F_SELECT) === 0) {
      buffer = rt.core.bufAlloc();
      if (buffer < 0) {
        this.stall(); // every pool buffer is in use: wait for one
        return;
      }
    }
    const id = rt.core.submitCopy(this.from.fd, this.to.fd, buffer, this.options);
    if (id === -ENOSPC) {
      // The op table is full: wait for a slot, then give the buffer back
      // (which may wake those behind).
      this.stall();
      if (buffer >= 0) rt.unlend(buffer);
      return;
    }
    try {
      rt.track(id, this, 'copy');
    } catch (err) {
      if (buffer >= 0) rt.unlend(buffer);
      this.end(err as PercoreError, 0, EMPTY);
      return;
    }
    this.id = id;
  }

  private stall(): void {
    this.stalled = true;
    this.rt.stall(this);
  }

  /** @internal an op slot or a pool buffer may be free: submit again. */
  resume(): void {
    this.stalled = false;
    this.submit();
  }

  /** @internal the runtime closed while the relay waited. */
  abort(): void {
    this.stalled = false;
    this.end(runtimeClosed(), 0, EMPTY);
  }

  /** Stops the copy; it rejects with `reason` unless it had already ended. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined || this.ended) return;
    this.reason = reason;
    if (this.stalled) {
      // Nothing of it reached the core: it ends here, having copied nothing.
      this.stalled = false;
      this.rt.unstall(this);
      this.end(reason, 0, EMPTY);
      return;
    }
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
    if (res === 0) {
      this.end(undefined, copied, EMPTY);
      return;
    }
    let err: PercoreError;
    if (res === CLOSED_RESULT) err = runtimeClosed();
    else if (res === -ECANCELED && this.reason !== undefined) err = this.reason;
    else err = systemError(res, PHASE_SYSCALLS[phase] ?? 'copy');
    this.end(err, copied, unwritten);
  }

  /** Gives both streams back and settles: resolves with `copied` when `err`
   * is undefined, else rejects with `err` carrying the progress. */
  private end(err: PercoreError | undefined, copied: number, unwritten: Uint8Array): void {
    this.ended = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.from.copyingFrom = false;
    this.to.copyingTo = false;
    this.from.settled(this);
    if (this.toLink !== undefined) this.to.settled(this.toLink);
    if (err === undefined) this.resolve(copied);
    else this.reject(withProgress(err, copied, unwritten));
  }
}
