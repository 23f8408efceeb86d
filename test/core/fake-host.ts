// A tiny host for driving the core alone: it takes SQEs the way the io_uring
// driver does (between sq_head and sq_tail, advancing sq_head) and writes CQEs
// (advancing cq_tail). Everything it knows comes from src/layout.ts.

import * as L from '../../src/core/layout';
import { type Core, type CoreExports, createCore } from '../../src/core/wasm';

export const ERRNO = {
  ENOENT: 2,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EINVAL: 22,
  ENOSPC: 28,
  ETIME: 62,
  ENOBUFS: 105,
  EALREADY: 114,
  ECANCELED: 125,
} as const;

/** opState values. */
export const STATE = { QUEUED: 1, SUBMITTED: 2, COMPLETED: 3, DELIVERED: 4, ARMED: 5 } as const;

/** counter(k) indices. */
export const COUNTER = {
  IN_USE: 0,
  SUBMITTED: 1,
  COMPLETED: 2,
  LENT: 3,
  HELD: 4,
  TIMERS: 5,
  STALE: 6,
  PROVIDED: 7,
} as const;

/** bufOwner values. */
export const OWNER = { FREE: 0, PROGRAM: 1, KERNEL: 2, PROVIDED: 3 } as const;

/** CQE flags naming recv-set buffer `index`, as a driver writes them. */
export function bufferFlags(index: number): number {
  return (L.CQE_F_BUFFER | (index << L.CQE_BUFFER_SHIFT)) >>> 0;
}

export interface Sqe {
  id: number;
  opcode: number;
  flags: number;
  fd: number;
  addr: number;
  len: number;
  aux: number;
  arg: bigint;
}

export interface Delivery {
  id: number;
  res: number;
  flags: number;
  opcode: number;
}

export class FakeHost {
  constructor(
    readonly core: Core,
    readonly header: number,
  ) {}

  /** A fresh view: init grew memory, which detached earlier buffers. */
  get view(): DataView {
    return new DataView(this.core.memory.buffer);
  }
  field(offset: number): number {
    return this.view.getUint32(this.header + offset, true);
  }
  private setField(offset: number, value: number): void {
    this.view.setUint32(this.header + offset, value >>> 0, true);
  }

  /** SQEs written and not yet taken. */
  pending(): number {
    return (this.field(L.H_SQ_TAIL) - this.field(L.H_SQ_HEAD)) >>> 0;
  }

  /** Reads the SQE at free-running index `index` without taking it. */
  sqeAt(index: number): Sqe {
    const base = this.field(L.H_SQ_ENTRIES) + (index & this.field(L.H_SQ_MASK)) * L.SQE_SIZE;
    const v = this.view;
    return {
      id: v.getUint32(base + L.SQE_ID, true),
      opcode: v.getUint8(base + L.SQE_OPCODE),
      flags: v.getUint8(base + L.SQE_FLAGS),
      fd: v.getInt32(base + L.SQE_FD, true),
      addr: v.getUint32(base + L.SQE_ADDR, true),
      len: v.getUint32(base + L.SQE_LEN, true),
      aux: v.getUint32(base + L.SQE_AUX, true),
      arg: v.getBigUint64(base + L.SQE_ARG, true),
    };
  }

  /** Takes every entry of the provide ring (recv-set buffers put in the pick set), as a driver's flush does. */
  takeProvided(): number[] {
    const out: number[] = [];
    let head = this.field(L.H_PROVIDE_HEAD);
    const tail = this.field(L.H_PROVIDE_TAIL);
    const base = this.field(L.H_PROVIDE_ENTRIES);
    const mask = this.field(L.H_PROVIDE_MASK);
    while (head !== tail) {
      out.push(this.view.getUint32(base + (head & mask) * L.PROVIDE_ENTRY_SIZE, true));
      head = (head + 1) >>> 0;
    }
    this.setField(L.H_PROVIDE_HEAD, head);
    return out;
  }

  /** Takes up to `max` SQEs, as a driver's flush does. */
  take(max = Infinity): Sqe[] {
    const taken: Sqe[] = [];
    let head = this.field(L.H_SQ_HEAD);
    const tail = this.field(L.H_SQ_TAIL);
    while (head !== tail && taken.length < max) {
      taken.push(this.sqeAt(head));
      head = (head + 1) >>> 0;
    }
    this.setField(L.H_SQ_HEAD, head);
    return taken;
  }

  /** Room left in the CQ. */
  cqRoom(): number {
    return this.field(L.H_CQ_MASK) + 1 - ((this.field(L.H_CQ_TAIL) - this.field(L.H_CQ_HEAD)) >>> 0);
  }

  /** Writes one CQE and publishes it. */
  complete(id: number, res: number, flags = 0): void {
    if (this.cqRoom() === 0) throw new Error('fake host: CQ full');
    const tail = this.field(L.H_CQ_TAIL);
    const base = this.field(L.H_CQ_ENTRIES) + (tail & this.field(L.H_CQ_MASK)) * L.CQE_SIZE;
    const v = this.view;
    v.setUint32(base + L.CQE_ID, id >>> 0, true);
    v.setInt32(base + L.CQE_RES, res, true);
    v.setUint32(base + L.CQE_FLAGS, flags >>> 0, true);
    this.setField(L.H_CQ_TAIL, tail + 1);
  }

  /** Takes every SQE and completes it with `res` (NOPs and cancels with 0). */
  completeAll(res = 0): Sqe[] {
    const taken = this.take();
    for (const sqe of taken) this.complete(sqe.id, sqe.opcode === L.OP_NOP || sqe.opcode === L.OP_CANCEL ? 0 : res);
    return taken;
  }

  /** The deliveries of the current batch (dq_count entries). */
  deliveries(): Delivery[] {
    const count = this.field(L.H_DQ_COUNT);
    const base = this.field(L.H_DQ_ENTRIES);
    const v = this.view;
    const out: Delivery[] = [];
    for (let i = 0; i < count; i++) {
      const at = base + i * L.DQE_SIZE;
      out.push({
        id: v.getUint32(at + L.DQE_ID, true),
        res: v.getInt32(at + L.DQE_RES, true),
        flags: v.getUint32(at + L.DQE_FLAGS, true),
        opcode: v.getUint32(at + L.DQE_OPCODE, true),
      });
    }
    return out;
  }
}

export interface Harness {
  x: CoreExports;
  host: FakeHost;
  core: Core;
  header: number;
  /** reap and return the batch, checking the return value against dq_count and the invariants. */
  reap(now?: number, budget?: number): Delivery[];
}

export interface Sizes {
  ops?: number;
  buffers?: number;
  bufferSize?: number;
  cq?: number;
  provided?: number;
}

export function setup(sizes: Sizes = {}): Harness {
  const core = createCore();
  const x = core.exports;
  const header = x.init(
    sizes.ops ?? 16,
    sizes.buffers ?? 4,
    sizes.bufferSize ?? 256,
    sizes.cq ?? 32,
    sizes.provided ?? 0,
  );
  if (header <= 0) throw new Error(`init failed: ${header}`);
  const host = new FakeHost(core, header);
  return {
    x,
    host,
    core,
    header,
    reap(now = 0, budget = 1 << 30) {
      const n = x.reap(now, budget);
      if (n < 0) throw new Error(`reap failed: ${n}`);
      const batch = host.deliveries();
      if (batch.length !== n) throw new Error(`reap returned ${n}, dq_count ${batch.length}`);
      const broken = x.checkInvariants();
      if (broken !== 0) throw new Error(`invariant ${broken} broken after reap`);
      return batch;
    },
  };
}
