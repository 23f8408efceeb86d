// The virtual clock and its events. Time (milliseconds, like
// `performance.now()`) moves only when the world takes the next event, and
// jumps straight to it: an hour of sleeping costs one event. Events due at the
// same instant run in an order drawn from the PRNG, one of the orders a real
// kernel could produce; nothing in the simulation may rely on insertion order
// among them (a connection's segments are delivered from its own FIFO).
import type { Prng } from './prng';

interface SimEvent {
  at: number;
  /** Drawn from the PRNG: the order among events due at the same instant. */
  key: number;
  /** Insertion order, the last tie-break (keys can collide). */
  seq: number;
  fire: () => void;
  /** The event may run JavaScript (a runtime's turn, a scenario's sleep):
   * its continuations must all run before the next event. */
  js: boolean;
}

export class Scheduler {
  /** The time of the last event taken. */
  private t = 0;
  /** A real clock to follow instead (the ambient machine's `performance.now`). */
  clock: (() => number) | undefined = undefined;

  /** The current time, in milliseconds: virtual (the last event's), or the real clock's when it has one. */
  get now(): number {
    return this.clock === undefined ? this.t : Math.max(this.t, this.clock());
  }
  private readonly heap: SimEvent[] = [];
  private seq = 0;

  /** Told of every event scheduled (the ambient machine's pump, which runs on Node's loop). */
  onSchedule: ((at: number) => void) | undefined = undefined;

  constructor(private readonly prng: Prng) {}

  /** Runs `fire` at `time` (never before now); `js`: it may resolve promises
   * (see `SimEvent.js`); kernel events (segments, TIMEOUTs) do not. */
  at(time: number, fire: () => void, js = false): void {
    const ev: SimEvent = { at: Math.max(time, this.now), key: this.prng.next(), seq: this.seq++, fire, js };
    const heap = this.heap;
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = ev;
    this.onSchedule?.(ev.at);
  }

  /** Runs `fire` `delay` milliseconds from now. */
  after(delay: number, fire: () => void, js = false): void {
    this.at(this.now + delay, fire, js);
  }

  /** Whether the last event `take` returned may have run JavaScript. */
  lastWasJs = false;

  /** Events waiting. */
  get pending(): number {
    return this.heap.length;
  }

  /** The time of the next event, or Infinity. */
  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0].at : Number.POSITIVE_INFINITY;
  }

  /** Moves the clock to the next event and returns it, or undefined when none is left. */
  take(): (() => void) | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const child = r < heap.length && before(heap[r], heap[l]) ? r : l;
        if (!before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    this.t = top.at;
    this.lastWasJs = top.js;
    return top.fire;
  }
}

function before(x: SimEvent, y: SimEvent): boolean {
  if (x.at !== y.at) return x.at < y.at;
  if (x.key !== y.key) return x.key < y.key;
  return x.seq < y.seq;
}
