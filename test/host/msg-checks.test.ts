// What the host checks of the layout-v4 ops (SENDMSG, RECVMSG) before the
// kernel sees them, what it writes back (the sender, MSGF_TRUNC), and the
// checks of the Unix and multicast helpers: each refused without a system
// call on the fd, on this project's driver.
import * as fs from 'node:fs';
import * as L from '../../src/core/layout';
import type { Driver } from '../../src/driver/addon';
import { collect, type FakeCore } from './fake-core';
import { closeAll, connectPair, E, listen, makeDriver, ok } from './setup';

afterEach(closeAll);

/** A UDP socket on 127.0.0.1 and its port. */
function udp(driver: Driver, core: FakeCore): { fd: number; port: number } {
  const fd = ok(driver.socket(4, 2));
  expect(driver.encodeAddress('127.0.0.1', 0, core.addrStaging)).toBe(0);
  expect(driver.bind(fd)).toBe(0);
  const local = ok(driver.localAddress(fd));
  return { fd, port: local.port };
}

/** Submits one SQE; its CQE must come from the checks (no enter). */
function refused(driver: Driver, core: FakeCore, init: Parameters<FakeCore['submit']>[0]): number {
  const enters = driver.counters().enters;
  core.submit(init);
  expect(driver.flush()).toBe(1);
  expect(driver.counters().enters).toBe(enters);
  const cqes = core.takeCqes();
  expect(cqes).toHaveLength(1);
  return cqes[0].res;
}

describe('SENDMSG and RECVMSG checks', () => {
  test('an fd the driver does not own is -EBADF', () => {
    const { core, driver } = makeDriver();
    const file = fs.openSync(__filename, 'r');
    try {
      for (const opcode of [L.OP_SENDMSG, L.OP_RECVMSG]) {
        expect(refused(driver, core, { id: core.id(1), opcode, fd: file, addr: core.buffer(0), len: 8 })).toBe(
          -E.EBADF,
        );
      }
    } finally {
      fs.closeSync(file);
    }
  });

  test('a buffer not entirely inside the arena is -EFAULT', () => {
    const { core, driver } = makeDriver();
    const { fd } = udp(driver, core);
    const arenaEnd = core.arena + core.bufferCount * core.bufferSize;
    for (const opcode of [L.OP_SENDMSG, L.OP_RECVMSG]) {
      for (const [addr, len] of [
        [core.arena - 1, 8],
        [arenaEnd - 4, 8],
        [core.header, 16],
        [core.arena, 0xffffffff],
      ]) {
        expect(refused(driver, core, { id: core.id(1), opcode, fd, addr, len })).toBe(-E.EFAULT);
      }
    }
  });

  test('an aux the layout gives no meaning is -EINVAL', () => {
    const { core, driver } = makeDriver();
    const { fd, port } = udp(driver, core);
    expect(driver.encodeAddress('127.0.0.1', port, core.addrRecord(1))).toBe(0);
    const base = { id: core.id(1), fd, addr: core.buffer(0), len: 8 };
    for (const aux of [3, 8, 3 | L.MSG_FDS]) {
      expect(refused(driver, core, { ...base, opcode: L.OP_SENDMSG, aux })).toBe(-E.EINVAL);
    }
    for (const aux of [L.SENDMSG_TO, L.SENDMSG_TO_NAME, 8]) {
      expect(refused(driver, core, { ...base, opcode: L.OP_RECVMSG, aux })).toBe(-E.EINVAL);
    }
    // Meaningful, but with nothing staged for the op: refused by the host too.
    expect(refused(driver, core, { ...base, opcode: L.OP_SENDMSG, aux: L.SENDMSG_TO_NAME })).toBe(-E.EINVAL);
    expect(refused(driver, core, { ...base, opcode: L.OP_SENDMSG, aux: L.MSG_FDS })).toBe(-E.EINVAL);
  });

  test('SENDMSG_TO with a record that holds no IP address is -EINVAL', () => {
    const { core, driver } = makeDriver();
    const { fd } = udp(driver, core);
    for (const family of [0, 1, 5, 9]) {
      core.view.setUint16(core.addrRecord(2) + L.ADDR_FAMILY, family, true);
      const sqe = { id: core.id(2), opcode: L.OP_SENDMSG, fd, addr: core.buffer(0), len: 8, aux: L.SENDMSG_TO };
      expect(refused(driver, core, sqe)).toBe(-E.EINVAL);
    }
  });

  test('a datagram goes to the record, and the receiver learns its sender and its truncation', () => {
    const { core, driver } = makeDriver();
    const a = udp(driver, core);
    const b = udp(driver, core);
    expect(driver.encodeAddress('127.0.0.1', b.port, core.addrRecord(1))).toBe(0);
    const len = core.writeBuffer(0, 'a datagram of 27 bytes long');
    core.submit({ id: core.id(1), opcode: L.OP_SENDMSG, fd: a.fd, addr: core.buffer(0), len, aux: L.SENDMSG_TO });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(1), res: len, flags: 0 }]);
    // Received into 10 bytes: cut, and said so.
    core.submit({ id: core.id(3), opcode: L.OP_RECVMSG, fd: b.fd, addr: core.buffer(1), len: 10 });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(3), res: 10, flags: 0 }]);
    expect(new TextDecoder().decode(core.readBuffer(1, 10))).toBe('a datagram');
    const record = core.addrRecord(3);
    expect(core.view.getUint32(record + L.ADDR_MSG_FLAGS, true)).toBe(L.MSGF_TRUNC);
    expect(driver.recordAddress(record)).toEqual({ address: '127.0.0.1', family: 'IPv4', port: a.port });
    // A whole one clears the flag.
    core.submit({ id: core.id(1), opcode: L.OP_SENDMSG, fd: a.fd, addr: core.buffer(0), len: 2, aux: L.SENDMSG_TO });
    core.submit({ id: core.id(3, 2), opcode: L.OP_RECVMSG, fd: b.fd, addr: core.buffer(1), len: 10 });
    const cqes = collect(driver, core, 2);
    expect(cqes).toContainEqual({ id: core.id(3, 2), res: 2, flags: 0 });
    expect(core.view.getUint32(record + L.ADDR_MSG_FLAGS, true)).toBe(0);
  });

  test('recordAddress takes only address records', () => {
    const { core, driver } = makeDriver();
    expect(driver.recordAddress(core.addrRecord(1) + 4)).toBe(-E.EINVAL);
    expect(driver.recordAddress(core.arena)).toBe(-E.EINVAL);
    core.view.setUint16(core.addrRecord(1) + L.ADDR_FAMILY, 0, true);
    expect(driver.recordAddress(core.addrRecord(1))).toBe(-E.EAFNOSUPPORT);
  });
});

describe('SPLICE_IN and SPLICE_OUT checks', () => {
  test('a socket or a pipe end the driver does not own is -EBADF; length 0 is -EINVAL', () => {
    const { core, driver } = makeDriver();
    const { fd } = udp(driver, core);
    const [r, w] = ok(driver.pipe());
    const file = fs.openSync(__filename, 'r');
    try {
      for (const [opcode, pipe] of [
        [L.OP_SPLICE_IN, w],
        [L.OP_SPLICE_OUT, r],
      ]) {
        expect(refused(driver, core, { id: core.id(1), opcode, fd: file, aux: pipe, len: 8 })).toBe(-E.EBADF);
        expect(refused(driver, core, { id: core.id(1), opcode, fd, aux: file, len: 8 })).toBe(-E.EBADF);
        expect(refused(driver, core, { id: core.id(1), opcode, fd, aux: 0xffffffff, len: 8 })).toBe(-E.EBADF);
        expect(refused(driver, core, { id: core.id(1), opcode, fd, aux: pipe, len: 0 })).toBe(-E.EINVAL);
      }
    } finally {
      fs.closeSync(file);
    }
  });
});

describe('SPLICE and closes', () => {
  test('closing the pipe end while a SPLICE_IN waits ends it, and its number is never spliced into again', () => {
    const { core, driver } = makeDriver();
    const { fd: l, port } = listen(driver, core);
    const [client, server] = connectPair(driver, core, l, port);
    const [r, w] = ok(driver.pipe());
    core.submit({ id: core.id(5), opcode: L.OP_SPLICE_IN, fd: server, aux: w, len: 1024 });
    expect(driver.poll(0)).toBe(0); // nothing to read: it waits
    expect(driver.closeFd(w)).toBe(0);
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(5), res: -E.ECANCELED, flags: 0 }]);
    // The number comes back as a new pipe's write end; bytes arriving on the
    // socket must not land in it.
    const [r2, w2] = ok(driver.pipe());
    expect([r2, w2]).toContain(w);
    core.writeBuffer(0, 'late bytes');
    core.submit({ id: core.id(6), opcode: L.OP_SEND, fd: client, addr: core.buffer(0), len: 10 });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(6), res: 10, flags: 0 }]);
    core.submit({ id: core.id(7), opcode: L.OP_RECV, fd: server, addr: core.buffer(1), len: 64 });
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(7), res: 10, flags: 0 }]); // still in the socket
    expect(driver.closeFd(r)).toBe(0);
  });
});

describe('Unix and multicast helpers', () => {
  test('socket takes the families and types the API offers, nothing else', () => {
    const { driver } = makeDriver();
    for (const [family, type] of [
      [1, 1],
      [1, 2],
      [1, 5],
      [4, 2],
      [6, 2],
    ] as const) {
      expect(driver.closeFd(ok(driver.socket(family, type)))).toBe(0);
    }
    expect(driver.socket(4, 5)).toBe(-E.EPROTONOSUPPORT);
    expect(driver.socket(4, 3 as 1)).toBe(-E.EINVAL); // SOCK_RAW
    expect(driver.socket(2 as 4, 1)).toBe(-E.EAFNOSUPPORT);
  });

  test('Unix names are checked before the kernel sees them', () => {
    const { driver } = makeDriver();
    const fd = ok(driver.socket(1, 1));
    const bytes = (s: string) => Buffer.from(s, 'latin1');
    for (const bad of ['', 'x'.repeat(108), 'a\0b', '\0', `\0${'y'.repeat(108)}`]) {
      expect(driver.bindUnix(fd, bytes(bad), false)).toBe(-E.EINVAL);
      expect(driver.connectUnix(fd, bytes(bad))).toBe(-E.EINVAL);
    }
    const file = fs.openSync(__filename, 'r');
    try {
      expect(driver.bindUnix(file, bytes('\0percore-not-owned'), false)).toBe(-E.EBADF);
      expect(driver.connectUnix(file, bytes('\0percore-not-owned'))).toBe(-E.EBADF);
      expect(driver.unixLocalName(file)).toBe(-E.EBADF);
      expect(driver.peerCredentials(file)).toBe(-E.EBADF);
      expect(driver.membership(file, '239.1.1.1', '', true)).toBe(-E.EBADF);
    } finally {
      fs.closeSync(file);
    }
    const longest = `\0${'z'.repeat(107)}`;
    expect(driver.bindUnix(fd, bytes(longest), false)).toBe(0);
    expect(Buffer.from(ok(driver.unixLocalName(fd))).toString('latin1')).toBe(longest);
  });

  test('membership needs a multicast group and an interface that parses', () => {
    const { core, driver } = makeDriver();
    const { fd } = udp(driver, core);
    expect(driver.membership(fd, '127.0.0.1', '', true)).toBe(-E.EINVAL);
    expect(driver.membership(fd, '::1', '', true)).toBe(-E.EINVAL); // IPv6, not multicast
    expect(driver.membership(fd, '239.1.2.3', 'nope', true)).toBe(-E.EINVAL);
    expect(driver.membership(fd, 'not an address', '', true)).toBe(-E.EINVAL);
  });
});
