// COPY (layout v3): a relay the core runs itself, writing RECV, SEND and
// SHUTDOWN SQEs from the reaps that see the previous one complete, and
// delivering once, when it ends.
import * as L from '../../src/core/layout';
import { bufferFlags, COUNTER, ERRNO, OWNER, STATE, setup } from './fake-host';

const END = 1;
const SELECT = 2;
const INFO = { TOTAL: 0, UNSENT_OFFSET: 1, UNSENT_LENGTH: 2, PHASE: 3, BUFFER: 4 } as const;
const EIO = 5;
const ECONNRESET = 104;

function arenaAddress(h: ReturnType<typeof setup>, buffer: number, offset = 0): number {
  return h.host.field(L.H_ARENA) + buffer * h.host.field(L.H_BUFFER_SIZE) + offset;
}

describe('COPY with a buffer of its own', () => {
  test('refuses bad arguments before taking anything', () => {
    const h = setup({ buffers: 2, bufferSize: 256 });
    const { x } = h;
    const buf = x.bufAlloc();
    expect(x.submitCopy(-1, 4, buf, 0)).toBe(-ERRNO.EBADF);
    expect(x.submitCopy(3, -1, buf, 0)).toBe(-ERRNO.EBADF);
    expect(x.submitCopy(3, 4, buf, 4)).toBe(-ERRNO.EINVAL); // unknown option
    expect(x.submitCopy(3, 4, 1, 0)).toBe(-ERRNO.EINVAL); // a free buffer
    expect(x.submitCopy(3, 4, 7, 0)).toBe(-ERRNO.EINVAL); // no such buffer
    expect(x.submitCopy(3, 4, -1, SELECT)).toBe(-ERRNO.ENOBUFS); // no recv set
    expect(x.counter(COUNTER.SUBMITTED)).toBe(0);
    const id = x.submitCopy(3, 4, buf, 0);
    expect(id).toBeGreaterThan(0);
    expect(x.submitCopy(3, 4, buf, 0)).toBe(-ERRNO.EBUSY); // lent to the first one
    expect(x.bufOwner(buf)).toBe(OWNER.KERNEL);
    expect(x.checkInvariants()).toBe(0);
  });

  test('receive, send, short send, receive again, end of stream: one delivery with the total', () => {
    const h = setup({ buffers: 2, bufferSize: 256 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitCopy(3, 4, buf, 0);
    expect(x.opState(id)).toBe(STATE.QUEUED);
    expect(host.take()).toEqual([
      expect.objectContaining({ id, opcode: L.OP_RECV, flags: 0, fd: 3, addr: arenaAddress(h, buf), len: 256 }),
    ]);
    expect(x.opState(id)).toBe(STATE.SUBMITTED);

    host.complete(id, 100);
    expect(h.reap()).toEqual([]); // nothing for the program: the core sends
    expect(host.take()).toEqual([
      expect.objectContaining({ id, opcode: L.OP_SEND, fd: 4, addr: arenaAddress(h, buf), len: 100 }),
    ]);
    host.complete(id, 40); // a short send: the rest goes next
    expect(h.reap()).toEqual([]);
    expect(host.take()).toEqual([
      expect.objectContaining({ id, opcode: L.OP_SEND, fd: 4, addr: arenaAddress(h, buf, 40), len: 60 }),
    ]);
    expect(x.copyInfo(id, INFO.TOTAL)).toBe(40);
    expect(x.copyInfo(id, INFO.UNSENT_OFFSET)).toBe(40);
    expect(x.copyInfo(id, INFO.UNSENT_LENGTH)).toBe(60);
    host.complete(id, 60);
    expect(h.reap()).toEqual([]);
    expect(host.take()).toEqual([expect.objectContaining({ id, opcode: L.OP_RECV, fd: 3, len: 256 })]);

    host.complete(id, 0); // end of `from`
    expect(h.reap()).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_COPY }]);
    expect(host.take()).toEqual([]);
    expect(x.copyInfo(id, INFO.TOTAL)).toBe(100);
    expect(x.copyInfo(id, INFO.UNSENT_LENGTH)).toBe(0);
    expect(x.copyInfo(id, INFO.BUFFER)).toBe(buf);
    expect(x.bufOwner(buf)).toBe(OWNER.PROGRAM); // handed back with the delivery
    expect(x.counter(COUNTER.SUBMITTED)).toBe(1); // one op, however many SQEs
    expect(x.counter(COUNTER.COMPLETED)).toBe(1);
    h.reap();
    expect(x.copyInfo(id, INFO.TOTAL)).toBe(-ERRNO.ENOENT); // retired with its batch
    expect(x.bufFree(buf)).toBe(0);
  });

  test('COPY_F_END shuts the destination down for writing before it completes', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const id = x.submitCopy(5, 5, x.bufAlloc(), END); // an echo: the same fd both ways
    host.take();
    host.complete(id, 0);
    expect(h.reap()).toEqual([]);
    expect(host.take()).toEqual([expect.objectContaining({ id, opcode: L.OP_SHUTDOWN, fd: 5, aux: 1 })]);
    host.complete(id, 0);
    expect(h.reap()).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_COPY }]);
  });

  test('an error on either side ends it; the bytes not sent are still in the buffer, and where', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitCopy(3, 4, buf, 0);
    host.take();
    host.complete(id, 50);
    h.reap();
    host.take();
    host.complete(id, 20);
    h.reap();
    host.take();
    host.complete(id, -ECONNRESET);
    expect(h.reap()).toEqual([{ id, res: -ECONNRESET, flags: 0, opcode: L.OP_COPY }]);
    expect(x.copyInfo(id, INFO.PHASE)).toBe(1); // it was sending: `to` failed
    expect(x.copyInfo(id, INFO.TOTAL)).toBe(20);
    expect([x.copyInfo(id, INFO.UNSENT_OFFSET), x.copyInfo(id, INFO.UNSENT_LENGTH)]).toEqual([20, 30]);

    const read = x.submitCopy(3, 4, buf, 0);
    host.take();
    host.complete(read, -ECONNRESET);
    expect(h.reap()).toEqual([{ id: read, res: -ECONNRESET, flags: 0, opcode: L.OP_COPY }]);
    expect(x.copyInfo(read, INFO.PHASE)).toBe(0); // it was receiving: `from` failed
  });

  test('a host that reports more than an SQE asked for ends it with EIO instead of looping', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitCopy(3, 4, buf, 0);
    host.take();
    host.complete(id, 65);
    expect(h.reap()).toEqual([{ id, res: -EIO, flags: 0, opcode: L.OP_COPY }]);
    h.reap();
    const send = x.submitCopy(3, 4, buf, 0);
    host.take();
    host.complete(send, 10);
    h.reap();
    host.take();
    host.complete(send, 0); // a SEND of 10 bytes that sent nothing
    expect(h.reap()).toEqual([{ id: send, res: -EIO, flags: 0, opcode: L.OP_COPY }]);
    expect(x.copyInfo(send, INFO.UNSENT_LENGTH)).toBe(10);
  });

  test('a cancel between two SQEs ends it at the next step, with the received bytes kept', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const id = x.submitCopy(3, 4, x.bufAlloc(), 0);
    host.take();
    expect(x.cancel(id)).toBe(1); // the RECV is the kernel's: an async cancel goes out
    expect(x.cancel(id)).toBe(1); // asked once
    const [cancelSqe] = host.take();
    expect(cancelSqe).toMatchObject({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(id) });
    host.complete(id, 30); // the RECV won the race
    host.complete(L.INTERNAL_ID, -ERRNO.ENOENT);
    expect(h.reap()).toEqual([{ id, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_COPY }]);
    expect(host.take()).toEqual([]); // no SEND was written
    expect([x.copyInfo(id, INFO.UNSENT_OFFSET), x.copyInfo(id, INFO.UNSENT_LENGTH)]).toEqual([0, 30]);
  });

  test('a cancel while its SQE is still queued turns it into a NOP', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const id = x.submitCopy(3, 4, x.bufAlloc(), 0);
    expect(x.cancel(id)).toBe(1);
    const [sqe] = host.take();
    expect(sqe).toMatchObject({ id, opcode: L.OP_NOP });
    host.complete(id, 0);
    expect(h.reap()).toEqual([{ id, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_COPY }]);
  });

  test('an abandoned relay stops at its next completion and its buffer goes back to the pool', () => {
    const h = setup({ buffers: 1, bufferSize: 64 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitCopy(3, 4, buf, 0);
    host.take();
    expect(x.abandon(id)).toBe(0);
    host.complete(id, 10);
    expect(h.reap()).toEqual([]);
    expect(host.take()).toEqual([]);
    expect(x.bufOwner(buf)).toBe(OWNER.FREE);
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
  });

  test('copyInfo answers only for live relays', () => {
    const h = setup();
    const { x } = h;
    const nop = x.submitNop();
    expect(x.copyInfo(nop, INFO.TOTAL)).toBe(-ERRNO.ENOENT);
    expect(x.copyInfo(12345, INFO.TOTAL)).toBe(-ERRNO.ENOENT);
    const id = x.submitCopy(3, 4, x.bufAlloc(), 0);
    expect(x.copyInfo(id, 9)).toBe(-ERRNO.EINVAL);
  });
});

describe('COPY through the recv set (COPY_F_SELECT)', () => {
  test('holds a buffer only from the CQE that picks it until its bytes are sent', () => {
    const h = setup({ buffers: 3, bufferSize: 128, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    expect(x.submitCopy(3, 4, 2, SELECT)).toBe(-ERRNO.EINVAL); // no buffer may be passed
    const id = x.submitCopy(3, 4, -1, SELECT);
    expect(host.take()).toEqual([
      expect.objectContaining({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd: 3, addr: 0, len: 128 }),
    ]);
    expect(x.counter(COUNTER.LENT)).toBe(0);
    host.complete(id, 70, bufferFlags(1));
    expect(h.reap()).toEqual([]);
    expect(x.bufOwner(1)).toBe(OWNER.KERNEL);
    expect(host.take()).toEqual([
      expect.objectContaining({ id, opcode: L.OP_SEND, fd: 4, addr: arenaAddress(h, 1), len: 70 }),
    ]);
    host.complete(id, 70);
    expect(h.reap()).toEqual([]);
    expect(x.bufOwner(1)).toBe(OWNER.PROVIDED); // back in the pick set
    expect(host.takeProvided()).toEqual([1]);
    expect(host.take()).toEqual([expect.objectContaining({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT })]);
    host.complete(id, 0);
    expect(h.reap()).toEqual([{ id, res: 0, flags: 0, opcode: L.OP_COPY }]);
    expect(x.copyInfo(id, INFO.BUFFER)).toBe(-1);
    expect(x.copyInfo(id, INFO.TOTAL)).toBe(70);
    expect(x.counter(COUNTER.PROVIDED)).toBe(2);
    expect(x.counter(COUNTER.HELD)).toBe(0);
  });

  test('ends holding the buffer when bytes were left unsent: the delivery hands it to the program', () => {
    const h = setup({ buffers: 2, bufferSize: 128, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    const id = x.submitCopy(3, 4, -1, SELECT);
    host.take();
    host.complete(id, 90, bufferFlags(0));
    h.reap();
    host.take();
    host.complete(id, -ECONNRESET);
    expect(h.reap()).toEqual([{ id, res: -ECONNRESET, flags: 0, opcode: L.OP_COPY }]);
    expect(x.copyInfo(id, INFO.BUFFER)).toBe(0);
    expect(x.copyInfo(id, INFO.UNSENT_LENGTH)).toBe(90);
    expect(x.bufOwner(0)).toBe(OWNER.PROGRAM);
    expect(x.bufFree(0)).toBe(0);
    expect(x.bufOwner(0)).toBe(OWNER.PROVIDED);
  });

  test('a RECV that found the set empty waits for a buffer, then receives again, oldest first', () => {
    const h = setup({ buffers: 1, bufferSize: 64, provided: 1 });
    const { x, host } = h;
    host.takeProvided();
    const a = x.submitCopy(3, 4, -1, SELECT);
    const b = x.submitCopy(5, 6, -1, SELECT);
    const c = x.submitCopy(7, 8, -1, SELECT);
    host.take();
    host.complete(a, 10, bufferFlags(0)); // a took the only buffer
    host.complete(b, -ERRNO.ENOBUFS);
    host.complete(c, -ERRNO.ENOBUFS);
    expect(h.reap()).toEqual([]); // neither b nor c ends: they wait
    expect(host.take()).toEqual([expect.objectContaining({ id: a, opcode: L.OP_SEND })]);
    expect(x.opState(b)).toBe(STATE.SUBMITTED);
    host.complete(a, 10); // a's buffer goes back: b (the oldest) receives again
    h.reap();
    expect(host.takeProvided()).toEqual([0]);
    // b was woken by the buffer's return, before a wrote its own next RECV; c waits on.
    expect(host.take().map((s) => [s.id, s.opcode, s.fd])).toEqual([
      [b, L.OP_RECV, 5],
      [a, L.OP_RECV, 3],
    ]);
    expect(x.copyInfo(c, INFO.PHASE)).toBe(3);
    expect(x.checkInvariants()).toBe(0);
  });

  test("a buffer provided between the kernel's -ENOBUFS and the reap: the relay receives again at once", () => {
    // The provide found no starved relay to wake (the RECV was still out); had
    // the relay starved on the -ENOBUFS, it would wait for another buffer to
    // come back while this one sat in the pick set.
    const h = setup({ buffers: 1, bufferSize: 64, provided: 1 });
    const { x, host } = h;
    host.takeProvided();
    const r = x.submitRecvSelect(9, 64, 0);
    host.take();
    host.complete(r, 5, bufferFlags(0));
    h.reap(); // the program holds buffer 0
    const id = x.submitCopy(3, 4, -1, SELECT);
    host.take();
    host.complete(id, -ERRNO.ENOBUFS); // the kernel found the pick set empty
    expect(x.bufFree(0)).toBe(0); // before the core reads that CQE
    expect(host.takeProvided()).toEqual([0]);
    expect(h.reap()).toEqual([]);
    expect(x.copyInfo(id, INFO.PHASE)).toBe(0);
    expect(host.take()).toEqual([expect.objectContaining({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT })]);
    host.complete(id, 7, bufferFlags(0));
    h.reap();
    expect(host.take()).toEqual([expect.objectContaining({ id, opcode: L.OP_SEND, len: 7 })]);
  });

  test('a starved relay ends at once when cancelled or abandoned: no completion would come', () => {
    const h = setup({ buffers: 1, bufferSize: 64, provided: 1 });
    const { x, host } = h;
    host.takeProvided();
    const r = x.submitRecvSelect(9, 64, 0);
    const a = x.submitCopy(3, 4, -1, SELECT);
    const b = x.submitCopy(5, 6, -1, SELECT);
    host.take();
    host.complete(r, 5, bufferFlags(0)); // the program's RECV takes the only buffer and keeps it
    host.complete(a, -ERRNO.ENOBUFS);
    host.complete(b, -ERRNO.ENOBUFS);
    expect(h.reap()).toEqual([expect.objectContaining({ id: r, res: 5 })]);
    h.reap(); // r retired
    expect([x.copyInfo(a, INFO.PHASE), x.copyInfo(b, INFO.PHASE)]).toEqual([3, 3]);
    expect(x.cancel(a)).toBe(1);
    expect(host.take()).toEqual([]); // no kernel cancel: nothing is out
    expect(x.abandon(b)).toBe(0);
    expect(x.counter(COUNTER.IN_USE)).toBe(1); // b is gone already; a waits for its delivery
    expect(h.reap()).toEqual([{ id: a, res: -ERRNO.ECANCELED, flags: 0, opcode: L.OP_COPY }]);
    h.reap();
    expect(x.counter(COUNTER.IN_USE)).toBe(0);
    expect(x.counter(COUNTER.SUBMITTED)).toBe(x.counter(COUNTER.COMPLETED));
  });

  test('a CQE naming a buffer outside the pick set, or data without one, is a host bug: EFAULT', () => {
    const h = setup({ buffers: 2, bufferSize: 64, provided: 1 });
    const { x, host } = h;
    host.takeProvided();
    const a = x.submitCopy(3, 4, -1, SELECT);
    const b = x.submitCopy(5, 6, -1, SELECT);
    host.take();
    host.complete(a, 10, bufferFlags(1)); // buffer 1 is not in the recv set
    host.complete(b, 10);
    expect(h.reap().map((d) => d.res)).toEqual([-ERRNO.EFAULT, -ERRNO.EFAULT]);
    expect(x.counter(COUNTER.PROVIDED)).toBe(1);
  });
});
