// No host code acts on an fd after the CLOSE for it was issued (issue 11).
// On the emulated buffer-select path (io_uring with pbufRing: false, as
// kernels before 5.19 get) the host itself calls recv() on the fd number when
// the RECV's POLL_ADD fires. io_uring's poll holds the old socket, so it can
// fire after the number was closed and given to another socket: the host
// must then not receive from that number. On epoll the CLOSE cancels the
// waiting RECV first; the same test runs there.

import * as L from '../../src/core/layout';
import { collect, type FakeCore } from './fake-core';
import { byId, closeAll, connectPair, E, isEpoll, listen, makeDriver, ok } from './setup';

afterEach(closeAll);

const driverOptions = isEpoll ? {} : { pbufRing: false };
const SEND_BUF = 5; // outside the recv set [0, 3)

function send(core: FakeCore, fd: number, text: string, slot = 9): void {
  const len = core.writeBuffer(SEND_BUF, text);
  core.submit({ id: core.id(slot), opcode: L.OP_SEND, fd, addr: core.buffer(SEND_BUF), len });
}

describe.each([
  ['a CLOSE SQE', false],
  ['closeFd()', true],
])('an emulated select RECV whose fd is closed by %s', (_name, sync) => {
  test.each([false, true])('never receives from the reused number (multishot %s)', (multishot) => {
    const { core: a, driver: da } = makeDriver({ provided: 3, bufferCount: 8 }, undefined, undefined, driverOptions);
    if (!isEpoll) expect(da.features).toContain('recv_select_emulated');
    const { fd: la, port: pa } = listen(da, a);
    const [oldClient, oldServer] = connectPair(da, a, la, pa);
    // Another runtime, with its listener open before the close.
    const { core: b, driver: db } = makeDriver({ bufferCount: 8 });
    const { fd: lb, port: pb } = listen(db, b);

    a.provide(0, 1, 2);
    const recvId = a.id(3);
    a.submit({
      id: recvId,
      opcode: L.OP_RECV,
      flags: L.SQE_F_BUFFER_SELECT | (multishot ? L.SQE_F_MULTISHOT : 0),
      fd: oldServer,
      len: a.bufferSize,
    });
    expect(collect(da, a, 1, 50)).toEqual([]); // waiting: its poll is in the kernel

    const early = [];
    if (sync) {
      expect(da.closeFd(oldServer)).toBe(0);
    } else {
      a.submit({ id: a.id(4), opcode: L.OP_CLOSE, fd: oldServer });
      early.push(...collect(da, a, 1));
      expect(byId(early, a.id(4)).res).toBe(0);
    }

    // B's next socket takes the lowest free number: the one just closed.
    const reused = ok(db.socket(4));
    expect(reused).toBe(oldServer);
    expect(db.encodeAddress('127.0.0.1', pb, b.addrRecord(2))).toBe(0);
    b.submit({ id: b.id(1), opcode: L.OP_ACCEPT, fd: lb });
    b.submit({ id: b.id(2), opcode: L.OP_CONNECT, fd: reused, addr: b.addrRecord(2), len: L.ADDR_RECORD_SIZE });
    const accepted = byId(collect(db, b, 2), b.id(1)).res;
    expect(accepted).toBeGreaterThanOrEqual(0);
    // B's peer writes to B's socket (the reused number)...
    send(b, accepted, 'SECRET');
    expect(byId(collect(db, b, 1), b.id(9)).res).toBe(6);
    // ... and the old connection's client writes to the old socket, which
    // wakes the old RECV's poll if the kernel still holds it.
    send(a, oldClient, 'old', 8);
    const cqes = [...early, ...collect(da, a, 3, 300)];
    const recv = cqes.filter((c) => c.id === recvId);
    // Whatever A's RECV ends with, it is never data, and never B's.
    for (const c of recv) expect(c.res).toBeLessThanOrEqual(0);
    expect(recv.length).toBe(1);
    expect(recv[0].res).toBe(-E.ECANCELED);
    // B still finds its data in its socket.
    b.submit({ id: b.id(3), opcode: L.OP_RECV, fd: reused, addr: b.buffer(0), len: 64 });
    const got = byId(collect(db, b, 1), b.id(3));
    expect(got.res).toBe(6);
    expect(Buffer.from(b.readBuffer(0, 6)).toString()).toBe('SECRET');
  });
});

test('an emulated select RECV whose fd is handed off (forgetFd) never receives what the adopter is sent', () => {
  const { core: a, driver: da } = makeDriver({ provided: 3, bufferCount: 8 }, undefined, undefined, driverOptions);
  const { fd: la, port: pa } = listen(da, a);
  const [client, server] = connectPair(da, a, la, pa);
  a.provide(0, 1, 2);
  const recvId = a.id(3);
  a.submit({ id: recvId, opcode: L.OP_RECV, flags: L.SQE_F_BUFFER_SELECT, fd: server, len: 4096 });
  expect(collect(da, a, 1, 50)).toEqual([]);
  expect(da.forgetFd(server)).toBe(0);
  const { core: b, driver: db } = makeDriver({ bufferCount: 8 });
  expect(db.adoptFd(server)).toBe(0);
  send(a, client, 'FOR-B');
  const cqes = collect(da, a, 2, 300);
  expect(byId(cqes, a.id(9)).res).toBe(5);
  expect(byId(cqes, recvId).res).toBe(-E.ECANCELED);
  b.submit({ id: b.id(1), opcode: L.OP_RECV, fd: server, addr: b.buffer(0), len: 64 });
  expect(byId(collect(db, b, 1), b.id(1)).res).toBe(5);
  expect(Buffer.from(b.readBuffer(0, 5)).toString()).toBe('FOR-B');
});
