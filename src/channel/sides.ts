// Each thread's side of a channel: the sends or receives waiting on this
// thread, parked on its runtime until another thread's wake-up, and the
// errors they settle with.
import { codedError, type PercoreError } from '../errors/errors';
import type { Parked } from '../runtime/op-handler';
import type { Runtime } from '../runtime/runtime';
import { E_NOTIFIED, E_PARKED, W_RECV_PARKED, W_SENDERS_PARKED } from './ring';

interface Pending {
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}
export interface PendingSend extends Pending {
  bytes: Uint8Array;
  resolve: () => void;
  reject: (e: unknown) => void;
}
export interface PendingRecv<T> extends Pending {
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

export function watchAbort(p: Pending, onAbort: () => void): void {
  if (p.signal === undefined) return;
  p.onAbort = onAbort;
  p.signal.addEventListener('abort', onAbort, { once: true });
}

export function settle(p: Pending): void {
  if (p.onAbort !== undefined) p.signal!.removeEventListener('abort', p.onAbort);
}

/** The sending side on one thread: parks on its runtime while sends wait for room. */
export class SenderSide implements Parked {
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
export class ReceiverSide implements Parked {
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
    if (this.drain()) {
      this.idle();
      return true;
    }
    // Ask to be woken, then look again: a send that landed before the flag
    // was visible would otherwise wake nobody.
    Atomics.store(this.words, W_RECV_PARKED, 1);
    if (this.drain()) {
      this.idle();
      return true;
    }
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

export function channelClosed(): PercoreError {
  return codedError('ERR_CHANNEL_CLOSED', 'the channel is closed');
}

export function abortReason(signal: AbortSignal): PercoreError {
  const err = codedError('ABORT_ERR', 'The operation was aborted');
  err.name = 'AbortError';
  (err as Error).cause = signal.reason;
  return err;
}
