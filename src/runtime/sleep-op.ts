// sleep(): a timer in the core's wheel, as an operation like any other, so
// an AbortSignal cancels it and a closed runtime settles it. A timer takes an
// op slot: when the table is full it waits for one (back-pressure, in the
// runtime's FIFO of stalled work) and then arms for what is left of its
// delay, so the deadline still counts from the call.
import { ENOSPC } from '../errors/errno';
import { abortError, runtimeClosed } from '../errors/errors';
import { CLOSED_RESULT, type OpHandler, type Stalled } from './op-handler';

/** What a sleep needs of its runtime (the Runtime, seen through its timer methods). */
export interface SleepHost {
  assertOpen(): void;
  /** Milliseconds on the runtime's clock (virtual under simulation). */
  now(): number;
  readonly core: { timerStart(nowMs: number, ms: number): number };
  track(id: number, handler: OpHandler, syscall: string): void;
  timersChanged: boolean;
  cancel(id: number): void;
  stall(s: Stalled): void;
  unstall(s: Stalled): boolean;
}

export class SleepOp implements OpHandler, Stalled {
  private id = 0;
  /** When the sleep ends, on the runtime's clock (`rt.now()`, milliseconds). */
  private deadline = 0;
  /** Waiting for an op slot (no timer armed yet). */
  private stalled = false;
  constructor(
    private readonly rt: SleepHost,
    private readonly resolve: () => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  start(ms: number): void {
    this.rt.assertOpen();
    const now = this.rt.now();
    this.deadline = now + ms;
    this.arm(now, ms);
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Arms the timer, or waits for an op slot when the table is full. */
  private arm(now: number, ms: number): void {
    const id = this.rt.core.timerStart(now, ms);
    if (id === -ENOSPC) {
      this.stalled = true;
      this.rt.stall(this);
      return;
    }
    this.rt.track(id, this, 'sleep');
    this.id = id;
    this.rt.timersChanged = true;
  }

  /** An op slot may be free: arm for what is left of the delay. */
  resume(): void {
    this.stalled = false;
    const now = this.rt.now();
    this.arm(now, Math.max(0, this.deadline - now));
  }

  /** The runtime closed while the sleep waited for a slot. */
  abort(): void {
    this.stalled = false;
    this.complete(CLOSED_RESULT);
  }

  complete(res: number): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (res >= 0) this.resolve();
    else if (res === CLOSED_RESULT) this.reject(runtimeClosed());
    else this.reject(abortError(this.signal?.reason));
  }

  private readonly onAbort = (): void => {
    if (!this.stalled) {
      this.rt.cancel(this.id);
      return;
    }
    // Still waiting for a slot: nothing is armed to cancel.
    this.stalled = false;
    this.rt.unstall(this);
    this.reject(abortError(this.signal?.reason));
  };
}
