import * as L from '../../src/core/layout';
import { type Runtime, TcpListener, TcpStream } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ entries: 8192, buffers: 4096, bufferSize: 16384 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

/** The echo server of examples/echo.ts, inline: one pool buffer per connection. */
function serveEcho(listener: TcpListener): Promise<void> {
  return (async () => {
    const tasks: Promise<void>[] = [];
    for await (const stream of listener) {
      tasks.push(
        (async () => {
          const buf = rt.buffer();
          try {
            for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) {
              await stream.writeAll(buf.subarray(0, n));
            }
          } finally {
            rt.release(buf);
            await stream.close();
          }
        })(),
      );
    }
    await Promise.all(tasks);
  })();
}

async function echoOnce(address: { port: number }, payload: Uint8Array): Promise<Buffer> {
  const client = await TcpStream.connect({ host: '127.0.0.1', port: address.port });
  const received = Buffer.alloc(payload.length);
  const [written] = await Promise.all([
    client.writeAll(payload).then(async ([n]) => {
      await client.shutdown('write');
      return n;
    }),
    client.readExact(received),
  ]);
  expect(written).toBe(payload.length);
  const [eof] = await client.read(Buffer.alloc(1));
  expect(eof).toBe(0);
  await client.close();
  return received;
}

test.each([1, 100, 4096, 16384, 16385, 65536 + 7, 1 << 20, 4 << 20])(
  'echoes %i bytes, every byte checked',
  async (size) => {
    const listener = await TcpListener.bind('127.0.0.1:0');
    const server = serveEcho(listener);
    const payload = pattern(size, size);
    const received = await echoOnce(listener.localAddress(), payload);
    expect(received.equals(payload)).toBe(true);
    await listener.close();
    await server;
  },
);

test('1,000 concurrent connections each echo their own bytes', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { backlog: 2048 });
  const server = serveEcho(listener);
  const { port } = listener.localAddress();
  const results = await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      const payload = pattern(100 + (i % 50), i + 1);
      const received = await echoOnce({ port }, payload);
      return received.equals(payload);
    }),
  );
  expect(results.filter(Boolean).length).toBe(1000);
  await listener.close();
  await server;
});

test('pool buffers go to the kernel with no copy and come back as the same view', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const out = rt.buffer(5);
  out.set([1, 2, 3, 4, 5]);
  const [n, same] = await client.write(out);
  expect(n).toBe(5);
  expect(same).toBe(out);
  const inbox = rt.buffer();
  const [m, back] = await server.read(inbox);
  expect(back).toBe(inbox);
  expect([...inbox.subarray(0, m)]).toEqual([1, 2, 3, 4, 5]);
  rt.release(out);
  rt.release(inbox);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a length moves only the first bytes and hands the whole buffer back', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const out = rt.buffer(8);
  out.set([1, 2, 3, 4, 5, 6, 7, 8]);
  const [n, same] = await client.writeAll(out, 3);
  expect(n).toBe(3);
  expect(same).toBe(out);
  const plain = Buffer.from('abcdef');
  expect((await client.write(plain, 2, {}))[0]).toBe(2);
  await client.shutdown('write');
  const inbox = Buffer.alloc(16, 0xff);
  const [m, back] = await server.readExact(inbox, 5);
  expect([m, back]).toEqual([5, inbox]);
  expect([...inbox.subarray(0, 6)]).toEqual([1, 2, 3, 0x61, 0x62, 0xff]); // nothing past the length
  expect((await server.read(inbox, 0))[0]).toBe(0); // a zero length reads nothing and does not wait
  expect((await server.read(inbox))[0]).toBe(0); // the end of the stream
  rt.release(out);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a view the program makes of a pool buffer is lent in place, like the buffer itself', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const pool = rt.buffer();
  const view = pool.subarray(100, 104);
  view.set([9, 8, 7, 6]);
  await client.writeAll(view);
  // Lent, not copied: the pool buffer the view belongs to is in flight meanwhile.
  const inbox = pool.subarray(200, 204);
  const reading = server.readExact(inbox);
  expect(() => rt.release(pool)).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUFFER_IN_FLIGHT' }));
  await reading;
  expect([...pool.subarray(200, 204)]).toEqual([9, 8, 7, 6]);
  // A plain array with the pool buffer's properties copied onto it is still a plain array.
  const lookalike = Object.assign(new Uint8Array(4), pool);
  expect(rt.isPoolView(lookalike)).toBe(false);
  rt.release(pool);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('addresses: local and peer are the two ends of one connection', async () => {
  const { listener, client, server } = await connectedPair(rt);
  expect(client.peerAddress()).toEqual(server.localAddress());
  expect(server.peerAddress()).toEqual(client.localAddress());
  expect(client.peerAddress()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: listener.localAddress().port });
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('socket options reach the socket: setNoDelay, connect({ noDelay }), bind({ reusePort })', async () => {
  const option = (fd: number, which: number) => rt.nativeDriver.getOption(fd, which);
  const { listener, client, server } = await connectedPair(rt);
  expect(option(client.fd, L.SOCKOPT_NODELAY)).toBe(0); // the kernel's default
  client.setNoDelay(true);
  expect(option(client.fd, L.SOCKOPT_NODELAY)).toBe(1);
  client.setNoDelay(false);
  expect(option(client.fd, L.SOCKOPT_NODELAY)).toBe(0);
  client.setNoDelay(); // on by default when called with no argument
  expect(option(client.fd, L.SOCKOPT_NODELAY)).toBe(1);
  const fast = await TcpStream.connect(listener.localAddress(), { noDelay: true });
  const accepted = await listener.accept();
  expect(option(fast.fd, L.SOCKOPT_NODELAY)).toBe(1);
  expect(option(listener.fd, L.SOCKOPT_REUSEPORT)).toBe(0); // shared only when asked
  const shared = await TcpListener.bind('127.0.0.1:0', { reusePort: true });
  expect(option(shared.fd, L.SOCKOPT_REUSEPORT)).toBe(1);
  expect(option(-1, L.SOCKOPT_NODELAY)).toBe(-9); // EBADF: not an fd the driver owns
  await Promise.all([client, server, fast, accepted, listener, shared].map((s) => s.close()));
});

test('IPv6 loopback works', async () => {
  const listener = await TcpListener.bind('[::1]:0');
  const { port, family } = listener.localAddress();
  expect(family).toBe('IPv6');
  const [client, server] = await Promise.all([TcpStream.connect(`[::1]:${port}`), listener.accept()]);
  await client.writeAll(Buffer.from('six'));
  const buf = Buffer.alloc(3);
  await server.readExact(buf);
  expect(buf.toString()).toBe('six');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('two listeners share a port with SO_REUSEPORT', async () => {
  const a = await TcpListener.bind('127.0.0.1:0', { reusePort: true });
  const b = await TcpListener.bind({ host: '127.0.0.1', port: a.localAddress().port }, { reusePort: true });
  expect(b.localAddress().port).toBe(a.localAddress().port);
  await Promise.all([a.close(), b.close()]);
});
