// The relay the core runs itself (OP_COPY, layout v3): `copy()` between two
// descriptor streams of one runtime. The core receives, sends and receives
// again from the loop turn that saw the previous step complete; this handler
// hears from it once, when it ends, and turns the end into a result or an
// error carrying `bytesCopied` and `unwritten`.
import { ECANCELED } from '../errors/errno';
import { codedError, type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { cancelOnAbort } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler } from '../runtime/op-handler';
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
export class CoreRelay implements OpHandler, StreamOp {
  private id = 0;
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

  /** Submits the relay; `end`: shut `to` down for writing at the end of `from`. */
  begin(end: boolean): void {
    let options = end ? COPY_F_END : 0;
    const rt = this.rt;
    // With a recv set, each receive takes a buffer only when data arrives;
    // without one, the copy holds a pool buffer of its own until it ends.
    let buffer = -1;
    if (rt.recvSetSize > 0) {
      options |= COPY_F_SELECT;
    } else {
      buffer = rt.core.bufAlloc();
      if (buffer < 0) {
        const err = codedError(
          'ERR_PERCORE_NO_BUFFERS',
          'copy(): every pool buffer is in use; release buffers or create the runtime with more',
        );
        this.reject(withProgress(err, 0, EMPTY));
        return;
      }
    }
    const id = rt.core.submitCopy(this.from.fd, this.to.fd, buffer, options);
    try {
      rt.track(id, this, 'copy');
    } catch (err) {
      if (buffer >= 0) rt.unlend(buffer);
      this.reject(withProgress(err as PercoreError, 0, EMPTY));
      return;
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
    if (res === 0) {
      this.resolve(copied);
      return;
    }
    let err: PercoreError;
    if (res === CLOSED_RESULT) err = runtimeClosed();
    else if (res === -ECANCELED && this.reason !== undefined) err = this.reason;
    else err = systemError(res, PHASE_SYSCALLS[phase] ?? 'copy');
    this.reject(withProgress(err, copied, unwritten));
  }
}
