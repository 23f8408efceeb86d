// copy(from, to): the relay the runtime runs with no JavaScript per buffer,
// through the recv set (the default runtime has one) and through a buffer of
// its own (a runtime with recvBuffers: 0). Runs once per driver.
import * as net from 'node:net';
import { copy, Runtime, TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

async function readAll(stream: TcpStream, size: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  if (size > 0) await stream.readExact(out);
  return out;
}

for (const mode of [
  { name: 'through the recv set', recvBuffers: 4 },
  { name: 'with a buffer of its own', recvBuffers: 0 },
]) {
  describe(`copy() ${mode.name}`, () => {
    let rt: Runtime;
    beforeAll(() => {
      rt = makeRuntime({ bufferSize: 4096, buffers: 32, recvBuffers: mode.recvBuffers });
    });
    afterAll(() => rt.close());
    afterEach(() => expectClean(rt));

    test('echoes every byte back in order and resolves with the count at the end of the stream', async () => {
      const { listener, client, server } = await connectedPair(rt);
      const echo = copy(server, server);
      const payload = pattern(300_000);
      const [, echoed] = await Promise.all([
        (async () => {
          await client.writeAll(payload);
          await client.shutdown();
        })(),
        readAll(client, payload.length),
      ]);
      expect(echoed.equals(payload)).toBe(true);
      await expect(echo).resolves.toBe(payload.length);
      await Promise.all([client.close(), server.close(), listener.close()]);
    });

    test('a proxy: two copies with end: true pass data and each half-close on', async () => {
      const front = await connectedPair(rt);
      const back = await connectedPair(rt);
      const up = copy(front.server, back.client, { end: true });
      const down = copy(back.client, front.server, { end: true });
      const request = pattern(50_000, 7);
      const response = pattern(70_000, 9);
      await front.client.writeAll(request);
      await front.client.shutdown(); // FIN: reaches the upstream through `up`
      expect((await readAll(back.server, request.length)).equals(request)).toBe(true);
      expect((await back.server.read(Buffer.alloc(16)))[0]).toBe(0); // the FIN arrived
      await expect(up).resolves.toBe(request.length);
      await back.server.writeAll(response);
      await back.server.shutdown();
      expect((await readAll(front.client, response.length)).equals(response)).toBe(true);
      expect((await front.client.read(Buffer.alloc(16)))[0]).toBe(0);
      await expect(down).resolves.toBe(response.length);
      await Promise.all(
        [front.client, front.server, back.client, back.server, front.listener, back.listener].map((s) => s.close()),
      );
    });

    test('owns the reading side of from and the writing side of to while it runs', async () => {
      const a = await connectedPair(rt);
      const b = await connectedPair(rt);
      const relay = copy(a.server, b.client);
      const busy = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'ERR_PERCORE_BUSY' });
      await busy(a.server.read(Buffer.alloc(8)));
      await busy(a.server.recv());
      await busy(b.client.write(Buffer.from('x')));
      await busy(copy(a.server, a.server));
      await busy(copy(b.server, b.client));
      // The other directions stay the program's.
      await a.server.writeAll(Buffer.from('back'));
      expect((await readAll(a.client, 4)).toString()).toBe('back');
      await b.server.writeAll(Buffer.from('up'));
      expect((await readAll(b.client, 2)).toString()).toBe('up');
      expect(() => a.server.detach()).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUSY' }));
      await a.client.shutdown();
      await expect(relay).resolves.toBe(0);
      // Once it ended, the stream is the program's again.
      await b.client.writeAll(Buffer.from('mine'));
      expect((await readAll(b.server, 4)).toString()).toBe('mine');
      await Promise.all([a.client, a.server, b.client, b.server, a.listener, b.listener].map((s) => s.close()));
    });

    test('refuses to start beside a read in flight on from', async () => {
      const { listener, client, server } = await connectedPair(rt);
      const reading = server.read(Buffer.alloc(8));
      await expect(copy(server, server)).rejects.toMatchObject({ code: 'ERR_PERCORE_BUSY' });
      await client.writeAll(Buffer.from('hi'));
      expect((await reading)[0]).toBe(2);
      await Promise.all([client.close(), server.close(), listener.close()]);
    });

    test("abort: rejects with bytesCopied and unwritten, and the bytes that come after are the next read's", async () => {
      const { listener, client, server } = await connectedPair(rt);
      const controller = new AbortController();
      const echo = copy(server, server, { signal: controller.signal });
      await client.writeAll(Buffer.from('hello'));
      expect((await readAll(client, 5)).toString()).toBe('hello');
      controller.abort(new Error('enough'));
      const err = await rejection(echo);
      expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', bytesCopied: 5 });
      expect(err.unwritten!.length).toBe(0);
      await client.writeAll(Buffer.from('later'));
      expect((await readAll(server, 5)).toString()).toBe('later');
      await Promise.all([client.close(), server.close(), listener.close()]);
    });

    test('an already aborted signal rejects at once', async () => {
      const { listener, client, server } = await connectedPair(rt);
      await expect(copy(server, server, { signal: AbortSignal.abort() })).rejects.toMatchObject({
        code: 'ABORT_ERR',
        bytesCopied: 0,
      });
      await Promise.all([client.close(), server.close(), listener.close()]);
    });

    test('timeout() cancels the relay itself', async () => {
      const { listener, client, server } = await connectedPair(rt);
      const err = await rejection(timeout(20, copy(server, server)));
      expect(err).toMatchObject({ code: 'ETIMEDOUT', bytesCopied: 0 });
      await Promise.all([client.close(), server.close(), listener.close()]);
    });

    test('closing either stream stops it with ERR_SOCKET_CLOSED', async () => {
      const a = await connectedPair(rt);
      const b = await connectedPair(rt);
      const relay = copy(a.server, b.client);
      await b.client.close();
      await expect(relay).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED', bytesCopied: 0 });
      await Promise.all([a.client, a.server, b.server, a.listener, b.listener].map((s) => s.close()));
    });

    test('a destination reset by its peer: the error says which side and hands back the bytes it could not write', async () => {
      const a = await connectedPair(rt);
      // The destination's peer is a node:net socket that resets the connection.
      const peerGone = new Promise<net.Socket>((resolve) => {
        const srv = net.createServer((sock) => {
          srv.close();
          resolve(sock);
        });
        srv.listen(0, '127.0.0.1', async () => {
          const port = (srv.address() as net.AddressInfo).port;
          (globalThis as { dest?: Promise<TcpStream> }).dest = TcpStream.connect(
            { host: '127.0.0.1', port },
            { runtime: rt },
          );
        });
      });
      const sock = await peerGone;
      const dest = await (globalThis as { dest?: Promise<TcpStream> }).dest!;
      delete (globalThis as { dest?: Promise<TcpStream> }).dest;
      sock.resetAndDestroy();
      // The RST has arrived when a read says so (the socket then answers writes with EPIPE).
      const reset = await rejection(dest.read(Buffer.alloc(1)));
      expect(reset.code).toBe('ECONNRESET');
      const relay = copy(a.server, dest);
      const payload = pattern(1000, 3);
      await a.client.writeAll(payload);
      const err = await rejection(relay);
      expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
      expect(err.syscall).toBe('write');
      // What was read from `from` is either written or handed back: nothing lost.
      expect(err.bytesCopied! + err.unwritten!.length).toBeGreaterThan(0);
      const rest = payload.subarray(err.bytesCopied! + err.unwritten!.length);
      expect(Buffer.concat([payload.subarray(0, err.bytesCopied!), err.unwritten!, rest]).equals(payload)).toBe(true);
      expect(
        Buffer.from(err.unwritten!).equals(
          payload.subarray(err.bytesCopied!, err.bytesCopied! + err.unwritten!.length),
        ),
      ).toBe(true);
      await Promise.all([a.client, a.server, dest, a.listener].map((s) => s.close()));
    });

    test('bad arguments are refused with Node-style errors', async () => {
      const { listener, client, server } = await connectedPair(rt);
      await expect(copy({} as TcpStream, server)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(copy(server, null as unknown as TcpStream)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(copy(server, server, { end: 1 as unknown as boolean })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_TYPE',
      });
      await expect(copy(server, server, { signal: {} as AbortSignal })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG_TYPE',
      });
      const other = new Runtime({ buffers: 4 });
      try {
        const { listener: l2, client: c2, server: s2 } = await connectedPair(other);
        await expect(copy(server, s2)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
        await Promise.all([l2.close(), c2.close(), s2.close()]);
      } finally {
        other.close();
      }
      await client.close();
      await expect(copy(client, server)).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
      await Promise.all([server.close(), listener.close()]);
    });
  });
}

describe('copy() and the runtime around it', () => {
  test("bytes that circle for ever through a relay do not starve Node's loop (found by the API fuzz)", async () => {
    // copy(server, client): what the client sends reaches the server, which
    // the relay writes back into the client, which sends it again: the relay
    // always has a turn due. Timers and immediates must still run between its
    // turns (a turn due at once was a 0 ms libuv timer, which libuv 1.46 runs
    // again in the same phase: the whole loop hung, jest's timeout included).
    const rt = makeRuntime({ buffers: 8 });
    try {
      const { listener, client, server } = await connectedPair(rt);
      await listener.close();
      await client.writeAll(Buffer.from('round and round'));
      const relay = rejection(copy(server, client));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 1));
      await server.close();
      const err = await relay;
      expect(err.code).toBe('ERR_SOCKET_CLOSED');
      expect(err.bytesCopied).toBeGreaterThan(15); // it did circle meanwhile
      await client.close();
      await expectClean(rt);
    } finally {
      rt.close();
    }
  });

  test('with the recv set empty, a relay waits for a buffer instead of failing, and loses nothing', async () => {
    const rt = makeRuntime({ bufferSize: 1024, buffers: 4, recvBuffers: 1 });
    try {
      const held = await connectedPair(rt);
      await held.client.writeAll(Buffer.from('take the only recv buffer'));
      const only = (await held.server.recv())!; // the program holds the recv set's one buffer
      expect(rt.counters().buffersProvided).toBe(0);
      const { listener, client, server } = await connectedPair(rt);
      const echo = copy(server, server);
      const payload = pattern(20_000, 5);
      await client.writeAll(payload);
      await rt.sleep(30);
      expect(rt.counters().buffersProvided).toBe(0); // still waiting: nothing echoed, nothing failed
      rt.release(only); // back to the set: the relay receives again
      expect((await readAll(client, payload.length)).equals(payload)).toBe(true);
      await client.shutdown();
      await expect(echo).resolves.toBe(payload.length);
      await Promise.all([held.client, held.server, held.listener, client, server, listener].map((s) => s.close()));
      await expectClean(rt);
    } finally {
      rt.close();
    }
  });

  test('two relays sharing one recv buffer both finish', async () => {
    // One recv buffer for both relays; four more for the clients' bounce buffers.
    const rt = makeRuntime({ bufferSize: 512, buffers: 5, recvBuffers: 1 });
    try {
      const pairs = [await connectedPair(rt), await connectedPair(rt)];
      const relays = pairs.map((p) => copy(p.server, p.server));
      const payloads = [pattern(40_000, 11), pattern(40_000, 12)];
      await Promise.all(
        pairs.map(async (p, i) => {
          const [, back] = await Promise.all([
            (async () => {
              await p.client.writeAll(payloads[i]);
              await p.client.shutdown();
            })(),
            readAll(p.client, payloads[i].length),
          ]);
          expect(back.equals(payloads[i])).toBe(true);
        }),
      );
      expect(await Promise.all(relays)).toEqual([40_000, 40_000]);
      await Promise.all(pairs.flatMap((p) => [p.client.close(), p.server.close(), p.listener.close()]));
      await expectClean(rt);
    } finally {
      rt.close();
    }
  });

  test('a runtime closed under a relay rejects it with ERR_PERCORE_RUNTIME_CLOSED', async () => {
    const rt = new Runtime({ buffers: 4 });
    const { client, server } = await connectedPair(rt);
    const relay = copy(server, server);
    await client.writeAll(Buffer.from('abc'));
    await readAll(client, 3);
    rt.close();
    await expect(relay).rejects.toMatchObject({ code: 'ERR_PERCORE_RUNTIME_CLOSED', bytesCopied: 3 });
  });

  test('without a recv set, a pool with no free buffer makes it wait for one, then it relays', async () => {
    const rt = makeRuntime({ buffers: 2, recvBuffers: 0 });
    try {
      const { listener, client, server } = await connectedPair(rt);
      await listener.close(); // its accept would count as an op in flight
      const held = [rt.buffer(), rt.buffer()]; // the whole pool
      const submitted = rt.counters().submitted;
      const relay = copy(server, server);
      expect(rt.counters().submitted).toBe(submitted); // nothing submitted: it waits for a buffer
      await expect(server.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'ERR_PERCORE_BUSY' }); // yet it owns `from`
      for (const buf of held) rt.release(buf); // one for the relay, one for the client's bounced read
      await client.writeAll(Buffer.from('late'));
      expect(Buffer.from(await readAll(client, 4)).toString()).toBe('late');
      await client.shutdown();
      expect(await relay).toBe(4);
      await Promise.all([client.close(), server.close()]);
      await expectClean(rt);
    } finally {
      rt.close();
    }
  });
});
