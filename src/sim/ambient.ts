// The simulation host outside `simulate()`: a runtime created with
// `driver: 'sim'` (or PERCORE_DRIVER=sim) in an ordinary program runs on one
// simulated machine shared by every such runtime of the thread, reachable at
// 127.0.0.1, in *real* time: its events fire on Node's loop when the
// machine's clock (`performance.now()`) reaches them. This is how percore's
// API suite runs on the simulated kernel (the `sim` jest project). It is not
// deterministic (real timers and the loop interleave with it); for that, use
// `simulate()`.
import { isLoopback, isWildcard } from './address';
import { faultRates } from './faults';
import { SimKernel } from './kernel';
import { Links } from './links';
import { Prng } from './prng';
import { Scheduler } from './scheduler';
import type { SocketHost } from './socket';
import { Tcp } from './tcp';
import { Trace } from './trace';

/** The machine every ambient runtime of this thread shares (made on first use). */
export class AmbientMachine {
  readonly index = 0;
  readonly prng: Prng;
  readonly sched: Scheduler;
  readonly trace = new Trace();
  readonly tcp: Tcp;
  readonly kernel: SimKernel;
  readonly turnJitter = 0;
  private pumping = false;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** Drivers that keep the loop alive (a runtime with work in flight refs its driver). */
  private refs = 0;
  private keepAlive: NodeJS.Timeout | undefined = undefined;

  constructor(seed: number) {
    this.prng = new Prng(seed);
    this.sched = new Scheduler(this.prng);
    this.sched.clock = () => performance.now();
    this.sched.onSchedule = (at) => this.wake(at);
    // Loopback: a send arrives in one piece, a few microseconds later.
    const faults = faultRates({ split: 0, latency: { min: 0.005, max: 0.02 } }, () => this.prng.float());
    const links = new Links(this.sched, this.prng, faults, this.trace, 120_000);
    this.tcp = new Tcp(this.sched, this.prng, faults, this.trace, links, {
      kernelFor: (from: SocketHost, ip: string) =>
        isLoopback(ip) || isWildcard(ip) || ip === this.kernel.ip ? from : undefined,
    });
    this.kernel = new SimKernel(
      'localhost',
      '10.0.0.1',
      { tcp: this.tcp, prng: this.prng, acceptError: 0 },
      { window: 4 << 20, maxFds: 65536 }, // loopback buffers much more than a window
    );
  }

  /** Runtimes here switch `Runtime.current()` themselves. */
  enter(): void {}

  /** A driver's `setRef`: the loop stays alive while any driver is referenced. */
  ref(on: boolean): void {
    this.refs += on ? 1 : -1;
    if (this.refs > 0 && this.keepAlive === undefined) this.keepAlive = setInterval(() => {}, 1 << 30);
    else if (this.refs === 0 && this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  /** An event was scheduled at `at`: make sure the pump runs by then. */
  private wake(at: number): void {
    if (this.pumping) return;
    const wait = at - performance.now();
    if (wait <= 0) {
      if (this.timerAt === 0) return;
      clearTimeout(this.timer);
      this.timerAt = 0;
      this.timer = undefined;
      setImmediate(this.pump);
    } else if (at < this.timerAt) {
      clearTimeout(this.timer);
      this.timerAt = at;
      this.timer = setTimeout(this.pump, Math.ceil(wait));
      this.timer.unref(); // the drivers' refs keep the loop alive, as the native handles do
    }
  }

  /** Runs the events that are due; after one that ran JavaScript, yields to the loop first. */
  private readonly pump = (): void => {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.pumping = true;
    try {
      while (this.sched.peekTime() <= performance.now()) {
        this.sched.take()!();
        if (this.sched.lastWasJs) break;
      }
    } finally {
      this.pumping = false;
    }
    if (this.sched.pending > 0) this.wake(this.sched.peekTime());
  };
}

let machine: AmbientMachine | undefined;

/** This thread's ambient machine (PERCORE_SIM_SEED seeds its PRNG; default 1). */
export function ambientMachine(): AmbientMachine {
  if (machine === undefined) machine = new AmbientMachine(Number(process.env.PERCORE_SIM_SEED ?? 1) >>> 0);
  return machine;
}
