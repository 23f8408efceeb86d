// What the host refuses: bad headers at construction, bad SQEs before the
// kernel sees them, bad arguments to the sync helpers.

import * as fs from 'node:fs';
import * as L from '../../src/core/layout';
import type { Driver } from '../../src/driver/addon';
import { type Cqe, collect, FakeCore } from './fake-core';
import { byId, closeAll, connectPair, DriverClass, E, isEpoll, listen, makeDriver, ok } from './setup';

/** The ways a buffer-select RECV runs on this project's driver: on io_uring,
 * the registered buffer ring and its emulation. */
const recvSelectModes: Array<[string, { pbufRing?: boolean }]> = isEpoll
  ? [['epoll', {}]]
  : [
      ['buffer ring', { pbufRing: true }],
      ['emulation', { pbufRing: false }],
    ];

afterEach(closeAll);

/** The error `fn` throws, or a failed assertion if it returns. */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe(`header checks at construction (${DriverClass.name})`, () => {
  function construct(core: FakeCore, header = core.header): () => void {
    return () => {
      const driver = new DriverClass(core.bytes, header, { onTurn: () => -1 });
      driver.close();
    };
  }

  function expectMismatch(core: FakeCore, message: RegExp, header?: number): void {
    const error = thrown(construct(core, header));
    expect(error.name).toBe('Error');
    expect(error.code).toBe('ERR_PERCORE_LAYOUT_MISMATCH');
    expect(error.message).toMatch(message);
  }

  test('a valid fake core is accepted', () => {
    expect(construct(new FakeCore())).not.toThrow();
  });

  test('wrong magic', () => {
    const core = new FakeCore();
    core.setHeader(L.H_MAGIC, 0x12345678);
    expectMismatch(core, /magic 0x12345678.*0x50524352/);
  });

  test('wrong version names both versions', () => {
    const core = new FakeCore();
    core.setHeader(L.H_VERSION, L.LAYOUT_VERSION - 1);
    expectMismatch(core, new RegExp(`version ${L.LAYOUT_VERSION - 1}, the host speaks version ${L.LAYOUT_VERSION}`));
  });

  test('wrong header size', () => {
    const core = new FakeCore();
    core.setHeader(L.H_HEADER_SIZE, 64);
    expectMismatch(core, /header size is 64/);
  });

  test('header offset unaligned or outside the memory', () => {
    const core = new FakeCore();
    expectMismatch(core, /not a 64-byte aligned header/, core.header + 4);
    expectMismatch(core, /not a 64-byte aligned header/, core.bytes.length);
  });

  test('memory_end past the memory given', () => {
    const core = new FakeCore();
    core.setHeader(L.H_MEMORY_END, core.bytes.length + 64);
    expectMismatch(core, /memory_end/);
  });

  test('a region past memory_end', () => {
    const core = new FakeCore();
    core.setHeader(L.H_ADDR_STAGING, core.memoryEnd);
    expectMismatch(core, /staging address record region .* outside memory_end/);
  });

  test('overlapping regions', () => {
    const core = new FakeCore();
    core.setHeader(L.H_CQ_ENTRIES, core.sq);
    expectMismatch(core, /CQ region overlaps the SQ region/);
  });

  test('masks that are not a power of two minus one', () => {
    const core = new FakeCore();
    core.setHeader(L.H_CQ_MASK, 5);
    expectMismatch(core, /not powers of two minus one/);
  });

  test('op capacity and buffer size out of range', () => {
    const a = new FakeCore();
    a.setHeader(L.H_OP_CAPACITY, 0);
    expectMismatch(a, /op_capacity 0/);
    const b = new FakeCore();
    b.setHeader(L.H_BUFFER_SIZE, 100);
    expectMismatch(b, /buffer_size 100/);
  });

  test('argument types', () => {
    const core = new FakeCore();
    const U = DriverClass;
    const onTurn = () => -1;
    // The addon's errors come from the main realm, not jest's: compare names.
    expect(thrown(() => new U(new Uint16Array(8) as unknown as Uint8Array, 0, { onTurn })).name).toBe('TypeError');
    expect(thrown(() => new U(core.bytes.subarray(64), core.header, { onTurn })).name).toBe('TypeError');
    expect(thrown(() => new U(core.bytes, core.header, {} as never)).name).toBe('TypeError');
    expect(thrown(() => new U(core.bytes, -1, { onTurn })).name).toBe('RangeError');
    expect(thrown(() => new U(core.bytes, core.header, { onTurn, entries: 0 })).name).toBe('RangeError');
    expect(thrown(() => new U(core.bytes, core.header, { onTurn, entries: 40000 })).name).toBe('RangeError');
  });
});

describe('SQE checks', () => {
  /** Submits one SQE and returns its result; asserts the kernel never saw it. */
  function resultOf(init: Parameters<FakeCore['submit']>[0], options = {}): number {
    const { core, driver } = makeDriver(options);
    const enters = driver.counters().enters;
    core.submit(init);
    expect(driver.flush()).toBe(1);
    expect(driver.counters().enters).toBe(enters); // completed without a system call
    const cqes = core.takeCqes();
    expect(cqes).toHaveLength(1);
    expect(cqes[0].id).toBe(init.id);
    expect(cqes[0].flags).toBe(0);
    return cqes[0].res;
  }

  const id = ((1 << L.SLOT_BITS) | 3) >>> 0;

  test('unknown opcodes and TIMER are -EINVAL', () => {
    expect(resultOf({ id, opcode: L.OP_TIMER })).toBe(-E.EINVAL);
    expect(resultOf({ id, opcode: L.OP_COUNT })).toBe(-E.EINVAL);
    expect(resultOf({ id, opcode: 200 })).toBe(-E.EINVAL);
  });

  test('malformed ids are -EINVAL', () => {
    expect(resultOf({ id: 3, opcode: L.OP_NOP })).toBe(-E.EINVAL); // generation 0
    expect(resultOf({ id: (1 << L.SLOT_BITS) | 16, opcode: L.OP_NOP })).toBe(-E.EINVAL); // slot >= capacity
    expect(resultOf({ id: L.INTERNAL_ID, opcode: L.OP_NOP })).toBe(-E.EINVAL); // internal: cancels only
  });

  test('fds the driver does not own are -EBADF', () => {
    const file = fs.openSync(__filename, 'r');
    try {
      for (const fd of [0, 1, 2, file, -1, 1 << 30]) {
        expect(resultOf({ id, opcode: L.OP_READ, fd, addr: new FakeCore().arena, len: 8, arg: -1n })).toBe(-E.EBADF);
      }
      for (const opcode of [L.OP_ACCEPT, L.OP_CLOSE, L.OP_SHUTDOWN, L.OP_RECV, L.OP_SEND, L.OP_WRITE, L.OP_CONNECT]) {
        expect(resultOf({ id, opcode, fd: file })).toBe(-E.EBADF);
      }
    } finally {
      fs.closeSync(file);
    }
  });

  test('buffers not entirely inside the arena are -EFAULT', () => {
    const { core, driver } = makeDriver();
    const [r, w] = ok(driver.pipe());
    const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
    const cases: Array<[number, number]> = [
      [core.arena - 1, 8], // starts before
      [arenaEnd - 4, 8], // runs past the end
      [arenaEnd + 64, 0], // empty, but past the end
      [core.arena, 0xffffffff], // length overflows u32
      [0xfffffff0, 0x20], // addr + len wraps around
      [core.header, 16], // the header itself
    ];
    let slot = 0;
    for (const [addr, len] of cases) {
      for (const [opcode, fd] of [
        [L.OP_READ, r],
        [L.OP_WRITE, w],
        [L.OP_RECV, r],
        [L.OP_SEND, w],
      ]) {
        const cqeId = core.id(slot++ % core.opCapacity, 1 + slot);
        core.submit({ id: cqeId, opcode, fd, addr, len, arg: -1n });
        driver.flush();
        expect(core.takeCqes()).toEqual([{ id: cqeId, res: -E.EFAULT, flags: 0 }]);
      }
    }
  });

  test('CONNECT with anything but an op address record is -EFAULT', () => {
    const { core, driver } = makeDriver();
    const sock = ok(driver.socket(4));
    const cases: Array<[number, number]> = [
      [core.addrStaging, 32], // the staging record is for bind, not ops
      [core.addrRecord(1) + 4, 32], // not a record start
      [core.addrRecord(core.opCapacity), 32], // one past the last
      [core.arena, 32],
      [core.addrRecord(1), 16], // wrong length
    ];
    for (const [addr, len] of cases) {
      core.submit({ id: core.id(1), opcode: L.OP_CONNECT, fd: sock, addr, len });
      driver.flush();
      expect(core.takeCqes()).toEqual([{ id: core.id(1), res: -E.EFAULT, flags: 0 }]);
    }
    // A record with no family set fails in the host too (-EINVAL).
    core.submit({ id: core.id(1), opcode: L.OP_CONNECT, fd: sock, addr: core.addrRecord(1), len: 32 });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(1), res: -E.EINVAL, flags: 0 }]);
  });

  test('SHUTDOWN how outside 0..2 is -EINVAL', () => {
    const { core, driver } = makeDriver();
    const sock = ok(driver.socket(4));
    core.submit({ id: core.id(1), opcode: L.OP_SHUTDOWN, fd: sock, aux: 3 });
    driver.flush();
    expect(core.takeCqes()).toEqual([{ id: core.id(1), res: -E.EINVAL, flags: 0 }]);
  });
});

describe.each(recvSelectModes)('buffer-select RECV and provide-ring checks (%s)', (_mode, driverOptions) => {
  /** A driver over a core with `provided` recv-set buffers (of 8, 4096 bytes
   * each) and a connected pair of its own sockets. */
  function setup(provided: number) {
    const { core, driver } = makeDriver(
      { provided, bufferCount: 8, bufferSize: 4096 },
      undefined,
      undefined,
      driverOptions,
    );
    const { fd, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, fd, port);
    return { core, driver, client, server };
  }

  /** Submits a buffer-select RECV on `fd`; returns its one CQE, which the host
   * wrote without a system call. */
  function refused(core: FakeCore, driver: Driver, fd: number, len: number, multishot = false): Cqe {
    const enters = driver.counters().enters;
    const flags = L.SQE_F_BUFFER_SELECT | (multishot ? L.SQE_F_MULTISHOT : 0);
    core.submit({ id: core.id(5), opcode: L.OP_RECV, flags, fd, len });
    expect(driver.flush()).toBe(1);
    expect(driver.counters().enters).toBe(enters);
    const cqes = core.takeCqes();
    expect(cqes).toHaveLength(1);
    return cqes[0];
  }

  test('length 0 and lengths over the buffer size are -EINVAL, single-shot and multishot', () => {
    const { core, driver, server } = setup(2);
    core.provide(0, 1);
    for (const len of [0, 4097, 0xffffffff]) {
      for (const multishot of [false, true]) {
        expect(refused(core, driver, server, len, multishot)).toEqual({ id: core.id(5), res: -E.EINVAL, flags: 0 });
      }
    }
  });

  // -EINVAL, not -ENOBUFS: with no recv set the request is malformed (the
  // core refuses to make one), not a pick set that happens to be empty.
  test('with no recv set registered it is -EINVAL', () => {
    const { core, driver, server } = setup(0);
    for (const multishot of [false, true]) {
      expect(refused(core, driver, server, 4096, multishot)).toEqual({ id: core.id(5), res: -E.EINVAL, flags: 0 });
    }
  });

  /** Receives what `text` becomes on `server`: the CQE of a buffer-select RECV. */
  function roundTrip(core: FakeCore, driver: Driver, client: number, server: number, text: string, slot: number): Cqe {
    const len = core.writeBuffer(7, text); // outside the recv set
    core.submit({ id: core.id(1), opcode: L.OP_SEND, fd: client, addr: core.buffer(7), len });
    expect(byId(collect(driver, core, 1), core.id(1)).res).toBe(len);
    core.submit({ id: core.id(slot), opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd: server, len: 4096 });
    return byId(collect(driver, core, 1), core.id(slot));
  }

  test('a duplicate provide-ring entry puts its buffer in the pick set once', () => {
    const { core, driver, client, server } = setup(3);
    core.provide(1, 1, 1);
    const first = roundTrip(core, driver, client, server, 'one', 2);
    expect(first).toEqual({ id: core.id(2), res: 3, flags: L.CQE_F_BUFFER | (1 << L.CQE_BUFFER_SHIFT) });
    // Buffer 1 is the program's now: the duplicates must not hand it out again.
    const second = roundTrip(core, driver, client, server, 'two', 3);
    expect(second).toEqual({ id: core.id(3), res: -E.ENOBUFS, flags: 0 });
    expect(core.getHeader(L.H_PROVIDE_HEAD)).toBe(core.getHeader(L.H_PROVIDE_TAIL)); // consumed, not stuck
    expect(Buffer.from(core.readBuffer(1, 3)).toString()).toBe('one');
  });

  test('provide-ring entries outside the recv set are never picked', () => {
    const { core, driver, client, server } = setup(2);
    core.provide(2, 7); // the ring holds two entries: two batches
    expect(driver.flush()).toBe(0);
    core.provide(8, 0xffffffff);
    const cqe = roundTrip(core, driver, client, server, 'out', 2);
    expect(cqe).toEqual({ id: core.id(2), res: -E.ENOBUFS, flags: 0 });
    expect(core.getHeader(L.H_PROVIDE_HEAD)).toBe(core.getHeader(L.H_PROVIDE_TAIL));
    // Buffers 2 and 7 are outside the recv set: nothing was written to them.
    expect([...core.readBuffer(2, 3)]).toEqual([0, 0, 0]);
    // A valid entry after the bad ones still works, and takes the waiting bytes.
    core.provide(0);
    core.submit({ id: core.id(3), opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd: server, len: 4096 });
    expect(byId(collect(driver, core, 1), core.id(3))).toEqual({ id: core.id(3), res: 3, flags: L.CQE_F_BUFFER });
    expect(Buffer.from(core.readBuffer(0, 3)).toString()).toBe('out');
  });
});

describe('sync helpers', () => {
  test('socket, encodeAddress and addresses for IPv6', () => {
    const { core, driver } = makeDriver();
    const fd = ok(driver.socket(6));
    expect(driver.encodeAddress('::1', 0, core.addrStaging)).toBe(0);
    expect(core.view.getUint16(core.addrStaging + L.ADDR_FAMILY, true)).toBe(6);
    expect(core.bytes[core.addrStaging + L.ADDR_BYTES + 15]).toBe(1);
    expect(driver.bind(fd)).toBe(0);
    expect(driver.listen(fd, 8)).toBe(0);
    const local = driver.localAddress(fd);
    expect(local).toMatchObject({ address: '::1', family: 'IPv6' });
    expect(driver.peerAddress(fd)).toBe(-E.ENOTCONN);
  });

  test('encodeAddress writes the record and refuses bad input', () => {
    const { core, driver } = makeDriver();
    const at = core.addrRecord(3);
    expect(driver.encodeAddress('10.1.2.3', 8080, at)).toBe(0);
    expect(core.view.getUint16(at + L.ADDR_FAMILY, true)).toBe(4);
    expect(core.view.getUint16(at + L.ADDR_PORT, true)).toBe(8080);
    expect([...core.bytes.subarray(at + L.ADDR_BYTES, at + L.ADDR_BYTES + 4)]).toEqual([10, 1, 2, 3]);

    expect(driver.encodeAddress('fe80::1%1', 1, at)).toBe(0);
    expect(core.view.getUint16(at + L.ADDR_FAMILY, true)).toBe(6);
    expect(core.view.getUint32(at + L.ADDR_SCOPE_ID, true)).toBe(1);
    expect(driver.encodeAddress('fe80::1%lo', 1, at)).toBe(0);
    expect(core.view.getUint32(at + L.ADDR_SCOPE_ID, true)).toBeGreaterThan(0);

    expect(driver.encodeAddress('fe80::1%no-such-if0', 1, at)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('localhost', 1, at)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('1.2.3', 1, at)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('1.2.3.4', 65536, at)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('1.2.3.4', -1, at)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('1.2.3.4', 1, at + 1)).toBe(-E.EINVAL);
    expect(driver.encodeAddress('1.2.3.4', 1, core.arena)).toBe(-E.EINVAL);
  });

  test('helpers refuse fds the driver does not own', () => {
    const { driver } = makeDriver();
    expect(driver.setOption(1, L.SOCKOPT_NODELAY, 1)).toBe(-E.EBADF);
    expect(driver.bind(1)).toBe(-E.EBADF);
    expect(driver.listen(1, 1)).toBe(-E.EBADF);
    expect(driver.localAddress(1)).toBe(-E.EBADF);
    expect(driver.closeFd(1)).toBe(-E.EBADF);
    expect(driver.socket(5 as 4)).toBe(-E.EAFNOSUPPORT);
  });

  test('setOption knows the layout options and nothing else', () => {
    const { driver } = makeDriver();
    const fd = ok(driver.socket(4));
    for (const option of [
      L.SOCKOPT_REUSEADDR,
      L.SOCKOPT_REUSEPORT,
      L.SOCKOPT_NODELAY,
      L.SOCKOPT_KEEPALIVE,
      L.SOCKOPT_LINGER_ZERO,
    ]) {
      expect(driver.setOption(fd, option, 1)).toBe(0);
      expect(driver.setOption(fd, option, 0)).toBe(0);
    }
    expect(driver.setOption(fd, 99, 1)).toBe(-E.EINVAL);
    const [r] = ok(driver.pipe());
    expect(driver.setOption(r, L.SOCKOPT_NODELAY, 1)).toBe(-E.ENOTSOCK);
  });

  test('closeFd closes and forgets', () => {
    const { driver } = makeDriver();
    const fd = ok(driver.socket(4));
    expect(driver.counters().openFds).toBe(1);
    expect(driver.closeFd(fd)).toBe(0);
    expect(driver.counters().openFds).toBe(0);
    expect(driver.closeFd(fd)).toBe(-E.EBADF);
  });
});
