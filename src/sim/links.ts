// The network between simulated hosts: how long a segment takes from one host
// to another, which links are partitioned, and the delivery of each
// connection direction's segments in order. A partition holds segments (TCP
// retransmits them, so nothing is lost or reordered) until the link heals, or
// until `retransmitTimeout` passes, when the connection times out as Linux's
// does after its retries (ETIMEDOUT).
import type { FaultRates } from './faults';
import type { Prng } from './prng';
import type { Scheduler } from './scheduler';
import type { Pipe, Segment } from './socket';
import type { Trace } from './trace';

export class Links {
  /** Links down, as `from>to` host names. */
  private readonly down = new Set<string>();
  /** Pipes holding segments behind a partition. */
  private readonly held = new Set<Pipe>();
  /** Called for each segment delivered (tcp.ts), and when a held pipe times out. */
  onSegment: (pipe: Pipe, seg: Segment) => void = () => {};
  onTimeout: (pipe: Pipe) => void = () => {};

  constructor(
    private readonly sched: Scheduler,
    private readonly prng: Prng,
    private readonly faults: FaultRates,
    private readonly trace: Trace,
    /** Milliseconds a partition may hold a connection's segments before it times out. */
    private readonly retransmitTimeout: number,
  ) {}

  /** One-way latency from host `from` to host `to` for the next segment. */
  latency(from: string, to: string): number {
    const f = this.faults;
    let ms = this.prng.between(f.latencyMin, f.latencyMax);
    if (from === to) ms /= 10;
    if (this.prng.chance(f.delay)) ms *= 10 + this.prng.below(190);
    return ms;
  }

  isDown(from: string, to: string): boolean {
    return this.down.size > 0 && this.down.has(`${from}>${to}`);
  }

  /** Takes the link `from` → `to` down (one way). */
  cut(from: string, to: string): void {
    this.down.add(`${from}>${to}`);
    this.trace.record('pc', this.sched.now, this.down.size);
  }

  /** Brings `from` → `to` back up; held segments go on. */
  heal(from: string, to: string): void {
    if (!this.down.delete(`${from}>${to}`)) return;
    this.trace.record('ph', this.sched.now, this.down.size);
    for (const pipe of [...this.held]) {
      if (this.isDown(pipe.from.kernel.name, pipe.to.kernel.name)) continue;
      this.held.delete(pipe);
      pipe.heldSince = -1;
      this.schedule(pipe, this.sched.now + this.latency(pipe.from.kernel.name, pipe.to.kernel.name));
    }
  }

  /** Queues `seg` on `pipe`, after everything queued before it. */
  send(pipe: Pipe, kind: number, data: Uint8Array | undefined, n: number): void {
    const from = pipe.from.kernel.name;
    const to = pipe.to.kernel.name;
    const at = Math.max(pipe.last, this.sched.now + this.latency(from, to));
    pipe.last = at;
    pipe.segments.push({ at, kind, data, n });
    if (!pipe.scheduled && pipe.heldSince < 0) this.schedule(pipe, at);
  }

  private schedule(pipe: Pipe, at: number): void {
    pipe.scheduled = true;
    this.sched.at(at, () => this.deliver(pipe));
  }

  private deliver(pipe: Pipe): void {
    pipe.scheduled = false;
    const now = this.sched.now;
    if (this.isDown(pipe.from.kernel.name, pipe.to.kernel.name)) {
      this.hold(pipe);
      return;
    }
    while (!pipe.empty && pipe.segments[pipe.head].at <= now) {
      const seg = pipe.segments[pipe.head++];
      this.onSegment(pipe, seg);
    }
    if (pipe.head > 64 && pipe.head * 2 > pipe.segments.length) {
      pipe.segments.splice(0, pipe.head);
      pipe.head = 0;
    }
    if (!pipe.empty && pipe.heldSince < 0) this.schedule(pipe, pipe.segments[pipe.head].at);
  }

  private hold(pipe: Pipe): void {
    if (pipe.heldSince >= 0) return;
    pipe.heldSince = this.sched.now;
    this.held.add(pipe);
    const since = pipe.heldSince;
    this.sched.after(this.retransmitTimeout, () => {
      if (pipe.heldSince !== since) return; // healed (and maybe held again) since
      this.held.delete(pipe);
      pipe.heldSince = -1;
      pipe.segments.length = 0;
      pipe.head = 0;
      this.onTimeout(pipe);
    });
  }

  /** Every link down now, as `from>to`. */
  cutLinks(): string[] {
    return [...this.down];
  }
}
