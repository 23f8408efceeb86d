// The bookkeeping shared by every operation on a descriptor-backed stream:
// what a stream needs to know of its operations in flight (to cancel them on
// close and to refuse a copy beside them), and what an operation needs of its
// stream. Kept apart from FdStream so that the operations do not import the
// stream that starts them.
import type { PercoreError } from '../errors/errors';
import type { Runtime } from '../runtime/runtime';

/** @internal An operation in a stream's list of operations in flight, which `close()` cancels. */
export interface StreamOp {
  prev: StreamOp | undefined;
  next: StreamOp | undefined;
  /** Whether it takes bytes from the stream (`copy()` refuses to start beside one). */
  readonly reads: boolean;
  /** Whether it puts bytes into the stream. */
  readonly writes: boolean;
  cancel(reason: PercoreError): void;
}

/** @internal A read or a write, which waits its turn in its direction of the
 * stream: one of each runs at a time, the rest wait in issue order. */
export interface LaneOp extends StreamOp {
  /** The next operation waiting behind this one in the same direction. */
  waitNext: LaneOp | undefined;
  /** Called when the operations issued before it have settled: go to the kernel. */
  run(): void;
}

/** @internal What an operation needs of the stream it runs on. */
export interface OpStream {
  readonly rt: Runtime;
  readonly fd: number;
  /** True: `op` may run now (its direction is free, and is now its); false:
   * it waits behind the ones before it, and `run()` is called at its turn. */
  admit(op: LaneOp): boolean;
  /** Takes a waiting `op` out of its direction's queue (aborted while waiting). */
  dequeue(op: LaneOp): void;
  /** Called by an operation once it is in flight. */
  started(op: StreamOp): void;
  /** Called by an operation once its last delivery is in. */
  settled(op: StreamOp): void;
}

/** Puts `buf` on `err` (the rent contract: an error hands the buffer back). */
export function withBuffer(err: PercoreError, buf: Uint8Array): PercoreError {
  err.buffer = buf;
  return err;
}

/** @internal What keeps a list of operations in flight (a stream, a file). */
export interface OpListOwner {
  firstOp: StreamOp | undefined;
}

/** @internal Puts `op` on `owner`'s list of operations in flight. */
export function linkOp(owner: OpListOwner, op: StreamOp): void {
  op.next = owner.firstOp;
  if (owner.firstOp !== undefined) owner.firstOp.prev = op;
  owner.firstOp = op;
}

/** @internal Takes `op` off `owner`'s list. */
export function unlinkOp(owner: OpListOwner, op: StreamOp): void {
  if (op.prev !== undefined) op.prev.next = op.next;
  else owner.firstOp = op.next;
  if (op.next !== undefined) op.next.prev = op.prev;
  op.prev = op.next = undefined;
}
