// sleep(): a timer in the core's wheel, as an operation like any other, so
// an AbortSignal cancels it and a closed runtime settles it.
import { abortError, runtimeClosed } from '../errors/errors';
import { CLOSED_RESULT, type OpHandler } from './op-handler';

/** What a sleep needs of its runtime (the Runtime, seen through its timer methods). */
export interface SleepHost {
  assertOpen(): void;
  /** Milliseconds on the runtime's clock (virtual under simulation). */
  now(): number;
  readonly core: { timerStart(nowMs: number, ms: number): number };
  track(id: number, handler: OpHandler, syscall: string): void;
  timersChanged: boolean;
  cancel(id: number): void;
}

export class SleepOp implements OpHandler {
  private id = 0;
  constructor(
    private readonly rt: SleepHost,
    private readonly resolve: () => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {}

  start(ms: number): void {
    this.rt.assertOpen();
    this.id = this.rt.core.timerStart(this.rt.now(), ms);
    this.rt.track(this.id, this, 'sleep');
    this.rt.timersChanged = true;
    this.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  complete(res: number): void {
    this.signal?.removeEventListener('abort', this.onAbort);
    if (res >= 0) this.resolve();
    else if (res === CLOSED_RESULT) this.reject(runtimeClosed());
    else this.reject(abortError(this.signal?.reason));
  }

  private readonly onAbort = (): void => this.rt.cancel(this.id);
}
