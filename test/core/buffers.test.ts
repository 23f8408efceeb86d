import * as L from '../../src/core/layout';
import { COUNTER, ERRNO, setup } from './fake-host';

const FREE = 0;
const PROGRAM = 1;
const KERNEL = 2;

describe('buffer pool', () => {
  test('alloc, owner and free', () => {
    const { x } = setup({ buffers: 3 });
    expect([x.bufAlloc(), x.bufAlloc(), x.bufAlloc()]).toEqual([0, 1, 2]);
    expect(x.bufAlloc()).toBe(-ERRNO.ENOBUFS);
    expect(x.counter(COUNTER.HELD)).toBe(3);
    expect(x.bufOwner(1)).toBe(PROGRAM);
    expect(x.bufFree(1)).toBe(0);
    expect(x.bufOwner(1)).toBe(FREE);
    expect(x.bufFree(1)).toBe(-ERRNO.EINVAL); // not held by the program
    expect(x.bufFree(3)).toBe(-ERRNO.EINVAL);
    expect(x.bufFree(-1)).toBe(-ERRNO.EINVAL);
    expect(x.bufOwner(3)).toBe(-ERRNO.EINVAL);
    expect(x.bufOwner(-1)).toBe(-ERRNO.EINVAL);
    expect(x.bufAlloc()).toBe(1); // LIFO: the warmest buffer first
    expect(x.checkInvariants()).toBe(0);
  });

  test('a buffer in flight is refused by every submit and by bufFree', () => {
    const h = setup({ buffers: 2, bufferSize: 64 });
    const { x, host } = h;
    const buf = x.bufAlloc();
    const id = x.submitRecv(3, buf, 0, 64);
    expect(x.bufOwner(buf)).toBe(KERNEL);
    expect(x.counter(COUNTER.LENT)).toBe(1);
    expect(x.counter(COUNTER.HELD)).toBe(0);
    expect(x.submitSend(3, buf, 0, 1)).toBe(-ERRNO.EBUSY);
    expect(x.submitRecv(3, buf, 0, 1)).toBe(-ERRNO.EBUSY);
    expect(x.submitRead(3, buf, 0, 1, 0)).toBe(-ERRNO.EBUSY);
    expect(x.submitWrite(3, buf, 0, 1, 0)).toBe(-ERRNO.EBUSY);
    expect(x.bufFree(buf)).toBe(-ERRNO.EBUSY);
    expect(x.submitSend(3, 1, 0, 1)).toBe(-ERRNO.EINVAL); // free, never allocated
    host.take();
    host.complete(id, 64);
    expect(h.reap()).toHaveLength(1);
    expect(x.bufOwner(buf)).toBe(PROGRAM);
    expect(x.counter(COUNTER.LENT)).toBe(0);
    expect(x.counter(COUNTER.HELD)).toBe(1);
    expect(x.bufFree(buf)).toBe(0);
  });

  test('offset + len must stay inside the buffer', () => {
    const { x } = setup({ buffers: 1, bufferSize: 128 });
    const buf = x.bufAlloc();
    expect(x.submitRecv(3, buf, 128, 1)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecv(3, buf, 127, 2)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecv(3, buf, 2 ** 31 - 1, 2 ** 31 - 1)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecv(3, buf, 127, 1)).toBeGreaterThan(0);
  });

  test('handed back exactly once: on delivery, on cancel, never twice', () => {
    const h = setup({ buffers: 3 });
    const { x, host } = h;
    const [a, b, c] = [x.bufAlloc(), x.bufAlloc(), x.bufAlloc()];
    const delivered = x.submitSend(3, a, 0, 8);
    const canceledQueued = x.submitRecv(3, b, 0, 8);
    x.cancel(canceledQueued);
    host.take();
    const canceledLate = x.submitRecv(3, c, 0, 8);
    host.take();
    x.cancel(canceledLate);
    host.take();
    host.complete(delivered, 8);
    host.complete(canceledQueued, 0);
    host.complete(canceledLate, -ERRNO.ECANCELED);
    const batch = h.reap();
    expect(batch.map((d) => d.res)).toEqual([8, -ERRNO.ECANCELED, -ERRNO.ECANCELED]);
    expect([a, b, c].map((i) => x.bufOwner(i))).toEqual([PROGRAM, PROGRAM, PROGRAM]);
    expect(x.counter(COUNTER.HELD)).toBe(3);
    // the program frees one right after delivery, and the next reap must not touch it
    expect(x.bufFree(a)).toBe(0);
    h.reap();
    expect(x.bufOwner(a)).toBe(FREE);
    expect(x.counter(COUNTER.HELD)).toBe(2);
    expect(x.counter(COUNTER.LENT)).toBe(0);
  });

  test('abandoned ops return their buffers to the pool, whenever the completion arrives', () => {
    const h = setup({ buffers: 2 });
    const { x, host } = h;
    const [a, b] = [x.bufAlloc(), x.bufAlloc()];
    const queued = x.submitRecv(3, a, 0, 8);
    x.abandon(queued);
    const submitted = x.submitRecv(3, b, 0, 8);
    host.take();
    x.abandon(submitted);
    x.cancel(submitted);
    host.take();
    expect(x.counter(COUNTER.LENT)).toBe(2);
    host.complete(queued, 8);
    h.reap();
    expect(x.bufOwner(a)).toBe(FREE);
    expect(x.bufOwner(b)).toBe(KERNEL);
    host.complete(submitted, -ERRNO.ECANCELED);
    expect(h.reap()).toEqual([]);
    expect(x.bufOwner(b)).toBe(FREE);
    expect(x.counter(COUNTER.LENT)).toBe(0);
    expect(x.counter(COUNTER.HELD)).toBe(0);
    expect([x.bufAlloc(), x.bufAlloc()].sort()).toEqual([0, 1]);
  });

  test('the SQE addresses the right bytes of the arena', () => {
    const h = setup({ buffers: 4, bufferSize: 64 });
    const { x, host } = h;
    x.bufAlloc();
    const buf = x.bufAlloc();
    x.submitSend(3, buf, 10, 20);
    const [sqe] = host.take();
    expect(sqe.addr).toBe(host.field(L.H_ARENA) + 64 + 10);
    expect(sqe.addr + sqe.len).toBeLessThanOrEqual(host.field(L.H_ARENA) + 4 * 64);
  });
});
