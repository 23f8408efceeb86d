// acquireBuffer(): a program waiting for a pool buffer, in the runtime's
// FIFO of stalled work, resumed when buffers are released.
import { abortError, runtimeClosed } from '../errors/errors';
import type { Stalled } from './op-handler';

/** What a buffer waiter needs of its runtime. */
export interface BufferSource {
  /** A pool view of `size` bytes, or undefined when the pool is empty. */
  tryBuffer(size: number): Uint8Array | undefined;
  stall(s: Stalled): void;
  unstall(s: Stalled): boolean;
}

/** An `acquireBuffer()` waiting for a pool buffer. */
export class BufferWaiter implements Stalled {
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly rt: BufferSource,
    private readonly size: number,
    private readonly resolve: (buf: Uint8Array) => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal !== undefined) {
      this.onAbort = () => {
        if (rt.unstall(this)) reject(abortError(signal.reason));
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  resume(): void {
    const buf = this.rt.tryBuffer(this.size);
    if (buf === undefined) {
      this.rt.stall(this);
      return;
    }
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.resolve(buf);
  }

  abort(): void {
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.reject(runtimeClosed());
  }
}
