// What every message socket shares (UDP, Unix datagram and seqpacket): one
// receive and one send run at a time (io_uring does not keep the order of
// several receives on one socket), the rest wait their turn in issue order;
// close cancels them all, then closes the socket. A transport adds how it is
// opened, how it names a destination and how it reads a sender.
import * as L from '../core/layout';
import { invalidArgValue, socketClosed } from '../errors/errors';
import { validateInteger, validateSignal, validateUint8Array } from '../errors/validate';
import { submitCloseThen } from '../io/plain-op';
import type { IoOptions } from '../io/rent';
import { captureSettlers, settlers } from '../io/settlers';
import type { Runtime } from '../runtime/runtime';
import { type Datagram, DatagramOp, type DatagramOwner, type Destination, type MessageExtras } from './datagram-op';

/** Options of one datagram operation. */
export interface DatagramOptions extends IoOptions, MessageExtras {
  /** Bytes of `buf` to send, or room to receive into, from its start. Default `buf.length`. */
  length?: number;
}

/** A socket of messages: `A` is how a sender is named. */
export abstract class DatagramSocket<A> implements DatagramOwner<A> {
  /** Per direction: the op running, then those waiting their turn. */
  private readonly receives: DatagramOp<A>[] = [];
  private readonly sends: DatagramOp<A>[] = [];
  private closing = false;
  private closed: Promise<void> | undefined;
  private finishClose: (() => void) | undefined;

  /** @internal */
  protected constructor(
    /** @internal */ readonly rt: Runtime,
    readonly fd: number,
    /** The class name errors give (`ERR_SOCKET_CLOSED`). */
    private readonly kind: string,
  ) {}

  /** @internal whether `close()` was called. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Receives one datagram into the start of `buf`: `{ n, buf, address, truncated }`. */
  recvFrom(buf: Uint8Array, options?: DatagramOptions): Promise<Datagram<A>> {
    return this.start(true, buf, undefined, options);
  }

  /** `recvFrom` on a connected socket (the address is the peer's). */
  recv(buf: Uint8Array, options?: DatagramOptions): Promise<Datagram<A>> {
    return this.start(true, buf, undefined, options);
  }

  /** Sends one datagram to the connected peer; resolves `[n, buf]`. */
  async send(buf: Uint8Array, options?: DatagramOptions): Promise<[number, Uint8Array]> {
    const { n } = await this.start(false, buf, undefined, options);
    return [n, buf];
  }

  /** Cancels the operations in flight (they reject with `ERR_SOCKET_CLOSED`
   * and their buffers) and closes the socket. */
  close(): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.closed = new Promise((resolve) => {
      this.finishClose = resolve;
    });
    // Those waiting first (they leave their queues at once), then those running.
    for (const lane of [this.receives, this.sends]) {
      for (const op of lane.slice(1).reverse()) op.cancel(socketClosed(this.kind));
      lane[0]?.cancel(socketClosed(this.kind));
    }
    if (this.receives.length === 0 && this.sends.length === 0) this.closeSocket();
    return this.closed;
  }

  /** @internal */
  abstract sender(id: number, record: number): A;

  /** @internal */
  admit(op: DatagramOp<A>): boolean {
    const lane = op.receives ? this.receives : this.sends;
    lane.push(op);
    return lane.length === 1;
  }

  /** @internal */
  dequeue(op: DatagramOp<A>): void {
    const lane = op.receives ? this.receives : this.sends;
    const at = lane.indexOf(op);
    if (at > 0) lane.splice(at, 1);
  }

  /** @internal */
  settled(op: DatagramOp<A>): void {
    const lane = op.receives ? this.receives : this.sends;
    if (lane[0] !== op) {
      this.dequeue(op);
      return;
    }
    lane.shift();
    if (!this.closing) lane[0]?.run();
    else if (this.receives.length === 0 && this.sends.length === 0) this.closeSocket();
  }

  /** @internal throws `ERR_SOCKET_CLOSED` once closing. */
  protected assertOpen(): void {
    if (this.closing) throw socketClosed(this.kind);
  }

  /** @internal called once the socket is closed (a Unix socket unlinks its path). */
  protected onClosed(): void {}

  /** @internal one datagram operation. */
  protected start(
    receives: boolean,
    buf: Uint8Array,
    to: Destination | undefined,
    options?: DatagramOptions,
  ): Promise<Datagram<A>> {
    try {
      validateUint8Array(buf, 'buf');
      validateSignal(options?.signal, 'options.signal');
      const length = options?.length ?? buf.length;
      validateInteger(length, 'options.length', 0, buf.length);
      const fds = options?.fds;
      if (fds !== undefined) {
        if (receives) throw invalidArgValue('options.fds', fds, 'is for sends: pass withFds to receive descriptors');
        if (!Array.isArray(fds) || fds.length === 0 || fds.length > L.MSG_FDS_MAX) {
          throw invalidArgValue('options.fds', fds, `must be an array of 1 to ${L.MSG_FDS_MAX} descriptors`);
        }
        for (const fd of fds) validateInteger(fd, 'options.fds[i]', 0, 2 ** 31 - 1);
      }
      this.assertOpen();
      const promise = new Promise<Datagram<A>>(captureSettlers);
      new DatagramOp<A>(
        this,
        receives,
        buf,
        length,
        to,
        options,
        options?.signal,
        settlers.resolve,
        settlers.reject,
      ).begin();
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private closeSocket(): void {
    if (this.finishClose === undefined) return; // closed already
    const finish = this.finishClose;
    this.finishClose = undefined;
    submitCloseThen(this.rt, this.fd, () => {
      this.onClosed();
      finish();
    });
  }
}
