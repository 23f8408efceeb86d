// What the host refuses about buffer-select RECVs and the provide ring
// (issue 18), before the kernel sees anything: on io_uring with its buffer
// ring and with the emulation, and on epoll.

import * as L from '../../src/core/layout';
import type { Driver, DriverOptions } from '../../src/driver/addon';
import { collect, type FakeCore, type FakeCoreOptions, type SqeInit } from './fake-core';
import { byId, closeAll, connectPair, E, isEpoll, listen, makeDriver, ok } from './setup';

afterEach(closeAll);

const modes: Array<[string, Pick<DriverOptions, 'pbufRing'>]> = isEpoll
  ? [['epoll', {}]]
  : [
      ['buffer ring', { pbufRing: true }],
      ['emulation', { pbufRing: false }],
    ];

describe.each(modes)('buffer-select checks (%s)', (_name, driverOptions) => {
  function make(options: FakeCoreOptions = {}): { core: FakeCore; driver: Driver } {
    return makeDriver({ bufferSize: 4096, ...options }, undefined, undefined, driverOptions);
  }

  /** Submits one SQE over a socket the driver owns; returns its result and
   * asserts it completed without a system call. */
  function resultOf(core: FakeCore, driver: Driver, init: SqeInit): number {
    const enters = driver.counters().enters;
    core.submit(init);
    expect(driver.flush()).toBe(1);
    expect(driver.counters().enters).toBe(enters); // the kernel never saw it
    const cqes = core.takeCqes();
    expect(cqes).toEqual([{ id: init.id, res: expect.any(Number), flags: 0 }]);
    return cqes[0].res;
  }

  const SELECT = L.SQE_F_BUFFER_SELECT;
  const MULTI = L.SQE_F_MULTISHOT;

  test('length 0 is -EINVAL', () => {
    const { core, driver } = make({ provided: 2 });
    core.provide(0, 1);
    const fd = ok(driver.socket(4));
    expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT, fd, len: 0 })).toBe(-E.EINVAL);
    expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT | MULTI, fd, len: 0 })).toBe(
      -E.EINVAL,
    );
  });

  test('a length over the buffer size is -EINVAL; a multishot must ask for exactly one buffer', () => {
    const { core, driver } = make({ provided: 2 });
    core.provide(0, 1);
    const fd = ok(driver.socket(4));
    for (const len of [4097, 8192, 0xffffffff]) {
      expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT, fd, len })).toBe(-E.EINVAL);
      expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT | MULTI, fd, len })).toBe(
        -E.EINVAL,
      );
    }
    expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT | MULTI, fd, len: 100 })).toBe(
      -E.EINVAL,
    );
  });

  test('with no recv set it is -EINVAL (malformed, not short of buffers)', () => {
    const { core, driver } = make({ provided: 0 });
    const fd = ok(driver.socket(4));
    expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT, fd, len: 64 })).toBe(-E.EINVAL);
    expect(resultOf(core, driver, { id: core.id(1), opcode: L.OP_RECV, flags: SELECT | MULTI, fd, len: 4096 })).toBe(
      -E.EINVAL,
    );
  });

  test('flags where the layout gives them no meaning are -EINVAL', () => {
    const { core, driver } = make({ provided: 2 });
    const fd = ok(driver.socket(4));
    const addr = core.buffer(4);
    const cases: SqeInit[] = [
      { id: core.id(1), opcode: L.OP_RECV, flags: MULTI, fd, addr, len: 64 }, // multishot without select
      { id: core.id(1), opcode: L.OP_RECV, flags: 4, fd, addr, len: 64 }, // unknown bit
      { id: core.id(1), opcode: L.OP_RECV, flags: 0x80 | SELECT, fd, len: 64 },
      { id: core.id(1), opcode: L.OP_SEND, flags: SELECT, fd, addr, len: 64 },
      { id: core.id(1), opcode: L.OP_SEND, flags: MULTI, fd, addr, len: 64 },
      { id: core.id(1), opcode: L.OP_READ, flags: SELECT, fd, addr, len: 64, arg: -1n },
      { id: core.id(1), opcode: L.OP_ACCEPT, flags: SELECT, fd },
      { id: core.id(1), opcode: L.OP_NOP, flags: MULTI },
      { id: core.id(1), opcode: L.OP_TIMEOUT, flags: MULTI, arg: 1_000_000n },
    ];
    for (const init of cases) expect(resultOf(core, driver, init)).toBe(-E.EINVAL);
  });

  test('duplicate and out-of-range provide entries are refused: never two RECVs in one buffer', () => {
    const { core, driver } = make({ provided: 8, bufferCount: 16 });
    // Only buffer 1 is really given (a ring of 8 entries, all used): 1
    // again, 9 and 15 (outside the recv set) and wild indices are refused.
    core.provide(1, 1, 9, 15, 1, 0xffff, 0x80000000, 0xffffffff);
    const { fd: lfd, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, lfd, port);
    expect(core.getHeader(L.H_PROVIDE_HEAD)).toBe(core.getHeader(L.H_PROVIDE_TAIL)); // all consumed
    const send = (slot: number, text: string) => {
      const len = core.writeBuffer(12, text);
      core.submit({ id: core.id(slot), opcode: L.OP_SEND, fd: client, addr: core.buffer(12), len });
    };
    core.submit({ id: core.id(3), opcode: L.OP_RECV, flags: SELECT, fd: server, len: 4096 });
    send(9, 'one');
    const first = byId(collect(driver, core, 2), core.id(3));
    expect(first).toEqual({ id: core.id(3), res: 3, flags: L.CQE_F_BUFFER | (1 << L.CQE_BUFFER_SHIFT) });
    // Buffer 1 is the program's now, and nothing else was provided.
    core.submit({ id: core.id(4), opcode: L.OP_RECV, flags: SELECT, fd: server, len: 4096 });
    send(10, 'two');
    const second = byId(collect(driver, core, 2), core.id(4));
    expect(second).toEqual({ id: core.id(4), res: -E.ENOBUFS, flags: 0 });
  });
});
