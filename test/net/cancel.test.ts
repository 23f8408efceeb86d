// Issue 11, item 2: timeout() and AbortSignal cancel what they cover: a
// given-up accept() does not swallow the next connection, a given-up
// connect() is cancelled in the kernel and its socket closed, shutdown()
// takes a signal.
import * as net from 'node:net';
import { type Runtime, TcpListener, TcpStream, timeout } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 64 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('a timed-out accept() does not swallow the next connection', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const err = await rejection(timeout(5, listener.accept()));
  expect(err.code).toBe('ETIMEDOUT');
  const client = await TcpStream.connect(listener.localAddress(), { runtime: rt });
  const server = await listener.accept();
  await client.writeAll(Buffer.from('hello'));
  const [, got] = await server.readExact(Buffer.alloc(5));
  expect(Buffer.from(got).toString()).toBe('hello');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('accept({ signal }): an aborted accept rejects with an AbortError; the connection goes to the next accept', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const ac = new AbortController();
  const first = rejection(listener.accept({ signal: ac.signal }));
  const second = listener.accept();
  ac.abort();
  expect((await first).name).toBe('AbortError');
  const client = await TcpStream.connect(listener.localAddress(), { runtime: rt });
  const server = await second;
  expect(server.peerAddress().port).toBe(client.localAddress().port);
  expect((await rejection(listener.accept({ signal: AbortSignal.abort() }))).name).toBe('AbortError');
  await Promise.all([client.close(), server.close(), listener.close()]);
});

/** A listening socket that never accepts, with its backlog full: connects to
 * it wait (the kernel drops their SYNs) until cancelled. */
async function blackHole(): Promise<{ port: number; fill: net.Socket[]; close: () => void }> {
  const host = rt.nativeDriver;
  const fd = host.socket(4);
  expect(host.encodeAddress('127.0.0.1', 0, rt.stagingRecord)).toBe(0);
  expect(host.bind(fd)).toBe(0);
  expect(host.listen(fd, 0)).toBe(0);
  const port = (host.localAddress(fd) as { port: number }).port;
  const fill: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fill.push(s);
  }
  await new Promise((r) => fill[0].once('connect', r));
  return { port, fill, close: () => void host.closeFd(fd) };
}

test('a timed-out connect() is cancelled and its socket closed at once', async () => {
  const hole = await blackHole();
  const before = rt.counters().openFds;
  const err = await rejection(timeout(20, TcpStream.connect({ host: '127.0.0.1', port: hole.port }, { runtime: rt })));
  expect(err.code).toBe('ETIMEDOUT');
  expect(rt.counters().openFds).toBe(before);
  const ac = new AbortController();
  const aborted = rejection(
    TcpStream.connect({ host: '127.0.0.1', port: hole.port }, { runtime: rt, signal: ac.signal }),
  );
  setTimeout(() => ac.abort(), 10);
  expect((await aborted).name).toBe('AbortError');
  expect(rt.counters().openFds).toBe(before);
  for (const s of hole.fill) s.destroy();
  hole.close();
});

test('shutdown({ signal }) takes a signal; an aborted signal rejects before anything is sent', async () => {
  const { listener, client, server } = await connectedPair(rt);
  const err = await rejection(client.shutdown('write', { signal: AbortSignal.abort() }));
  expect(err.name).toBe('AbortError');
  await client.writeAll(Buffer.from('still open'));
  await client.shutdown('write', { signal: new AbortController().signal });
  const [, got] = await server.readExact(Buffer.alloc(10));
  expect(Buffer.from(got).toString()).toBe('still open');
  expect((await server.read(Buffer.alloc(4)))[0]).toBe(0);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('close() twice settles both calls', async () => {
  const { listener, client, server } = await connectedPair(rt);
  await Promise.all([client.close(), client.close(), server.close(), listener.close(), listener.close()]);
});
