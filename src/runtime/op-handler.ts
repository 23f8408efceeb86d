// What the runtime hands each operation's result to, and what it polls for
// operations parked on another thread: the seam between the runtime and the
// operations of every area (io, net, channel), kept apart so that they need
// not import the runtime's implementation.

/** The result every pending operation sees when its runtime closes. */
export const CLOSED_RESULT = -0x7fff_0000;

/** @internal A channel operation waiting for another thread: polled again
 * each time this runtime's waker fires. */
export interface Parked {
  /** Tries again; true when the operation finished (it is then unparked). */
  poll(): boolean;
  /** The runtime closed under it: settle with `ERR_PERCORE_RUNTIME_CLOSED`. */
  abort(): void;
}

/** Something waiting for an operation's result. */
export interface OpHandler {
  /** Called once per delivery; `flags & CQE_F_MORE` means more will follow. */
  complete(res: number, flags: number): void;
}

/** @internal Something waiting for a free pool buffer or op slot (an
 * `acquireBuffer()`, a read whose bounce buffer could not be taken, an
 * operation that found the op table full): resumed in FIFO order when
 * buffers are released or op slots retire. */
export interface Stalled {
  /** Tries again; calls `Runtime.stall` again if it still cannot proceed. */
  resume(): void;
  /** The runtime closed under it: settle with `ERR_PERCORE_RUNTIME_CLOSED`. */
  abort(): void;
}
