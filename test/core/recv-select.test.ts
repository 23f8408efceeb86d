// The recv set (layout v2): buffers the host picks for a buffer-select RECV
// when data arrives, so an idle receive holds no buffer.
import * as L from '../../src/core/layout';
import { bufferFlags, COUNTER, ERRNO, OWNER, STATE, setup } from './fake-host';

describe('recv set', () => {
  test('init provides buffers [0, provided) in order; bufAlloc never hands them out', () => {
    const h = setup({ buffers: 5, provided: 2 });
    const { x, host } = h;
    expect(x.counter(COUNTER.PROVIDED)).toBe(2);
    expect(host.field(L.H_PROVIDE_COUNT)).toBe(2);
    expect(host.takeProvided()).toEqual([0, 1]);
    expect([x.bufOwner(0), x.bufOwner(1), x.bufOwner(2)]).toEqual([OWNER.PROVIDED, OWNER.PROVIDED, OWNER.FREE]);
    expect([x.bufAlloc(), x.bufAlloc(), x.bufAlloc()]).toEqual([2, 3, 4]);
    expect(x.bufAlloc()).toBe(-ERRNO.ENOBUFS);
    expect(x.bufFree(0)).toBe(-ERRNO.EINVAL); // provided: not the program's
    expect(x.counter(COUNTER.HELD)).toBe(3);
    expect(x.checkInvariants()).toBe(0);
  });

  test('init validates the recv set size', () => {
    const { createCore } = require('../../src/core/wasm');
    expect(createCore().exports.init(4, 2, 64, 8, 3)).toBe(-ERRNO.EINVAL); // more than the pool
    expect(createCore().exports.init(4, 2, 64, 8, -1)).toBe(-ERRNO.EINVAL);
    expect(createCore().exports.init(4, 40000, 64, 8, 32769)).toBe(-ERRNO.EINVAL); // the kernel's limit
    expect(createCore().exports.init(4, 40000, 64, 8, 32768)).toBeGreaterThan(0);
  });

  test('submitRecvSelect lends nothing; the CQE picks the buffer, the delivery hands it over', () => {
    const h = setup({ buffers: 4, bufferSize: 256, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    expect(x.submitRecvSelect(3, 0)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecvSelect(3, 257)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecvSelect(-1, 1)).toBe(-ERRNO.EBADF);
    const id = x.submitRecvSelect(3, 256);
    expect(id).toBeGreaterThan(0);
    const [sqe] = host.take();
    expect(sqe).toMatchObject({ id, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd: 3, addr: 0, len: 256 });
    expect(x.counter(COUNTER.LENT)).toBe(0);
    expect(x.counter(COUNTER.HELD)).toBe(0);
    host.complete(id, 100, bufferFlags(1));
    const [d] = h.reap();
    expect(d).toEqual({ id, res: 100, flags: bufferFlags(1), opcode: L.OP_RECV });
    expect(x.bufOwner(1)).toBe(OWNER.PROGRAM);
    expect(x.counter(COUNTER.PROVIDED)).toBe(1);
    expect(x.counter(COUNTER.HELD)).toBe(1);
    // The program may lend it like any buffer it holds, then give it back:
    // it returns to the pick set, and the host learns so from the provide ring.
    const send = x.submitSend(3, 1, 0, 100);
    expect(send).toBeGreaterThan(0);
    expect(x.bufFree(1)).toBe(-ERRNO.EBUSY);
    host.take();
    host.complete(send, 100);
    h.reap();
    expect(x.bufFree(1)).toBe(0);
    expect(x.bufFree(1)).toBe(-ERRNO.EINVAL); // twice: refused, nothing changes
    expect(x.bufOwner(1)).toBe(OWNER.PROVIDED);
    expect(host.takeProvided()).toEqual([1]);
    expect(x.counter(COUNTER.PROVIDED)).toBe(2);
    expect(x.counter(COUNTER.HELD)).toBe(0);
    h.reap();
    expect(x.checkInvariants()).toBe(0);
  });

  test('end of stream, errors and ENOBUFS hold no buffer', () => {
    const h = setup({ buffers: 2, provided: 1 });
    const { x, host } = h;
    host.takeProvided();
    const eof = x.submitRecvSelect(3, 64);
    const reset = x.submitRecvSelect(3, 64);
    const nobufs = x.submitRecvSelect(3, 64);
    host.take();
    host.complete(eof, 0, bufferFlags(0)); // the kernel may consume a buffer at EOF
    host.complete(reset, -104);
    host.complete(nobufs, -ERRNO.ENOBUFS);
    expect(h.reap().map((d) => [d.res, d.flags])).toEqual([
      [0, 0],
      [-104, 0],
      [-ERRNO.ENOBUFS, 0],
    ]);
    expect(x.bufOwner(0)).toBe(OWNER.PROVIDED);
    expect(host.takeProvided()).toEqual([0]); // back in the pick set
    expect(x.counter(COUNTER.HELD)).toBe(0);
    expect(x.counter(COUNTER.LENT)).toBe(0);
  });

  test('a bogus buffer from the host becomes -EFAULT and changes no buffer', () => {
    const h = setup({ buffers: 4, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    const b = x.bufAlloc(); // 2: not in the recv set
    const ids = [
      x.submitRecvSelect(3, 64),
      x.submitRecvSelect(3, 64),
      x.submitRecvSelect(3, 64),
      x.submitRecvSelect(3, 64),
    ];
    host.take();
    host.complete(ids[0], 10, bufferFlags(b)); // outside the recv set
    host.complete(ids[1], 10, bufferFlags(9999)); // outside the pool
    host.complete(ids[2], 10, 0); // data with no buffer
    host.complete(ids[3], 10, bufferFlags(0)); // legitimate
    expect(h.reap().map((d) => d.res)).toEqual([-ERRNO.EFAULT, -ERRNO.EFAULT, -ERRNO.EFAULT, 10]);
    const again = x.submitRecvSelect(3, 64);
    host.take();
    host.complete(again, 10, bufferFlags(0)); // already the program's
    expect(h.reap().map((d) => d.res)).toEqual([-ERRNO.EFAULT]);
    expect(x.bufOwner(b)).toBe(OWNER.PROGRAM);
    expect(x.bufOwner(0)).toBe(OWNER.PROGRAM);
    expect(x.bufOwner(1)).toBe(OWNER.PROVIDED);
    expect(x.checkInvariants()).toBe(0);
  });

  test('abandoned or cancelled: a picked buffer goes back to the pick set, data that won the race is delivered', () => {
    const h = setup({ buffers: 2, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    const abandoned = x.submitRecvSelect(3, 64);
    const canceled = x.submitRecvSelect(3, 64);
    const queued = x.submitRecvSelect(3, 64);
    host.take(2);
    expect(x.abandon(abandoned)).toBe(0);
    expect(x.cancel(canceled)).toBe(1);
    expect(x.cancel(queued)).toBe(1); // rewritten to a NOP
    host.complete(abandoned, 5, bufferFlags(1));
    host.complete(canceled, 7, bufferFlags(0)); // the data won the race
    for (const sqe of host.take()) host.complete(sqe.id, 0);
    expect(x.bufOwner(1)).toBe(OWNER.PROVIDED);
    const batch = h.reap();
    expect(batch.map((d) => [d.id, d.res, d.flags])).toEqual([
      [canceled, 7, bufferFlags(0)],
      [queued, -ERRNO.ECANCELED, 0],
    ]);
    expect(x.opState(abandoned)).toBe(-ERRNO.ENOENT);
    expect(x.opState(canceled)).toBe(STATE.DELIVERED);
    expect(host.takeProvided()).toEqual([1]);
    expect(x.bufFree(0)).toBe(0);
    expect(host.takeProvided()).toEqual([0]);
  });

  test('multishot: each MORE CQE hands over its own buffer at delivery; the final ends it', () => {
    const h = setup({ buffers: 4, provided: 3 });
    const { x, host } = h;
    host.takeProvided();
    expect(x.submitRecvSelect(3, 256, 2)).toBe(-ERRNO.EINVAL);
    expect(x.submitRecvSelect(3, 64, 1)).toBe(-ERRNO.EINVAL); // a multishot takes whole buffers
    const id = x.submitRecvSelect(3, 256, 1);
    const [sqe] = host.take();
    expect(sqe.flags).toBe(L.SQE_F_BUFFER_SELECT | L.SQE_F_MULTISHOT);
    host.complete(id, 10, L.CQE_F_MORE | bufferFlags(0));
    host.complete(id, 20, L.CQE_F_MORE | bufferFlags(2));
    host.complete(id, 5, L.CQE_F_MORE); // data with no buffer: a host bug
    h.reap(0, 1); // one delivered, the rest carried over: their buffers stay the kernel's
    expect([x.bufOwner(0), x.bufOwner(2)]).toEqual([OWNER.PROGRAM, OWNER.KERNEL]);
    expect(x.counter(COUNTER.LENT)).toBe(1);
    expect(x.checkInvariants()).toBe(0);
    const rest = h.reap();
    expect(rest.map((d) => [d.res, d.flags])).toEqual([
      [20, L.CQE_F_MORE | bufferFlags(2)],
      [-ERRNO.EFAULT, L.CQE_F_MORE],
    ]);
    expect(x.bufOwner(2)).toBe(OWNER.PROGRAM);
    expect(x.opState(id)).toBe(STATE.SUBMITTED);
    host.complete(id, -ERRNO.ENOBUFS); // the pick set ran dry: the multishot ends
    expect(h.reap().map((d) => [d.res, d.flags])).toEqual([[-ERRNO.ENOBUFS, 0]]);
    expect(x.bufFree(0)).toBe(0);
    expect(x.bufFree(2)).toBe(0);
    expect(host.takeProvided()).toEqual([0, 2]);
    expect(x.checkInvariants()).toBe(0);
  });

  test('multishot abandoned with buffers still queued: they go back to the pick set', () => {
    const h = setup({ buffers: 2, provided: 2 });
    const { x, host } = h;
    host.takeProvided();
    const id = x.submitRecvSelect(3, 256, 1);
    host.take();
    host.complete(id, 10, L.CQE_F_MORE | bufferFlags(1));
    host.complete(id, 11, L.CQE_F_MORE | bufferFlags(0));
    expect(h.reap(0, 1).map((d) => d.res)).toEqual([10]); // the second waits in the ready queue
    expect(x.bufOwner(0)).toBe(OWNER.KERNEL);
    expect(x.abandon(id)).toBe(0);
    expect(x.checkInvariants()).toBe(0);
    host.complete(id, 12, L.CQE_F_MORE); // after abandon: nobody reads it
    host.complete(id, -ERRNO.ECANCELED);
    expect(h.reap()).toEqual([]);
    expect([x.bufOwner(0), x.bufOwner(1)]).toEqual([OWNER.PROVIDED, OWNER.PROGRAM]);
    expect(x.counter(COUNTER.LENT)).toBe(0);
    expect(x.opState(id)).toBe(-ERRNO.ENOENT);
    expect(x.bufFree(1)).toBe(0);
    expect(host.takeProvided()).toEqual([0, 1]);
    expect(x.checkInvariants()).toBe(0);
  });

  test('no recv set: submitRecvSelect is ENOBUFS', () => {
    const { x } = setup({ buffers: 2 });
    expect(x.submitRecvSelect(3, 64)).toBe(-ERRNO.ENOBUFS);
    expect(x.counter(COUNTER.PROVIDED)).toBe(0);
  });
});
