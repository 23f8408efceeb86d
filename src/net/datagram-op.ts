// One datagram sent or received (SENDMSG / RECVMSG, layout v4) as one op
// handler: lends the buffer (a pool view as it is, anything else through a
// bounce buffer), waits for a pool buffer or an op slot when there is none
// (back-pressure), and settles with the buffer handed back. A received
// datagram's sender and whether it was cut to fit are read from the op's
// address record, where the host wrote them, during its delivery.
import * as L from '../core/layout';
import { ECANCELED, EINVAL, EMSGSIZE, ENOSPC } from '../errors/errno';
import { abortError, codedError, type PercoreError, runtimeClosed, systemError } from '../errors/errors';
import { withBuffer } from '../io/stream-op';
import { cancelOnAbort } from '../runtime/cancel';
import { CLOSED_RESULT, type OpHandler, type Stalled } from '../runtime/op-handler';
import { FORBIDDEN, type Runtime } from '../runtime/runtime';
import type { SocketAddress } from './address';

/** A datagram received: `n` bytes at the start of `buf`, from `address`
 * (a `SocketAddress` for UDP, a name for a Unix socket: `''` when the sender
 * is unnamed). `truncated`: the datagram was longer than the buffer and its
 * end was cut (the kernel drops the rest): it is reported, never silent. */
export interface Datagram<A = SocketAddress> {
  n: number;
  buf: Uint8Array;
  address: A;
  truncated: boolean;
  /** With `withFds`: the descriptors that came with it (Unix sockets,
   * `SCM_RIGHTS`), owned by this runtime: adopt them (`TcpListener.adopt`)
   * or they are closed with the runtime. */
  fds?: number[];
  /** With `withFds`: descriptors past `MSG_FDS_MAX` (16) were dropped (closed by the kernel). */
  fdsDropped?: boolean;
}

/** What one datagram operation carries besides its bytes. */
export interface MessageExtras {
  /** Descriptors to send with it (`SCM_RIGHTS`), this runtime's own. */
  fds?: readonly number[];
  /** Take the descriptors a received message carries. */
  withFds?: boolean;
}

/** What the op's socket does for it: one receive and one send run at a
 * time (io_uring does not keep the order of several receives on one socket),
 * the rest wait their turn in issue order. */
export interface DatagramOwner<A> {
  readonly rt: Runtime;
  readonly fd: number;
  /** True: `op` runs now; false: it waits, and `run()` is called at its turn. */
  admit(op: DatagramOp<A>): boolean;
  /** Takes a waiting `op` out of its queue (given up while waiting). */
  dequeue(op: DatagramOp<A>): void;
  /** `op` is done: the next of its direction may run. */
  settled(op: DatagramOp<A>): void;
  /** During the delivery of RECVMSG `id`: its sender, from the op's address record (or the host). */
  sender(id: number, record: number): A;
}

/** Where a send goes, other than to the connected peer. */
export interface Destination {
  /** The SENDMSG aux: `SENDMSG_TO` (an address record) or `SENDMSG_TO_NAME` (a Unix name the host holds). */
  readonly aux: number;
  /** Right before the submit: writes the staging record (it is shared:
   * written again if the op waited). 0 or -errno. */
  before(rt: Runtime): number;
  /** Right after the submit, before any flush: hands the host what it needs
   * for op `id`. Its failure shows as the op's own (-EINVAL). */
  after(rt: Runtime, id: number): void;
}

export class DatagramOp<A> implements OpHandler, Stalled {
  private id = 0;
  private stalled = false;
  /** Waiting for its turn behind another of its direction. */
  private waiting = false;
  private settledAlready = false;
  private bounce = -1;
  private arenaOffset = -1;
  private reason: PercoreError | undefined;
  /** Why the host refused the descriptors to send, if it did. */
  private stageError = 0;
  private onAbort: (() => void) | undefined = undefined;

  constructor(
    private readonly owner: DatagramOwner<A>,
    /** True: RECVMSG; false: SENDMSG. */
    readonly receives: boolean,
    private readonly buf: Uint8Array,
    private readonly length: number,
    private readonly to: Destination | undefined,
    private readonly extras: MessageExtras | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (v: Datagram<A>) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  begin(): void {
    if (this.signal?.aborted) {
      this.fail(abortError(this.signal.reason));
      return;
    }
    const rt = this.owner.rt;
    this.arenaOffset = rt.arenaOffsetOf(this.buf);
    if (this.arenaOffset === FORBIDDEN) {
      this.fail(
        codedError(
          'ERR_INVALID_ARG_VALUE',
          'the buffer is a view of the runtime memory but no live pool buffer',
          TypeError,
        ),
      );
      return;
    }
    // A datagram is sent whole or not at all: one that no pool buffer can
    // hold would be cut by the bounce, so it is refused.
    if (!this.receives && this.arenaOffset < 0 && this.length > rt.bufferSize) {
      this.fail(systemError(-EMSGSIZE, 'sendmsg', `${this.length} bytes > bufferSize ${rt.bufferSize}`));
      return;
    }
    if (this.signal !== undefined) this.onAbort = cancelOnAbort(this.signal, this);
    if (this.owner.admit(this)) this.submitOrFail();
    else this.waiting = true;
  }

  /** Its turn came. */
  run(): void {
    this.waiting = false;
    this.submitOrFail();
  }

  /** Gives up: rejects with `reason` unless its result already arrived. */
  cancel(reason: PercoreError): void {
    if (this.reason !== undefined || this.settledAlready) return;
    this.reason = reason;
    if (this.waiting) {
      this.waiting = false;
      this.owner.dequeue(this);
      this.fail(reason);
      return;
    }
    if (this.stalled) {
      this.stalled = false;
      this.owner.rt.unstall(this);
      this.fail(reason);
      return;
    }
    if (this.id !== 0) this.owner.rt.cancel(this.id);
  }

  resume(): void {
    this.stalled = false;
    this.submitOrFail();
  }

  abort(): void {
    this.stalled = false;
    this.fail(runtimeClosed());
  }

  complete(res: number): void {
    const rt = this.owner.rt;
    if (res === CLOSED_RESULT) {
      this.fail(runtimeClosed());
      return;
    }
    if (res < 0) {
      this.freeBounce();
      // -EINVAL for a send whose descriptors were refused: say why they were.
      const code = res === -EINVAL && this.stageError < 0 ? this.stageError : res;
      this.fail(code === -ECANCELED && this.reason !== undefined ? this.reason : systemError(code, this.syscall));
      return;
    }
    if (this.bounce >= 0 && this.receives && res > 0) rt.copyOut(this.bounce, this.buf, 0, res);
    this.freeBounce();
    let address: A | undefined;
    let truncated = false;
    if (this.receives) {
      const record = rt.opRecord(this.id);
      address = this.owner.sender(this.id, record);
      truncated = (rt.bytes[record + L.ADDR_MSG_FLAGS] & L.MSGF_TRUNC) !== 0;
    }
    this.done();
    if (this.receives && this.extras?.withFds === true) {
      const fds = rt.nativeDriver.msgFds(this.id);
      const fdsDropped = (rt.bytes[rt.opRecord(this.id) + L.ADDR_MSG_FLAGS] & L.MSGF_CTRUNC) !== 0;
      this.resolve({
        n: res,
        buf: this.buf,
        address: address as A,
        truncated,
        fds: typeof fds === 'number' ? [] : fds,
        fdsDropped,
      });
      return;
    }
    this.resolve({ n: res, buf: this.buf, address: address as A, truncated });
  }

  private get syscall(): string {
    return this.receives ? 'recvmsg' : 'sendmsg';
  }

  private submitOrFail(): void {
    try {
      this.submit();
    } catch (err) {
      this.freeBounce();
      this.fail(err as PercoreError);
    }
  }

  private submit(): void {
    const rt = this.owner.rt;
    rt.assertOpen();
    const bounced = this.receives
      ? rt.lendForRecv(this.buf, this.arenaOffset, 0, this.length)
      : rt.lendForSend(this.buf, this.arenaOffset, 0, this.length);
    if (rt.lentIndex < 0) {
      this.stalled = true; // every pool buffer in use: wait for one
      rt.stall(this);
      return;
    }
    if (bounced) this.bounce = rt.lentIndex;
    const fd = this.owner.fd;
    let id: number;
    const fds = this.extras?.fds;
    if (this.receives) {
      id = rt.core.submitRecvMsg(fd, rt.lentIndex, rt.lentOffset, rt.lentLength, this.extras?.withFds ? 1 : 0);
    } else {
      const res = this.to === undefined ? 0 : this.to.before(rt);
      if (res < 0) throw systemError(res, 'sendmsg');
      const aux = (this.to?.aux ?? 0) | (fds !== undefined ? L.MSG_FDS : 0);
      id = rt.core.submitSendMsg(fd, rt.lentIndex, rt.lentOffset, rt.lentLength, aux);
      if (id >= 0) {
        this.to?.after(rt, id);
        // Staged for the op in the SQ, before any flush; a refusal fails the op.
        if (fds !== undefined) this.stageError = Math.min(0, rt.nativeDriver.stageFds(id, fds));
      }
    }
    if (id === -ENOSPC) {
      this.stalled = true; // the op table is full: wait for a slot
      rt.stall(this);
      this.freeBounce();
      return;
    }
    rt.track(id, this, this.syscall);
    this.id = id;
  }

  private freeBounce(): void {
    if (this.bounce < 0) return;
    const index = this.bounce;
    this.bounce = -1;
    this.owner.rt.unlend(index);
  }

  private done(): void {
    this.settledAlready = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.owner.settled(this);
  }

  private fail(err: PercoreError): void {
    if (this.settledAlready) return;
    this.done();
    this.reject(withBuffer(err, this.buf));
  }
}
