// The host's checks of file SQEs (OPENAT, FSYNC, STATX) before the kernel or
// the blocking pool sees them, and the ops themselves driven from a fake core:
// an OPENAT's fd is owned by the driver, usable by READ/WRITE/STATX/FSYNC and
// CLOSE, and closed at teardown.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as L from '../../src/core/layout';
import { collect, type FakeCore } from './fake-core';
import { closeAll, E, makeDriver } from './setup';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-host-fs-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(closeAll);

const id = (core: FakeCore, slot: number, gen = 1) => core.id(slot, gen);

/** Writes `text` and a NUL into buffer 0; returns the SQE fields of that path. */
function pathAt(core: FakeCore, text: string): { addr: number; len: number } {
  return { addr: core.buffer(0), len: core.writeBuffer(0, `${text}\0`) };
}

/** Submits one SQE and returns its result (a failed check completes at flush). */
function resultOf(
  core: FakeCore,
  driver: ReturnType<typeof makeDriver>['driver'],
  sqe: Parameters<FakeCore['submit']>[0],
) {
  core.submit(sqe);
  const cqes = collect(driver, core, 1);
  expect(cqes).toHaveLength(1);
  expect(cqes[0].id).toBe(sqe.id);
  return cqes[0].res;
}

test('OPENAT checks: the fd, the path in the arena and NUL-terminated, the flags and the mode', () => {
  const { core, driver } = makeDriver();
  const good = pathAt(core, path.join(dir, 'checked'));
  const open = (over: object) =>
    resultOf(core, driver, {
      id: id(core, 1),
      opcode: L.OP_OPENAT,
      fd: -1,
      ...good,
      aux: L.OPEN_F_READ_WRITE,
      ...over,
    });
  expect(open({ fd: 0 })).toBe(-E.EBADF); // only AT_FDCWD
  expect(open({ addr: core.header })).toBe(-E.EFAULT); // outside the arena
  expect(open({ len: 0 })).toBe(-E.EFAULT);
  expect(open({ len: good.len - 1 })).toBe(-E.EFAULT); // not NUL-terminated
  core.writeBuffer(1, `a\0b\0`);
  expect(open({ addr: core.buffer(1), len: 4 })).toBe(-E.EFAULT); // a NUL inside
  expect(open({ len: L.PATH_MAX_LEN + 1 })).toBe(-E.EFAULT);
  expect(open({ aux: L.OPEN_F_WRITE | L.OPEN_F_READ_WRITE })).toBe(-E.EINVAL);
  expect(open({ aux: L.OPEN_F_ALL + 1 })).toBe(-E.EINVAL);
  expect(open({ aux: L.OPEN_F_CREATE, arg: BigInt(L.OPEN_MODE_MAX + 1) })).toBe(-E.EINVAL);
  expect(driver.counters().openFds).toBe(0);
  expect(fs.existsSync(path.join(dir, 'checked'))).toBe(false);
});

test('FSYNC, STATX and FALLOCATE check their fd, flags and buffer', () => {
  const { core, driver } = makeDriver();
  const file = fs.openSync(__filename, 'r');
  try {
    expect(resultOf(core, driver, { id: id(core, 1), opcode: L.OP_FSYNC, fd: file })).toBe(-E.EBADF);
    expect(
      resultOf(core, driver, {
        id: id(core, 1),
        opcode: L.OP_STATX,
        fd: file,
        addr: core.buffer(0),
        len: L.STATX_SIZE,
      }),
    ).toBe(-E.EBADF);
  } finally {
    fs.closeSync(file);
  }
  const [r] = driver.pipe() as number[];
  expect(resultOf(core, driver, { id: id(core, 1), opcode: L.OP_FSYNC, fd: r, aux: 2 })).toBe(-E.EINVAL);
  const falloc = { id: id(core, 1), opcode: L.OP_FALLOCATE, len: 4096 };
  expect(resultOf(core, driver, { ...falloc, fd: 0 })).toBe(-E.EBADF);
  expect(resultOf(core, driver, { ...falloc, fd: r, aux: L.FALLOC_F_ALL + 1 })).toBe(-E.EINVAL);
  const statx = (over: object) =>
    resultOf(core, driver, {
      id: id(core, 1),
      opcode: L.OP_STATX,
      fd: r,
      addr: core.buffer(0),
      len: L.STATX_SIZE,
      ...over,
    });
  expect(statx({ len: 128 })).toBe(-E.EINVAL);
  expect(statx({ addr: core.buffer(core.bufferCount - 1) + core.bufferSize - 128 })).toBe(-E.EFAULT); // runs past the arena
});

test("an opened file is the driver's: WRITE, READ, STATX, FSYNC and CLOSE on it", () => {
  const { core, driver } = makeDriver();
  const where = path.join(dir, 'owned');
  const flags = L.OPEN_F_READ_WRITE | L.OPEN_F_CREATE | L.OPEN_F_EXCL;
  const fd = resultOf(core, driver, {
    id: id(core, 1),
    opcode: L.OP_OPENAT,
    ...pathAt(core, where),
    aux: flags,
    arg: 0o640n,
  });
  expect(fd).toBeGreaterThanOrEqual(0);
  expect(driver.counters().openFds).toBe(1);
  const n = core.writeBuffer(2, 'file bytes');
  expect(
    resultOf(core, driver, { id: id(core, 2), opcode: L.OP_WRITE, fd, addr: core.buffer(2), len: n, arg: 5n }),
  ).toBe(n);
  expect(
    resultOf(core, driver, { id: id(core, 3), opcode: L.OP_READ, fd, addr: core.buffer(3), len: 64, arg: 5n }),
  ).toBe(n);
  expect(new TextDecoder().decode(core.readBuffer(3, n))).toBe('file bytes');
  expect(
    resultOf(core, driver, { id: id(core, 4), opcode: L.OP_STATX, fd, addr: core.buffer(4), len: L.STATX_SIZE }),
  ).toBe(0);
  expect(core.view.getBigUint64(core.buffer(4) + L.STATX_SIZE_FIELD, true)).toBe(BigInt(5 + n));
  expect(resultOf(core, driver, { id: id(core, 5), opcode: L.OP_FSYNC, fd, aux: L.FSYNC_F_DATASYNC })).toBe(0);
  expect(resultOf(core, driver, { id: id(core, 6), opcode: L.OP_CLOSE, fd })).toBe(0);
  expect(driver.counters().openFds).toBe(0);
  expect(fs.statSync(where).mode & 0o777).toBe(0o640 & ~process.umask());
});

test('teardown closes a file the driver opened', () => {
  const { core, driver } = makeDriver();
  const fd = resultOf(core, driver, { id: id(core, 1), opcode: L.OP_OPENAT, ...pathAt(core, __filename) });
  expect(fd).toBeGreaterThanOrEqual(0);
  const ino = fs.statSync(__filename).ino;
  driver.close();
  // Closed: EBADF, or the number already reused by something else this process opened.
  let reopened: fs.Stats | undefined;
  try {
    reopened = fs.fstatSync(fd);
  } catch (err) {
    expect(err).toMatchObject({ code: 'EBADF' });
  }
  if (reopened !== undefined) expect(reopened.ino).not.toBe(ino);
});

test('path operations check the fd, their C strings, their flag and mode', () => {
  const { core, driver } = makeDriver();
  const two = { addr: core.buffer(0), len: core.writeBuffer(0, `${path.join(dir, 'p1')}\0${path.join(dir, 'p2')}\0`) };
  const op = (opcode: number, over: object) =>
    resultOf(core, driver, { id: id(core, 1), opcode, fd: -1, ...two, ...over });
  for (const opcode of [L.OP_RENAMEAT, L.OP_SYMLINKAT, L.OP_LINKAT]) {
    expect(op(opcode, { fd: 3 })).toBe(-E.EBADF);
    expect(op(opcode, { len: two.len - 1 })).toBe(-E.EFAULT); // the second string not terminated
    expect(op(opcode, { aux: 1 })).toBe(-E.EINVAL);
    expect(op(opcode, { arg: 1n })).toBe(-E.EINVAL);
  }
  const one = { addr: core.buffer(1), len: core.writeBuffer(1, `${path.join(dir, 'p3')}\0`) };
  for (const opcode of [L.OP_UNLINKAT, L.OP_MKDIRAT]) {
    expect(op(opcode, two)).toBe(-E.EFAULT); // a second string after the one it takes
    expect(op(opcode, { ...one, addr: core.header })).toBe(-E.EFAULT);
  }
  expect(op(L.OP_UNLINKAT, { ...one, aux: L.UNLINK_F_DIR << 1 })).toBe(-E.EINVAL);
  expect(op(L.OP_MKDIRAT, { ...one, arg: BigInt(L.OPEN_MODE_MAX + 1) })).toBe(-E.EINVAL);
  expect(op(L.OP_MKDIRAT, { ...one, aux: 1 })).toBe(-E.EINVAL);
  expect(fs.readdirSync(dir).filter((n) => n.startsWith('p'))).toEqual([]);
  // And a good one goes through: MKDIRAT then UNLINKAT with UNLINK_F_DIR.
  expect(op(L.OP_MKDIRAT, { ...one, arg: 0o755n })).toBe(0);
  expect(fs.statSync(path.join(dir, 'p3')).isDirectory()).toBe(true);
  expect(op(L.OP_UNLINKAT, { ...one, aux: L.UNLINK_F_DIR })).toBe(0);
  expect(fs.existsSync(path.join(dir, 'p3'))).toBe(false);
});
