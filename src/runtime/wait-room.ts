// What waits on a runtime without being an operation in the kernel: channel
// operations parked until another thread wakes this runtime, and operations
// stalled for a pool buffer or an op slot (back-pressure, served in FIFO
// order). Each, like an operation in flight, keeps Node's loop alive: one
// count for all of them decides when the driver's handle is ref'd.
import type { Parked, Stalled } from './op-handler';

export class WaitRoom {
  /** Operations in flight, parked and stalled: the loop stays alive while > 0. */
  private count = 0;
  private readonly parked = new Set<Parked>();
  /** Waiting for a pool buffer or an op slot, in FIFO order. */
  private readonly stalled: Stalled[] = [];
  private wakingStalled = false;

  /** `keepAlive(true)` when something starts waiting, `(false)` when nothing does. */
  constructor(private readonly keepAlive: (on: boolean) => void) {}

  get parkedCount(): number {
    return this.parked.size;
  }

  get hasStalled(): boolean {
    return this.stalled.length > 0;
  }

  /** One more thing keeps the loop alive (an operation in flight). */
  hold(): void {
    if (this.count++ === 0) this.keepAlive(true);
  }

  /** One thing less keeps the loop alive. */
  letGo(): void {
    if (--this.count === 0) this.keepAlive(false);
  }

  park(op: Parked): void {
    if (this.parked.has(op)) return;
    this.parked.add(op);
    this.hold();
  }

  unpark(op: Parked): void {
    if (this.parked.delete(op)) this.letGo();
  }

  /** The waker fired: polls every parked operation; those that finished leave. */
  pollParked(): void {
    for (const op of [...this.parked]) {
      if (!this.parked.has(op)) continue; // settled by an earlier one
      let done: boolean;
      try {
        done = op.poll();
      } catch (err) {
        // poll only settles promises; an exception is a percore bug.
        process.nextTick(() => {
          throw err;
        });
        done = true;
      }
      if (done) this.unpark(op);
    }
  }

  stall(s: Stalled): void {
    this.stalled.push(s);
    this.hold();
  }

  /** Takes `s` out of the queue (cancelled); false if it was not in it. */
  unstall(s: Stalled): boolean {
    const at = this.stalled.indexOf(s);
    if (at < 0) return false;
    this.stalled.splice(at, 1);
    this.letGo();
    return true;
  }

  /** Resumes what waits for a buffer or a slot, in order; each either
   * proceeds or stalls again at the tail (behind the ones it was ahead of,
   * which could not proceed either). */
  wakeStalled(): void {
    if (this.wakingStalled) return;
    this.wakingStalled = true;
    try {
      for (let n = this.stalled.length; n > 0 && this.stalled.length > 0; n--) {
        const s = this.stalled.shift()!;
        this.letGo();
        try {
          s.resume();
        } catch (err) {
          process.nextTick(() => {
            throw err; // resume only settles or submits: a percore bug
          });
        }
      }
    } finally {
      this.wakingStalled = false;
    }
  }

  /** The runtime closed: everything parked or stalled settles with its abort. */
  abortAll(): void {
    const parked = [...this.parked];
    this.parked.clear();
    for (const op of parked) op.abort();
    for (const s of this.stalled.splice(0)) s.abort();
    this.count = 0;
  }
}
