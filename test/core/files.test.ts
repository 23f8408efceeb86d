// The core's file submissions (layout v4): what each refuses before it takes
// a slot, and the SQE it writes. The host checks the bytes; these are the
// numbers the core can see.
import * as L from '../../src/core/layout';
import { COUNTER, ERRNO, OWNER, setup } from './fake-host';

test('OPENAT lends the path buffer and carries flags and mode; bad numbers take no slot', () => {
  const { x, host } = setup({ bufferSize: 256 });
  const buf = x.bufAlloc();
  expect(x.submitOpenat(buf, 0, 10, L.OPEN_F_ALL + 1, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitOpenat(buf, 0, 10, -1, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitOpenat(buf, 0, 10, 0, L.OPEN_MODE_MAX + 1)).toBe(-ERRNO.EINVAL);
  expect(x.submitOpenat(buf, 0, 257, 0, 0)).toBe(-ERRNO.EINVAL); // past the buffer
  expect(x.submitOpenat(buf + 1, 0, 10, 0, 0)).toBe(-ERRNO.EINVAL); // a buffer not held
  expect(x.counter(COUNTER.IN_USE)).toBe(0);
  const id = x.submitOpenat(buf, 16, 10, L.OPEN_F_CREATE | L.OPEN_F_WRITE, 0o640);
  expect(id).toBeGreaterThan(0);
  expect(x.bufOwner(buf)).toBe(OWNER.KERNEL);
  expect(x.submitOpenat(buf, 0, 10, 0, 0)).toBe(-ERRNO.EBUSY); // lent already
  const [sqe] = host.take();
  expect(sqe).toMatchObject({
    id,
    opcode: L.OP_OPENAT,
    fd: -1,
    len: 10,
    aux: L.OPEN_F_CREATE | L.OPEN_F_WRITE,
    arg: 0o640n,
  });
  expect(sqe.addr).toBe(host.field(L.H_ARENA) + buf * 256 + 16);
});

test('FSYNC, STATX and FALLOCATE', () => {
  const { x, host } = setup({ bufferSize: 256 });
  expect(x.submitFsync(-1, 0)).toBe(-ERRNO.EBADF);
  expect(x.submitFsync(5, 2)).toBe(-ERRNO.EINVAL);
  const fsync = x.submitFsync(5, 1);
  const buf = x.bufAlloc();
  expect(x.submitStatx(5, buf, 1)).toBe(-ERRNO.EINVAL); // 256 bytes from offset 1 do not fit
  const statx = x.submitStatx(5, buf, 0);
  expect(x.submitFallocate(5, L.FALLOC_F_ALL + 1, 0, 1)).toBe(-ERRNO.EINVAL);
  expect(x.submitFallocate(5, 0, 0, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitFallocate(5, 0, -1, 1)).toBe(-ERRNO.EINVAL);
  expect(x.submitFallocate(5, 0, 0.5, 1)).toBe(-ERRNO.EINVAL);
  expect(x.submitFallocate(5, 0, 0, Number.NaN)).toBe(-ERRNO.EINVAL);
  const big = 2 ** 40 + 3;
  const falloc = x.submitFallocate(5, L.FALLOC_F_KEEP_SIZE, 4096, big);
  const sqes = host.take();
  expect(sqes[0]).toMatchObject({ id: fsync, opcode: L.OP_FSYNC, fd: 5, aux: L.FSYNC_F_DATASYNC });
  expect(sqes[1]).toMatchObject({ id: statx, opcode: L.OP_STATX, fd: 5, len: L.STATX_SIZE });
  expect(sqes[2]).toMatchObject({ id: falloc, opcode: L.OP_FALLOCATE, fd: 5, aux: L.FALLOC_F_KEEP_SIZE, arg: 4096n });
  expect(sqes[2].addr * 2 ** 32 + sqes[2].len).toBe(big); // the 64-bit length in addr:len
});

test("path operations: only the five opcodes, UNLINKAT's flag and MKDIRAT's mode", () => {
  const { x, host } = setup({ bufferSize: 256 });
  const buf = x.bufAlloc();
  expect(x.submitPathOp(L.OP_OPENAT, buf, 0, 4, 0, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitPathOp(L.OP_RENAMEAT + 256, buf, 0, 4, 0, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitPathOp(L.OP_RENAMEAT, buf, 0, 4, L.UNLINK_F_DIR, 0)).toBe(-ERRNO.EINVAL);
  expect(x.submitPathOp(L.OP_RENAMEAT, buf, 0, 4, 0, 0o755)).toBe(-ERRNO.EINVAL);
  expect(x.submitPathOp(L.OP_MKDIRAT, buf, 0, 4, 0, L.OPEN_MODE_MAX + 1)).toBe(-ERRNO.EINVAL);
  expect(x.counter(COUNTER.IN_USE)).toBe(0);
  const rmdir = x.submitPathOp(L.OP_UNLINKAT, buf, 0, 4, L.UNLINK_F_DIR, 0);
  expect(host.take()[0]).toMatchObject({ id: rmdir, opcode: L.OP_UNLINKAT, fd: -1, len: 4, aux: L.UNLINK_F_DIR });
  host.complete(rmdir, 0);
  expect(x.reap(0, 16)).toBe(1);
  const mkdir = x.submitPathOp(L.OP_MKDIRAT, buf, 0, 4, 0, 0o700);
  expect(host.take()[0]).toMatchObject({ id: mkdir, opcode: L.OP_MKDIRAT, arg: 0o700n });
});
