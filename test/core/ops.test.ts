import * as L from '../../src/core/layout';
import { createCore } from '../../src/core/wasm';
import { COUNTER, ERRNO, STATE, setup } from './fake-host';

describe('init', () => {
  test('lays out the header with the layout constants and sized rings', () => {
    const { host, x } = setup({ ops: 5, buffers: 3, bufferSize: 128, cq: 3 });
    expect(host.field(L.H_MAGIC)).toBe(L.LAYOUT_MAGIC);
    expect(host.field(L.H_VERSION)).toBe(L.LAYOUT_VERSION);
    expect(host.field(L.H_HEADER_SIZE)).toBe(L.HEADER_SIZE);
    expect(host.field(L.H_OP_CAPACITY)).toBe(5);
    expect(host.field(L.H_SQ_MASK)).toBe(15); // next pow2 >= 2 * 5
    expect(host.field(L.H_CQ_MASK)).toBe(7); // next pow2 >= max(3, 5)
    expect(host.field(L.H_DQ_CAPACITY)).toBe(8);
    expect(host.field(L.H_BUFFER_SIZE)).toBe(128);
    expect(host.field(L.H_BUFFER_COUNT)).toBe(3);
    expect(host.field(L.H_ARENA) % 64).toBe(0);
    expect(host.header % 64).toBe(0);
    expect(host.field(L.H_MEMORY_END)).toBeLessThanOrEqual(host.core.memory.buffer.byteLength);
    expect(host.field(L.H_ARENA) + 3 * 128).toBeLessThanOrEqual(host.field(L.H_MEMORY_END));
    expect(x.checkInvariants()).toBe(0);
  });

  test('refuses bad sizes, and a second init', () => {
    const x = createCore().exports;
    expect(x.init(0, 1, 64, 8)).toBe(-ERRNO.EINVAL);
    expect(x.init(L.MAX_OP_CAPACITY + 1, 1, 64, 8)).toBe(-ERRNO.EINVAL);
    expect(x.init(4, -1, 64, 8)).toBe(-ERRNO.EINVAL);
    expect(x.init(4, 1, 100, 8)).toBe(-ERRNO.EINVAL); // not a multiple of 64
    expect(x.init(4, 1, 0, 8)).toBe(-ERRNO.EINVAL);
    expect(x.init(4, 1, 64, 0)).toBe(-ERRNO.EINVAL);
    expect(x.init(4, 1 << 20, 1 << 24, 8)).toBe(-ERRNO.ENOMEM); // 16 TiB
    expect(x.init(4, 2, 64, 8)).toBeGreaterThan(0); // refusals left nothing behind
    expect(x.init(4, 2, 64, 8)).toBe(-ERRNO.EALREADY);
  });

  test('memory that cannot grow is -ENOMEM', () => {
    const core = createCore();
    // 1 GiB of buffers: more than this process's Wasm memory may be allowed to
    // grow to on some machines, so build a memory with a small maximum instead.
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const instance = new WebAssembly.Instance(
      new WebAssembly.Module(require('node:fs').readFileSync(require('../../src/core/wasm').coreWasmPath())),
      { env: { memory } },
    );
    const x = instance.exports as unknown as typeof core.exports;
    x._initialize();
    expect(x.init(4, 64, 4096, 8)).toBe(-ERRNO.ENOMEM);
    expect(x.init(4, 1, 64, 8)).toBeGreaterThan(0);
  });

  test('calls before init are refused without touching memory', () => {
    const x = createCore().exports;
    expect(x.submitNop()).toBe(-ERRNO.EINVAL);
    expect(x.timerStart(0, 1)).toBe(-ERRNO.EINVAL);
    expect(x.reap(0, 8)).toBe(-ERRNO.EINVAL);
    expect(x.bufAlloc()).toBe(-ERRNO.ENOBUFS);
    expect(x.cancel(1 << 16)).toBe(-ERRNO.ENOENT);
    expect(x.nextTimeout(0)).toBe(-1);
    expect(x.checkInvariants()).toBe(0);
  });

  test('the agreement table matches src/layout.ts', () => {
    const x = createCore().exports;
    expect(x.layoutTableLength()).toBe(L.LAYOUT_TABLE.length);
    L.LAYOUT_TABLE.forEach(([, value], i) => {
      expect(x.layoutTable(i)).toBe(value);
    });
    expect(x.layoutTable(-1)).toBe(-ERRNO.EINVAL);
    expect(x.layoutTable(L.LAYOUT_TABLE.length)).toBe(-ERRNO.EINVAL);
  });
});

describe('op lifecycle', () => {
  test('a NOP goes QUEUED -> SUBMITTED -> COMPLETED -> DELIVERED -> freed', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitNop();
    expect(id).toBeGreaterThan(0);
    expect(x.opState(id)).toBe(STATE.QUEUED);
    expect(x.counter(COUNTER.IN_USE)).toBe(1);
    const [sqe] = host.take();
    expect(sqe).toEqual({ id, opcode: L.OP_NOP, flags: 0, fd: -1, addr: 0, len: 0, aux: 0, arg: 0n });
    expect(x.opState(id)).toBe(STATE.SUBMITTED);
    host.complete(id, 0);
    expect(x.opState(id)).toBe(STATE.SUBMITTED); // nothing happens before reap
    expect(x.nextTimeout(0)).toBe(0); // a CQE is waiting
    expect(h.reap()).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_NOP }]);
    expect(x.opState(id)).toBe(STATE.DELIVERED);
    expect(x.counter(COUNTER.COMPLETED)).toBe(1);
    expect(h.reap()).toEqual([]);
    expect(x.opState(id)).toBe(-ERRNO.ENOENT); // retired: the id is stale now
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.counter(COUNTER.SUBMITTED)).toBe(1);
    expect(host.field(L.H_CQ_HEAD)).toBe(1);
    expect(x.nextTimeout(0)).toBe(-1);
  });

  test('each op kind writes its SQE as the layout says', () => {
    const h = setup({ buffers: 4, bufferSize: 256 });
    const { x, host } = h;
    const arena = host.field(L.H_ARENA);
    const buf = x.bufAlloc();
    const buf2 = x.bufAlloc();
    const buf3 = x.bufAlloc();
    const buf4 = x.bufAlloc();
    const ids = {
      accept: x.submitAccept(5, 0),
      acceptMulti: x.submitAccept(5, 1),
      recv: x.submitRecv(6, buf, 16, 100),
      send: x.submitSend(6, buf2, 0, 256),
      read: x.submitRead(7, buf3, 64, 8, 4096),
      write: x.submitWrite(7, buf4, 0, 1, -1),
      close: x.submitClose(8),
      shutdown: x.submitShutdown(9, 1),
      timeout: x.submitTimeout(1.5),
    };
    const sqes = host.take();
    const by = (id: number) => sqes.find((s) => s.id === id)!;
    expect(by(ids.accept)).toMatchObject({ opcode: L.OP_ACCEPT, flags: 0, fd: 5 });
    expect(by(ids.acceptMulti)).toMatchObject({ opcode: L.OP_ACCEPT, flags: L.SQE_F_MULTISHOT, fd: 5 });
    expect(by(ids.recv)).toMatchObject({ opcode: L.OP_RECV, fd: 6, addr: arena + buf * 256 + 16, len: 100, arg: 0n });
    expect(by(ids.send)).toMatchObject({ opcode: L.OP_SEND, fd: 6, addr: arena + buf2 * 256, len: 256 });
    expect(by(ids.read)).toMatchObject({ opcode: L.OP_READ, fd: 7, addr: arena + buf3 * 256 + 64, len: 8, arg: 4096n });
    expect(by(ids.write)).toMatchObject({ opcode: L.OP_WRITE, fd: 7, len: 1, arg: 0xffffffffffffffffn });
    expect(by(ids.close)).toMatchObject({ opcode: L.OP_CLOSE, fd: 8 });
    expect(by(ids.shutdown)).toMatchObject({ opcode: L.OP_SHUTDOWN, fd: 9, aux: 1 });
    expect(by(ids.timeout)).toMatchObject({ opcode: L.OP_TIMEOUT, fd: -1, arg: 1_500_000n });
    for (const sqe of sqes) host.complete(sqe.id, sqe.opcode === L.OP_TIMEOUT ? -ERRNO.ETIME : 3);
    const batch = h.reap();
    expect(batch.map((d) => d.id)).toEqual(sqes.map((s) => s.id)); // CQ order
    expect(batch.map((d) => d.opcode)).toEqual(sqes.map((s) => s.opcode));
    expect(batch.find((d) => d.id === ids.timeout)!.res).toBe(0); // -ETIME is a fired timeout
    expect(batch.find((d) => d.id === ids.recv)!.res).toBe(3);
  });

  test('CONNECT copies the staging record into the op record named by the SQE', () => {
    const h = setup({ ops: 4 });
    const { x, host } = h;
    const staging = host.field(L.H_ADDR_STAGING);
    const records = host.field(L.H_ADDR_RECORDS);
    const bytes = new Uint8Array(host.core.memory.buffer);
    for (let i = 0; i < L.ADDR_RECORD_SIZE; i++) bytes[staging + i] = i + 1;
    const id = x.submitConnect(3);
    bytes.fill(0, staging, staging + L.ADDR_RECORD_SIZE); // staging is reusable at once
    const [sqe] = host.take();
    expect(sqe.opcode).toBe(L.OP_CONNECT);
    expect(sqe.len).toBe(L.ADDR_RECORD_SIZE);
    expect(sqe.addr).toBe(records + (id & L.SLOT_MASK) * L.ADDR_RECORD_SIZE);
    const copied = new Uint8Array(host.core.memory.buffer, sqe.addr, L.ADDR_RECORD_SIZE);
    expect(Array.from(copied)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
  });

  test('bad arguments are refused and change nothing', () => {
    const h = setup({ buffers: 2, bufferSize: 128 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    expect(x.submitAccept(-1, 0)).toBe(-ERRNO.EBADF);
    expect(x.submitAccept(3, 2)).toBe(-ERRNO.EINVAL);
    expect(x.submitConnect(-1)).toBe(-ERRNO.EBADF);
    expect(x.submitRecv(-1, buf, 0, 1)).toBe(-ERRNO.EBADF);
    expect(x.submitSend(3, buf, 0, 0)).toBe(-ERRNO.EINVAL); // empty
    expect(x.submitSend(3, buf, -1, 4)).toBe(-ERRNO.EINVAL);
    expect(x.submitSend(3, buf, 100, 29)).toBe(-ERRNO.EINVAL); // past the end
    expect(x.submitSend(3, 7, 0, 4)).toBe(-ERRNO.EINVAL); // no such buffer
    expect(x.submitRead(3, buf, 0, 4, -2)).toBe(-ERRNO.EINVAL);
    expect(x.submitRead(3, buf, 0, 4, 1.5)).toBe(-ERRNO.EINVAL);
    expect(x.submitWrite(3, buf, 0, 4, NaN)).toBe(-ERRNO.EINVAL);
    expect(x.submitWrite(3, buf, 0, 4, 2 ** 53)).toBe(-ERRNO.EINVAL);
    expect(x.submitClose(-3)).toBe(-ERRNO.EBADF);
    expect(x.submitShutdown(-1, 0)).toBe(-ERRNO.EBADF);
    expect(x.submitShutdown(3, 3)).toBe(-ERRNO.EINVAL);
    expect(x.submitShutdown(3, -1)).toBe(-ERRNO.EINVAL);
    expect(x.submitTimeout(-1)).toBe(-ERRNO.EINVAL);
    expect(x.submitTimeout(NaN)).toBe(-ERRNO.EINVAL);
    expect(x.submitTimeout(Infinity)).toBe(-ERRNO.EINVAL);
    expect(x.timerStart(NaN, 1)).toBe(-ERRNO.EINVAL);
    expect(x.timerStart(0, -1)).toBe(-ERRNO.EINVAL);
    expect(x.timerStart(-5, 1)).toBe(-ERRNO.EINVAL);
    expect(x.timerStart(0, 2 ** 32)).toBe(-ERRNO.EINVAL);
    expect(x.reap(0, 0)).toBe(-ERRNO.EINVAL);
    expect(x.reap(NaN, 4)).toBe(-ERRNO.EINVAL);
    expect(x.nextTimeout(NaN)).toBe(-ERRNO.EINVAL);
    expect(x.counter(8)).toBe(-1);
    expect(host.pending()).toBe(0);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.counter(COUNTER.SUBMITTED)).toBe(0);
    expect(x.bufOwner(buf)).toBe(1);
    expect(x.checkInvariants()).toBe(0);
  });

  test('a full op table is -ENOSPC until a slot is retired', () => {
    const h = setup({ ops: 3 });
    const { x, host } = h;
    const ids = [x.submitNop(), x.submitNop(), x.timerStart(0, 5)];
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(x.submitNop()).toBe(-ERRNO.ENOSPC);
    expect(x.timerStart(0, 1)).toBe(-ERRNO.ENOSPC);
    host.completeAll();
    expect(h.reap()).toHaveLength(2);
    expect(x.submitNop()).toBe(-ERRNO.ENOSPC); // delivered, not yet retired
    expect(h.reap()).toEqual([]);
    expect(x.submitNop()).toBeGreaterThan(0);
  });
});

describe('generations', () => {
  test('a reused slot gets a new id; CQEs and cancels with the old id are stale', () => {
    const h = setup({ ops: 1 });
    const { x, host } = h;
    const first = x.submitNop();
    host.completeAll();
    h.reap();
    h.reap();
    const second = x.submitNop();
    expect(second & L.SLOT_MASK).toBe(first & L.SLOT_MASK);
    expect(second).not.toBe(first);
    expect(x.cancel(first)).toBe(-ERRNO.ENOENT);
    expect(x.abandon(first)).toBe(-ERRNO.ENOENT);
    expect(x.opState(first)).toBe(-ERRNO.ENOENT);
    host.take();
    host.complete(first, 99); // a late duplicate for the old op
    expect(h.reap()).toEqual([]);
    expect(x.counter(COUNTER.STALE)).toBe(1);
    expect(x.opState(second)).toBe(STATE.SUBMITTED);
    host.complete(second, 7);
    expect(h.reap()).toEqual([{ id: second, res: 7, flags: 0, opcode: L.OP_NOP }]);
  });

  test('unknown ids, ids never issued and internal completions', () => {
    const h = setup({ ops: 2 });
    const { x, host } = h;
    expect(x.cancel(0)).toBe(-ERRNO.ENOENT);
    expect(x.cancel(-1)).toBe(-ERRNO.ENOENT);
    expect(x.cancel((1 << 16) | 5)).toBe(-ERRNO.ENOENT); // slot out of range
    expect(x.cancel(1 << 16)).toBe(-ERRNO.ENOENT); // free slot
    expect(x.abandon(1 << 16)).toBe(-ERRNO.ENOENT);
    host.complete(L.INTERNAL_ID, -ERRNO.ENOENT);
    host.complete(1 << 16, 0); // free slot
    host.complete(0xdeadbeef, 0);
    expect(h.reap()).toEqual([]);
    expect(x.counter(COUNTER.STALE)).toBe(2); // the internal one is not stale
    expect(host.field(L.H_CQ_HEAD)).toBe(3);
  });

  test('a CQE for an op whose SQE the host has not taken is stale', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitNop();
    host.complete(id, 0);
    expect(h.reap()).toEqual([]);
    expect(x.counter(COUNTER.STALE)).toBe(1);
    expect(x.opState(id)).toBe(STATE.QUEUED);
  });
});

describe('cancel', () => {
  test('before the host takes it: the SQE becomes a NOP and the op is delivered -ECANCELED', () => {
    const h = setup();
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitRecv(4, buf, 0, 10);
    expect(x.cancel(id)).toBe(1);
    expect(x.cancel(id)).toBe(1); // idempotent, no second SQE
    expect(host.pending()).toBe(1);
    const [sqe] = host.take();
    expect(sqe).toEqual({ id, opcode: L.OP_NOP, flags: 0, fd: -1, addr: 0, len: 0, aux: 0, arg: 0n });
    expect(x.bufOwner(buf)).toBe(2); // still lent until the delivery
    host.complete(id, 0);
    expect(h.reap()).toEqual([{ id, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_RECV }]);
    expect(x.bufOwner(buf)).toBe(1);
  });

  test('after the host took it: an internal CANCEL SQE; the op is delivered with what the kernel says', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitAccept(3, 0);
    host.take();
    expect(x.cancel(id)).toBe(1);
    expect(x.cancel(id)).toBe(1);
    const sqes = host.take();
    expect(sqes).toEqual([
      { id: L.INTERNAL_ID, opcode: L.OP_CANCEL, flags: 0, fd: -1, addr: 0, len: 0, aux: 0, arg: BigInt(id) },
    ]);
    host.complete(id, -ERRNO.ECANCELED);
    host.complete(L.INTERNAL_ID, 0);
    expect(h.reap()).toEqual([{ id, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_ACCEPT }]);
    expect(x.counter(COUNTER.STALE)).toBe(0);
  });

  test('the race: the real result wins and is delivered as is, once', () => {
    const h = setup();
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitRecv(4, buf, 0, 64);
    host.take();
    host.complete(id, 42); // already completed in the CQ...
    expect(x.cancel(id)).toBe(1); // ...but the core has not reaped it
    host.take();
    host.complete(L.INTERNAL_ID, -L.OP_COUNT); // whatever the kernel said about the cancel
    const batch = h.reap();
    expect(batch).toEqual([{ id, res: 42, flags: 0, opcode: L.OP_RECV }]);
    expect(x.bufOwner(buf)).toBe(1);
    expect(h.reap()).toEqual([]);
  });

  test('too late: COMPLETED and DELIVERED ops return 0', () => {
    const h = setup();
    const { x, host } = h;
    const a = x.submitNop();
    const b = x.submitNop();
    host.completeAll();
    const batch = h.reap(0, 1);
    expect(batch.map((d) => d.id)).toEqual([a]);
    expect(x.opState(b)).toBe(STATE.COMPLETED);
    expect(x.cancel(a)).toBe(0);
    expect(x.cancel(b)).toBe(0);
    expect(h.reap().map((d) => d.id)).toEqual([b]);
  });
});

describe("kernel TIMEOUT results (the core owns the mapping: the host passes io_uring's result unchanged)", () => {
  const ECONNRESET = 104;

  /** A TIMEOUT and a NOP, both taken by the host and completed with `res`, delivered. */
  function completedWith(res: number): { timeout: number; nop: number } {
    const h = setup();
    const { x, host } = h;
    const timeout = x.submitTimeout(10);
    const nop = x.submitNop();
    expect(host.take().map((s) => s.opcode)).toEqual([L.OP_TIMEOUT, L.OP_NOP]);
    host.complete(timeout, res);
    host.complete(nop, res);
    const batch = h.reap();
    expect(batch.map((d) => [d.id, d.opcode])).toEqual([
      [timeout, L.OP_TIMEOUT],
      [nop, L.OP_NOP],
    ]);
    return { timeout: batch[0].res, nop: batch[1].res };
  }

  test("-ETIME, io_uring's word for an expired timeout, is delivered as fired (0), for TIMEOUT only", () => {
    expect(completedWith(-ERRNO.ETIME)).toEqual({ timeout: 0, nop: -ERRNO.ETIME });
  });

  test('0 stays 0, and every other error stays that error', () => {
    expect(completedWith(0)).toEqual({ timeout: 0, nop: 0 });
    for (const errno of [ERRNO.ECANCELED, ERRNO.EINVAL, ERRNO.EFAULT, ERRNO.ENOMEM, ECONNRESET]) {
      expect(completedWith(-errno)).toEqual({ timeout: -errno, nop: -errno });
    }
  });

  test('a TIMEOUT cancelled in the kernel: -ECANCELED if the cancel won, fired (0) if the timeout did', () => {
    const h = setup();
    const { x, host } = h;
    const won = x.submitTimeout(10);
    const lost = x.submitTimeout(10);
    host.take();
    expect(x.cancel(won)).toBe(1);
    expect(x.cancel(lost)).toBe(1);
    host.take(); // the two CANCEL SQEs
    host.complete(won, -ERRNO.ECANCELED);
    host.complete(lost, -ERRNO.ETIME); // it fired before the cancel reached it
    expect(h.reap().map((d) => [d.id, d.res])).toEqual([
      [won, -ERRNO.ECANCELED],
      [lost, 0],
    ]);
  });
});

describe('abandon', () => {
  test('an abandoned op is never delivered and its buffer goes back to the pool', () => {
    const h = setup({ buffers: 1 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitRecv(4, buf, 0, 8);
    expect(x.abandon(id)).toBe(0);
    expect(x.abandon(id)).toBe(0);
    expect(x.bufFree(buf)).toBe(-ERRNO.EBUSY);
    host.take();
    host.complete(id, 8);
    expect(h.reap()).toEqual([]);
    expect(x.bufOwner(buf)).toBe(0);
    expect(x.opState(id)).toBe(-ERRNO.ENOENT);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.bufAlloc()).toBe(buf);
  });

  test('abandoning a completed op waiting beyond the budget drops its delivery', () => {
    const h = setup({ buffers: 2 });
    const { x, host } = h;
    const bufs = [x.bufAlloc(), x.bufAlloc()];
    const ids = bufs.map((b) => x.submitRecv(4, b, 0, 8));
    host.completeAll(8);
    expect(h.reap(0, 1).map((d) => d.id)).toEqual([ids[0]]);
    expect(host.field(L.H_READY)).toBe(1);
    expect(x.abandon(ids[1])).toBe(0);
    expect(host.field(L.H_READY)).toBe(0);
    expect(x.nextTimeout(0)).toBe(0); // a reap still has to settle it
    expect(h.reap()).toEqual([]);
    expect(x.bufOwner(bufs[0])).toBe(1);
    expect(x.bufOwner(bufs[1])).toBe(0);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
  });

  test('abandoning a delivered op changes nothing', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitNop();
    host.completeAll();
    h.reap();
    expect(x.abandon(id)).toBe(0);
    expect(x.opState(id)).toBe(STATE.DELIVERED);
    h.reap();
    expect(x.opState(id)).toBe(-ERRNO.ENOENT);
  });
});

describe('multishot accept', () => {
  test('MORE completions are deliveries; the op stays SUBMITTED until the final one', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitAccept(3, 1);
    host.take();
    host.complete(id, 10, L.CQE_F_MORE);
    host.complete(id, 11, L.CQE_F_MORE);
    expect(h.reap()).toEqual([
      { id, res: 10, flags: L.CQE_F_MORE, opcode: L.OP_ACCEPT },
      { id, res: 11, flags: L.CQE_F_MORE, opcode: L.OP_ACCEPT },
    ]);
    expect(x.opState(id)).toBe(STATE.SUBMITTED);
    host.complete(id, 12, L.CQE_F_MORE);
    expect(h.reap().map((d) => d.res)).toEqual([12]);
    expect(x.cancel(id)).toBe(1);
    expect(host.take().map((s) => s.opcode)).toEqual([L.OP_CANCEL]);
    host.complete(id, 13, L.CQE_F_MORE); // a connection that raced the cancel
    host.complete(id, -ERRNO.ECANCELED);
    expect(h.reap()).toEqual([
      { id, res: 13, flags: L.CQE_F_MORE, opcode: L.OP_ACCEPT },
      { id, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_ACCEPT },
    ]);
    h.reap();
    expect(x.opState(id)).toBe(-ERRNO.ENOENT);
  });

  test('MORE on a single-shot op is a final completion', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitAccept(3, 0);
    host.take();
    host.complete(id, 10, L.CQE_F_MORE);
    host.complete(id, 11, 0);
    expect(h.reap()).toEqual([{ id, res: 10, flags: 0, opcode: L.OP_ACCEPT }]);
    expect(x.counter(COUNTER.STALE)).toBe(1);
  });

  test('an abandoned multishot accept drops its queued and later deliveries', () => {
    const h = setup();
    const { x, host } = h;
    const id = x.submitAccept(3, 1);
    const other = x.submitNop();
    host.take();
    host.complete(other, 0);
    host.complete(id, 10, L.CQE_F_MORE);
    host.complete(id, 11, L.CQE_F_MORE);
    expect(h.reap(0, 1).map((d) => d.id)).toEqual([other]);
    expect(host.field(L.H_READY)).toBe(2);
    expect(x.abandon(id)).toBe(0);
    expect(host.field(L.H_READY)).toBe(0);
    host.complete(id, 12, L.CQE_F_MORE);
    host.complete(id, -ERRNO.ECANCELED); // final arrives while MOREs still queued
    expect(h.reap()).toEqual([]);
    expect(x.opState(id)).toBe(-ERRNO.ENOENT);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
  });
});

describe('fairness budget', () => {
  test('budget caps each batch; the rest waits in order and counts as ready', () => {
    const h = setup({ ops: 8 });
    const { x, host } = h;
    const ids = Array.from({ length: 5 }, () => x.submitNop());
    host.completeAll();
    expect(h.reap(0, 2).map((d) => d.id)).toEqual(ids.slice(0, 2));
    expect(host.field(L.H_READY)).toBe(3);
    expect(x.nextTimeout(0)).toBe(0);
    const late = x.submitNop();
    host.completeAll();
    // carry-over first, then the new CQE
    expect(h.reap(0, 2).map((d) => d.id)).toEqual(ids.slice(2, 4));
    expect(h.reap(0, 2).map((d) => d.id)).toEqual([ids[4], late]);
    expect(host.field(L.H_READY)).toBe(0);
    expect(h.reap(0, 2)).toEqual([]);
    expect(x.nextTimeout(0)).toBe(-1);
  });

  test('a budget larger than the DQ is capped at its capacity', () => {
    const h = setup({ ops: 16, cq: 16 });
    const { x, host } = h;
    for (let i = 0; i < 16; i++) x.submitNop();
    host.completeAll();
    expect(h.reap(0, 1000)).toHaveLength(16);
    expect(host.field(L.H_DQ_CAPACITY)).toBe(16);
  });

  test('a CQ the core cannot drain yet is left for the next reap', () => {
    // ops 2, cq 2 -> ready queue of 4: a multishot accept can fill it with MOREs.
    const h = setup({ ops: 2, cq: 2 });
    const { x, host } = h;
    const id = x.submitAccept(3, 1);
    host.take();
    let res = 100;
    const seen: number[] = [];
    let leftInCq = 0;
    for (let round = 0; round < 6; round++) {
      while (host.cqRoom() > 0) host.complete(id, res++, L.CQE_F_MORE);
      seen.push(...h.reap(0, 1).map((d) => d.res));
      leftInCq = Math.max(leftInCq, 2 - host.cqRoom());
    }
    expect(leftInCq).toBeGreaterThan(0); // the ready queue filled up and the core stopped draining
    while (x.nextTimeout(0) === 0) seen.push(...h.reap(0, 1).map((d) => d.res));
    expect(seen).toEqual(Array.from({ length: res - 100 }, (_, i) => 100 + i)); // none lost, in order
  });
});
