// Random interleavings of program, host and clock against a model of what the
// contract promises: invariants hold after every step, nothing is delivered
// twice or after abandon, and once everything drains every op that was not
// abandoned was delivered exactly once and every buffer is back.
import fc from 'fast-check';
import * as L from '../../src/core/layout';
import { COUNTER, ERRNO, OWNER, STATE, bufferFlags, setup, type Harness } from './fake-host';

type Action =
  | { kind: 'nop' }
  | { kind: 'recv'; len: number }
  | { kind: 'recvSelect'; len: number; multishot: boolean }
  | { kind: 'provide' }
  | { kind: 'bogus'; pick: number; buffer: number }
  | { kind: 'accept'; multishot: boolean }
  | { kind: 'timer'; delay: number }
  | { kind: 'take'; max: number }
  | { kind: 'complete'; pick: number; res: number; more: boolean }
  | { kind: 'stale'; pick: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'abandon'; pick: number }
  | { kind: 'free'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'reap'; budget: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ kind: 'nop' as const }),
  fc.record({ kind: fc.constant('recv' as const), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('recvSelect' as const), len: fc.integer({ min: 1, max: 64 }), multishot: fc.boolean() }),
  fc.constant({ kind: 'provide' as const }),
  // Buffers outside the recv set (2, 3: the general pool; 4, 5: past it): a
  // recv-set buffer the host names while the program holds it could be
  // released (and so provided) before the core reads the CQE.
  fc.record({ kind: fc.constant('bogus' as const), pick: fc.nat(), buffer: fc.integer({ min: 2, max: 5 }) }),
  fc.record({ kind: fc.constant('accept' as const), multishot: fc.boolean() }),
  fc.record({ kind: fc.constant('timer' as const), delay: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 300_000 })) }),
  fc.record({ kind: fc.constant('take' as const), max: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), res: fc.integer({ min: -130, max: 4096 }), more: fc.boolean() }),
  fc.record({ kind: fc.constant('stale' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('abandon' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 400_000 })) }),
  fc.record({ kind: fc.constant('reap' as const), budget: fc.integer({ min: 1, max: 12 }) }),
);

interface ModelOp {
  id: number;
  timer: boolean;
  multishot: boolean;
  buffer: number; // -1 none
  select: boolean; // buffer-select RECV: the host picks a recv-set buffer
  bogus: boolean; // the host named a buffer outside the pick set: must be delivered -EFAULT
  abandoned: boolean;
  finals: number; // final deliveries seen
  mustBeCanceled: boolean; // cancelled while QUEUED: must be delivered -ECANCELED
}

/** What the runs exercised, summed over all of them: the generator must reach every path. */
const reached = {
  moreDeliveries: 0, finals: 0, canceledInQueue: 0, canceledInKernel: 0, abandonedInFlight: 0,
  timersFired: 0, staleDropped: 0, carriedOver: 0, tableFull: 0,
  selectDelivered: 0, selectNoBuffers: 0, selectEof: 0, bogusRejected: 0, recvSetReleased: 0, selectMore: 0,
};

/** Recv-set buffers: the pool's first RECV_SET buffers. */
const RECV_SET = 2;

/** An SQE the host took and still owes completions for. */
interface Taken { id: number; opcode: number; multishot: boolean; select: boolean }

class World {
  readonly h: Harness;
  now = 0;
  readonly ops = new Map<number, ModelOp>();
  readonly everIssued: number[] = [];
  readonly retired: number[] = [];
  readonly taken: Taken[] = [];
  readonly held: number[] = []; // buffers the program holds
  readonly picks: number[] = []; // the kernel's pick set: recv-set buffers the host took from the provide ring
  staleWritten = 0;

  constructor() {
    this.h = setup({ ops: 6, buffers: 4, bufferSize: 64, cq: 4, provided: RECV_SET });
  }

  get x() { return this.h.x; }
  get host() { return this.h.host; }

  private issued(id: number, op: Omit<ModelOp, 'id' | 'abandoned' | 'finals' | 'mustBeCanceled' | 'select' | 'bogus'> & { select?: boolean }): void {
    if (id < 0) {
      expect(id).toBe(-ERRNO.ENOSPC);
      expect(this.x.counter(COUNTER.IN_USE)).toBe(6);
      reached.tableFull++;
      return;
    }
    expect(this.ops.has(id)).toBe(false);
    this.ops.set(id, { id, abandoned: false, finals: 0, mustBeCanceled: false, select: false, bogus: false, ...op });
    this.everIssued.push(id);
  }

  /** Some id ever issued, its state before the call, and its model op while the core still knows it. */
  private target(pick: number): { id: number; before: number; op?: ModelOp } | undefined {
    if (this.everIssued.length === 0) return undefined;
    const id = this.everIssued[pick % this.everIssued.length];
    const before = this.x.opState(id);
    const op = this.ops.get(id);
    if (before !== -ERRNO.ENOENT) return { id, before, op };
    // Only an abandoned op disappears without the model retiring it.
    expect(op === undefined || op.abandoned).toBe(true);
    return { id, before };
  }

  step(a: Action): void {
    const { x, host } = this;
    switch (a.kind) {
      case 'nop':
        this.issued(x.submitNop(), { timer: false, multishot: false, buffer: -1 });
        break;
      case 'recv': {
        let buffer = this.held.pop();
        if (buffer === undefined) {
          const b = x.bufAlloc();
          if (b < 0) { expect(b).toBe(-ERRNO.ENOBUFS); break; }
          buffer = b;
        }
        const id = x.submitRecv(5, buffer, 0, a.len);
        if (id < 0) this.held.push(buffer);
        else expect(x.bufOwner(buffer)).toBe(2);
        this.issued(id, { timer: false, multishot: false, buffer });
        break;
      }
      case 'recvSelect':
        this.issued(x.submitRecvSelect(5, a.multishot ? 64 : a.len, a.multishot ? 1 : 0), { timer: false, multishot: a.multishot, buffer: -1, select: true });
        break;
      case 'provide':
        for (const b of host.takeProvided()) {
          expect(b).toBeLessThan(RECV_SET);
          expect(this.picks).not.toContain(b);
          this.picks.push(b);
        }
        break;
      case 'bogus': {
        // The host names a buffer that is not in the pick set: never accepted.
        const index = this.taken.findIndex((t) => t.select);
        if (index < 0 || host.cqRoom() === 0) break;
        const t = this.taken.splice(index, 1)[0];
        host.complete(t.id, 1 + (a.pick % 64), bufferFlags(a.buffer));
        const op = this.ops.get(t.id);
        if (op) op.bogus = true;
        break;
      }
      case 'accept':
        this.issued(x.submitAccept(3, a.multishot ? 1 : 0), { timer: false, multishot: a.multishot, buffer: -1 });
        break;
      case 'timer':
        this.issued(x.timerStart(this.now, a.delay), { timer: true, multishot: false, buffer: -1 });
        break;
      case 'take':
        for (const sqe of host.take(a.max)) {
          this.taken.push({
            id: sqe.id, opcode: sqe.opcode, multishot: (sqe.flags & L.SQE_F_MULTISHOT) !== 0,
            select: (sqe.flags & L.SQE_F_BUFFER_SELECT) !== 0,
          });
        }
        break;
      case 'complete': {
        if (this.taken.length === 0 || host.cqRoom() === 0) break;
        const index = a.pick % this.taken.length;
        const t = this.taken[index];
        if (t.select && a.more && t.multishot && a.res > 0 && this.picks.length > 0) {
          // A multishot buffer-select RECV stays armed: each MORE CQE names a buffer.
          const [buffer] = this.picks.splice(a.pick % this.picks.length, 1);
          host.complete(t.id, a.res, L.CQE_F_MORE | bufferFlags(buffer));
          break;
        }
        if (t.select) {
          this.taken.splice(index, 1);
          this.completeSelect(t.id, a.res, a.pick);
          break;
        }
        const more = a.more && t.multishot && t.opcode === L.OP_ACCEPT;
        host.complete(t.id, a.res, more ? L.CQE_F_MORE : 0);
        if (!more) this.taken.splice(index, 1);
        break;
      }
      case 'stale': {
        if (host.cqRoom() === 0) break;
        const id = this.retired.length > 0 ? this.retired[a.pick % this.retired.length] : (a.pick | 1) << 16;
        if (this.ops.has(id)) break;
        host.complete(id, 1);
        this.staleWritten++;
        break;
      }
      case 'cancel': {
        const t = this.target(a.pick);
        if (!t) break;
        const r = x.cancel(t.id);
        if (!t.op) { expect(r).toBe(-ERRNO.ENOENT); break; }
        expect(r).toBe(t.before === STATE.COMPLETED || t.before === STATE.DELIVERED ? 0 : 1);
        if (t.before === STATE.QUEUED) t.op.mustBeCanceled = true;
        if (t.before === STATE.QUEUED) reached.canceledInQueue++;
        if (t.before === STATE.SUBMITTED) reached.canceledInKernel++;
        break;
      }
      case 'abandon': {
        const t = this.target(a.pick);
        if (!t) break;
        const r = x.abandon(t.id);
        if (!t.op) { expect(r).toBe(-ERRNO.ENOENT); break; }
        expect(r).toBe(0);
        if (t.before !== STATE.DELIVERED) t.op.abandoned = true;
        if (t.before === STATE.SUBMITTED) reached.abandonedInFlight++;
        if (t.before === STATE.ARMED) this.forget(t.op);
        break;
      }
      case 'free': {
        if (this.held.length === 0) break;
        const [buffer] = this.held.splice(a.pick % this.held.length, 1);
        expect(x.bufFree(buffer)).toBe(0);
        expect(x.bufOwner(buffer)).toBe(buffer < RECV_SET ? OWNER.PROVIDED : OWNER.FREE);
        if (buffer < RECV_SET) reached.recvSetReleased++;
        expect(x.bufFree(buffer)).toBe(-ERRNO.EINVAL); // twice: refused
        break;
      }
      case 'advance':
        this.now += a.ms;
        break;
      case 'reap':
        this.reap(a.budget);
        break;
    }
    expect(x.checkInvariants()).toBe(0);
  }

  /** A buffer-select RECV's completion as a kernel writes it: data in a
   * buffer from the pick set, -ENOBUFS when the set is empty, EOF or an error
   * (EOF sometimes consuming a buffer, as the kernel may). */
  private completeSelect(id: number, res: number, pick: number): void {
    if (res < 0 || (res === 0 && (pick & 1) === 0)) return this.h.host.complete(id, res);
    if (this.picks.length === 0) return this.h.host.complete(id, -ERRNO.ENOBUFS);
    const [buffer] = this.picks.splice(pick % this.picks.length, 1);
    this.h.host.complete(id, res, bufferFlags(buffer));
  }

  /** An op that is over for the model: its id is stale from now on. */
  private forget(op: ModelOp): void {
    this.ops.delete(op.id);
    this.retired.push(op.id);
  }

  reap(budget: number): number {
    // Ops delivered by the previous reap are retired by this one.
    for (const op of [...this.ops.values()]) if (op.finals === 1) this.forget(op);
    // Abandoned ops are freed silently, whenever: learn it from opState.
    for (const op of [...this.ops.values()]) if (op.abandoned && this.x.opState(op.id) === -ERRNO.ENOENT) this.forget(op);
    const batch = this.h.reap(this.now, budget);
    if (this.host.field(L.H_READY) > 0) reached.carriedOver++;
    for (const d of batch) {
      const op = this.ops.get(d.id);
      expect(op).toBeDefined();
      expect(op!.abandoned).toBe(false);
      expect(op!.finals).toBe(0);
      expect(d.opcode).toBe(op!.timer ? L.OP_TIMER : d.opcode);
      if (d.flags & L.CQE_F_MORE) {
        expect(op!.multishot).toBe(true);
        reached.moreDeliveries++;
        if (op!.select) {
          // Each MORE delivery hands its own buffer to the program.
          expect(d.res).toBeGreaterThan(0);
          expect(d.flags & L.CQE_F_BUFFER).toBe(L.CQE_F_BUFFER);
          const buffer = d.flags >>> L.CQE_BUFFER_SHIFT;
          expect(buffer).toBeLessThan(RECV_SET);
          expect(this.x.bufOwner(buffer)).toBe(OWNER.PROGRAM);
          this.held.push(buffer);
          reached.selectMore++;
        }
        continue;
      }
      op!.finals++;
      reached.finals++;
      if (op!.timer && d.res === 0) reached.timersFired++;
      if (op!.mustBeCanceled) expect(d.res).toBe(-ERRNO.ECANCELED);
      if (op!.timer) expect([0, -ERRNO.ECANCELED]).toContain(d.res);
      if (op!.buffer >= 0) {
        expect(this.x.bufOwner(op!.buffer)).toBe(1);
        this.held.push(op!.buffer);
      }
      if (op!.bogus) {
        expect([-ERRNO.EFAULT, -ERRNO.ECANCELED]).toContain(d.res);
        if (d.res === -ERRNO.EFAULT) reached.bogusRejected++;
      }
      if (op!.select) {
        if (d.flags & L.CQE_F_BUFFER) {
          const buffer = d.flags >>> L.CQE_BUFFER_SHIFT;
          expect(d.res).toBeGreaterThan(0);
          expect(buffer).toBeLessThan(RECV_SET);
          expect(this.x.bufOwner(buffer)).toBe(OWNER.PROGRAM);
          this.held.push(buffer);
          reached.selectDelivered++;
        } else {
          expect(d.res).toBeLessThanOrEqual(0);
          if (d.res === -ERRNO.ENOBUFS) reached.selectNoBuffers++;
          if (d.res === 0) reached.selectEof++;
        }
      }
    }
    for (const op of [...this.ops.values()]) if (op.abandoned && this.x.opState(op.id) === -ERRNO.ENOENT) this.forget(op);
    return batch.length;
  }

  /** The host finishes everything, the clock runs out, the program reaps until idle. */
  drain(): void {
    const { x, host } = this;
    for (let round = 0; round < 10_000; round++) {
      for (const sqe of host.take()) this.taken.push({ id: sqe.id, opcode: sqe.opcode, multishot: false, select: false });
      while (this.taken.length > 0 && host.cqRoom() > 0) host.complete(this.taken.shift()!.id, 0);
      this.picks.push(...host.takeProvided());
      this.now += 1_000_000;
      this.reap(5);
      if (this.taken.length === 0 && host.pending() === 0 && x.nextTimeout(this.now) === -1) break;
    }
    this.reap(5); // retire the last batch
    for (const op of this.ops.values()) {
      expect(op.abandoned).toBe(true); // every other op was delivered and retired
    }
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.counter(COUNTER.LENT)).toBe(0);
    expect(x.counter(COUNTER.TIMERS)).toBe(0);
    expect(x.counter(COUNTER.SUBMITTED)).toBe(x.counter(COUNTER.COMPLETED));
    expect(x.counter(COUNTER.STALE)).toBe(this.staleWritten);
    reached.staleDropped += this.staleWritten;
    expect(x.counter(COUNTER.HELD)).toBe(this.held.length);
    for (const b of this.held) expect(x.bufFree(b)).toBe(0);
    this.picks.push(...host.takeProvided());
    // Every recv-set buffer is back in the pick set, once.
    expect(x.counter(COUNTER.PROVIDED)).toBe(RECV_SET);
    expect([...this.picks].sort()).toEqual([0, 1]);
    expect(x.counter(COUNTER.HELD)).toBe(0);
    expect(x.checkInvariants()).toBe(0);
  }
}

describe('random interleavings', () => {
  test('invariants, exactly-once delivery, nothing leaks', () => {
    fc.assert(
      fc.property(fc.array(action, { maxLength: 300, size: 'large' }), (actions) => {
        const world = new World();
        for (const a of actions) world.step(a);
        world.drain();
      }),
      { numRuns: 400 },
    );
    for (const [path, count] of Object.entries(reached)) {
      expect([path, count > 0]).toEqual([path, true]);
    }
  });
});
