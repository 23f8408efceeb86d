import { spawn } from 'node:child_process';
// SO_REUSEPORT listeners on every thread, the fd hand-off between threads, and
// a shutdown under load that loses no byte already echoed.
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Channel, type Runtime, TcpStream } from '../../src/index';
import { expectClean, makeRuntime, netRoundTrip, pattern } from '../support/helpers';
import { endThreadsAfterEach, expectThreadsBackTo, osThreads, start } from './helpers';

endThreadsAfterEach();

test('each thread binds its own SO_REUSEPORT listener and the kernel lands connections on every one', async () => {
  const before = osThreads();
  const portCell = new Int32Array(new SharedArrayBuffer(4));
  const CONNECTIONS = 200;
  const launch = start({ threads: 3, data: { portCell }, onReady: () => void client() }, async (ctx) => {
    const { TcpListener } = ctx.percore;
    const cell = ctx.data.portCell;
    // Thread 0 picks the port; the others join it.
    if (ctx.threadIndex > 0) while (Atomics.load(cell, 0) === 0) await ctx.runtime.sleep(1);
    const listener = await TcpListener.bind({ host: '127.0.0.1', port: Atomics.load(cell, 0) }, { reusePort: true });
    if (ctx.threadIndex === 0) Atomics.store(cell, 0, listener.localAddress().port);
    let closed: Promise<void> | undefined;
    ctx.signal.addEventListener('abort', () => {
      closed = listener.close();
    });
    ctx.ready();
    let accepted = 0;
    const serving: Promise<void>[] = [];
    for await (const stream of listener) {
      accepted++;
      serving.push(
        (async () => {
          const buf = ctx.runtime.buffer();
          try {
            const [n] = await stream.read(buf);
            await stream.writeAll(buf.subarray(0, n));
          } finally {
            ctx.runtime.release(buf);
            await stream.close();
          }
        })(),
      );
    }
    await Promise.all(serving);
    await closed;
    const c = ctx.runtime.counters();
    return { accepted, opsInFlight: c.opsInFlight, openFds: c.openFds, buffersHeld: c.buffersHeld };
  });
  // Many short connections, a few at a time, each echoed in full.
  const client = async (): Promise<void> => {
    const port = Atomics.load(portCell, 0);
    try {
      for (let i = 0; i < CONNECTIONS; i += 10) {
        const batch = Array.from({ length: 10 }, (_, j) => pattern(100, i + j + 1));
        const echoed = await Promise.all(batch.map((p) => netRoundTrip(port, p)));
        echoed.forEach((e, j) => {
          expect(e.equals(batch[j])).toBe(true);
        });
      }
    } finally {
      launch.stop();
    }
  };
  const results = (await launch) as { accepted: number; opsInFlight: number; openFds: number; buffersHeld: number }[];
  expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(CONNECTIONS);
  for (const r of results) {
    expect(r.accepted).toBeGreaterThan(0); // every thread got some
    expect(r).toMatchObject({ opsInFlight: 0, openFds: 0, buffersHeld: 0 });
  }
  await expectThreadsBackTo(before);
});

test('an accepted connection is handed to another thread: detach, send the fd, adopt', async () => {
  const fds = new Channel<number>({ capacity: 4 });
  const portCell = new Int32Array(new SharedArrayBuffer(4));
  const payload = pattern(200_000, 9);
  const launch = start({ threads: 2, data: { fds: fds.handle, portCell } }, async (ctx) => {
    const { Channel: C, TcpListener, TcpStream: Stream } = ctx.percore;
    const fds = C.from<number>(ctx.data.fds);
    const rt = ctx.runtime;
    if (ctx.threadIndex === 0) {
      // The acceptor: hands every connection to thread 1.
      const listener = await TcpListener.bind('127.0.0.1:0');
      Atomics.store(ctx.data.portCell, 0, listener.localAddress().port);
      const stream = await listener.accept();
      await listener.close();
      const fd = stream.detach();
      await fds.send(fd);
      const c = rt.counters();
      return {
        fd,
        openFds: c.openFds,
        afterDetach: await stream.read(Buffer.alloc(1)).catch((e: { code: string }) => e.code),
      };
    }
    // The worker: adopts and echoes.
    const stream = Stream.adopt(await fds.recv());
    const buf = rt.buffer();
    let total = 0;
    for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) {
      await stream.writeAll(buf.subarray(0, n));
      total += n;
    }
    rt.release(buf);
    await stream.close();
    return { total, openFds: rt.counters().openFds };
  });
  while (Atomics.load(portCell, 0) === 0) await new Promise((r) => setTimeout(r, 2));
  const echoed = await netRoundTrip(Atomics.load(portCell, 0), payload);
  expect(echoed.equals(payload)).toBe(true);
  const [acceptor, worker] = (await launch) as [
    { fd: number; openFds: number; afterDetach: string },
    { total: number; openFds: number },
  ];
  expect(acceptor.openFds).toBe(0); // forgotten, not closed: the worker served it
  expect(acceptor.afterDetach).toBe('ERR_SOCKET_CLOSED');
  expect(worker).toEqual({ total: payload.length, openFds: 0 });
});

describe('hand-off errors', () => {
  let rt: Runtime;
  beforeEach(() => {
    rt = makeRuntime();
  });
  afterEach(async () => {
    await expectClean(rt);
    rt.close();
  });

  test('detach refuses while an operation is in flight; adopt refuses what is not a socket or is owned already', async () => {
    const { TcpListener } = await import('../../src/index');
    const listener = await TcpListener.bind('127.0.0.1:0');
    const [client, server] = await Promise.all([TcpStream.connect(listener.localAddress()), listener.accept()]);
    const read = server.read(Buffer.alloc(8));
    expect(() => server.detach()).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUSY' }));
    await client.writeAll(Buffer.from('x'));
    await read;
    expect(() => TcpStream.adopt(server.fd)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    // A regular file, not fd 0: a test runner's stdin may itself be a socket.
    const file = fs.openSync(__filename, 'r');
    try {
      expect(() => TcpStream.adopt(file)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
    } finally {
      fs.closeSync(file);
    }
    expect(() => TcpStream.adopt(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    // A UDP socket is a socket, but not a stream.
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const udpFd = (udp as unknown as { _handle: { fd: number } })._handle.fd;
    expect(udpFd).toBeGreaterThan(2);
    expect(() => TcpStream.adopt(udpFd)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    await new Promise<void>((r) => udp.close(r));
    // Detach and adopt on the same runtime: the stream lives on under a new object.
    const again = TcpStream.adopt(server.detach());
    expect(() => server.detach()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
    await again.writeAll(Buffer.from('y'));
    const [n, buf] = await client.read(Buffer.alloc(8));
    expect(buf.subarray(0, n).toString()).toBe('y');
    await Promise.all([client.close(), again.close(), listener.close()]);
  });
});

test('SIGTERM under load: the echo server loses no byte it already echoed, and exits 0', async () => {
  const ECHO = path.resolve(__dirname, '../../dist/examples/echo.js');
  const child = spawn(process.execPath, [ECHO, '--port', '0', '--threads', '2', '--shutdown-timeout', '300'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const port = await new Promise<number>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  // 16 clients, each streaming its own pattern until the server closes on it:
  // whatever came back must be exactly the start of what was sent.
  const clients = Array.from(
    { length: 16 },
    (_, k) =>
      new Promise<{ sent: number; echoed: Buffer; source: Buffer }>((resolve) => {
        const source = pattern(4 << 20, k + 1);
        const chunks: Buffer[] = [];
        let sent = 0;
        const socket = net.connect(port, '127.0.0.1');
        const pump = (): void => {
          while (sent < source.length) {
            const piece = source.subarray(sent, sent + 16384);
            sent += piece.length;
            if (!socket.write(piece)) return void socket.once('drain', pump);
          }
          socket.end();
        };
        socket.on('connect', pump);
        socket.on('data', (d) => chunks.push(d));
        socket.on('error', () => {}); // a reset at the deadline is expected
        socket.on('close', () => resolve({ sent, echoed: Buffer.concat(chunks), source }));
      }),
  );
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGTERM');
  const results = await Promise.all(clients);
  expect(await exited).toBe(0);
  expect(stderr).toBe('');
  let echoedTotal = 0;
  for (const { echoed, source } of results) {
    expect(echoed.equals(source.subarray(0, echoed.length))).toBe(true);
    echoedTotal += echoed.length;
  }
  expect(echoedTotal).toBeGreaterThan(0);
});
