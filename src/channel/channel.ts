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

import { loadAddon } from '../driver/addon';
import { codedError, invalidArgType, invalidArgValue, type PercoreError, runtimeClosed } from '../errors/errors';
import { validateInteger } from '../errors/validate';
import { Runtime } from '../runtime/runtime';
import {
  type ChannelHandle,
  E_NOTIFIED,
  E_PARKED,
  E_TOKEN,
  F_CLOSED,
  HEADER_WORDS,
  MAGIC,
  MAX_CAPACITY,
  MAX_SENDER_THREADS,
  view,
  W_CAPACITY,
  W_FLAGS,
  W_HEAD,
  W_MAGIC,
  W_MODE,
  W_RECV_PARKED,
  W_RECV_TOKEN,
  W_SENDER_OWNER,
  W_SENDERS,
  W_SENDERS_PARKED,
  W_SLOT_SIZE,
  W_SLOTS,
  W_TAIL,
} from './ring';
import { ChannelDeserializer, ChannelSerializer } from './serializer';
import {
  abortReason,
  channelClosed,
  type PendingRecv,
  type PendingSend,
  ReceiverSide,
  SenderSide,
  settle,
  watchAbort,
} from './sides';

export type { ChannelHandle } from './ring';

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

/** Options of a single `send` or `recv`. */
export interface ChannelOpOptions {
  /** The runtime to park on. Default `Runtime.current()`. */
  runtime?: Runtime;
  /** Abort the wait: the operation rejects with an `AbortError` (a send then sent nothing). */
  signal?: AbortSignal;
}

const NONE: unique symbol = Symbol('none');

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
    [this.capacity, this.slotSize, this.words, this.seqs, this.lengths, this.data, this.mask, this.shared] = view(
      this.handle,
    );
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
      handle,
      sendQueue: [],
      recvQueue: [],
      sender: undefined,
      receiver: undefined,
      capacity: fields[0],
      slotSize: fields[1],
      words: fields[2],
      seqs: fields[3],
      lengths: fields[4],
      data: fields[5],
      mask: fields[6],
      shared: fields[7],
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
        if (i >= 0) {
          this.sendQueue.splice(i, 1);
          reject(abortReason(pending.signal!));
        }
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
        if (i >= 0) {
          this.recvQueue.splice(i, 1);
          reject(abortReason(pending.signal!));
        }
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
      if (
        Atomics.load(this.words, at + E_PARKED) === 1 &&
        Atomics.compareExchange(this.words, at + E_NOTIFIED, 0, 1) === 0
      ) {
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
    else loadAddon().wake(token);
  }

  private encode(value: T): Uint8Array {
    const serializer = new ChannelSerializer(this.shared);
    serializer.writeHeader();
    serializer.writeValue(value);
    const bytes = serializer.releaseBuffer();
    if (bytes.length > this.slotSize) {
      throw codedError(
        'ERR_CHANNEL_MESSAGE_TOO_LARGE',
        `the message needs ${bytes.length} bytes serialized, more than the channel's slotSize (${this.slotSize})`,
        RangeError,
      );
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
        throw codedError(
          'ERR_CHANNEL_SENDER_TAKEN',
          'this single-producer channel already has a sender on another thread',
        );
      }
    }
    let entry = -1;
    for (let e = 0; e < MAX_SENDER_THREADS && entry < 0; e++) {
      const at = W_SENDERS + 4 * e + E_TOKEN;
      const seen = Atomics.compareExchange(this.words, at, 0, token);
      if (seen === 0 || seen === token) entry = e;
    }
    if (entry < 0) {
      throw codedError(
        'ERR_CHANNEL_TOO_MANY_SENDERS',
        `a channel has room for senders on ${MAX_SENDER_THREADS} runtimes`,
      );
    }
    this.sender = new SenderSide(
      rt,
      this.words,
      W_SENDERS + 4 * entry,
      () => this.drainSends(),
      () => {
        for (const p of this.sendQueue.splice(0)) {
          settle(p);
          p.reject(runtimeClosed());
        }
      },
    );
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
    this.receiver = new ReceiverSide(
      rt,
      token,
      this.words,
      () => this.drainRecvs(),
      () => {
        for (const p of this.recvQueue.splice(0)) {
          settle(p);
          p.reject(runtimeClosed());
        }
      },
    );
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
