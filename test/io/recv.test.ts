// TcpStream.recv(): receive into a buffer of the recv set that the kernel (or
// the epoll driver) picks only when data arrives, so a connection waiting in
// recv() holds no buffer. Runs under both jest projects (uring and epoll).
import { RECV_AHEAD, Runtime, type RuntimeOptions, TcpListener, TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, until } from '../support/helpers';

// On io_uring twice: with the registered buffer ring (IORING_REGISTER_PBUF_RING)
// and with the emulation kernels before 5.19 get (driver option pbufRing: false);
// once on the readiness and the simulation hosts, which both pick the buffer themselves.
const picksItself = process.env.PERCORE_DRIVER === 'epoll' || process.env.PERCORE_DRIVER === 'sim';
const modes: Array<[string, RuntimeOptions['driverOptions'], string]> = picksItself
  ? [[process.env.PERCORE_DRIVER!, {}, 'recv_select']]
  : [
      ['buffer ring', { pbufRing: true }, 'pbuf_ring'],
      ['emulation', { pbufRing: false }, 'recv_select_emulated'],
    ];

describe.each(modes)('recv (%s)', (_name, driverOptions, feature) => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ entries: 8192, buffers: 1024, bufferSize: 16384, recvBuffers: 64, driverOptions });
  });
  afterAll(() => rt.close());
  afterEach(async () => {
    await expectClean(rt);
    expect(rt.counters().buffersProvided).toBe(64); // every recv buffer is back in the pick set
  });

  /** Every byte until the end of the stream, through recv(), releasing each buffer. */
  async function recvAll(stream: TcpStream): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (let buf = await stream.recv(); buf !== null; buf = await stream.recv()) {
      expect(buf.length).toBeGreaterThan(0);
      expect(buf.length).toBeLessThanOrEqual(rt.bufferSize);
      chunks.push(Buffer.from(buf));
      rt.release(buf);
    }
    return Buffer.concat(chunks);
  }

  test(`runs on ${feature}`, () => {
    expect(rt.nativeDriver.features).toContain(feature);
  });

  test.each([1, 100, 16384, 16385, 1 << 20, 4 << 20])(
    'streams of %i bytes arrive whole, every byte checked',
    async (size) => {
      const { listener, client, server } = await connectedPair(rt);
      const payload = pattern(size, size);
      const [received] = await Promise.all([
        recvAll(server),
        client.writeAll(payload).then(() => client.shutdown('write')),
      ]);
      expect(received.length).toBe(size);
      expect(received.equals(payload)).toBe(true);
      await Promise.all([client.close(), server.close(), listener.close()]);
    },
  );

  test('echo: the received buffer is written back as it is, then released', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const echo = (async () => {
      for (;;) {
        const buf = await server.recv();
        if (buf === null) break;
        const [n, same] = await server.writeAll(buf);
        expect(n).toBe(buf.length);
        expect(same).toBe(buf);
        rt.release(buf);
      }
      await server.close();
    })();
    const payload = pattern(300_000, 7);
    const back = Buffer.alloc(payload.length);
    await Promise.all([client.writeAll(payload).then(() => client.shutdown('write')), client.readExact(back)]);
    await echo;
    expect(back.equals(payload)).toBe(true);
    await Promise.all([client.close(), listener.close()]);
  });

  test('1,000 idle connections waiting in recv() hold no buffer', async () => {
    const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
    const count = 1000;
    const pairs: { client: TcpStream; server: TcpStream }[] = [];
    for (let i = 0; i < count; i++) {
      const [client, server] = await Promise.all([
        TcpStream.connect(listener.localAddress(), { runtime: rt }),
        listener.accept(),
      ]);
      pairs.push({ client, server });
    }
    const held = rt.counters().buffersHeld;
    const pending = pairs.map(({ server }) => server.recv());
    await rt.sleep(20);
    const idle = rt.counters();
    expect(idle.buffersHeld).toBe(held);
    expect(idle.buffersLent).toBe(0);
    expect(idle.buffersProvided).toBe(64);
    expect(idle.opsInFlight).toBeGreaterThanOrEqual(count);
    // One byte each, in waves no larger than the recv set.
    for (let i = 0; i < count; i += 32) {
      const wave = pairs.slice(i, i + 32);
      await Promise.all(wave.map(({ client }, j) => client.writeAll(Buffer.from([(i + j) & 0xff]))));
      const bufs = await Promise.all(pending.slice(i, i + 32));
      bufs.forEach((buf, j) => {
        expect(buf).not.toBeNull();
        expect([...buf!]).toEqual([(i + j) & 0xff]);
        rt.release(buf!);
      });
    }
    await Promise.all(pairs.flatMap(({ client, server }) => [client.close(), server.close()]));
    await listener.close();
  });

  test('an empty recv set makes recv() wait for a released buffer, losing no byte', async () => {
    const small = new Runtime({ buffers: 8, recvBuffers: 2, driverOptions });
    try {
      expect(small.counters().buffersProvided).toBe(2);
      const { listener, client, server } = await connectedPair(small);
      const kept: Uint8Array[] = [];
      for (const byte of [1, 2]) {
        await client.writeAll(Buffer.from([byte]));
        const buf = await server.recv();
        expect([...buf!]).toEqual([byte]);
        kept.push(buf!);
      }
      expect(small.counters()).toMatchObject({ buffersProvided: 0, buffersHeld: 2 });
      await client.writeAll(Buffer.from([3]));
      const waiting = server.recv(); // back-pressure: it waits for a recv buffer
      small.release(kept.pop()!);
      const buf = await waiting;
      expect([...buf!]).toEqual([3]); // still in the socket
      small.release(buf!);
      small.release(kept.pop()!);
      expect(small.counters()).toMatchObject({ buffersProvided: 2, buffersHeld: 0, buffersLent: 0 });
      // The recv set is set aside: buffer() takes only from the rest of the pool.
      const others = Array.from({ length: 6 }, () => small.buffer());
      expect(() => small.buffer()).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_NO_BUFFERS' }));
      for (const b of others) small.release(b);
      await Promise.all([client.close(), server.close(), listener.close()]);
    } finally {
      small.close();
    }
  });

  test('an aborted or timed-out recv holds no buffer and loses no byte', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const ac = new AbortController();
    const aborted = server.recv({ signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    await expect(timeout(20, server.recv())).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await expect(server.recv({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(rt.counters()).toMatchObject({ buffersHeld: 0, buffersLent: 0, buffersProvided: 64 });
    await client.writeAll(Buffer.from('kept'));
    const buf = await server.recv();
    expect(Buffer.from(buf!).toString()).toBe('kept');
    rt.release(buf!);
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('close with a recv pending rejects it with ERR_SOCKET_CLOSED; recv on a closed stream too', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const pending = server.recv();
    const closed = server.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    await closed;
    await expect(server.recv()).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    await Promise.all([client.close(), listener.close()]);
  });

  test('a reset peer rejects with ECONNRESET', async () => {
    const { listener, client, server } = await connectedPair(rt);
    client.setNoDelay();
    const pending = server.recv();
    // SO_LINGER 0: close sends RST.
    (rt.nativeDriver as unknown as { setOption(fd: number, o: number, v: number): number }).setOption(client.fd, 5, 1);
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET', syscall: 'recv' });
    await Promise.all([server.close(), listener.close()]);
  });

  test('releasing a recv buffer twice is an error, not corruption; a view releases its buffer', async () => {
    const { listener, client, server } = await connectedPair(rt);
    await client.writeAll(Buffer.from('hello'));
    const buf = (await server.recv())!;
    expect(rt.counters()).toMatchObject({ buffersHeld: 1, buffersProvided: 63 });
    rt.release(buf.subarray(1, 3));
    expect(() => rt.release(buf)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(rt.counters()).toMatchObject({ buffersHeld: 0, buffersProvided: 64 });
    expect(rt.core.checkInvariants()).toBe(0);
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('recv() calls share one armed multishot receive: one op for many buffers', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const rounds = 50;
    const before = rt.counters().submitted;
    for (let i = 0; i < rounds; i++) {
      await client.writeAll(Buffer.from([i]));
      const buf = await server.recv();
      expect([...buf!]).toEqual([i]);
      rt.release(buf!);
    }
    // rounds sends, and a receive armed once (a single-shot recv() would be one op per call)
    expect(rt.counters().submitted - before).toBeLessThanOrEqual(rounds + 2);
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test(`at most about RECV_AHEAD (${RECV_AHEAD}) buffers wait for a slow reader; every byte still arrives in order`, async () => {
    const { listener, client, server } = await connectedPair(rt);
    const before = rt.counters().opsInFlight; // the listener's
    client.setNoDelay();
    await client.writeAll(Buffer.from('go'));
    const first = await server.recv(); // arms the receive
    expect(Buffer.from(first!).toString()).toBe('go');
    rt.release(first!);
    const chunks = Array.from({ length: 20 }, (_, i) => pattern(100, i + 1));
    // The first RECV_AHEAD arrive one by one: a buffer each while the receive is armed.
    for (let i = 0; i < RECV_AHEAD; i++) {
      await client.writeAll(chunks[i]);
      await until(() => rt.counters().buffersHeld === i + 1, `chunk ${i} to be received`);
    }
    // The rest race the pause the RECV_AHEAD-th buffer asked for.
    for (const chunk of chunks.slice(RECV_AHEAD)) await client.writeAll(chunk);
    await until(() => rt.counters().opsInFlight === before, 'the receive to stop');
    const waiting = rt.counters().buffersHeld; // received, waiting for recv()
    expect(waiting).toBeGreaterThanOrEqual(RECV_AHEAD);
    expect(waiting).toBeLessThanOrEqual(RECV_AHEAD + 2);
    expect(rt.counters().buffersProvided).toBe(64 - waiting);
    await client.shutdown('write');
    const received = await recvAll(server);
    expect(received.equals(Buffer.concat(chunks))).toBe(true);
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('close gives back the buffers waiting for recv()', async () => {
    const { listener, client, server } = await connectedPair(rt);
    client.setNoDelay();
    await client.writeAll(Buffer.from('x'));
    rt.release((await server.recv())!);
    for (const [i, text] of ['a', 'b'].entries()) {
      await client.writeAll(Buffer.from(text));
      await until(() => rt.counters().buffersHeld === i + 1, `'${text}' to be received`);
    }
    expect(rt.counters().buffersHeld).toBeGreaterThanOrEqual(1);
    expect(() => server.detach()).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUSY' }));
    await server.close();
    expect(rt.counters()).toMatchObject({ buffersHeld: 0, buffersProvided: 64 });
    await Promise.all([client.close(), listener.close()]);
  });

  test('a recv() aborted before any data rejects holding no buffer; the byte sent afterwards reaches the next recv()', async () => {
    const { listener, client, server } = await connectedPair(rt);
    client.setNoDelay();
    await client.writeAll(Buffer.from('1'));
    rt.release((await server.recv())!); // the receive is armed
    for (let round = 0; round < 10; round++) {
      const ac = new AbortController();
      const aborted = server.recv({ signal: ac.signal });
      await null;
      ac.abort(); // nothing was sent yet: the abort path must run
      await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
      expect(rt.counters()).toMatchObject({ buffersHeld: 0, buffersLent: 0 });
      const byte = String.fromCharCode(0x61 + round);
      await client.writeAll(Buffer.from(byte));
      const buf = await server.recv();
      expect(Buffer.from(buf!).toString()).toBe(byte);
      rt.release(buf!);
    }
    await client.close();
    expect(await server.recv()).toBeNull();
    await Promise.all([server.close(), listener.close()]);
  });

  test('a recv() aborted once its data was received resolves with the data', async () => {
    const { listener, client, server } = await connectedPair(rt);
    client.setNoDelay();
    await client.writeAll(Buffer.from('1'));
    rt.release((await server.recv())!); // the receive is armed, nobody waits
    for (let round = 0; round < 10; round++) {
      const byte = String.fromCharCode(0x61 + round);
      await client.writeAll(Buffer.from(byte));
      await until(() => rt.counters().buffersHeld === 1, 'the armed receive to take the byte');
      const ac = new AbortController();
      const pending = server.recv({ signal: ac.signal });
      ac.abort(); // too late: the data path must run
      const buf = await pending;
      expect(Buffer.from(buf!).toString()).toBe(byte);
      rt.release(buf!);
    }
    await client.close();
    expect(await server.recv()).toBeNull();
    await Promise.all([server.close(), listener.close()]);
  });

  test('recvBuffers is validated; the default is min(256, buffers / 4)', () => {
    expect(() => new Runtime({ buffers: 4, recvBuffers: 5 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => new Runtime({ recvBuffers: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Runtime({ recvBuffers: 1.5 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const a = new Runtime({ buffers: 40 });
    const b = new Runtime({ buffers: 4096 });
    const c = new Runtime({ buffers: 8, recvBuffers: 0 });
    try {
      expect(a.counters().buffersProvided).toBe(10);
      expect(b.counters().buffersProvided).toBe(256);
      expect(c.counters().buffersProvided).toBe(0);
    } finally {
      a.close();
      b.close();
      c.close();
    }
  });

  test('with no recv set, recv rejects with ERR_PERCORE_NO_BUFFERS', async () => {
    const none = new Runtime({ buffers: 8, recvBuffers: 0, driverOptions });
    try {
      const { listener, client, server } = await connectedPair(none);
      await expect(server.recv()).rejects.toMatchObject({ code: 'ERR_PERCORE_NO_BUFFERS' });
      await Promise.all([client.close(), server.close(), listener.close()]);
    } finally {
      none.close();
    }
  });
});
