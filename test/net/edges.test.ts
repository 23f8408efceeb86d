// The edges of TCP: resets, half-close, use after close, closed listeners,
// bad arguments. Every test ends with the runtime holding nothing.
import * as net from 'node:net';
import { Runtime, TcpListener, TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 512 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('a peer reset during a large write rejects with ECONNRESET or EPIPE and returns the buffer', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const payload = pattern(16 << 20);
  const writing = client.writeAll(payload);
  // The server reads a little, then resets the connection (SO_LINGER 0).
  await server.read(Buffer.alloc(1024));
  const lingerZero = 5; // SOCKOPT_LINGER_ZERO
  expect(rt.nativeDriver.setOption(server.fd, lingerZero, 1)).toBe(0);
  await server.close();
  const err = await rejection(writing);
  expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
  expect(err.syscall).toBe('write');
  expect(err.buffer).toBe(payload);
  await Promise.all([client.close(), listener.close()]);
});

test('half-close: shutdown(write) sends EOF and the other direction still works', async () => {
  const { listener, client, server } = await connectedPair(rt);
  await client.writeAll(Buffer.from('question'));
  await client.shutdown('write');
  const got = Buffer.alloc(8);
  await server.readExact(got);
  expect(got.toString()).toBe('question');
  expect((await server.read(Buffer.alloc(8)))[0]).toBe(0); // EOF
  await server.writeAll(Buffer.from('answer'));
  await server.shutdown();
  const answer = Buffer.alloc(6);
  await client.readExact(answer);
  expect(answer.toString()).toBe('answer');
  expect((await client.read(Buffer.alloc(1)))[0]).toBe(0);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('data and FIN arriving together while a read waits: the data, then EOF (no lost edge)', async () => {
  // Under epoll the short read of the data must not make the next read wait
  // for an edge: the FIN's edge came with the data. A node:net client in this
  // thread writes and shuts down in one tick, so both reach the server socket
  // before its driver runs again.
  const listener = await TcpListener.bind('127.0.0.1:0');
  const peer = net.connect(listener.localAddress().port, '127.0.0.1');
  const server = await listener.accept();
  const buf = Buffer.alloc(4096);
  const first = server.read(buf);
  await new Promise((r) => setTimeout(r, 20)); // the read is waiting (registered, under epoll)
  const peerClosed = new Promise((r) => peer.on('close', r));
  peer.end('last words');
  const [n] = await first;
  expect(buf.subarray(0, n).toString()).toBe('last words');
  const [eof] = await timeout(2000, server.read(buf));
  expect(eof).toBe(0);
  await Promise.all([server.close(), listener.close()]);
  await peerClosed;
});

test('read and write after close reject with ERR_SOCKET_CLOSED and hand the buffer back', async () => {
  const { listener, client, server } = await connectedPair(rt);
  await client.close();
  const buf = Buffer.alloc(4);
  const r = await rejection(client.read(buf));
  expect(r.code).toBe('ERR_SOCKET_CLOSED');
  expect(r.buffer).toBe(buf);
  expect((await rejection(client.write(buf))).code).toBe('ERR_SOCKET_CLOSED');
  expect((await rejection(client.shutdown())).code).toBe('ERR_SOCKET_CLOSED');
  expect(() => client.peerAddress()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  await client.close(); // closing twice is fine
  await Promise.all([server.close(), listener.close()]);
});

test('close cancels a pending read, which rejects with ERR_SOCKET_CLOSED and its buffer', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = rt.buffer();
  const pending = server.read(buf);
  await new Promise((r) => setTimeout(r, 10));
  const closing = server.close();
  const err = await rejection(pending);
  expect(err.code).toBe('ERR_SOCKET_CLOSED');
  expect(err.buffer).toBe(buf);
  await closing;
  rt.release(buf); // the buffer came back: it can be released
  await Promise.all([client.close(), listener.close()]);
});

test('accept on a closed listener rejects with ERR_SOCKET_CLOSED; a pending accept too', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0');
  const pending = rejection(listener.accept());
  await listener.close();
  expect((await pending).code).toBe('ERR_SOCKET_CLOSED');
  expect((await rejection(listener.accept())).code).toBe('ERR_SOCKET_CLOSED');
  const seen: unknown[] = [];
  for await (const s of listener) seen.push(s); // ends at once
  expect(seen).toEqual([]);
});

test('connect to a closed port rejects with ECONNREFUSED naming the address', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0');
  const { port } = listener.localAddress();
  await listener.close();
  const err = await rejection(TcpStream.connect({ port }));
  expect(err.code).toBe('ECONNREFUSED');
  expect(err.syscall).toBe('connect');
  expect(err.port).toBe(port);
});

test('bind to a port in use without SO_REUSEPORT fails with EADDRINUSE', async () => {
  const a = await TcpListener.bind('127.0.0.1:0', { reusePort: false });
  const err = await rejection(TcpListener.bind({ port: a.localAddress().port }, { reusePort: false }));
  expect(err.code).toBe('EADDRINUSE');
  await a.close();
});

describe('bad arguments', () => {
  test('buffers must be Uint8Arrays', async () => {
    const { listener, client, server } = await connectedPair(rt);
    for (const bad of ['text', 42, null, undefined, [1, 2], new ArrayBuffer(4)]) {
      expect((await rejection(client.read(bad as never))).code).toBe('ERR_INVALID_ARG_TYPE');
      expect((await rejection(client.writeAll(bad as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    }
    expect((await rejection(client.read(Buffer.alloc(1), { signal: 'no' as never }))).code).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect((await rejection(client.read(Buffer.alloc(4), 5))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(client.writeAll(Buffer.alloc(4), -1))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(client.writeAll(Buffer.alloc(4), 1.5))).code).toBe('ERR_OUT_OF_RANGE');
    expect((await rejection(client.write(Buffer.alloc(4), 'all' as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(client.write(Buffer.alloc(4), {} as never, {}))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(client.shutdown('sideways' as never))).code).toBe('ERR_INVALID_ARG_VALUE');
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('ports and addresses', async () => {
    expect((await rejection(TcpListener.bind({ port: 70000 }))).code).toBe('ERR_SOCKET_BAD_PORT');
    expect((await rejection(TcpListener.bind({ port: -1 }))).code).toBe('ERR_SOCKET_BAD_PORT');
    expect((await rejection(TcpListener.bind('127.0.0.1:http'))).code).toBe('ERR_SOCKET_BAD_PORT');
    expect((await rejection(TcpListener.bind('no-port-here'))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await rejection(TcpListener.bind(true as never))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejection(TcpListener.bind(0, { backlog: -5 }))).code).toBe('ERR_OUT_OF_RANGE');
  });

  test('runtime options and pool buffers', () => {
    expect(() => new Runtime({ entries: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Runtime({ bufferSize: 100 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Runtime({ entries: 'many' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => new Runtime({ driver: 'epol' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => new Runtime({ driver: 'kqueue' })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_VALUE',
        message: expect.stringMatching(/kqueue is only built on macOS\/BSD/),
      }),
    );
    expect(() => rt.buffer(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => rt.buffer(rt.bufferSize + 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => rt.release(Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    const buf = rt.buffer();
    rt.release(buf);
    expect(() => rt.release(buf)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });
});

test('a pool buffer in flight is refused by a second operation and by release', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = rt.buffer();
  const first = server.read(buf);
  const second = await rejection(server.read(buf));
  expect(second.code).toBe('ERR_PERCORE_BUFFER_IN_FLIGHT');
  expect(() => rt.release(buf)).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_BUFFER_IN_FLIGHT' }));
  await client.writeAll(Buffer.from('x'));
  const [n, back] = await first;
  expect(n).toBe(1);
  expect(back).toBe(buf);
  rt.release(buf);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('any Uint8Array in flight is refused by a second operation until it comes back', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const buf = Buffer.alloc(16);
  const first = server.read(buf);
  const second = await rejection(server.read(buf));
  expect(second.code).toBe('ERR_PERCORE_BUFFER_IN_FLIGHT');
  expect(second.buffer).toBe(buf);
  await client.writeAll(Buffer.from('y'));
  expect((await first)[0]).toBe(1);
  await client.writeAll(Buffer.from('z'));
  const [n] = await server.read(buf); // back with the program: usable again
  expect(buf.subarray(0, n).toString()).toBe('z');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('an empty pool is a clear error, not a crash', async () => {
  const small = new Runtime({ buffers: 2 });
  const a = small.buffer();
  const b = small.buffer();
  expect(() => small.buffer()).toThrow(expect.objectContaining({ code: 'ERR_PERCORE_NO_BUFFERS' }));
  small.release(a);
  small.release(b);
  small.close();
});
