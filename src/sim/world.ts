/**
 * Deterministic simulation: percore programs, unchanged, on simulated hosts
 * joined by a simulated network, on a virtual clock, every choice drawn from
 * one seeded PRNG.
 *
 * ## The model
 * A `World` holds hosts, each with its own address, kernel (descriptors,
 * ports, TCP sockets) and percore `Runtime` on the `sim` driver (the same
 * Wasm core as on io_uring; the simulation host replaces only the kernel).
 * Time is virtual: the world runs one event at a time (a segment arriving, a
 * timer, a runtime's turn), jumps the clock to the next, and lets every
 * JavaScript continuation the event caused run before the next one, so a
 * program that sleeps an hour runs in milliseconds. Latencies, how sends are
 * split, which of two simultaneous events runs first and every fault come
 * from the PRNG: the same seed gives the same run, and the trace hash of every
 * submission, completion, delivery and segment proves it.
 *
 * ```ts
 * import { simulate, TcpListener, TcpStream } from 'percore';
 * const run = await simulate({ seed: 7 }, async (world) => {
 *   const server = world.host('server', { ip: '10.0.0.1' });
 *   const client = world.host('client', { ip: '10.0.0.2' });
 *   server.run(async () => {
 *     const listener = await TcpListener.bind('10.0.0.1:7000');
 *     const stream = await listener.accept();
 *     const buf = Buffer.alloc(64);
 *     const [n] = await stream.read(buf);
 *     await stream.writeAll(buf.subarray(0, n));
 *     await stream.close();
 *     await listener.close();
 *   });
 *   return client.run(async () => {
 *     const stream = await TcpStream.connect('10.0.0.1:7000');
 *     await stream.writeAll(Buffer.from('ping'));
 *     const [n, buf] = await stream.read(Buffer.alloc(64));
 *     await stream.close();
 *     return buf.subarray(0, n).toString();
 *   });
 * });
 * console.log(run.value, run.seed, run.hash); // 'ping', 7, the same hash every time
 * ```
 */
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import { registerDriver } from '../driver/select';
import type { RuntimeOptions } from '../runtime/options';
import { Runtime } from '../runtime/runtime';
import { isLoopback, isWildcard } from './address';
import { constructFor, type HostPort, SimDriver } from './driver';
import { type FaultRates, type Faults, faultRates } from './faults';
import { SimKernel } from './kernel';
import { Links } from './links';
import { Prng } from './prng';
import { Scheduler } from './scheduler';
import type { SocketHost } from './socket';
import { type Routes, Tcp } from './tcp';
import { Trace } from './trace';

registerDriver('sim', SimDriver);

/** Options of `simulate`. */
export interface SimulateOptions {
  /** The run's seed (a number or a string). Default: a random one, printed when the run fails. */
  seed?: number | string;
  /** Fault rates, or a profile name (`'none'`, `'flaky'`, `'chaos'`). Default none. */
  faults?: Faults | string;
  /** Bytes a socket takes unread before its peer waits (the receive window). Default 262144. */
  window?: number;
  /** Virtual milliseconds the run may last. Default 7 days. */
  maxTime?: number;
  /** Events the run may take. Default 10 million. */
  maxSteps?: number;
  /** Trace lines kept, shown when the run fails. Default 0. */
  keepTrace?: number;
  /** Once the scenario has returned, virtual milliseconds the world goes on
   * for what it left running (closes, FINs in flight), before every runtime
   * is closed. Default 60000. */
  settleTime?: number;
}

/** Options of `world.host`. */
export interface HostOptions {
  /** The host's IPv4 address. Default `10.0.0.N`, N counting hosts from 1. */
  ip?: string;
  /** Its runtime's options (the driver is always `sim`). Default: 256
   * entries, 128 buffers of 4096 bytes, 32 of them the recv set. */
  runtime?: Omit<RuntimeOptions, 'driver' | 'driverOptions'>;
  /** Descriptors it may have open at once. Default 1024. */
  maxFds?: number;
}

/** What `simulate` resolves with. */
export interface SimulationResult<T> {
  /** What the scenario returned. */
  value: T;
  seed: number | string;
  /** The trace hash: equal for two runs of one seed. */
  hash: string;
  /** Virtual milliseconds the run took. */
  time: number;
  /** Events it took. */
  steps: number;
}

/** A promise that knows whether anyone awaited it (called `then`). */
class Watched<T> extends Promise<T> {
  observed = false;
  static override get [Symbol.species]() {
    return Promise;
  }
  // biome-ignore lint/suspicious/noThenProperty: a Promise subclass overrides then
  override then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    this.observed = true;
    return super.then(onFulfilled, onRejected);
  }
}

/** A simulated machine: an address, a kernel and (made on first use) a percore runtime. */
export class SimHost implements HostPort {
  private rt: Runtime | undefined;
  /** Runtimes this host had (a crash ends one; the next use makes another). */
  private readonly runtimes: Runtime[] = [];

  /** @internal */
  constructor(
    private readonly world: World,
    readonly name: string,
    readonly ip: string,
    readonly index: number,
    readonly kernel: SimKernel,
    private readonly options: HostOptions,
  ) {}

  /** @internal */ get tcp(): Tcp {
    return this.world.tcp;
  }
  /** @internal */ get sched(): Scheduler {
    return this.world.sched;
  }
  /** @internal */ get prng(): Prng {
    return this.world.prng;
  }
  /** @internal */ get trace(): Trace {
    return this.world.trace;
  }
  /** @internal */ readonly turnJitter = 0.05;

  /** This host's runtime (on the `sim` driver), made on first use. */
  get runtime(): Runtime {
    if (this.rt === undefined || this.rt.isClosed) {
      const options: RuntimeOptions = { entries: 256, buffers: 128, bufferSize: 4096, recvBuffers: 32 };
      this.rt = constructFor(this, () => new Runtime({ ...options, ...this.options.runtime, driver: 'sim' }));
      this.runtimes.push(this.rt);
    }
    return this.rt;
  }

  /** @internal Makes this host's runtime the one `Runtime.current()` returns. */
  enter(): void {
    Runtime.setCurrent(this.runtime);
  }

  /**
   * Runs `program` on this host: `Runtime.current()` is this host's runtime
   * while it runs and in every continuation an event of this host resumes
   * (pass `{ runtime }` explicitly in code that moves between hosts).
   */
  run<T>(program: (runtime: Runtime) => T | PromiseLike<T>): Promise<T> {
    this.enter();
    const runtime = this.runtime;
    let done: Promise<T>;
    try {
      done = Promise.resolve(program(runtime));
    } catch (err) {
      done = Promise.reject(err);
    }
    // A program's failure nobody awaits fails the run, as an unhandled
    // rejection ends a process; one awaited is the scenario's to handle.
    const watched = new Watched<T>((resolve, reject) => done.then(resolve, reject));
    // A program whose host crashed (or whose run ended) died with its process: not a failure.
    done.catch((err: unknown) => {
      if (!runtime.isClosed) this.world.programFailed(this.name, err, watched);
    });
    Promise.prototype.then.call(watched, undefined, () => {}); // reported by the world, not as unhandled
    return watched;
  }

  /** Power loss: the runtime stops (its pending operations reject with
   * ERR_PERCORE_RUNTIME_CLOSED) and every socket vanishes without a FIN or
   * RST; peers learn of it only when they send (RST) or time out. The next
   * `run` starts a fresh runtime, as a restarted process. */
  crash(): void {
    this.world.trace.record('cr', this.world.sched.now, this.index);
    this.kernel.crash();
    this.rt?.close();
    this.rt = undefined;
  }

  /** @internal Closes every runtime this host had. */
  shutdown(): void {
    for (const rt of this.runtimes) rt.close();
  }
}

/** The simulated world: hosts, the network between them, the virtual clock. */
export class World implements Routes {
  readonly seed: number | string;
  /** @internal */ readonly prng: Prng;
  /** @internal */ readonly sched: Scheduler;
  /** @internal */ readonly trace: Trace;
  /** @internal */ readonly links: Links;
  /** @internal */ readonly tcp: Tcp;
  /** The fault rates of this run (for `swarm`, the ones its seed drew). */
  readonly faults: FaultRates;
  private readonly hosts = new Map<string, SimHost>();
  private readonly byIp = new Map<string, SimHost>();
  private readonly window: number;
  /** Set once the run is over: runtimes closing then reject what still waits. */
  private ending = false;
  /** The first failure of a host program (see `SimHost.run`). */
  private failures: Array<{ host: string; error: unknown; promise: Watched<unknown> }> = [];

  /** @internal */
  constructor(options: SimulateOptions, seed: number | string) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.sched = new Scheduler(this.prng);
    this.trace = new Trace(options.keepTrace ?? 0);
    this.faults = faultRates(options.faults, () => this.prng.float());
    this.window = options.window ?? 262144;
    this.links = new Links(this.sched, this.prng, this.faults, this.trace, 120_000);
    this.tcp = new Tcp(this.sched, this.prng, this.faults, this.trace, this.links, this);
    if (this.faults.partitionEvery > 0) this.schedulePartition();
  }

  /** Virtual milliseconds since the run began. */
  get now(): number {
    return this.sched.now;
  }

  /** The trace hash so far. */
  get hash(): string {
    return this.trace.hex();
  }

  /** The host called `name`, made on first use. */
  host(name: string, options: HostOptions = {}): SimHost {
    const found = this.hosts.get(name);
    if (found !== undefined) return found;
    const ip = options.ip ?? `10.0.0.${this.hosts.size + 1}`;
    if (isIP(ip) !== 4 || isLoopback(ip) || isWildcard(ip))
      throw new TypeError(`percore sim: a host's address must be a unicast IPv4 literal, got '${ip}'`);
    if (this.byIp.has(ip)) throw new TypeError(`percore sim: ${ip} belongs to host '${this.byIp.get(ip)!.name}'`);
    const kernel = new SimKernel(
      name,
      ip,
      { tcp: this.tcp, prng: this.prng, acceptError: this.faults.acceptError },
      { window: this.window, maxFds: options.maxFds ?? 1024 },
    );
    const host = new SimHost(this, name, ip, this.hosts.size, kernel, options);
    this.hosts.set(name, host);
    this.byIp.set(ip, host);
    return host;
  }

  /** @internal Routes: the kernel answering `ip` seen from `from`. */
  kernelFor(from: SocketHost, ip: string): SocketHost | undefined {
    if (isLoopback(ip) || isWildcard(ip)) return from;
    return this.byIp.get(ip)?.kernel;
  }

  /** Cuts the link between hosts `a` and `b` (both ways, or only a → b with
   * `oneWay`). Segments wait (TCP retransmits) until `heal`, or time out the
   * connection after 120 virtual seconds. */
  partition(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    this.links.cut(a, b);
    if (options.oneWay !== true) this.links.cut(b, a);
  }

  /** Heals what `partition(a, b)` cut. */
  heal(a: string, b: string): void {
    this.links.heal(a, b);
    this.links.heal(b, a);
  }

  /** Resolves after `ms` virtual milliseconds (for the scenario itself). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sched.after(ms, resolve, true));
  }

  private schedulePartition(): void {
    const f = this.faults;
    this.sched.after(this.prng.between(0, 2 * f.partitionEvery), () => {
      const names = [...this.hosts.keys()];
      if (names.length >= 2) {
        const a = names[this.prng.below(names.length)];
        const others = names.filter((n) => n !== a);
        const b = others[this.prng.below(others.length)];
        const oneWay = this.prng.chance(0.5);
        this.partition(a, b, { oneWay });
        this.sched.after(this.prng.between(0, f.partitionDuration), () => this.heal(a, b));
      }
      this.schedulePartition();
    });
  }

  /** @internal A program on `host` rejected: remembered, and checked after
   * the event (it may still be awaited by the scenario, which then handles it). */
  programFailed(host: string, error: unknown, promise: Watched<unknown>): void {
    if (!this.ending) this.failures.push({ host, error, promise });
  }

  /** @internal A host program's failure that nobody awaited, if any. */
  takeFailure(): unknown {
    if (this.failures.length === 0) return undefined;
    const found = this.failures.find((f) => !f.promise.observed);
    this.failures = [];
    if (found === undefined) return undefined;
    const err = found.error instanceof Error ? found.error : new Error(String(found.error));
    err.message = `a program on host '${found.host}' failed: ${err.message}`;
    return err;
  }

  /** @internal Closes every host's runtimes. */
  shutdown(): void {
    this.ending = true;
    for (const host of this.hosts.values()) host.shutdown();
  }
}

/** A failed run: the error the scenario threw, with the seed that replays it. */
export interface SimulationFailure {
  seed: number | string;
  /** The fault rates the run had (for `swarm`, the ones its seed drew). */
  faults: FaultRates;
  hash: string;
  time: number;
  steps: number;
  trace: readonly string[];
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs the events left until none is due before `until`; a host program's failure ends it. */
async function settle(world: World, until: number): Promise<unknown> {
  for (;;) {
    await immediate();
    const failed = world.takeFailure();
    if (failed !== undefined) return failed;
    do {
      if (world.sched.peekTime() > until) return undefined;
      world.sched.take()!();
    } while (!world.sched.lastWasJs);
  }
}

/**
 * Runs `scenario` in a new simulated world until the promise it returns
 * settles; resolves with its value, the seed and the trace hash. A run that
 * throws, stalls (nothing left to happen while the scenario waits) or passes
 * `maxTime`/`maxSteps` rejects with the error, its message ending with the
 * seed and how to replay it (`err.simulation` holds the details). Every
 * runtime of the world is closed when it ends.
 */
export async function simulate<T>(
  options: SimulateOptions,
  scenario: (world: World) => T | PromiseLike<T>,
): Promise<SimulationResult<T>> {
  const seed = options.seed ?? randomInt(0x7fffffff);
  const world = new World(options, seed);
  const maxTime = options.maxTime ?? 7 * 86_400_000;
  const maxSteps = options.maxSteps ?? 10_000_000;
  const before = Runtime.peekCurrent();
  let steps = 0;
  let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
  Promise.resolve()
    .then(() => scenario(world))
    .then(
      (value) => {
        outcome = { ok: true, value };
      },
      (error: unknown) => {
        outcome = { ok: false, error };
      },
    );
  try {
    let js = true;
    while (outcome === undefined) {
      // Only an event that ran JavaScript can have left continuations to run
      // (a kernel event only writes CQEs and schedules): skip the macrotask
      // hop after the others.
      if (js) await immediate();
      const failed = world.takeFailure();
      if (failed !== undefined) outcome = { ok: false, error: failed };
      if (outcome !== undefined) break;
      const fire = world.sched.take();
      if (fire === undefined) {
        if (!js) {
          js = true; // the queue is empty: let the last continuations run before calling it a stall
          continue;
        }
        outcome = { ok: false, error: new Error('percore sim: the run stalled: nothing is left to happen') };
      } else if (world.now > maxTime || ++steps > maxSteps) {
        outcome = { ok: false, error: new Error(`percore sim: the run passed maxTime or maxSteps`) };
      } else {
        try {
          fire();
        } catch (error) {
          outcome = { ok: false, error };
        }
        js = world.sched.lastWasJs;
      }
    }
    if (outcome.ok) {
      // What the scenario left running (a FIN on its way, a server closing)
      // finishes before the runtimes close, so counters can be checked.
      const failed = await settle(world, world.now + (options.settleTime ?? 60_000));
      if (failed !== undefined) outcome = { ok: false, error: failed };
    }
  } finally {
    world.shutdown();
    if (before !== undefined) Runtime.setCurrent(before);
  }
  if (outcome.ok) return { value: outcome.value, seed, hash: world.hash, time: world.now, steps };
  throw failure(outcome.error, {
    seed,
    faults: world.faults,
    hash: world.hash,
    time: world.now,
    steps,
    trace: world.trace.tail(),
  });
}

function failure(error: unknown, info: SimulationFailure): Error {
  const err = error instanceof Error ? error : new Error(String(error));
  const seed = JSON.stringify(info.seed);
  err.message += `\n    simulation seed ${seed} failed at t=${info.time.toFixed(3)} ms, step ${info.steps}, trace ${info.hash}; replay with simulate({ seed: ${seed}, ... })`;
  err.message += `\n    fault rates of this run: ${JSON.stringify(info.faults)}`;
  if (info.trace.length > 0) err.message += `\n    last trace lines:\n      ${info.trace.join('\n      ')}`;
  (err as Error & { simulation?: SimulationFailure }).simulation = info;
  return err;
}
