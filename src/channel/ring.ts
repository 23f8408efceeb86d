// The channel's shared memory: the header words every thread reads and
// writes with Atomics, and the views over one channel's SharedArrayBuffer.
import { invalidArgValue } from '../errors/errors';

/** What crosses threads: clone it with `workerData`, `postMessage` or `start({ data })`. */
export interface ChannelHandle {
  readonly buffer: SharedArrayBuffer;
  readonly shared: readonly SharedArrayBuffer[];
}

// ---- the shared layout (Int32 words) ----
// Producers' tail and the consumer's head sit on their own 64-byte lines so
// the two sides do not bounce one cache line on every message.
export const MAGIC = 0x5043_4831; // "PCH1"
export const W_MAGIC = 0;
export const W_CAPACITY = 1;
export const W_SLOT_SIZE = 2;
export const W_SLOTS = 3; // power of two >= capacity
export const W_FLAGS = 4; // F_CLOSED
export const W_MODE = 5; // 0 mpsc, 1 spsc
export const W_SENDER_OWNER = 6; // spsc: token of the sending runtime
export const W_TAIL = 16;
export const W_HEAD = 32;
export const W_RECV_PARKED = 33; // 1: the receiver waits and wants a wake-up
export const W_RECV_TOKEN = 34; // the receiving runtime's waker token (0 none yet)
export const W_SENDERS_PARKED = 48; // how many sender entries have parked sends
export const W_SENDERS = 64; // MAX_SENDER_THREADS entries of 4 words:
export const E_TOKEN = 0; //   the runtime's waker token (0: free entry)
export const E_PARKED = 1; //   1 while that runtime has sends waiting
export const E_NOTIFIED = 2; //   1 once woken and not yet looked
export const MAX_SENDER_THREADS = 64;
export const HEADER_WORDS = W_SENDERS + 4 * MAX_SENDER_THREADS;
export const F_CLOSED = 1;

export const MAX_CAPACITY = 65536;

export function view(
  handle: ChannelHandle,
): [number, number, Int32Array, Int32Array, Int32Array, Uint8Array, number, readonly SharedArrayBuffer[]] {
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
