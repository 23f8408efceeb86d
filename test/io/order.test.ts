// Issue 11, item 1: operations on one stream keep the order they were issued
// in, on every driver. A second read (or write) waits until the one before it
// settles, then goes to the kernel (node:net's semantics).
import * as net from 'node:net';
import { type Runtime, TcpListener, type TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 256, bufferSize: 16384, recvBuffers: 16 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('two reads in flight take the bytes in the order they were issued', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const a = server.readExact(Buffer.alloc(3));
  const b = server.readExact(Buffer.alloc(3));
  await client.writeAll(Buffer.from('123456'));
  const [[, bufA], [, bufB]] = await Promise.all([a, b]);
  expect(Buffer.from(bufA).toString()).toBe('123');
  expect(Buffer.from(bufB).toString()).toBe('456');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('plain reads queued on a pool buffer and a plain array keep their order', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const pool = rt.buffer(2);
  const a = server.read(pool);
  const b = server.read(Buffer.alloc(2));
  const c = server.read(Buffer.alloc(2));
  await client.writeAll(Buffer.from('abcdef'));
  const got = (await Promise.all([a, b, c])).map(([n, buf]) => Buffer.from(buf.subarray(0, n)).toString());
  expect(got.join('')).toBe('abcdef');
  rt.release(pool);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('two writeAlls in flight do not interleave their chunks', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const size = 1 << 20;
  const x = Buffer.alloc(size, 'x');
  const y = Buffer.alloc(size, 'y');
  const reading = (async () => {
    const got = Buffer.alloc(2 * size);
    await server.readExact(got);
    return got;
  })();
  await Promise.all([client.writeAll(x), client.writeAll(y)]);
  const got = await reading;
  expect(got.subarray(0, size).equals(x)).toBe(true);
  expect(got.subarray(size).equals(y)).toBe(true);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('a queued read that is aborted or timed out leaves the queue and hands its buffer back', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const first = server.readExact(Buffer.alloc(2));
  const ac = new AbortController();
  const abortedBuf = Buffer.alloc(2);
  const aborted = server.read(abortedBuf, { signal: ac.signal });
  const timedBuf = Buffer.alloc(2);
  const timed = timeout(1, server.read(timedBuf));
  const last = server.readExact(Buffer.alloc(2));
  ac.abort();
  const abortErr = await rejection(aborted);
  expect(abortErr.name).toBe('AbortError');
  expect(abortErr.buffer).toBe(abortedBuf);
  const timeErr = await rejection(timed);
  expect(timeErr.code).toBe('ETIMEDOUT');
  expect(timeErr.buffer).toBe(timedBuf);
  await client.writeAll(Buffer.from('1234'));
  expect(Buffer.from((await first)[1]).toString()).toBe('12');
  expect(Buffer.from((await last)[1]).toString()).toBe('34');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('close rejects queued operations with ERR_SOCKET_CLOSED and their buffers', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const bufs = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)];
  const reads = bufs.map((b) => rejection(server.read(b)));
  await server.close();
  const errs = await Promise.all(reads);
  errs.forEach((err, i) => {
    expect(err.code).toBe('ERR_SOCKET_CLOSED');
    expect(err.buffer).toBe(bufs[i]);
  });
  await Promise.all([client.close(), listener.close()]);
});

test('read() while recv() is armed is refused with ERR_PERCORE_BUSY, and recv() beside a read too', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const receiving = server.recv();
  const err = await rejection(server.read(Buffer.alloc(4)));
  expect(err.code).toBe('ERR_PERCORE_BUSY');
  await client.writeAll(Buffer.from('hi'));
  const buf = await receiving;
  expect(Buffer.from(buf!).toString()).toBe('hi');
  rt.release(buf!);
  await server.stopRecv();
  const reading = server.read(Buffer.alloc(4));
  const err2 = await rejection(server.recv());
  expect(err2.code).toBe('ERR_PERCORE_BUSY');
  await client.writeAll(Buffer.from('yo'));
  expect((await reading)[0]).toBe(2);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('reads from a node:net peer queued many deep arrive in order', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const payload = pattern(64 * 1024, 7);
  const peer = net.connect(listener.localAddress().port, '127.0.0.1');
  const server: TcpStream = await listener.accept();
  const reads = [];
  for (let i = 0; i < 64; i++) reads.push(server.readExact(Buffer.alloc(1024)));
  peer.write(payload);
  const parts = await Promise.all(reads);
  expect(Buffer.concat(parts.map(([, b]) => b)).equals(payload)).toBe(true);
  peer.destroy();
  await Promise.all([server.close(), listener.close()]);
});
