// Issue 11, item 3: recv() can be stopped. stopRecv() disarms the stream's
// multishot receive and hands back what it had received ahead, so that read()
// and copy() can take the stream over with no byte lost.
import * as net from 'node:net';
import { copy, type Runtime, TcpListener, TcpStream } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 256, bufferSize: 4096, recvBuffers: 32 });
});
afterAll(() => rt.close());
afterEach(async () => {
  await expectClean(rt);
  expect(rt.counters().buffersProvided).toBe(32);
});

test('recv some data, stop, then copy() relays the rest with no byte lost', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const upstreamListener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const payload = pattern(256 * 1024, 3);
  // The client sends everything at once: recv() receives ahead of the program.
  const peer = net.connect(listener.localAddress().port, '127.0.0.1', () => peer.end(payload));
  const server: TcpStream = await listener.accept();
  const [upstream, sink] = await Promise.all([
    TcpStream.connect(upstreamListener.localAddress(), { runtime: rt }),
    upstreamListener.accept(),
  ]);
  const received = (async () => {
    const got = Buffer.alloc(payload.length);
    await sink.readExact(got);
    return got;
  })();
  const head = await server.recv();
  expect(head).not.toBeNull();
  await upstream.writeAll(head!);
  rt.release(head!);
  for (const buf of await server.stopRecv()) {
    await upstream.writeAll(buf);
    rt.release(buf);
  }
  const copied = await copy(server, upstream);
  const got = await received;
  expect(copied + head!.length).toBeLessThanOrEqual(payload.length);
  expect(got.equals(payload)).toBe(true);
  peer.destroy();
  await Promise.all([server.close(), upstream.close(), sink.close(), listener.close(), upstreamListener.close()]);
});

test('stopRecv() with buffers released drops those bytes, and read() takes the next ones', async () => {
  const { listener, client, server } = await connectedPair(rt);
  await client.writeAll(Buffer.from('first'));
  const buf = await server.recv();
  expect(Buffer.from(buf!).toString()).toBe('first');
  rt.release(buf!);
  for (const ahead of await server.stopRecv()) rt.release(ahead);
  await client.writeAll(Buffer.from('second'));
  const [n, back] = await server.readExact(Buffer.alloc(6));
  expect(n).toBe(6);
  expect(Buffer.from(back).toString()).toBe('second');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a recv() waiting when stopRecv() is called rejects with an AbortError; stopRecv() with no recv() resolves []', async () => {
  const { listener, client, server } = await connectedPair(rt);
  expect(await client.stopRecv()).toEqual([]);
  const waiting = rejection(server.recv());
  const stopped = await server.stopRecv();
  expect(stopped).toEqual([]);
  expect((await waiting).name).toBe('AbortError');
  // recv() works again afterwards
  await client.writeAll(Buffer.from('again'));
  const buf = await server.recv();
  expect(Buffer.from(buf!).toString()).toBe('again');
  rt.release(buf!);
  await Promise.all([client.close(), server.close(), listener.close()]);
  expect((await rejection(server.stopRecv())).code).toBe('ERR_SOCKET_CLOSED');
});

test('copy() after recv() was stopped is no longer refused', async () => {
  const { listener, client, server } = await connectedPair(rt);
  await client.writeAll(Buffer.from('x'));
  rt.release((await server.recv())!);
  await server.stopRecv();
  const echo = copy(server, server);
  await client.writeAll(Buffer.from('ping'));
  const [, pong] = await client.readExact(Buffer.alloc(4));
  expect(Buffer.from(pong).toString()).toBe('ping');
  await client.shutdown();
  expect(await echo).toBe(4);
  await Promise.all([client.close(), server.close(), listener.close()]);
});
