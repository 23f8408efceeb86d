/**
 * The runtime: one per thread, gluing one Wasm core to one native driver.
 *
 * ## The model
 * An operation (a read, an accept, a timer) is submitted to the core, which
 * records it in its op table and writes a submission into its memory. At the
 * end of the current JavaScript job the runtime asks the driver to flush: the
 * driver checks each submission and hands the batch to the kernel in one
 * `io_uring_enter`. When completions arrive, the driver copies them into the
 * core's memory and calls back once; the core turns them into an ordered batch
 * of deliveries (with a fairness budget), and the runtime resolves one promise
 * per delivery. Nothing here polls, and no syscall is made per operation.
 *
 * ```ts
 * import { Runtime } from 'percore';
 * const rt = Runtime.current();        // this thread's runtime, created on first use
 * await rt.sleep(10);
 * console.log(rt.counters().opsInFlight); // 0
 * ```
 */

import { isArrayBufferView } from 'node:util/types';
import * as L from '../core/layout';
import { type Core, type CoreExports, createCore } from '../core/wasm';
import { type Driver, loadAddon } from '../driver/addon';
import { driverFor, requestedDriver } from '../driver/select';
import { EBUSY } from '../errors/errno';
import {
  abortError,
  bufferInFlight,
  codedError,
  invalidArgType,
  outOfRange,
  type PercoreError,
  runtimeClosed,
  systemError,
} from '../errors/errors';
import { validateInteger, validateMs, validateSignal } from '../errors/validate';
import { BufferWaiter } from './buffer-waiter';
import { readCounters } from './counters';
import { queueJob } from './microtask';
import { CLOSED_RESULT, type OpHandler, type Parked, type Stalled } from './op-handler';
import { option, type RuntimeCounters, type RuntimeOptions } from './options';
import { SleepOp } from './sleep-op';
import { noBuffers, submitError } from './submit-errors';
import { WaitRoom } from './wait-room';

/** Marks a view made by `Runtime.buffer()`: its runtime and arena offset. */
const kPoolTag = Symbol('percore.pool');
class PoolTag {
  constructor(
    readonly runtime: Runtime,
    readonly offset: number,
    /** The slot's generation when the view was made: a view kept after
     * `release()` is stale even once the slot is handed out again. */
    readonly generation: number,
  ) {}
}

/** `arenaOffsetOf`: not this runtime's memory (a plain array: it is bounced). */
export const NOT_POOLED = -1;
/** `arenaOffsetOf`: this runtime's memory but no live pool buffer (the core's
 * own regions, or a view kept after `release()`): refused. */
export const FORBIDDEN = -2;
type Tagged = Uint8Array & { [kPoolTag]?: PoolTag };

let current: Runtime | undefined;

export class Runtime {
  /** The driver in use: `'io_uring'`, `'epoll'` or `'kqueue'`. */
  readonly driver: string;
  /** Why `driver` was chosen over io_uring by `'auto'` (the errno and what it
   * likely means), or `null` when io_uring runs or a driver was asked for by name. */
  readonly driverReason: string | null;
  /** Bytes per pool buffer. */
  readonly bufferSize: number;
  /** How this runtime wakes another io_uring runtime parked on a channel:
   * `'msg_ring'` (a CQE posted into the target's ring by IORING_OP_MSG_RING,
   * one `io_uring_enter` on this runtime's ring) or `'eventfd'` (this runtime
   * is not on io_uring, or the kernel lacks MSG_RING). A runtime on another
   * driver is always woken through its eventfd. */
  readonly wakePath: 'msg_ring' | 'eventfd';

  /** @internal */ readonly core: CoreExports;
  /** @internal the native driver object (host/): `driver` is its name. */ readonly nativeDriver: Driver;
  /** @internal */ readonly bytes: Uint8Array;
  private readonly words: Int32Array;
  private readonly memory: WebAssembly.Memory;
  /** `memory.buffer`, taken once: the core never grows its memory after init,
   * and the getter is on the hot path of every read and write (`arenaOffsetOf`). */
  private readonly memoryBuffer: ArrayBuffer;
  private readonly header: number;
  private readonly arena: number;
  private readonly arenaEnd: number;
  private readonly budget: number;
  /** The time the core's timers run on: the driver's clock when it has one
   * (the simulation's virtual time), else `performance.now()`. */
  private readonly clock: () => number;
  private readonly handlers: (OpHandler | undefined)[];
  /** Per pool buffer, bumped by each `release`: see `PoolTag.generation`. */
  private readonly generations: Uint32Array;
  /** Per pool buffer, operations holding it from their call to their end: `release()` refuses it meanwhile. */
  private readonly rented: Uint16Array;
  /** Work waiting on this runtime (parked channel ops, stalled ops); keeps the loop alive. */
  private readonly waitRoom: WaitRoom;
  private flushQueued = false;
  /** @internal set when a timer was started or cancelled: the driver's wake-up must be re-armed. */
  timersChanged = false;
  private closed = false;
  /** @internal */ tasks = 0;
  private waker = 0;
  /** @internal set by `lend`: the pool buffer and offset an operation uses. */
  lentIndex = 0;
  /** @internal */ lentOffset = 0;
  /** @internal */ lentLength = 0;

  /** Creates a runtime for the calling thread. Most programs use `Runtime.current()`. */
  constructor(options: RuntimeOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const entries = option(options, 'entries', 1, L.MAX_OP_CAPACITY);
    const buffers = option(options, 'buffers', 0, 1 << 20);
    const bufferSize = option(options, 'bufferSize', 64, 16 << 20);
    if (bufferSize % 64 !== 0) throw outOfRange('options.bufferSize', 'a multiple of 64', bufferSize);
    const ringEntries = option(options, 'ringEntries', 1, 32768);
    const recvBuffers = options.recvBuffers ?? Math.min(256, Math.floor(buffers / 4));
    validateInteger(recvBuffers, 'options.recvBuffers', 0, Math.min(buffers, L.MAX_PROVIDE_COUNT));
    this.budget = option(options, 'budget', 1, 65536);
    const choice = driverFor(requestedDriver(options.driver));

    const core: Core = createCore();
    this.core = core.exports;
    this.memory = core.memory;
    const header = this.core.init(entries, buffers, bufferSize, Math.max(1024, entries * 2), recvBuffers);
    if (header < 0)
      throw systemError(
        header,
        'percore core init',
        `(entries=${entries}, buffers=${buffers}, bufferSize=${bufferSize})`,
      );
    this.header = header;
    this.memoryBuffer = this.memory.buffer;
    this.bytes = new Uint8Array(this.memoryBuffer);
    this.words = new Int32Array(this.memoryBuffer);
    this.bufferSize = bufferSize;
    this.arena = this.word(L.H_ARENA);
    this.arenaEnd = this.arena + buffers * bufferSize;
    this.handlers = new Array(entries).fill(undefined);
    this.generations = new Uint32Array(buffers);
    this.rented = new Uint16Array(buffers);
    const chosen = choice.create(
      (Driver) =>
        new Driver(this.bytes, header, {
          ...options.driverOptions,
          entries: ringEntries,
          onTurn: () => this.turn(),
        }),
    );
    this.nativeDriver = chosen.driver;
    this.waitRoom = new WaitRoom((on) => {
      if (on || !this.closed) this.nativeDriver.setRef(on);
    });
    this.clock = this.nativeDriver.now?.bind(this.nativeDriver) ?? (() => performance.now());
    this.driver = this.nativeDriver.name;
    this.driverReason = chosen.reason;
    this.wakePath = this.nativeDriver.features.includes('msg_ring') ? 'msg_ring' : 'eventfd';
  }

  /** This thread's runtime, created with default options on first use. */
  static current(): Runtime {
    if (current === undefined || current.closed) current = new Runtime();
    return current;
  }

  /** @internal The current runtime if there is one, without creating it. */
  static peekCurrent(): Runtime | undefined {
    return current !== undefined && !current.closed ? current : undefined;
  }

  /** Makes `runtime` the one `Runtime.current()` returns on this thread. */
  static setCurrent(runtime: Runtime): void {
    current = runtime;
  }

  /** Sleeps for `ms` milliseconds on the core's timer wheel (1 ms resolution).
   * ```ts
   * await Runtime.current().sleep(5);
   * ```
   * Rejects with an `AbortError` if `signal` aborts first. A timer takes an
   * op slot: when the table is full it waits for one (back-pressure, never
   * `ERR_PERCORE_OP_TABLE_FULL`), and the delay still counts from the call. */
  sleep(ms: number, options?: { signal?: AbortSignal }): Promise<void> {
    validateMs(ms, 'ms');
    return new Promise<void>((resolve, reject) => {
      const signal = options?.signal;
      if (signal?.aborted) return reject(abortError(signal.reason));
      const timer = new SleepOp(this, resolve, reject, signal);
      timer.start(ms);
    });
  }

  /** A pool buffer: a `Uint8Array` inside the runtime's arena, which the kernel
   * reads and writes with no copy. `size` defaults to `bufferSize`. Give it back
   * with `release` when done.
   * ```ts
   * const buf = rt.buffer();
   * const [n] = await stream.read(buf);
   * rt.release(buf);
   * ```
   * Throws `ERR_PERCORE_NO_BUFFERS` when the pool is empty; a server that
   * takes a buffer per connection should `await acquireBuffer()` instead. */
  buffer(size: number = this.bufferSize): Uint8Array {
    this.assertOpen();
    validateInteger(size, 'size', 1, this.bufferSize);
    const index = this.core.bufAlloc();
    if (index < 0) throw this.noBuffers();
    return this.poolView(index, size);
  }

  /** @internal A pool view of `size` bytes, or undefined when the pool is empty. */
  tryBuffer(size: number): Uint8Array | undefined {
    const index = this.core.bufAlloc();
    return index < 0 ? undefined : this.poolView(index, size);
  }

  /** A pool buffer, as `buffer()`, waiting for one to be released when the
   * pool is empty: back-pressure rather than an error, so a server under more
   * connections than it has buffers serves them as buffers free up. Waiters
   * are served in FIFO order (plain-array reads and writes waiting for a
   * bounce buffer queue with them).
   * ```ts
   * const buf = await rt.acquireBuffer();
   * try {
   *   const [n] = await stream.read(buf);
   * } finally {
   *   rt.release(buf);
   * }
   * ```
   * Rejects with an `AbortError` when `options.signal` aborts first, and with
   * `ERR_PERCORE_RUNTIME_CLOSED` if the runtime closes. */
  acquireBuffer(options?: { size?: number; signal?: AbortSignal }): Promise<Uint8Array> {
    const size = options?.size ?? this.bufferSize;
    const signal = options?.signal;
    try {
      this.assertOpen();
      validateInteger(size, 'options.size', 1, this.bufferSize);
      validateSignal(signal, 'options.signal');
      if (signal?.aborted) throw abortError(signal.reason);
    } catch (err) {
      return Promise.reject(err);
    }
    const index = !this.waitRoom.hasStalled ? this.core.bufAlloc() : -1; // FIFO: no overtaking
    if (index >= 0) return Promise.resolve(this.poolView(index, size));
    return new Promise((resolve, reject) => {
      this.stall(new BufferWaiter(this, size, resolve, reject, signal));
    });
  }

  /** @internal Waits for a pool buffer or an op slot (FIFO): `s.resume()` is
   * called when buffers are released or op slots free up. */
  stall(s: Stalled): void {
    this.waitRoom.stall(s);
  }

  /** @internal Takes `s` out of the waiting queue (cancelled); false if it was not in it. */
  unstall(s: Stalled): boolean {
    return this.waitRoom.unstall(s);
  }

  /** Gives a pool buffer back: one from `buffer()`, or one `recv()` resolved
   * with (any view of it; it goes back to the recv set for the kernel to pick
   * again). Throws `ERR_PERCORE_BUFFER_IN_FLIGHT` if an operation still holds
   * it and `ERR_INVALID_ARG_VALUE` if it is not one of this runtime's pool
   * buffers (or was released already). A view `buffer()` or `recv()` made is
   * dead once released: reads, writes and `release` refuse it with
   * `ERR_INVALID_ARG_VALUE` even after its slot is handed out again (each
   * slot has a generation; views made with `subarray` carry none and are
   * checked only by the core's ownership). */
  release(buf: Uint8Array): void {
    if (this.closed) return;
    if (!isArrayBufferView(buf)) throw invalidArgType('buf', 'an instance of Uint8Array', buf);
    const offset = this.arenaOffsetOf(buf);
    if (offset === FORBIDDEN)
      throw codedError(
        'ERR_INVALID_ARG_VALUE',
        'the buffer is no live pool buffer (released already, or a view of the core memory outside the pool)',
        TypeError,
      );
    if (offset < 0)
      throw codedError('ERR_INVALID_ARG_VALUE', "the buffer is not one of this runtime's pool buffers", TypeError);
    this.freeBuffer(Math.floor(offset / this.bufferSize));
  }

  /** @internal Gives pool buffer `index` back to the core (see `release`). A
   * recv-set buffer going back to the pick set may re-arm a `copy()` that was
   * waiting for one, whose receive must then reach the driver. */
  freeBuffer(index: number): void {
    if (this.rented[index] > 0) throw bufferInFlight(); // an op waiting for its turn or a slot holds it
    const res = this.core.bufFree(index);
    if (res === -EBUSY) throw bufferInFlight();
    if (res < 0) throw codedError('ERR_INVALID_ARG_VALUE', 'the pool buffer was already released', TypeError);
    this.generations[index]++; // views of it made so far are stale now
    if (this.word(L.H_SQ_TAIL) !== this.word(L.H_SQ_HEAD)) this.scheduleFlush();
    if (this.waitRoom.hasStalled) this.waitRoom.wakeStalled();
  }

  /** @internal An operation takes (+1) or gives back (-1) the pool buffer at `arenaOffset`. */
  rent(arenaOffset: number, by: 1 | -1): void {
    this.rented[Math.floor(arenaOffset / this.bufferSize)] += by;
  }

  /** @internal Buffers in the recv set (`RuntimeOptions.recvBuffers`). */
  get recvSetSize(): number {
    return this.word(L.H_PROVIDE_COUNT);
  }

  /** What the runtime holds right now (see `RuntimeCounters`). */
  counters(): RuntimeCounters {
    const driver = this.closed ? undefined : this.nativeDriver;
    return readCounters(this.core, driver, { tasks: this.tasks, parked: this.waitRoom.parkedCount });
  }

  /** Stops the runtime: every operation still in flight is cancelled (its
   * promise rejects with `ERR_PERCORE_RUNTIME_CLOSED`, with its buffer), the
   * driver closes every descriptor it owns, and the ring is torn down. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = this.handlers.slice();
    this.handlers.fill(undefined);
    this.nativeDriver.close(); // also makes the waker's token stale: no thread can wake it now
    for (const handler of pending) {
      if (handler !== undefined) handler.complete(CLOSED_RESULT, 0);
    }
    this.waitRoom.abortAll();
    if (current === this) current = undefined;
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  // ---- internal API used by the rest of src/ ----

  /** @internal Registers `handler` for op `id` (the core's answer to a submit)
   * and schedules the flush. A negative answer throws the matching error. */
  track(id: number, handler: OpHandler, syscall: string): void {
    if (id < 0) throw this.submitError(id, syscall);
    this.handlers[id & L.SLOT_MASK] = handler;
    this.waitRoom.hold();
    this.scheduleFlush();
  }

  /** @internal Asks the core to cancel op `id`; its handler still gets exactly
   * one final completion (−ECANCELED, or the real result if it won the race). */
  cancel(id: number): void {
    if (this.closed) return;
    if (this.core.cancel(id) > 0) {
      // A cancelled timer has no kernel completion behind it: the wake-up must
      // be re-armed so its delivery is not left waiting.
      this.timersChanged = true;
      this.scheduleFlush();
    }
  }

  /** @internal This runtime's waker token, made on first use: what another
   * thread passes to the host's `wake()` to have `parked` operations polled. */
  wakerToken(): number {
    this.assertOpen();
    if (this.waker === 0) {
      const token = this.nativeDriver.createWaker(this.onWake);
      if (token < 0) throw systemError(token, 'eventfd');
      this.waker = token;
    }
    return this.waker;
  }

  /** @internal Wakes the runtime owning waker `token` (see `wakerToken`) from
   * this thread: through this runtime's driver, so that an io_uring runtime
   * posts a MSG_RING on its own ring (only its thread may submit to it); once
   * closed, through the host's eventfd path. 0, or -ESRCH once that waker is gone. */
  wake(token: number): number {
    return this.closed ? loadAddon().wake(token) : this.nativeDriver.wake(token);
  }

  /** @internal Parks a channel operation until the waker fires. */
  park(op: Parked): void {
    this.assertOpen();
    this.waitRoom.park(op);
  }

  /** @internal */
  unpark(op: Parked): void {
    this.waitRoom.unpark(op);
  }

  private readonly onWake = (): void => this.waitRoom.pollParked();

  /** @internal Throws if the runtime was closed. */
  assertOpen(): void {
    if (this.closed) throw runtimeClosed();
  }

  /** @internal Lends bytes `start .. start+length` of `buf` to a receive:
   * a pool view is lent as it is; any other array goes through a pool buffer,
   * so the kernel never touches memory the program can free. Sets
   * `lentIndex/lentOffset/lentLength` (the length may shrink to one pool
   * buffer) and returns whether a bounce buffer was taken: then `unlend` must
   * give it back (after `copyOut`). `lentIndex` is -1 when a bounce buffer
   * was needed and none is free. */
  lendForRecv(buf: Uint8Array, arenaOffset: number, start: number, length: number): boolean {
    return this.lend(buf, arenaOffset, start, length, false);
  }

  /** @internal `lendForRecv` for a send: a bounce buffer is filled with the bytes first. */
  lendForSend(buf: Uint8Array, arenaOffset: number, start: number, length: number): boolean {
    return this.lend(buf, arenaOffset, start, length, true);
  }

  private lend(buf: Uint8Array, arenaOffset: number, start: number, length: number, copyIn: boolean): boolean {
    if (arenaOffset >= 0) {
      const at = arenaOffset + start;
      this.lentIndex = Math.floor(at / this.bufferSize);
      this.lentOffset = at - this.lentIndex * this.bufferSize;
      this.lentLength = length;
      if (this.lentOffset + length > this.bufferSize) {
        throw outOfRange(
          'buf',
          'a view inside one pool buffer',
          `a view of ${buf.byteLength} bytes crossing a pool buffer's end`,
        );
      }
      return false;
    }
    const index = this.core.bufAlloc();
    if (index < 0) {
      this.lentIndex = -1; // no pool buffer free: the caller waits for one (`stall`)
      return false;
    }
    this.lentIndex = index;
    this.lentOffset = 0;
    this.lentLength = Math.min(length, this.bufferSize);
    if (copyIn) {
      this.bytes.set(
        new Uint8Array(buf.buffer, buf.byteOffset + start, this.lentLength),
        this.arena + index * this.bufferSize,
      );
    }
    return true;
  }

  /** @internal Copies `n` received bytes from bounce buffer `index` into `buf` at `start`. */
  copyOut(index: number, buf: Uint8Array, start: number, n: number): void {
    const from = this.arena + index * this.bufferSize;
    buf.set(this.bytes.subarray(from, from + n), start);
  }

  /** @internal A copy (not a view) of `n` bytes at `offset` in pool buffer `index`. */
  poolSlice(index: number, offset: number, n: number): Uint8Array {
    const from = this.arena + index * this.bufferSize + offset;
    return this.bytes.slice(from, from + n);
  }

  /** @internal Whether the pool buffer at `arenaOffset` is lent to the kernel. */
  isLent(arenaOffset: number): boolean {
    return this.core.bufOwner(Math.floor(arenaOffset / this.bufferSize)) === 2;
  }

  /** @internal Frees a bounce buffer taken by `lend`. */
  unlend(index: number): void {
    if (this.closed) return;
    this.core.bufFree(index);
    if (this.waitRoom.hasStalled) this.waitRoom.wakeStalled();
  }

  /** @internal A view of the first `n` bytes of pool buffer `index`, for
   * `buffer()` and for the buffers `recv()` resolves with. Tagged so that every
   * read, write and release with it finds its place in the arena without the
   * typed-array accessors (`buffer`, `byteOffset`, `byteLength` cost ~20 ns
   * each on the hot path). Not enumerable: `Object.assign` cannot copy the tag
   * onto another array. */
  poolView(index: number, n: number): Uint8Array {
    const offset = index * this.bufferSize;
    const view = new Uint8Array(this.memoryBuffer, this.arena + offset, n);
    Object.defineProperty(view, kPoolTag, { value: new PoolTag(this, offset, this.generations[index]) });
    return view;
  }

  /** @internal Milliseconds on the runtime's clock (see `clock`), for the core's timers. */
  now(): number {
    return this.clock();
  }

  /** @internal The address record of op `id`'s slot (a RECVMSG's sender is there at its delivery). */
  opRecord(id: number): number {
    return this.word(L.H_ADDR_RECORDS) + (id & L.SLOT_MASK) * L.ADDR_RECORD_SIZE;
  }

  /** @internal The staging address record's offset, for bind and connect. */
  get stagingRecord(): number {
    return this.word(L.H_ADDR_STAGING);
  }

  // ---- the loop turn ----

  /** One loop turn, called by the driver on Node's loop: take the core's
   * ordered deliveries, resolve each, and say when to come back. */
  private turn(): number {
    if (this.closed) return -1;
    const n = this.core.reap(this.clock(), this.budget);
    // The reap retired the previous batch's op slots: what waits for one may go.
    if (this.waitRoom.hasStalled) this.waitRoom.wakeStalled();
    if (n > 0) this.deliver(n);
    // This batch's slots retire at the next reap: come back at once for them.
    if (n > 0 && this.waitRoom.hasStalled) return 0;
    return this.core.nextTimeout(this.clock());
  }

  private deliver(n: number): void {
    const words = this.words;
    let at = this.word(L.H_DQ_ENTRIES) >> 2;
    for (let i = 0; i < n; i++, at += L.DQE_SIZE >> 2) {
      const id = words[at + (L.DQE_ID >> 2)] >>> 0;
      const res = words[at + (L.DQE_RES >> 2)];
      const flags = words[at + (L.DQE_FLAGS >> 2)];
      const slot = id & L.SLOT_MASK;
      const handler = this.handlers[slot];
      if ((flags & L.CQE_F_MORE) === 0) {
        this.handlers[slot] = undefined;
        if (handler !== undefined) this.waitRoom.letGo();
      }
      if (handler === undefined) continue; // abandoned by the program: nothing waits
      try {
        handler.complete(res, flags);
      } catch (err) {
        // Handlers only settle promises; an exception here is a percore bug.
        // Report it without losing the rest of the batch.
        process.nextTick(() => {
          throw err;
        });
      }
    }
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueJob(this.flush);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.closed) return;
    this.nativeDriver.flush();
    if (this.timersChanged) {
      this.timersChanged = false;
      this.nativeDriver.arm(this.core.nextTimeout(this.clock()));
    }
  };

  private word(field: number): number {
    return this.words[(this.header + field) >> 2] >>> 0;
  }

  /** @internal Whether `buf` lies inside this runtime's arena (a pool buffer or a view of one). */
  isPoolView(buf: Uint8Array): boolean {
    return this.arenaOffsetOf(buf) >= 0;
  }

  /** @internal Where `buf` starts in the arena (bytes from the arena's start),
   * or -1 if it is not a view of this runtime's pool. */
  arenaOffsetOf(buf: Uint8Array): number {
    const tag = (buf as Tagged)[kPoolTag];
    if (tag !== undefined && tag.runtime === this) {
      const index = (tag.offset / this.bufferSize) | 0;
      return tag.generation === this.generations[index] ? tag.offset : FORBIDDEN;
    }
    if (buf.buffer !== this.memoryBuffer) return NOT_POOLED;
    // A view of the core's memory: only inside the arena, never over the
    // header, the queues or the op table (a bounce copy would write them).
    const start = buf.byteOffset;
    if (start < this.arena || start + buf.byteLength > this.arenaEnd) return FORBIDDEN;
    return start - this.arena;
  }

  private noBuffers(): PercoreError {
    return noBuffers((this.arenaEnd - this.arena) / this.bufferSize);
  }

  private submitError(res: number, syscall: string): PercoreError {
    return submitError(res, syscall, {
      buffers: (this.arenaEnd - this.arena) / this.bufferSize,
      entries: this.word(L.H_OP_CAPACITY),
    });
  }
}
