// The simulation host alone, over the fake core of the host tests: the same
// header checks at attach and the same SQE checks as the native drivers
// (docs/ARCHITECTURE.md, "What the host checks before the kernel sees an
// SQE"), the provide ring's checks, cancel and close as the readiness driver
// answers them.
import * as L from '../../src/core/layout';
import { constructFor, SimDriver } from '../../src/sim/driver';
import { World } from '../../src/sim/world';
import { type Cqe, FakeCore, type SqeInit } from '../host/fake-core';

const EINVAL = -22;
const EBADF = -9;
const EFAULT = -14;
const ENOENT = -2;
const ENOBUFS = -105;
const ECANCELED = -125;
const ETIME = -62;

function attach(core: FakeCore): { driver: SimDriver; world: World } {
  const world = new World({}, 1);
  const host = world.host('a');
  const driver = constructFor(host, () => new SimDriver(core.bytes, core.header, { onTurn: () => -1 }));
  return { driver, world };
}

/** Submits `sqes`, flushes, and returns the CQEs written. */
function run(core: FakeCore, driver: SimDriver, ...sqes: SqeInit[]): Cqe[] {
  for (const sqe of sqes) core.submit(sqe);
  driver.flush();
  return core.takeCqes();
}

test.each([
  ['magic', L.H_MAGIC, 0x12345678, /bad magic/],
  ['version', L.H_VERSION, L.LAYOUT_VERSION - 1, /layout version/],
  ['a mask', L.H_SQ_MASK, 6, /mask/],
  ['memory_end', L.H_MEMORY_END, 1 << 30, /memory_end/],
])('a header with a bad %s is refused', (_what, field, value, message) => {
  const core = new FakeCore();
  core.setHeader(field, value);
  expect(() => attach(core)).toThrow(
    expect.objectContaining({ code: 'ERR_PERCORE_LAYOUT_MISMATCH', message: expect.stringMatching(message) }),
  );
});

describe('SQE checks', () => {
  const core = new FakeCore({ provided: 2 });
  const { driver } = attach(core);
  const fd = driver.socket(4);
  const id = core.id(1);
  const cases: Array<[string, SqeInit, number]> = [
    ['an unknown opcode', { id, opcode: 42 }, EINVAL],
    ['TIMER, which never reaches the SQ', { id, opcode: L.OP_TIMER }, EINVAL],
    ['a slot past the op table', { id: core.id(16), opcode: L.OP_NOP }, EINVAL],
    ['generation 0', { id: 1, opcode: L.OP_NOP }, EINVAL],
    ['INTERNAL_ID on anything but CANCEL', { id: L.INTERNAL_ID, opcode: L.OP_NOP }, EINVAL],
    ['an fd it does not own (RECV)', { id, opcode: L.OP_RECV, fd: 99, addr: core.buffer(0), len: 10 }, EBADF],
    ['an fd it does not own (ACCEPT)', { id, opcode: L.OP_ACCEPT, fd: 99 }, EBADF],
    ['an fd it does not own (CLOSE)', { id, opcode: L.OP_CLOSE, fd: 0 }, EBADF],
    ['a buffer outside the arena', { id, opcode: L.OP_SEND, fd, addr: core.sq, len: 10 }, EFAULT],
    ['a buffer running past the arena', { id, opcode: L.OP_RECV, fd, addr: core.buffer(7), len: 4097 }, EFAULT],
    ['CONNECT with the staging record', { id, opcode: L.OP_CONNECT, fd, addr: core.addrStaging, len: 32 }, EFAULT],
    ['CONNECT with a short record', { id, opcode: L.OP_CONNECT, fd, addr: core.addrRecord(1), len: 16 }, EFAULT],
    ['MULTISHOT on SEND', { id, opcode: L.OP_SEND, flags: 1, fd, addr: core.buffer(0), len: 1 }, EINVAL],
    ['MULTISHOT on a plain RECV', { id, opcode: L.OP_RECV, flags: 1, fd, addr: core.buffer(0), len: 1 }, EINVAL],
    ['an unknown flag', { id, opcode: L.OP_ACCEPT, flags: 4, fd }, EINVAL],
    ['a select RECV of 0 bytes', { id, opcode: L.OP_RECV, flags: 2, fd, len: 0 }, EINVAL],
    ['a select RECV over buffer_size', { id, opcode: L.OP_RECV, flags: 2, fd, len: 4097 }, EINVAL],
    ['a multishot select RECV shorter than a buffer', { id, opcode: L.OP_RECV, flags: 3, fd, len: 100 }, EINVAL],
    ['SHUTDOWN how 3', { id, opcode: L.OP_SHUTDOWN, fd, aux: 3 }, EINVAL],
  ];
  test.each(cases)('%s', (_what, sqe, res) => {
    expect(run(core, driver, sqe)).toEqual([{ id: sqe.id >>> 0, res, flags: 0 }]);
  });

  test('a select RECV with no recv set is malformed', () => {
    const bare = new FakeCore();
    const { driver: d } = attach(bare);
    const s = d.socket(4);
    expect(run(bare, d, { id, opcode: L.OP_RECV, flags: 2, fd: s, len: 10 })).toEqual([{ id, res: EINVAL, flags: 0 }]);
  });
});

test('the provide ring: an index outside the recv set is ignored, a duplicate counted once', () => {
  const core = new FakeCore({ provided: 2 });
  const { driver, world } = attach(core);
  const fd = driver.socket(4);
  core.provide(7, 1000);
  // Nothing valid was provided: a select RECV finds the pick set empty at once, as io_uring answers.
  expect(run(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: 2, fd, len: 10 })).toEqual([
    { id: core.id(1), res: ENOBUFS, flags: 0 },
  ]);
  // A peer on another host sends two bytes.
  const peer = world.host('b').kernel;
  const listening = peer.socket(4);
  expect(peer.bind(listening, { ip: '10.0.0.2', port: 80 }, 4)).toBe(0);
  expect(peer.listen(listening, 8)).toBe(0);
  expect(driver.encodeAddress('10.0.0.2', 80, core.addrRecord(2))).toBe(0);
  run(core, driver, { id: core.id(2), opcode: L.OP_CONNECT, fd, addr: core.addrRecord(2), len: 32 });
  const drain = (): void => {
    for (let fire = world.sched.take(); fire !== undefined; fire = world.sched.take()) fire();
  };
  drain();
  expect(core.takeCqes()).toEqual([{ id: core.id(2), res: 0, flags: 0 }]);
  const accepted = peer.accept(listening);
  expect(world.tcp.send(peer.get(accepted)!, new Uint8Array([1, 2]))).toBe(2);
  drain();
  // Buffer 0 provided twice is in the set once: the second 1-byte RECV finds it empty.
  core.provide(0, 0);
  const recv = (slot: number): SqeInit => ({ id: core.id(slot), opcode: L.OP_RECV, flags: 2, fd, len: 1 });
  expect(run(core, driver, recv(3), recv(4))).toEqual([
    { id: core.id(3), res: 1, flags: L.CQE_F_BUFFER | (0 << L.CQE_BUFFER_SHIFT) },
    { id: core.id(4), res: ENOBUFS, flags: 0 },
  ]);
  expect(core.readBuffer(0, 1)).toEqual(new Uint8Array([1]));
});

test('CANCEL: 0 and the target -ECANCELED first, or -ENOENT; a TIMEOUT fires -ETIME on the virtual clock', () => {
  const core = new FakeCore();
  const { driver, world } = attach(core);
  const timeout = core.id(1);
  expect(run(core, driver, { id: timeout, opcode: L.OP_TIMEOUT, arg: 5_000_000n })).toEqual([]);
  expect(run(core, driver, { id: core.id(2), opcode: L.OP_CANCEL, arg: BigInt(timeout) })).toEqual([
    { id: timeout, res: ECANCELED, flags: 0 },
    { id: core.id(2), res: 0, flags: 0 },
  ]);
  expect(run(core, driver, { id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(timeout) })).toEqual([
    { id: L.INTERNAL_ID, res: ENOENT, flags: 0 },
  ]);
  run(core, driver, { id: core.id(3), opcode: L.OP_TIMEOUT, arg: 5_000_000n });
  for (let fire = world.sched.take(); fire !== undefined; fire = world.sched.take()) fire();
  expect(world.now).toBeGreaterThanOrEqual(5);
  expect(core.takeCqes()).toEqual([{ id: core.id(3), res: ETIME, flags: 0 }]);
});

test('CLOSE of an fd with ops waiting completes them with -ECANCELED first', () => {
  const core = new FakeCore();
  const { driver } = attach(core);
  const fd = driver.socket(4);
  expect(driver.encodeAddress('10.0.0.1', 7000, core.addrStaging)).toBe(0);
  expect(driver.bind(fd)).toBe(0);
  expect(driver.listen(fd, 8)).toBe(0);
  expect(run(core, driver, { id: core.id(1), opcode: L.OP_ACCEPT, flags: 1, fd })).toEqual([]);
  expect(run(core, driver, { id: core.id(2), opcode: L.OP_CLOSE, fd })).toEqual([
    { id: core.id(1), res: ECANCELED, flags: 0 },
    { id: core.id(2), res: 0, flags: 0 },
  ]);
  expect(driver.counters().openFds).toBe(0);
  expect(driver.closeFd(fd)).toBe(EBADF);
});
