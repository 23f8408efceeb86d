// fds are owned process-wide (issue 11): an fd another live runtime owns,
// in this thread or another, cannot be adopted (EBUSY) unless that runtime
// detached it for a hand-off; and a number that was closed and then reused
// by another runtime's new socket belongs to that runtime, not to whoever
// remembers the old number.

import * as fs from 'node:fs';
import { Runtime, start, TcpListener, TcpStream } from '../../src/index';
import { connectedPair, expectClean, makeRuntime } from '../support/helpers';

describe('two runtimes in one thread', () => {
  let a: Runtime;
  let b: Runtime;
  beforeEach(() => {
    b = makeRuntime();
    a = makeRuntime(); // current
  });
  afterEach(async () => {
    await expectClean(a);
    await expectClean(b);
    a.close();
    b.close();
  });

  test('adopt of an fd another runtime owns is refused with EBUSY; after detach it works', async () => {
    const { listener, client, server } = await connectedPair(a);
    expect(() => TcpStream.adopt(server.fd, { runtime: b })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(() => TcpStream.adopt(listener.fd, { runtime: b })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    // The owner still uses it, unharmed.
    await server.writeAll(Buffer.from('a'));
    const [n1, got1] = await client.read(Buffer.alloc(8));
    expect(got1.subarray(0, n1).toString()).toBe('a');

    // Detached for a hand-off: now the other runtime may take it, once.
    const fd = server.detach();
    const adopted = TcpStream.adopt(fd, { runtime: b });
    expect(() => TcpStream.adopt(fd, { runtime: a })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(() => TcpStream.adopt(fd, { runtime: b })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    await adopted.writeAll(Buffer.from('b'));
    const [n2, got2] = await client.read(Buffer.alloc(8));
    expect(got2.subarray(0, n2).toString()).toBe('b');
    await Promise.all([adopted.close(), client.close(), listener.close()]);
  });

  test("a closed fd's number reused by another runtime's socket is not adoptable by the old owner's peers", async () => {
    const first = await connectedPair(a);
    const oldFd = first.server.fd;
    await first.server.close();
    // B's listener and its connections take the lowest free numbers: soon one
    // of them is oldFd again (nothing else in this process opens fds here).
    const lb = await TcpListener.bind('127.0.0.1:0', { runtime: b });
    const reused: TcpStream[] = [];
    let owner: TcpStream | undefined;
    for (let i = 0; i < 32 && owner === undefined && lb.fd !== oldFd; i++) {
      const [c, s] = await Promise.all([TcpStream.connect(lb.localAddress(), { runtime: b }), lb.accept()]);
      reused.push(c, s);
      owner = [c, s].find((x) => x.fd === oldFd);
    }
    expect(owner !== undefined || lb.fd === oldFd).toBe(true);
    // A third runtime, and the old owner itself, remember the number: refused.
    const c = makeRuntime();
    try {
      expect(() => TcpStream.adopt(oldFd, { runtime: c })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
      expect(() => TcpStream.adopt(oldFd, { runtime: a })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    } finally {
      c.close();
      Runtime.setCurrent(a);
    }
    await Promise.all([...reused.map((s) => s.close()), lb.close(), first.client.close(), first.listener.close()]);
  });
});

test('an fd a worker runtime owns is refused in the main thread; once detached it is adopted', async () => {
  const cells = new Int32Array(new SharedArrayBuffer(16)); // [fd, phase, ...]
  const launch = start({ threads: 2, data: { cells } }, async (ctx) => {
    const { TcpListener: Listener, TcpStream: Stream } = ctx.percore;
    const cells = ctx.data.cells;
    const rt = ctx.runtime;
    if (ctx.threadIndex === 1) {
      // The worker owns a listener and a connection; publishes the
      // connection's fd without detaching it.
      const listener = await Listener.bind('127.0.0.1:0');
      const [client, server] = await Promise.all([Stream.connect(listener.localAddress()), listener.accept()]);
      Atomics.store(cells, 0, server.fd);
      Atomics.store(cells, 1, 1);
      while (Atomics.load(cells, 1) !== 2) await rt.sleep(1);
      // Now hand it off for real.
      server.detach();
      Atomics.store(cells, 1, 3);
      while (Atomics.load(cells, 1) !== 4) await rt.sleep(1);
      const [n, buf] = await client.read(Buffer.alloc(8));
      await Promise.all([client.close(), listener.close()]);
      return buf.subarray(0, n).toString();
    }
    while (Atomics.load(cells, 1) !== 1) await rt.sleep(1);
    const fd = Atomics.load(cells, 0);
    let refused = '';
    try {
      Stream.adopt(fd);
    } catch (e) {
      refused = (e as { code: string }).code;
    }
    Atomics.store(cells, 1, 2);
    while (Atomics.load(cells, 1) !== 3) await rt.sleep(1);
    const stream = Stream.adopt(fd);
    await stream.writeAll(Buffer.from('hi'));
    await stream.close();
    Atomics.store(cells, 1, 4);
    return refused;
  });
  const [refused, received] = (await launch) as [string, string];
  expect(refused).toBe('EBUSY');
  expect(received).toBe('hi');
});

test('a socket that gets the number of an fd whose CLOSE is still in flight stays owned (found by the API fuzz)', async () => {
  const rt = makeRuntime();
  const fillers: number[] = [];
  try {
    const { listener, client, server } = await connectedPair(rt);
    // Every number below the server's taken, so its number is the next one
    // the kernel hands out once it is closed.
    for (;;) {
      const fd = fs.openSync('/dev/null', 'r');
      if (fd > server.fd) {
        fs.closeSync(fd);
        break;
      }
      fillers.push(fd);
    }
    const number = server.fd;
    const closing = server.close(); // io_uring runs the CLOSE when it is submitted, before its CQE is reaped
    const next = await TcpStream.connect(listener.localAddress(), { runtime: rt }); // its socket() comes in between
    expect(next.fd).toBe(number);
    await closing;
    const peer = await listener.accept();
    await next.writeAll(Buffer.from('still mine'));
    const [n, got] = await peer.readExact(Buffer.alloc(10));
    expect(Buffer.from(got.subarray(0, n)).toString()).toBe('still mine');
    await Promise.all([next.close(), peer.close(), client.close(), listener.close()]);
    await expectClean(rt);
  } finally {
    for (const fd of fillers) fs.closeSync(fd);
    rt.close();
  }
});
