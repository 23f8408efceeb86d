/**
 * Channels between runtimes: bounded, multi-producer single-consumer queues
 * over a SharedArrayBuffer, for threads started by `start()` (or any
 * `worker_threads`).
 *
 * ## The model
 * A channel is a fixed ring of `capacity` slots of `slotSize` bytes in one
 * SharedArrayBuffer, created once and handed to other threads as a plain
 * handle (`channel.handle`, cloned by `workerData` or `postMessage` with the
 * buffer shared, not copied). A value is written into a slot with the
 * structured-clone algorithm (`v8` serialization, the one `postMessage` uses),
 * so Maps, Dates, Buffers and plain objects arrive as copies. Typed arrays over
 * a SharedArrayBuffer listed in `shared` when the channel was made arrive as
 * views over the same memory: zero copy.
 *
 * Slots are claimed with Atomics (Vyukov's bounded queue: one sequence number
 * per slot), so senders on any number of threads never take a lock, and the
 * one receiver reads in order. Nothing spins: a `recv()` on an empty channel
 * parks on its own runtime and is woken by the sender through the receiver's
 * waker (from one io_uring runtime to another, a CQE posted into the
 * receiver's ring by IORING_OP_MSG_RING; otherwise an eventfd that thread's
 * event loop watches), and a `send()` on a full channel parks the same way until the receiver
 * frees a slot (backpressure). One wake-up is sent per parked thread, not per
 * message: a thread that was already told is not told again until it looked.
 *
 * ```ts
 * import { Channel, start } from 'percore';
 * const jobs = new Channel({ capacity: 64 });
 * await start({ threads: 2, data: { jobs: jobs.handle } }, async (ctx) => {
 *   const ch = ctx.percore.Channel.from(ctx.data.jobs);
 *   if (ctx.threadIndex === 1) { await ch.send({ n: 42 }); ch.close(); }
 *   else for await (const job of ch) console.log(job);   // { n: 42 }
 * });
 * ```
 *
 * Order: the messages of one sender arrive in the order it sent them; the
 * messages of different senders interleave in the order they claimed slots.
 */
import * as v8 from 'node:v8';
import { codedError, invalidArgType, invalidArgValue, PercoreError, runtimeClosed } from '../errors/errors';
import { Parked, Runtime } from '../runtime/runtime';
import { loadHost } from '../driver/addon';
import { validateInteger } from '../errors/validate';

/** Options of `new Channel()`. */
export interface ChannelOptions {
  /** Messages the channel holds before `send` waits. 1..65536, default 1024. */
  capacity?: number;
  /** Bytes per slot: the largest serialized message. A multiple of 8, 16..16 MiB, default 4096. */
  slotSize?: number;
  /** SharedArrayBuffers whose typed-array views travel by reference (zero copy). */
  shared?: SharedArrayBuffer[];
  /** `'mpsc'` (default): senders on any threads. `'spsc'`: the first thread that sends owns the sending side. */
  mode?: 'mpsc' | 'spsc';
}

/** What crosses threads: clone it with `workerData`, `postMessage` or `start({ data })`. */
export interface ChannelHandle {
  readonly buffer: SharedArrayBuffer;
  readonly shared: readonly SharedArrayBuffer[];
}

/** Options of a single `send` or `recv`. */
export interface ChannelOpOptions {
  /** The runtime to park on. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Abort the wait: the operation rejects with an `AbortError` (a send then sent nothing). */
  signal?: AbortSignal;
}

// ---- the shared layout (Int32 words) ----
// Producers' tail and the consumer's head sit on their own 64-byte lines so
// the two sides do not bounce one cache line on every message.
const MAGIC = 0x5043_4831; // "PCH1"
const W_MAGIC = 0;
const W_CAPACITY = 1;
const W_SLOT_SIZE = 2;
const W_SLOTS = 3; // power of two >= capacity
const W_FLAGS = 4; // F_CLOSED
const W_MODE = 5; // 0 mpsc, 1 spsc
const W_SENDER_OWNER = 6; // spsc: token of the sending runtime
const W_TAIL = 16;
const W_HEAD = 32;
const W_RECV_PARKED = 33; // 1: the receiver waits and wants a wake-up
const W_RECV_TOKEN = 34; // the receiving runtime's waker token (0 none yet)
const W_SENDERS_PARKED = 48; // how many sender entries have parked sends
const W_SENDERS = 64; // MAX_SENDER_THREADS entries of 4 words:
const E_TOKEN = 0; //   the runtime's waker token (0: free entry)
const E_PARKED = 1; //   1 while that runtime has sends waiting
const E_NOTIFIED = 2; //   1 once woken and not yet looked
const MAX_SENDER_THREADS = 64;
const HEADER_WORDS = W_SENDERS + 4 * MAX_SENDER_THREADS;
const F_CLOSED = 1;

const MAX_CAPACITY = 65536;

/** A bounded MPSC (or SPSC) channel between runtimes on different threads.
 * See the module comment for the model. */
export class Channel<T = unknown> implements AsyncIterable<T> {
  /** The shared state; pass it to another thread and `Channel.from` it there. */
  readonly handle: ChannelHandle;
  /** Messages the channel holds before `send` waits. */
  readonly capacity: number;
  /** The largest serialized message, in bytes (slot size minus nothing: lengths are kept apart). */
  readonly slotSize: number;

  private readonly words: Int32Array;
  private readonly seqs: Int32Array;
  private readonly lengths: Int32Array;
  private readonly data: Uint8Array;
  private readonly mask: number;
  private readonly shared: readonly SharedArrayBuffer[];
  // This thread's side. At most one runtime per thread sends or receives
  // through one Channel object.
  private readonly sendQueue: PendingSend[] = [];
  private readonly recvQueue: PendingRecv<T>[] = [];
  private sender: SenderSide | undefined;
  private receiver: ReceiverSide | undefined;

  /** Makes a channel.
   * ```ts
   * const ch = new Channel<{ id: number }>({ capacity: 256, slotSize: 512 });
   * ```
   */
  constructor(options: ChannelOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const capacity = options.capacity ?? 1024;
    validateInteger(capacity, 'options.capacity', 1, MAX_CAPACITY);
    const slotSize = options.slotSize ?? 4096;
    validateInteger(slotSize, 'options.slotSize', 16, 16 << 20);
    if (slotSize % 8 !== 0) throw invalidArgValue('options.slotSize', slotSize, 'must be a multiple of 8');
    const mode = options.mode ?? 'mpsc';
    if (mode !== 'mpsc' && mode !== 'spsc') throw invalidArgValue('options.mode', mode, "must be 'mpsc' or 'spsc'");
    const shared = options.shared ?? [];
    if (!Array.isArray(shared) || !shared.every((b) => b instanceof SharedArrayBuffer)) {
      throw invalidArgType('options.shared', 'an array of SharedArrayBuffer', shared);
    }
    let slots = 1;
    while (slots < capacity) slots *= 2;
    const bytes = HEADER_WORDS * 4 + slots * 8 + slots * slotSize;
    const buffer = new SharedArrayBuffer(bytes);
    const words = new Int32Array(buffer, 0, HEADER_WORDS);
    words[W_CAPACITY] = capacity;
    words[W_SLOT_SIZE] = slotSize;
    words[W_SLOTS] = slots;
    words[W_MODE] = mode === 'spsc' ? 1 : 0;
    const seqs = new Int32Array(buffer, HEADER_WORDS * 4, slots);
    for (let i = 0; i < slots; i++) seqs[i] = i;
    Atomics.store(words, W_MAGIC, MAGIC); // last: publishes the initialised layout
    this.handle = Object.freeze({ buffer, shared: Object.freeze([...shared]) });
    [this.capacity, this.slotSize, this.words, this.seqs, this.lengths, this.data, this.mask, this.shared] = view(this.handle);
  }

  /** The channel behind a handle made on another thread (or this one).
   * ```ts
   * const ch = Channel.from(workerData.jobs);
   * ```
   */
  static from<T = unknown>(handle: ChannelHandle): Channel<T> {
    if (handle === null || typeof handle !== 'object' || !(handle.buffer instanceof SharedArrayBuffer)) {
      throw invalidArgType('handle', 'a ChannelHandle (channel.handle)', handle);
    }
    const ch = Object.create(Channel.prototype) as Channel<T>;
    const fields = view(handle);
    Object.assign(ch, {
      handle, sendQueue: [], recvQueue: [], sender: undefined, receiver: undefined,
      capacity: fields[0], slotSize: fields[1], words: fields[2], seqs: fields[3], lengths: fields[4],
      data: fields[5], mask: fields[6], shared: fields[7],
    });
    return ch;
  }

  /** Whether `close()` was called, on any thread. */
  get closed(): boolean {
    return (Atomics.load(this.words, W_FLAGS) & F_CLOSED) !== 0;
  }

  /** Messages in the channel now (a snapshot: other threads move on). */
  get length(): number {
    return Math.max(0, (Atomics.load(this.words, W_TAIL) - Atomics.load(this.words, W_HEAD)) | 0);
  }

  /** Sends `value`, waiting while the channel is full.
   * ```ts
   * await ch.send({ id: 1 });
   * ```
   * Rejects with `ERR_CHANNEL_CLOSED` if the channel is (or gets) closed before
   * the value is in, `ERR_CHANNEL_MESSAGE_TOO_LARGE` if it does not fit a slot,
   * `ERR_CHANNEL_UNSHARED_BUFFER` if it holds a SharedArrayBuffer not listed in
   * `shared`, or the serializer's `DataCloneError` for an uncloneable value. */
  send(value: T, options: ChannelOpOptions = {}): Promise<void> {
    let bytes: Uint8Array;
    let side: SenderSide;
    try {
      side = this.senderSide(options.runtime);
      bytes = this.encode(value);
      if (options.signal?.aborted) throw abortReason(options.signal);
      if (this.closed) throw channelClosed();
      if (this.sendQueue.length === 0 && this.push(bytes)) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      const pending: PendingSend = { bytes, resolve, reject, signal: options.signal, onAbort: undefined };
      this.sendQueue.push(pending);
      watchAbort(pending, () => {
        const i = this.sendQueue.indexOf(pending);
        if (i >= 0) { this.sendQueue.splice(i, 1); reject(abortReason(pending.signal!)); }
        if (this.sendQueue.length === 0) side.idle();
      });
      side.parkSender();
    });
  }

  /** Sends `value` if a slot is free now; false if the channel is full.
   * Throws like `send` rejects. */
  trySend(value: T, options: { runtime?: Runtime } = {}): boolean {
    this.senderSide(options.runtime);
    const bytes = this.encode(value);
    if (this.closed) throw channelClosed();
    return this.sendQueue.length === 0 && this.push(bytes);
  }

  /** The next message, waiting while the channel is empty.
   * ```ts
   * const msg = await ch.recv();
   * ```
   * Messages sent before a `close()` still arrive; after the last one, `recv`
   * rejects with `ERR_CHANNEL_CLOSED`. Only one thread may receive
   * (`ERR_CHANNEL_RECEIVER_TAKEN` on any other). */
  recv(options: ChannelOpOptions = {}): Promise<T> {
    let side: ReceiverSide;
    try {
      side = this.receiverSide(options.runtime);
      if (options.signal?.aborted) throw abortReason(options.signal);
      if (this.recvQueue.length === 0) {
        const got = this.pop();
        if (got !== NONE) return Promise.resolve(got as T);
        if (this.closed) {
          // A send may have landed between the pop and the closed check.
          const last = this.pop();
          if (last !== NONE) return Promise.resolve(last as T);
          throw channelClosed();
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      const pending: PendingRecv<T> = { resolve, reject, signal: options.signal, onAbort: undefined };
      this.recvQueue.push(pending);
      watchAbort(pending, () => {
        const i = this.recvQueue.indexOf(pending);
        if (i >= 0) { this.recvQueue.splice(i, 1); reject(abortReason(pending.signal!)); }
        if (this.recvQueue.length === 0) side.idle();
      });
      side.park();
    });
  }

  /** The next message if there is one now, as `{ value }`; `undefined` when
   * empty. Throws `ERR_CHANNEL_CLOSED` once closed and drained. */
  tryRecv(options: { runtime?: Runtime } = {}): { value: T } | undefined {
    this.receiverSide(options.runtime);
    if (this.recvQueue.length > 0) return undefined; // earlier recv() calls come first
    const got = this.pop();
    if (got !== NONE) return { value: got as T };
    if (this.closed) throw channelClosed();
    return undefined;
  }

  /** Messages until the channel is closed and drained.
   * ```ts
   * for await (const msg of ch) handle(msg);
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (err) {
        if ((err as PercoreError).code === 'ERR_CHANNEL_CLOSED') return;
        throw err;
      }
    }
  }

  /** Closes the channel for every thread, from either side: waiting and later
   * sends reject with `ERR_CHANNEL_CLOSED`; the receiver still gets every
   * message already in, then `ERR_CHANNEL_CLOSED`. Idempotent. */
  close(): void {
    if ((Atomics.or(this.words, W_FLAGS, F_CLOSED) & F_CLOSED) !== 0) return;
    const recvToken = Atomics.load(this.words, W_RECV_TOKEN);
    if (recvToken !== 0) this.wake(recvToken);
    for (let e = 0; e < MAX_SENDER_THREADS; e++) {
      const token = Atomics.load(this.words, W_SENDERS + 4 * e + E_TOKEN);
      if (token !== 0) this.wake(token);
    }
    // This thread's own waiters settle now rather than on the wake-up.
    this.sender?.pollNow();
    this.receiver?.pollNow();
  }

  // ---- the ring ----

  /** Claims a slot and writes `bytes` into it; false when full. */
  private push(bytes: Uint8Array): boolean {
    const words = this.words;
    for (;;) {
      const pos = Atomics.load(words, W_TAIL);
      const index = pos & this.mask;
      const dif = (Atomics.load(this.seqs, index) - pos) | 0;
      if (dif < 0) return false; // the receiver has not freed this slot yet
      if (dif > 0) continue; // another sender took pos: read the tail again
      if (((pos - Atomics.load(words, W_HEAD)) | 0) >= this.capacity) return false;
      if (Atomics.compareExchange(words, W_TAIL, pos, (pos + 1) | 0) !== pos) continue;
      this.lengths[index] = bytes.length;
      this.data.set(bytes, index * this.slotSize);
      // Publishes length and bytes (a seq-cst store orders the plain writes before it).
      Atomics.store(this.seqs, index, (pos + 1) | 0);
      if (Atomics.load(words, W_RECV_PARKED) === 1 && Atomics.compareExchange(words, W_RECV_PARKED, 1, 0) === 1) {
        this.wake(Atomics.load(words, W_RECV_TOKEN));
      }
      return true;
    }
  }

  /** Takes the oldest message, or NONE when empty. Receiver thread only. */
  private pop(): T | typeof NONE {
    const words = this.words;
    const pos = Atomics.load(words, W_HEAD);
    const index = pos & this.mask;
    if (((Atomics.load(this.seqs, index) - pos) | 0) !== 1) return NONE;
    const length = this.lengths[index];
    const start = index * this.slotSize;
    // Decoded before the slot is handed back: a sender may overwrite it at once after.
    let value: T;
    let failure: unknown;
    try {
      value = this.decode(this.data.subarray(start, start + length));
    } catch (err) {
      failure = err;
    }
    Atomics.store(this.seqs, index, (pos + this.mask + 1) | 0);
    Atomics.store(words, W_HEAD, (pos + 1) | 0);
    if (Atomics.load(words, W_SENDERS_PARKED) > 0) this.wakeSenders();
    if (failure !== undefined) throw failure;
    return value!;
  }

  private wakeSenders(): void {
    for (let e = 0; e < MAX_SENDER_THREADS; e++) {
      const at = W_SENDERS + 4 * e;
      if (Atomics.load(this.words, at + E_PARKED) === 1 && Atomics.compareExchange(this.words, at + E_NOTIFIED, 0, 1) === 0) {
        this.wake(Atomics.load(this.words, at + E_TOKEN));
      }
    }
  }

  /** Wakes the runtime owning `token` from this thread, through a runtime of
   * this thread when there is one: a wake must be sent from the sender's own
   * ring for it to be a MSG_RING (a ring takes submissions from its thread
   * only). A thread with no open runtime uses the host's eventfd path. */
  private wake(token: number): void {
    let rt = this.sender?.rt;
    if (rt === undefined || rt.isClosed) rt = this.receiver?.rt;
    if (rt === undefined || rt.isClosed) rt = Runtime.peekCurrent();
    if (rt !== undefined) rt.wake(token);
    else loadHost().wake(token);
  }

  private encode(value: T): Uint8Array {
    const serializer = new ChannelSerializer(this.shared);
    serializer.writeHeader();
    serializer.writeValue(value);
    const bytes = serializer.releaseBuffer();
    if (bytes.length > this.slotSize) {
      throw codedError('ERR_CHANNEL_MESSAGE_TOO_LARGE',
        `the message needs ${bytes.length} bytes serialized, more than the channel's slotSize (${this.slotSize})`, RangeError);
    }
    return bytes;
  }

  private decode(bytes: Uint8Array): T {
    const deserializer = new ChannelDeserializer(bytes, this.shared);
    deserializer.readHeader();
    return deserializer.readValue() as T;
  }

  // ---- this thread's sides ----

  private senderSide(runtime: Runtime | undefined): SenderSide {
    // A side stays bound to the runtime it was first used with, until that
    // runtime closes: then this thread binds again, to its new one.
    if (this.sender !== undefined && !this.sender.rt.isClosed) return this.sender;
    const rt = runtime ?? Runtime.current();
    const token = rt.wakerToken();
    if (Atomics.load(this.words, W_MODE) === 1) {
      const owner = Atomics.compareExchange(this.words, W_SENDER_OWNER, 0, token);
      if (owner !== 0 && owner !== token) {
        throw codedError('ERR_CHANNEL_SENDER_TAKEN', 'this single-producer channel already has a sender on another thread');
      }
    }
    let entry = -1;
    for (let e = 0; e < MAX_SENDER_THREADS && entry < 0; e++) {
      const at = W_SENDERS + 4 * e + E_TOKEN;
      const seen = Atomics.compareExchange(this.words, at, 0, token);
      if (seen === 0 || seen === token) entry = e;
    }
    if (entry < 0) {
      throw codedError('ERR_CHANNEL_TOO_MANY_SENDERS', `a channel has room for senders on ${MAX_SENDER_THREADS} runtimes`);
    }
    this.sender = new SenderSide(rt, this.words, W_SENDERS + 4 * entry, () => this.drainSends(),
      () => { for (const p of this.sendQueue.splice(0)) { settle(p); p.reject(runtimeClosed()); } });
    return this.sender;
  }

  private receiverSide(runtime: Runtime | undefined): ReceiverSide {
    if (this.receiver !== undefined && !this.receiver.rt.isClosed) return this.receiver;
    const rt = runtime ?? Runtime.current();
    const token = rt.wakerToken();
    // This thread received before, on a runtime now closed: the claim moves.
    const previous = this.receiver === undefined ? 0 : this.receiver.token;
    const owner = Atomics.compareExchange(this.words, W_RECV_TOKEN, previous, token);
    if (owner !== previous && owner !== token) {
      throw codedError('ERR_CHANNEL_RECEIVER_TAKEN', 'this channel already has its receiver on another thread');
    }
    this.receiver = new ReceiverSide(rt, token, this.words, () => this.drainRecvs(),
      () => { for (const p of this.recvQueue.splice(0)) { settle(p); p.reject(runtimeClosed()); } });
    return this.receiver;
  }

  /** Moves this thread's waiting sends into the ring, in order. True when none is left. */
  private drainSends(): boolean {
    const closed = this.closed;
    while (this.sendQueue.length > 0) {
      const next = this.sendQueue[0];
      if (closed) {
        this.sendQueue.shift();
        settle(next);
        next.reject(channelClosed());
        continue;
      }
      if (!this.push(next.bytes)) return false;
      this.sendQueue.shift();
      settle(next);
      next.resolve();
    }
    return true;
  }

  /** Hands messages to this thread's waiting receives. True when none is left. */
  private drainRecvs(): boolean {
    while (this.recvQueue.length > 0) {
      let got: T | typeof NONE;
      try {
        got = this.pop();
      } catch (err) {
        const next = this.recvQueue.shift()!;
        settle(next);
        next.reject(err);
        continue;
      }
      if (got === NONE) {
        if (!this.closed) return false;
        const last = this.pop(); // sent just before the close
        const next = this.recvQueue.shift()!;
        settle(next);
        if (last !== NONE) next.resolve(last as T);
        else next.reject(channelClosed());
        continue;
      }
      const next = this.recvQueue.shift()!;
      settle(next);
      next.resolve(got as T);
    }
    return true;
  }

}

const NONE: unique symbol = Symbol('none');

interface Pending {
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}
interface PendingSend extends Pending { bytes: Uint8Array; resolve: () => void; reject: (e: unknown) => void }
interface PendingRecv<T> extends Pending { resolve: (v: T) => void; reject: (e: unknown) => void }

function watchAbort(p: Pending, onAbort: () => void): void {
  if (p.signal === undefined) return;
  p.onAbort = onAbort;
  p.signal.addEventListener('abort', onAbort, { once: true });
}

function settle(p: Pending): void {
  if (p.onAbort !== undefined) p.signal!.removeEventListener('abort', p.onAbort);
}

/** The sending side on one thread: parks on its runtime while sends wait for room. */
class SenderSide implements Parked {
  private parked = false;
  constructor(
    readonly rt: Runtime,
    private readonly words: Int32Array,
    private readonly entry: number,
    private readonly drain: () => boolean,
    private readonly fail: () => void,
  ) {}

  parkSender(): void {
    if (this.parked) return;
    this.parked = true;
    this.rt.park(this);
    Atomics.store(this.words, this.entry + E_NOTIFIED, 0);
    Atomics.store(this.words, this.entry + E_PARKED, 1);
    Atomics.add(this.words, W_SENDERS_PARKED, 1);
    // The receiver may have freed a slot before it could see E_PARKED.
    this.pollNow();
  }

  poll(): boolean {
    // Cleared before looking: a slot freed from now on wakes us again.
    Atomics.store(this.words, this.entry + E_NOTIFIED, 0);
    if (!this.drain()) return false;
    this.idle();
    return true;
  }

  pollNow(): void {
    if (this.parked && this.poll()) this.rt.unpark(this);
  }

  /** Nothing waits any more on this thread. */
  idle(): void {
    if (!this.parked) return;
    this.parked = false;
    Atomics.store(this.words, this.entry + E_PARKED, 0);
    Atomics.sub(this.words, W_SENDERS_PARKED, 1);
    this.rt.unpark(this);
  }

  /** The runtime closed: this thread's sends fail with ERR_PERCORE_RUNTIME_CLOSED. */
  abort(): void {
    this.idle();
    this.fail();
  }
}

/** The receiving side: parks on its runtime while receives wait for messages. */
class ReceiverSide implements Parked {
  private parked = false;
  constructor(
    readonly rt: Runtime,
    readonly token: number,
    private readonly words: Int32Array,
    private readonly drain: () => boolean,
    private readonly fail: () => void,
  ) {}

  park(): void {
    if (this.parked) return;
    this.parked = true;
    this.rt.park(this);
    this.pollNow();
  }

  poll(): boolean {
    if (this.drain()) { this.idle(); return true; }
    // Ask to be woken, then look again: a send that landed before the flag
    // was visible would otherwise wake nobody.
    Atomics.store(this.words, W_RECV_PARKED, 1);
    if (this.drain()) { this.idle(); return true; }
    return false;
  }

  pollNow(): void {
    if (this.parked && this.poll()) this.rt.unpark(this);
  }

  idle(): void {
    if (!this.parked) return;
    this.parked = false;
    Atomics.store(this.words, W_RECV_PARKED, 0);
    this.rt.unpark(this);
  }

  /** The runtime closed: this thread's receives fail with ERR_PERCORE_RUNTIME_CLOSED. */
  abort(): void {
    this.idle();
    this.fail();
  }
}

function view(handle: ChannelHandle): [number, number, Int32Array, Int32Array, Int32Array, Uint8Array, number, readonly SharedArrayBuffer[]] {
  const buffer = handle.buffer;
  if (buffer.byteLength < HEADER_WORDS * 4) throw invalidArgValue('handle', handle, 'is not a channel');
  const words = new Int32Array(buffer, 0, HEADER_WORDS);
  if (Atomics.load(words, W_MAGIC) !== MAGIC) throw invalidArgValue('handle', handle, 'is not a channel');
  const capacity = words[W_CAPACITY];
  const slotSize = words[W_SLOT_SIZE];
  const slots = words[W_SLOTS];
  const seqs = new Int32Array(buffer, HEADER_WORDS * 4, slots);
  const lengths = new Int32Array(buffer, HEADER_WORDS * 4 + slots * 4, slots);
  const data = new Uint8Array(buffer, HEADER_WORDS * 4 + slots * 8, slots * slotSize);
  return [capacity, slotSize, words, seqs, lengths, data, slots - 1, handle.shared ?? []];
}

function channelClosed(): PercoreError {
  return codedError('ERR_CHANNEL_CLOSED', 'the channel is closed');
}

function abortReason(signal: AbortSignal): PercoreError {
  const err = codedError('ABORT_ERR', 'The operation was aborted');
  err.name = 'AbortError';
  (err as Error).cause = signal.reason;
  return err;
}

// ---- structured clone with zero-copy views over registered shared buffers ----

// Typed arrays are written as host objects so views over a registered
// SharedArrayBuffer can go by reference; every other view is copied, as
// v8.DefaultSerializer does.
const VIEW_TYPES = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, DataView, BigInt64Array, BigUint64Array,
] as const;
const TAG_COPY = 0;
const TAG_SHARED = 1;
const TAG_BUFFER = 2; // a Node Buffer (copied), which arrives as a Buffer

class ChannelSerializer extends v8.Serializer {
  constructor(private readonly shared: readonly SharedArrayBuffer[]) {
    super();
    // Node's own DefaultSerializer does the same (documented in node:v8).
    (this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void })._setTreatArrayBufferViewsAsHostObjects(true);
  }

  _writeHostObject(object: object): void {
    const view = object as ArrayBufferView;
    const type = VIEW_TYPES.findIndex((C) => view.constructor === C || Object.getPrototypeOf(view) === C.prototype);
    const id = view.buffer instanceof SharedArrayBuffer ? this.shared.indexOf(view.buffer) : -1;
    if (view.buffer instanceof SharedArrayBuffer && id < 0) throw unsharedBuffer();
    if (id >= 0) {
      this.writeUint32(TAG_SHARED);
      this.writeUint32(id);
      this.writeUint32(Math.max(type, 0));
      this.writeUint32(view.byteOffset);
      this.writeUint32(view.byteLength);
      return;
    }
    this.writeUint32(Buffer.isBuffer(view) ? TAG_BUFFER : TAG_COPY);
    this.writeUint32(Math.max(type, 0));
    this.writeUint32(view.byteLength);
    this.writeRawBytes(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  }

  _getSharedArrayBufferId(buffer: SharedArrayBuffer): number {
    const id = this.shared.indexOf(buffer);
    if (id < 0) throw unsharedBuffer();
    return id;
  }
}

class ChannelDeserializer extends v8.Deserializer {
  constructor(bytes: Uint8Array, private readonly shared: readonly SharedArrayBuffer[]) {
    super(bytes);
    shared.forEach((buffer, id) => this.transferArrayBuffer(id, buffer as unknown as ArrayBuffer));
  }

  _readHostObject(): object {
    const tag = this.readUint32();
    if (tag === TAG_SHARED) {
      const buffer = this.shared[this.readUint32()];
      const C = VIEW_TYPES[this.readUint32()];
      const byteOffset = this.readUint32();
      const byteLength = this.readUint32();
      const per = C === DataView ? 1 : (C as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      return new (C as unknown as new (b: ArrayBufferLike, o: number, l: number) => object)(buffer, byteOffset, byteLength / per);
    }
    const C = VIEW_TYPES[this.readUint32()];
    const byteLength = this.readUint32();
    const raw = this.readRawBytes(byteLength) as Buffer;
    if (tag === TAG_BUFFER) return Buffer.from(raw);
    const copy = new ArrayBuffer(byteLength);
    new Uint8Array(copy).set(raw);
    const per = C === DataView ? 1 : (C as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    return new (C as unknown as new (b: ArrayBufferLike, o: number, l: number) => object)(copy, 0, byteLength / per);
  }
}

function unsharedBuffer(): PercoreError {
  return codedError('ERR_CHANNEL_UNSHARED_BUFFER',
    'the message holds a SharedArrayBuffer the channel was not made with: list it in the `shared` option');
}
