/**
 * The simulation host: a `Driver` (src/driver/addon.ts) written in
 * TypeScript that speaks the core's memory layout exactly as the native
 * readiness driver does (host/drivers/readiness/), over a simulated kernel
 * instead of Linux.
 *
 * ## The model
 * `flush()` takes the core's SQEs, checks each (`checkSqe`, the native
 * host's rules) and starts it: each op tries its simulated system call at
 * once and waits, in a FIFO per descriptor and direction, only when the call
 * would answer EAGAIN; a socket becoming readable or writable (a segment
 * arrived, the peer read and opened its window) retries the queue from its
 * head. Completions go into the core's CQ, or wait in a FIFO while it is full.
 * Recv-set buffers come from the provide ring into a LIFO pick set, checked
 * as the native host checks them. Nothing calls the runtime from inside a
 * flush: a completion asks the world for a turn, an event on the virtual
 * clock a little later (how much later is drawn from the PRNG), and the turn
 * calls `onTurn` as Node's loop calls the native driver's.
 */
import * as L from '../core/layout';
import type { Driver, DriverCounters, DriverOptions, HostAddress } from '../driver/addon';
import {
  EAFNOSUPPORT,
  EBADF,
  EBUSY,
  ECANCELED,
  EINVAL,
  ENOBUFS,
  ENOENT,
  ENOSYS,
  EOPNOTSUPP,
  EPROTONOSUPPORT,
  ESRCH,
  ETIME,
} from '../errors/errno';
import { decodeRecord, type Endpoint, encodeRecord } from './address';
import { ambientMachine } from './ambient';
import { CoreView, checkSqe, type Sqe } from './core-view';
import type { SimKernel } from './kernel';
import type { Prng } from './prng';
import type { Scheduler } from './scheduler';
import { AGAIN, READ_SIDE, type Side, WRITE_SIDE } from './socket';
import type { Tcp } from './tcp';
import type { Trace } from './trace';
import { Unmodelled } from './unmodelled';

/** What the driver needs of the simulated host it runs on (world.ts). */
export interface HostPort {
  readonly index: number;
  readonly kernel: SimKernel;
  readonly tcp: Tcp;
  readonly sched: Scheduler;
  readonly prng: Prng;
  readonly trace: Trace;
  /** The longest a completion waits for its turn, in ms (drawn uniformly). */
  readonly turnJitter: number;
  /** Makes this host's runtime `Runtime.current()` before its turn. */
  enter(): void;
  /** A driver's `setRef` (the ambient machine keeps Node's loop alive while any is referenced). */
  ref?(on: boolean): void;
}

let constructing: HostPort | undefined;

/** Runs `make` (which constructs a runtime with `driver: 'sim'`) for `host`. */
export function constructFor<T>(host: HostPort, make: () => T): T {
  const before = constructing;
  constructing = host;
  try {
    return make();
  } finally {
    constructing = before;
  }
}

const NOWHERE = 0;
const TIMERS = 3;

/** One op the host holds, by slot (reused: nothing is allocated per op). */
class Op {
  id = 0;
  opcode = 0;
  fd = -1;
  addr = 0;
  len = 0;
  multishot = false;
  select = false;
  /** NOWHERE, 1 + side (waiting in that queue of its fd), or TIMERS. */
  where = NOWHERE;
  connecting = false;
  /** Set by `attempt`: a multishot result, the op stays armed. */
  more = false;
  cqeFlags = 0;
  /** Bumped to invalidate a TIMEOUT's scheduled event. */
  timer = 0;
}

const isWriteSide = (opcode: number): boolean =>
  opcode === L.OP_CONNECT || opcode === L.OP_SEND || opcode === L.OP_WRITE;

export class SimDriver extends Unmodelled implements Driver {
  readonly name = 'sim';
  readonly features: readonly string[];
  private readonly view: CoreView;
  private readonly host: HostPort;
  private readonly kernel: SimKernel;
  private readonly onTurn: () => number;
  private readonly ops: Op[];
  /** Per fd: the read and write wait queues (op slots, FIFO). */
  private readonly queues = new Map<number, [number[], number[]]>();
  private readonly owned = new Set<number>();
  /** Completions waiting for room in the core's CQ: id, res, flags triples. */
  private readonly fifo: number[] = [];
  /** fds whose multishot op stopped for lack of room, to retry next turn. */
  private readonly retry = new Set<number>();
  private readonly inSet: Uint8Array;
  private readonly spare: number[] = [];
  private readonly sqe: Sqe = { id: 0, opcode: 0, flags: 0, fd: 0, addr: 0, len: 0, aux: 0, arg: 0 };
  private readonly stats = { enters: 0, submitted: 0, completed: 0, eagain: 0 };
  private closed = false;
  private turnAt = Number.POSITIVE_INFINITY;
  private turnToken = 0;
  /** Whether the runtime has work in flight (it refs its driver then). */
  referenced = false;

  constructor(memory: Uint8Array, header: number, options: DriverOptions) {
    super();
    // Inside simulate(), the host being built; elsewhere the thread's ambient machine.
    const host = constructing ?? ambientMachine();
    this.host = host;
    this.kernel = host.kernel;
    this.view = new CoreView(memory, header);
    this.onTurn = options.onTurn;
    this.ops = Array.from({ length: this.view.opCapacity }, () => new Op());
    this.inSet = new Uint8Array(this.view.provideCount);
    this.features = ['sim', 'multishot_accept', ...(this.view.provideCount > 0 ? ['recv_select'] : [])];
  }

  now(): number {
    return this.host.sched.now;
  }

  // ---- the loop ----

  flush(): number {
    if (this.closed) return 0;
    this.stats.enters++;
    this.drainFifo();
    return this.takeSqes();
  }

  poll(_waitMs: number): number {
    const before = this.stats.completed;
    this.flush();
    return this.stats.completed - before;
  }

  setRef(ref: boolean): void {
    if (ref === this.referenced || this.closed) return;
    this.referenced = ref;
    this.host.ref?.(ref);
  }

  arm(waitMs: number): void {
    if (this.closed || waitMs < 0) return;
    this.turnBy(this.host.sched.now + (waitMs === 0 ? this.jitter() : waitMs));
  }

  private jitter(): number {
    return this.host.prng.between(0, this.host.turnJitter);
  }

  /** Asks for a turn at `at` at the latest. */
  private turnBy(at: number): void {
    if (at >= this.turnAt) return;
    this.turnAt = at;
    const token = ++this.turnToken;
    this.host.sched.at(
      at,
      () => {
        if (token === this.turnToken) this.turn();
      },
      true,
    );
  }

  /** A completion was written: a turn soon, unless one is due already. */
  private wantTurn(): void {
    if (this.turnAt <= this.host.sched.now + this.host.turnJitter) return;
    this.turnBy(this.host.sched.now + this.jitter());
  }

  private turn(): void {
    this.turnAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    // As host/napi/turn.cc: take what is queued, call onTurn, then flush what
    // the core itself wrote during the reap (a COPY relay's next SQE).
    this.drainFifo();
    this.takeSqes();
    this.runRetries();
    this.host.enter();
    const wait = this.onTurn();
    const now = this.host.sched.now;
    const trace = this.host.trace;
    this.view.forEachDelivery((id, res, flags, opcode) => trace.record('dq', now, id, res, flags, opcode));
    if (this.closed) return;
    this.flush();
    if (wait >= 0) this.turnBy(now + (wait === 0 ? this.jitter() : wait));
    if (this.fifo.length > 0 || this.retry.size > 0) this.wantTurn();
  }

  // ---- submissions ----

  private readonly owns = (fd: number): boolean => this.owned.has(fd);

  private takeSqes(): number {
    this.view.drainProvided((index) => {
      // Checked as the native pick set does: inside the recv set, not in it already.
      if (index >= this.inSet.length || this.inSet[index] !== 0) return;
      this.inSet[index] = 1;
      this.spare.push(index);
    });
    let taken = 0;
    const owns = this.owns;
    for (let n = this.view.sqPending(); n > 0; n--) {
      const sqe = this.view.takeSqe(this.sqe);
      taken++;
      this.host.trace.record('sq', this.host.sched.now, (this.host.index << 16) | sqe.opcode, sqe.id, sqe.fd, sqe.len);
      const res = checkSqe(sqe, this.view, owns);
      if (res !== 0) this.complete(sqe.id, res, 0);
      else this.start(sqe);
    }
    this.view.publishSqHead();
    this.stats.submitted += taken;
    return taken;
  }

  /** The ops that never wait complete here; true if `sqe` was one of them. */
  private completeAtOnce(sqe: Sqe): boolean {
    switch (sqe.opcode) {
      case L.OP_NOP:
        this.complete(sqe.id, 0, 0);
        return true;
      case L.OP_CANCEL:
        this.complete(sqe.id, this.cancelOp(sqe.arg), 0);
        return true;
      case L.OP_CLOSE:
        this.cancelFd(sqe.fd);
        this.owned.delete(sqe.fd);
        this.complete(sqe.id, this.kernel.close(sqe.fd), 0);
        return true;
      case L.OP_SHUTDOWN: {
        const sock = this.kernel.get(sqe.fd);
        this.complete(sqe.id, sock === undefined ? -EBADF : this.host.tcp.shutdown(sock, sqe.aux), 0);
        // Ops waiting on the fd see the hang-up, as an epoll edge would show it.
        this.runQueue(sqe.fd, READ_SIDE);
        this.runQueue(sqe.fd, WRITE_SIDE);
        return true;
      }
      default:
        return false;
    }
  }

  private start(sqe: Sqe): void {
    if (this.completeAtOnce(sqe)) return;
    const slot = sqe.id & L.SLOT_MASK;
    const op = this.ops[slot];
    if (op.id !== 0) {
      this.complete(sqe.id, -EBUSY, 0); // a core bug: refuse the newcomer
      return;
    }
    op.id = sqe.id;
    op.opcode = sqe.opcode;
    op.fd = sqe.fd;
    op.addr = sqe.addr;
    op.len = sqe.len;
    op.multishot = (sqe.flags & L.SQE_F_MULTISHOT) !== 0;
    op.select = (sqe.flags & L.SQE_F_BUFFER_SELECT) !== 0;
    op.connecting = false;
    op.cqeFlags = 0;
    if (sqe.opcode === L.OP_TIMEOUT) {
      this.startTimeout(op, sqe.arg / 1e6);
      return;
    }
    const side: Side = isWriteSide(op.opcode) ? WRITE_SIDE : READ_SIDE;
    op.where = 1 + side;
    this.queueOf(op.fd)[side].push(slot);
    this.runQueue(op.fd, side);
  }

  /** A TIMEOUT: -ETIME after `ms` on the virtual clock, as io_uring's. */
  private startTimeout(op: Op, ms: number): void {
    op.where = TIMERS;
    const token = ++op.timer;
    const id = op.id;
    this.host.sched.after(ms, () => {
      if (this.closed || op.timer !== token || op.id !== id) return;
      this.finish(op, -ETIME);
    });
  }

  private queueOf(fd: number): [number[], number[]] {
    let q = this.queues.get(fd);
    if (q === undefined) {
      q = [[], []];
      this.queues.set(fd, q);
    }
    return q;
  }

  /** Tries the fd's queue from its head until a call would block. */
  private runQueue(fd: number, side: Side): void {
    const q = this.queues.get(fd)?.[side];
    if (q === undefined) return;
    while (q.length > 0) {
      const op = this.ops[q[0]];
      const res = this.attempt(op);
      if (res === AGAIN) {
        this.stats.eagain++;
        return;
      }
      if (op.more) {
        this.complete(op.id, res, L.CQE_F_MORE | op.cqeFlags);
        op.cqeFlags = 0;
        if (this.fifo.length / 3 < this.view.opCapacity) continue;
        this.retry.add(fd); // room for the final completions first
        return;
      }
      q.shift();
      this.finish(op, res);
    }
  }

  private runRetries(): void {
    if (this.retry.size === 0) return;
    const fds = [...this.retry];
    this.retry.clear();
    for (const fd of fds) this.runQueue(fd, READ_SIDE);
  }

  /** One try of the op's simulated system call: a result, or AGAIN. */
  private attempt(op: Op): number {
    op.more = false;
    const sock = this.kernel.get(op.fd);
    if (sock === undefined) return -EBADF;
    const tcp = this.host.tcp;
    const u8 = this.view.u8;
    switch (op.opcode) {
      case L.OP_ACCEPT: {
        const fd = this.kernel.accept(op.fd);
        if (fd >= 0) {
          this.adopt(fd);
          op.more = op.multishot;
        }
        return fd;
      }
      case L.OP_CONNECT: {
        if (op.connecting) return sock.connectResult;
        const dst = decodeRecord(u8, op.addr);
        if (dst === undefined) return -EINVAL;
        const res = this.kernel.connect(op.fd, dst, dst.family);
        if (res === AGAIN) op.connecting = true;
        return res;
      }
      case L.OP_RECV:
      case L.OP_READ:
        if (op.select) return this.recvSelect(op);
        return tcp.recv(sock, u8.subarray(op.addr, op.addr + op.len));
      case L.OP_SEND:
      case L.OP_WRITE:
        return tcp.send(sock, u8.subarray(op.addr, op.addr + op.len));
      default:
        return -EINVAL; // checkSqe let it through: cannot happen
    }
  }

  /** A buffer-select RECV: the top spare buffer first (-ENOBUFS when none, as
   * io_uring answers); it leaves the pick set only if bytes arrived in it. */
  private recvSelect(op: Op): number {
    if (this.spare.length === 0) return -ENOBUFS;
    const index = this.spare[this.spare.length - 1];
    const at = this.view.bufferOffset(index);
    const res = this.host.tcp.recv(this.kernel.get(op.fd)!, this.view.u8.subarray(at, at + op.len));
    if (res > 0) {
      this.spare.pop();
      this.inSet[index] = 0;
      op.cqeFlags = L.CQE_F_BUFFER | (index << L.CQE_BUFFER_SHIFT);
      op.more = op.multishot;
    }
    return res;
  }

  private finish(op: Op, res: number): void {
    const id = op.id;
    const flags = op.cqeFlags;
    op.id = 0;
    op.where = NOWHERE;
    op.cqeFlags = 0;
    this.complete(id, res, flags);
  }

  private complete(id: number, res: number, flags: number): void {
    this.host.trace.record('cq', this.host.sched.now, this.host.index, id, res, flags);
    if (this.fifo.length === 0 && this.view.cqSpace() > 0) {
      this.view.pushCqe(id, res, flags);
      this.stats.completed++;
    } else this.fifo.push(id, res, flags);
    this.wantTurn();
  }

  private drainFifo(): void {
    let i = 0;
    while (i < this.fifo.length && this.view.cqSpace() > 0) {
      this.view.pushCqe(this.fifo[i], this.fifo[i + 1], this.fifo[i + 2]);
      this.stats.completed++;
      i += 3;
    }
    if (i > 0) this.fifo.splice(0, i);
  }

  // ---- cancellation ----

  /** As io_uring's ASYNC_CANCEL: 0 when the target waited (it completes with
   * -ECANCELED before the cancel), -ENOENT when no op with that id waits. */
  private cancelOp(target: number): number {
    if (target === 0 || target >= L.INTERNAL_ID) return -ENOENT;
    const slot = target & L.SLOT_MASK;
    if (slot >= this.ops.length) return -ENOENT;
    const op = this.ops[slot];
    if (op.id !== target || op.where === NOWHERE) return -ENOENT;
    this.unlink(slot);
    this.finish(op, -ECANCELED);
    return 0;
  }

  private unlink(slot: number): void {
    const op = this.ops[slot];
    if (op.where === TIMERS) op.timer++;
    else if (op.where !== NOWHERE) {
      const q = this.queues.get(op.fd)?.[op.where - 1];
      const at = q === undefined ? -1 : q.indexOf(slot);
      if (at >= 0) q!.splice(at, 1);
    }
    op.where = NOWHERE;
  }

  /** Every op waiting on `fd` completes with -ECANCELED (reads, then writes):
   * it is about to be closed. */
  private cancelFd(fd: number): void {
    const q = this.queues.get(fd);
    if (q === undefined) return;
    this.queues.delete(fd);
    this.retry.delete(fd);
    for (const side of q) {
      for (const slot of side) {
        const op = this.ops[slot];
        op.where = NOWHERE;
        this.finish(op, -ECANCELED);
      }
    }
  }

  // ---- descriptors and the sync helpers ----

  /** Owns `fd`: its socket's readiness runs its queues. */
  private adopt(fd: number): void {
    this.owned.add(fd);
    const sock = this.kernel.get(fd)!;
    sock.onReady = (side) => {
      if (!this.closed) this.runQueue(fd, side);
    };
  }

  socket(family: 1 | 4 | 6, type: 1 | 2 | 5 = 1): number {
    if (this.closed) return -EBADF;
    // TCP only: Unix sockets and UDP are not modelled (see unmodelled.ts).
    if (family === 1) return -EAFNOSUPPORT;
    if (type !== 1) return -EPROTONOSUPPORT;
    const fd = this.kernel.socket(family);
    if (fd >= 0) this.adopt(fd);
    return fd;
  }

  pipe(): [number, number] | number {
    return -ENOSYS;
  }

  setOption(fd: number, option: number, value: number): number {
    return this.owned.has(fd) ? this.kernel.setOption(fd, option, value) : -EBADF;
  }

  getOption(fd: number, option: number): number {
    return this.owned.has(fd) ? this.kernel.getOption(fd, option) : -EBADF;
  }

  bind(fd: number): number {
    if (!this.owned.has(fd)) return -EBADF;
    const at = decodeRecord(this.view.u8, this.view.addrStaging);
    return at === undefined ? -EINVAL : this.kernel.bind(fd, at, at.family);
  }

  listen(fd: number, backlog: number): number {
    return this.owned.has(fd) ? this.kernel.listen(fd, backlog) : -EBADF;
  }

  encodeAddress(ip: string, port: number, offset: number): number {
    if (!this.view.isAddrRecord(offset) || !Number.isInteger(port) || port < 0 || port > 65535) return -EINVAL;
    return encodeRecord(this.view.u8, offset, ip, port) < 0 ? -EINVAL : 0;
  }

  localAddress(fd: number): HostAddress | number {
    return this.address(fd, 'local');
  }

  peerAddress(fd: number): HostAddress | number {
    return this.address(fd, 'remote');
  }

  private address(fd: number, which: 'local' | 'remote'): HostAddress | number {
    if (!this.owned.has(fd)) return -EBADF;
    const at: Endpoint | number = this.kernel.address(fd, which);
    if (typeof at === 'number') return at;
    return { address: at.ip, family: at.ip.includes(':') ? 'IPv6' : 'IPv4', port: at.port };
  }

  closeFd(fd: number): number {
    if (this.closed || !this.owned.has(fd)) return -EBADF;
    this.cancelFd(fd);
    this.owned.delete(fd);
    return this.kernel.close(fd);
  }

  createWaker(_onWake: () => void): number {
    return -ENOSYS; // one thread per simulated host: no channels between threads (yet)
  }

  wake(_token: number): number {
    return -ESRCH;
  }

  forgetFd(fd: number): number {
    return this.owned.has(fd) ? -EOPNOTSUPP : -EBADF;
  }

  adoptFd(_fd: number): number {
    return -EOPNOTSUPP;
  }

  counters(): DriverCounters {
    return {
      enters: this.stats.enters,
      submitted: this.stats.submitted,
      completed: this.stats.completed,
      openFds: this.owned.size,
      wakeups: 0,
      eagain: this.stats.eagain,
      wakesMsgRing: 0,
      wakesEventfd: 0,
      ringWakes: 0,
    };
  }

  /** Ops in flight in the host (waiting in a queue or a TIMEOUT), for invariant checks. */
  get waiting(): number {
    let n = 0;
    for (const op of this.ops) if (op.id !== 0) n++;
    return n;
  }

  /** Idempotent: waiting ops get no CQE (as io_uring's teardown); every fd it owns is closed. */
  close(): void {
    if (this.closed) return;
    this.setRef(false);
    this.closed = true;
    this.turnToken++;
    for (const fd of [...this.owned]) this.kernel.close(fd);
    this.owned.clear();
    this.queues.clear();
    for (const op of this.ops) op.id = 0;
  }
}
