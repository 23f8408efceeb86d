// Cases specific to the readiness (epoll) driver, beyond the whole suite it
// runs in the epoll project: a write pending when the peer goes away, 1,000
// connections at once, an fd closed while an op waits on it, cancel results.
// Runs once (uring project's roots); every runtime here is forced to epoll.
import * as net from 'node:net';
import { constants } from 'node:os';
import * as L from '../src/core/layout';
import { loadAddon } from '../src/driver/addon';
import { type PercoreError, type Runtime, TcpListener, TcpStream } from '../src/index';
import { collect, FakeCore } from './host/fake-core';
import { expectClean, makeRuntime, pattern, until } from './support/helpers';

const E = constants.errno;
const host = loadAddon();

describe('epoll runtime', () => {
  let rt: Runtime;
  beforeEach(() => {
    rt = makeRuntime({ driver: 'epoll', entries: 8192, buffers: 2304, bufferSize: 16384 });
  });
  afterEach(() => rt.close());

  test('a write pending when the peer resets rejects with the socket error', async () => {
    expect(rt.driver).toBe('epoll');
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    // The peer never reads, and both ends have fixed small buffers (setting
    // SO_SNDBUF/SO_RCVBUF turns the kernel's autotuning off): a 1 MiB
    // writeAll can never finish, so it is pending whatever the machine's speed.
    const [peer, stream] = await Promise.all([
      TcpStream.connect(listener.localAddress(), { runtime: rt }),
      listener.accept(),
    ]);
    peer.setOptions({ receiveBufferSize: 4096, linger: 0 });
    stream.setOptions({ sendBufferSize: 4096 });
    const eagainBefore = rt.nativeDriver.counters().eagain;
    const data = pattern(1 << 20);
    const pending = stream.writeAll(data);
    pending.catch(() => {});
    // The driver saw EAGAIN: the SEND now waits for EPOLLOUT (a state, not a time).
    await until(() => rt.nativeDriver.counters().eagain > eagainBefore, 'the writeAll to wait for EPOLLOUT');
    await peer.close(); // linger 0: RST; EPOLLERR/EPOLLHUP wakes the waiting SEND
    await expect(pending).rejects.toMatchObject({ code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) });
    const err = (await pending.catch((e: unknown) => e)) as PercoreError & { bytesWritten: number };
    expect(err.bytesWritten).toBeLessThan(data.length);
    await stream.close();
    await listener.close();
    await expectClean(rt);
  });

  test('reads that fill their buffer exactly still wait for the next message without a failing recv (TCP_INQ)', async () => {
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const [client, server] = await Promise.all([
      TcpStream.connect(listener.localAddress(), { runtime: rt }),
      listener.accept(),
    ]);
    const size = 4096;
    const inbox = rt.buffer(size);
    const out = rt.buffer(size);
    // Settle: the first read of a new socket may try once before the first edge.
    out.set(pattern(size, 99));
    await client.writeAll(out);
    await server.readExact(inbox);
    const before = rt.nativeDriver.counters().eagain;
    for (let i = 0; i < 20; i++) {
      const reading = server.read(inbox); // waits: the message is not sent yet
      await new Promise((r) => setTimeout(r, 2));
      out.set(pattern(size, i));
      await client.writeAll(out);
      const [n] = await reading;
      expect(n).toBe(size); // the message fills the buffer exactly
      expect(Buffer.from(inbox).equals(pattern(size, i))).toBe(true);
    }
    // Each full read learned from TCP_INQ that nothing was left, so the next
    // read waited for the edge instead of trying a recv() that says EAGAIN.
    expect(rt.nativeDriver.counters().eagain - before).toBe(0);
    rt.release(inbox);
    rt.release(out);
    await Promise.all([client.close(), server.close(), listener.close()]);
    await expectClean(rt);
  });

  test('1,000 connections at once, each echoed through the epoll driver', async () => {
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const N = 1000;
    const serving: Promise<void>[] = [];
    const acceptAll = (async () => {
      for (let i = 0; i < N; i++) {
        const s = await listener.accept();
        serving.push(
          (async () => {
            const b = rt.buffer(64);
            const [n] = await s.read(b);
            await s.writeAll(b.subarray(0, n));
            rt.release(b);
            await s.close();
          })(),
        );
      }
    })();
    const clients = await Promise.all(
      Array.from({ length: N }, () => TcpStream.connect(listener.localAddress(), { runtime: rt })),
    );
    await acceptAll;
    expect(rt.counters().openFds).toBe(2 * N + 1);
    const results = await Promise.all(
      clients.map(async (c, i) => {
        const b = rt.buffer(64);
        b.set(pattern(32, i + 1));
        await c.writeAll(b.subarray(0, 32));
        let got = 0;
        const out = Buffer.alloc(32);
        while (got < 32) {
          const [n] = await c.read(b.subarray(0, 64));
          if (n === 0) break;
          Buffer.from(b.subarray(0, n)).copy(out, got);
          got += n;
        }
        rt.release(b);
        await c.close();
        return out.equals(pattern(32, i + 1));
      }),
    );
    await Promise.all(serving);
    expect(results.every(Boolean)).toBe(true);
    await listener.close();
    await expectClean(rt);
  });
});

describe('EpollDriver (host)', () => {
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const d of open.splice(0)) d.close();
  });
  function make(): { core: FakeCore; driver: InstanceType<typeof host.EpollDriver> } {
    const core = new FakeCore();
    const driver = new host.EpollDriver(core.bytes, core.header, { onTurn: () => -1 });
    open.push(driver);
    return { core, driver };
  }
  const pipe = (d: { pipe(): [number, number] | number }) => {
    const p = d.pipe();
    if (typeof p === 'number') throw new Error(`pipe: ${p}`);
    return p;
  };

  test('an fd closed by CLOSE while a READ waits: the READ completes -ECANCELED first', () => {
    const { core, driver } = make();
    const [r, w] = pipe(driver);
    core.submit({ id: core.id(1), opcode: L.OP_READ, fd: r, addr: core.buffer(0), len: 16, arg: -1n });
    expect(collect(driver, core, 1, 30)).toEqual([]); // waits for EPOLLIN
    core.submit({ id: core.id(2), opcode: L.OP_CLOSE, fd: r });
    expect(collect(driver, core, 2)).toEqual([
      { id: core.id(1), res: -E.ECANCELED, flags: 0 },
      { id: core.id(2), res: 0, flags: 0 },
    ]);
    expect(driver.counters().openFds).toBe(1);
    driver.closeFd(w);
  });

  test('an fd closed by closeFd while a READ waits completes it -ECANCELED on the next turn', () => {
    const { core, driver } = make();
    const [r, w] = pipe(driver);
    core.submit({ id: core.id(3), opcode: L.OP_READ, fd: r, addr: core.buffer(0), len: 16, arg: -1n });
    expect(collect(driver, core, 1, 30)).toEqual([]);
    expect(driver.closeFd(r)).toBe(0);
    expect(collect(driver, core, 1)).toEqual([{ id: core.id(3), res: -E.ECANCELED, flags: 0 }]);
    // The number may come back for a new fd: its state starts empty.
    const [r2, w2] = pipe(driver);
    const len = core.writeBuffer(1, 'again');
    core.submit({ id: core.id(4), opcode: L.OP_WRITE, fd: w2, addr: core.buffer(1), len, arg: -1n });
    core.submit({ id: core.id(5), opcode: L.OP_READ, fd: r2, addr: core.buffer(2), len: 16, arg: -1n });
    expect(collect(driver, core, 2)).toEqual([
      { id: core.id(4), res: len, flags: 0 },
      { id: core.id(5), res: len, flags: 0 },
    ]);
    driver.closeFd(w);
  });

  test('CANCEL: 0 and -ECANCELED for a waiting op, -ENOENT for an unknown or finished one', () => {
    const { core, driver } = make();
    const [r] = pipe(driver);
    core.submit({ id: core.id(1), opcode: L.OP_READ, fd: r, addr: core.buffer(0), len: 16, arg: -1n });
    core.submit({ id: core.id(2), opcode: L.OP_TIMEOUT, arg: 10_000_000_000n });
    expect(collect(driver, core, 1, 20)).toEqual([]);
    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(core.id(1)) });
    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(core.id(2)) });
    core.submit({ id: L.INTERNAL_ID, opcode: L.OP_CANCEL, arg: BigInt(core.id(1)) });
    expect(collect(driver, core, 5)).toEqual([
      { id: core.id(1), res: -E.ECANCELED, flags: 0 },
      { id: L.INTERNAL_ID, res: 0, flags: 0 },
      { id: core.id(2), res: -E.ECANCELED, flags: 0 },
      { id: L.INTERNAL_ID, res: 0, flags: 0 },
      { id: L.INTERNAL_ID, res: -E.ENOENT, flags: 0 },
    ]);
  });

  test('TIMEOUTs fire in deadline order with -ETIME, as io_uring reports them', () => {
    const { core, driver } = make();
    core.submit({ id: core.id(1), opcode: L.OP_TIMEOUT, arg: 60_000_000n });
    core.submit({ id: core.id(2), opcode: L.OP_TIMEOUT, arg: 20_000_000n });
    const start = Date.now();
    expect(collect(driver, core, 2, 1000)).toEqual([
      { id: core.id(2), res: -E.ETIME, flags: 0 },
      { id: core.id(1), res: -E.ETIME, flags: 0 },
    ]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(55);
  });
});
