// Each opcode through the real kernel, driven with poll() (no event loop).

import * as L from '../../src/core/layout';
import { collect } from './fake-core';
import {
  byId,
  closeAll,
  connectPair,
  DriverClass,
  driverName,
  E,
  host,
  isEpoll,
  listen,
  makeDriver,
  ok,
} from './setup';

afterEach(closeAll);

const NS_PER_MS = 1_000_000n;

describe(`${DriverClass.name}`, () => {
  test('exports its name, features and the layout table', () => {
    const { driver } = makeDriver();
    expect(driver.name).toBe(driverName);
    expect(driver.features).toEqual(
      expect.arrayContaining(isEpoll ? ['edge_triggered', 'multishot_accept'] : ['nodrop', 'ext_arg']),
    );
    expect(Array.isArray(host.layoutTable)).toBe(true);
    expect(host.layoutTable).toEqual(L.LAYOUT_TABLE.map(([, value]) => value));
  });

  test('NOP completes with 0 and is counted', () => {
    const { core, driver } = makeDriver();
    core.submit({ id: core.id(3), opcode: L.OP_NOP });
    expect(driver.flush()).toBe(1);
    expect(core.getHeader(L.H_SQ_HEAD)).toBe(1);
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(3), res: 0, flags: 0 }]);
    const c = driver.counters();
    expect(c.submitted).toBe(1);
    expect(c.completed).toBe(1);
    expect(c.enters).toBeGreaterThanOrEqual(1);
    expect(c.openFds).toBe(0);
  });

  test('WRITE then READ through a pipe carries the bytes', () => {
    const { core, driver } = makeDriver();
    const [r, w] = ok(driver.pipe());
    expect(driver.counters().openFds).toBe(2);
    // The read is submitted first and waits for the write.
    core.submit({ id: core.id(1), opcode: L.OP_READ, fd: r, addr: core.buffer(1), len: 100, arg: -1n });
    expect(collect(driver, core, 1, 50)).toEqual([]);
    const len = core.writeBuffer(0, 'hello from percore');
    core.submit({ id: core.id(2), opcode: L.OP_WRITE, fd: w, addr: core.buffer(0), len, arg: -1n });
    const cqes = collect(driver, core, 2);
    expect(byId(cqes, core.id(2)).res).toBe(len);
    expect(byId(cqes, core.id(1)).res).toBe(len);
    expect(Buffer.from(core.readBuffer(1, len)).toString()).toBe('hello from percore');
  });

  test('TCP: listen, connect, accept, send/recv, shutdown, close', () => {
    const { core, driver } = makeDriver();
    const { fd: listener, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, listener, port);
    expect(driver.counters().openFds).toBe(3);
    const peer = driver.peerAddress(client);
    expect(peer).toEqual({ address: '127.0.0.1', family: 'IPv4', port });
    expect(driver.localAddress(server)).toEqual({ address: '127.0.0.1', family: 'IPv4', port });

    const len = core.writeBuffer(0, 'ping');
    core.submit({ id: core.id(3), opcode: L.OP_SEND, fd: client, addr: core.buffer(0), len });
    core.submit({ id: core.id(4), opcode: L.OP_RECV, fd: server, addr: core.buffer(1), len: 64 });
    let cqes = collect(driver, core, 2);
    expect(byId(cqes, core.id(3)).res).toBe(4);
    expect(byId(cqes, core.id(4)).res).toBe(4);
    expect(Buffer.from(core.readBuffer(1, 4)).toString()).toBe('ping');

    // Shutting the client's write side ends the server's stream.
    core.submit({ id: core.id(5), opcode: L.OP_SHUTDOWN, fd: client, aux: 1 });
    core.submit({ id: core.id(6), opcode: L.OP_RECV, fd: server, addr: core.buffer(1), len: 64 });
    cqes = collect(driver, core, 2);
    expect(byId(cqes, core.id(5)).res).toBe(0);
    expect(byId(cqes, core.id(6)).res).toBe(0);

    // CLOSE gives the fd up as soon as it is submitted.
    core.submit({ id: core.id(7), opcode: L.OP_CLOSE, fd: server });
    driver.flush();
    expect(driver.counters().openFds).toBe(2);
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(7), res: 0, flags: 0 }]);
    // ...and the core can no longer use it.
    core.submit({ id: core.id(8), opcode: L.OP_RECV, fd: server, addr: core.buffer(1), len: 64 });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(8), res: -E.EBADF, flags: 0 }]);
  });

  test('multishot ACCEPT: one CQE per connection with MORE, ended by a cancel', () => {
    const { core, driver } = makeDriver();
    expect(driver.features).toContain('multishot_accept');
    const { fd: listener, port } = listen(driver, core);
    const acceptId = core.id(1);
    core.submit({ id: acceptId, opcode: L.OP_ACCEPT, flags: L.SQE_F_MULTISHOT, fd: listener });
    driver.flush();
    const clients: number[] = [];
    for (let i = 0; i < 3; i++) {
      const client = ok(driver.socket(4));
      clients.push(client);
      expect(driver.encodeAddress('127.0.0.1', port, core.addrRecord(2 + i))).toBe(0);
      core.submit({
        id: core.id(2 + i),
        opcode: L.OP_CONNECT,
        fd: client,
        addr: core.addrRecord(2 + i),
        len: L.ADDR_RECORD_SIZE,
      });
    }
    const cqes = collect(driver, core, 6);
    const accepts = cqes.filter((c) => c.id === acceptId);
    expect(accepts).toHaveLength(3);
    for (const a of accepts) {
      expect(a.res).toBeGreaterThanOrEqual(0);
      expect(a.flags & L.CQE_F_MORE).toBe(L.CQE_F_MORE);
    }
    expect(new Set(accepts.map((a) => a.res)).size).toBe(3);
    for (let i = 0; i < 3; i++) expect(byId(cqes, core.id(2 + i)).res).toBe(0);
    expect(driver.counters().openFds).toBe(1 + 3 + 3); // listener, clients, accepted

    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(acceptId) });
    const end = collect(driver, core, 2);
    expect(byId(end, L.INTERNAL_ID).res).toBe(0);
    expect(byId(end, acceptId)).toEqual({ id: acceptId, res: -E.ECANCELED, flags: 0 });
  });

  test('a peer reset during sends yields -ECONNRESET or -EPIPE, never a signal', () => {
    const { core, driver } = makeDriver({ bufferSize: 65536, bufferCount: 2 });
    const { fd: listener, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, listener, port);
    // Abortive close: the server's kernel answers with RST.
    expect(driver.setOption(server, L.SOCKOPT_LINGER_ZERO, 1)).toBe(0);
    expect(driver.closeFd(server)).toBe(0);
    let res = 0;
    for (let i = 0; i < 20 && res >= 0; i++) {
      core.submit({ id: core.id(3, i + 1), opcode: L.OP_SEND, fd: client, addr: core.buffer(0), len: 65536 });
      const [cqe] = collect(driver, core, 1);
      res = cqe.res;
    }
    expect([-E.ECONNRESET, -E.EPIPE]).toContain(res);
  });

  // The host passes io_uring's -ETIME through on every driver; the core maps it to 0.
  test('TIMEOUT completes with -ETIME (62), as io_uring reports it, and before a longer one', () => {
    const { core, driver } = makeDriver();
    const started = process.hrtime.bigint();
    core.submit({ id: core.id(1), opcode: L.OP_TIMEOUT, arg: 60n * NS_PER_MS });
    core.submit({ id: core.id(2), opcode: L.OP_TIMEOUT, arg: 600_000n * NS_PER_MS });
    const cqes = collect(driver, core, 1, 20_000);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(cqes).toEqual([{ id: core.id(1), res: -E.ETIME, flags: 0 }]); // the 60 ms one alone
    expect(elapsedMs).toBeGreaterThanOrEqual(55);
    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(core.id(2)) });
    expect(byId(collect(driver, core, 2, 20_000), core.id(2))).toEqual({ id: core.id(2), res: -E.ECANCELED, flags: 0 });
  });

  test('CANCEL of a pending recv: target -ECANCELED, cancel 0; unknown target -ENOENT', () => {
    const { core, driver } = makeDriver();
    const [r] = ok(driver.pipe());
    const target = core.id(1);
    core.submit({ id: target, opcode: L.OP_READ, fd: r, addr: core.buffer(0), len: 10, arg: -1n });
    expect(collect(driver, core, 1, 30)).toEqual([]);
    core.submit({ id: core.id(2), opcode: L.OP_CANCEL, arg: BigInt(target) });
    const cqes = collect(driver, core, 2);
    expect(byId(cqes, target).res).toBe(-E.ECANCELED);
    expect(byId(cqes, core.id(2)).res).toBe(0);

    core.submit({ id: core.id(3), opcode: L.OP_CANCEL, arg: BigInt(core.id(9, 7)) });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(3), res: -E.ENOENT, flags: 0 }]);
  });

  test('a full core CQ leaves the rest for the next poll, losing nothing', () => {
    const { core, driver } = makeDriver({ cqEntries: 4 });
    const ids = Array.from({ length: 10 }, (_, i) => core.id(i));
    for (const id of ids) core.submit({ id, opcode: L.OP_NOP });
    expect(driver.poll(100)).toBe(4);
    expect(driver.poll(0)).toBe(0); // still full: nothing written, nothing dropped
    const seen = core.takeCqes();
    expect(driver.poll(0)).toBe(4);
    seen.push(...core.takeCqes());
    expect(driver.poll(0)).toBe(2);
    seen.push(...core.takeCqes());
    expect(seen.map((c) => c.id).sort((a, b) => a - b)).toEqual(ids);
    expect(seen.every((c) => c.res === 0)).toBe(true);
    expect(driver.counters().completed).toBe(10);
  });

  test('a failed check waits in the SQ while the core CQ is full', () => {
    const { core, driver } = makeDriver({ cqEntries: 4 });
    for (let i = 0; i < 4; i++) core.submit({ id: core.id(i), opcode: L.OP_NOP });
    expect(driver.poll(100)).toBe(4);
    core.submit({ id: core.id(5), opcode: 42 });
    expect(driver.flush()).toBe(0);
    expect(core.getHeader(L.H_SQ_HEAD)).toBe(4);
    core.takeCqes();
    expect(driver.flush()).toBe(1);
    expect(core.takeCqes()).toEqual([{ id: core.id(5), res: -E.EINVAL, flags: 0 }]);
  });

  test('close() is idempotent, closes owned fds and ends the driver', () => {
    const { core, driver } = makeDriver();
    const sock = ok(driver.socket(6));
    const [r, w] = ok(driver.pipe());
    core.submit({ id: core.id(1), opcode: L.OP_READ, fd: r, addr: core.buffer(0), len: 10, arg: -1n });
    driver.flush();
    expect(driver.counters().openFds).toBe(3);
    driver.close();
    driver.close();
    expect(driver.counters().openFds).toBe(0);
    for (const fd of [sock, r, w]) {
      // The numbers may be reused by anyone now, so ask the kernel about a
      // fresh one: fstat on a closed fd fails with EBADF.
      expect(() => require('node:fs').fstatSync(fd)).toThrow(/EBADF/);
    }
    expect(driver.flush()).toBe(0);
    expect(driver.poll(0)).toBe(0);
    expect(driver.socket(4)).toBe(-E.EBADF);
  });
});
