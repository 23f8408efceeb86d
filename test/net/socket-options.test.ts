// Socket options by name: set, read back as the kernel keeps them, bad
// values refused before the kernel sees them; on both drivers.
import * as L from '../../src/core/layout';
import { type Runtime, TcpListener, TcpStream } from '../../src/index';
import { connectedPair, expectClean, makeRuntime, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

test('keep-alive timings, linger, buffer sizes and no-delay read back as set', async () => {
  const { listener, client, server } = await connectedPair(rt);
  client.setOptions({ keepAlive: { idle: 60, interval: 10, count: 5 }, linger: 3, noDelay: true });
  expect(client.getOption('keepAlive')).toBe(true);
  expect(client.getOption('keepIdle')).toBe(60);
  expect(client.getOption('keepInterval')).toBe(10);
  expect(client.getOption('keepCount')).toBe(5);
  expect(client.getOption('linger')).toBe(3);
  expect(client.getOption('noDelay')).toBe(true);
  client.setOptions({ keepAlive: false, linger: null, receiveBufferSize: 65536, sendBufferSize: 32768 });
  expect(client.getOption('keepAlive')).toBe(false);
  expect(client.getOption('linger')).toBeNull();
  // Linux doubles them (for its bookkeeping) and reads the doubled size back.
  expect(client.getOption('receiveBufferSize')).toBe(131072);
  expect(client.getOption('sendBufferSize')).toBe(65536);
  await Promise.all([client.close(), server.close(), listener.close()]);
  expect(() => client.getOption('noDelay')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
});

test('values the kernel would refuse are refused first', async () => {
  const { listener, client, server } = await connectedPair(rt);
  expect(() => client.setOptions({ keepAlive: { count: 0 } })).toThrow(
    expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
  );
  expect(() => client.setOptions({ linger: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  expect(() => client.getOption('bogus' as 'linger')).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
  );
  // The host's own range checks, below the API's.
  const host = rt.nativeDriver;
  expect(host.setOption(client.fd, L.SOCKOPT_KEEPCNT, 128)).toBe(-22);
  expect(host.setOption(client.fd, L.SOCKOPT_LINGER, -2)).toBe(-22);
  expect(host.setOption(client.fd, L.SOCKOPT_TTL, 256)).toBe(-22);
  expect(host.setOption(client.fd, 999, 1)).toBe(-22);
  await Promise.all([client.close(), server.close(), listener.close()]);
});

test('listener options: fast open, deferred accept, IPv6 only', async () => {
  const listener = await TcpListener.bind('127.0.0.1:0', { fastOpen: 16, deferAccept: 5 });
  expect(listener.getOption('fastOpen')).toBe(16);
  expect(listener.getOption('deferAccept')).toBeGreaterThan(0);
  // A client with fast open connects and talks as any other.
  const client = await TcpStream.connect(listener.localAddress(), { fastOpen: true });
  const writing = client.writeAll(Buffer.from('first bytes'));
  const server = await listener.accept(); // deferred until data came
  const buf = Buffer.alloc(11);
  await Promise.all([writing, server.readExact(buf)]);
  expect(buf.toString()).toBe('first bytes');
  await Promise.all([client.close(), server.close(), listener.close()]);
  const v6 = await TcpListener.bind('[::1]:0', { ipv6Only: true });
  expect(v6.getOption('ipv6Only')).toBe(1);
  await v6.close();
  expect(await rejection(TcpListener.bind('127.0.0.1:0', { fastOpen: -1 }))).toMatchObject({
    code: 'ERR_OUT_OF_RANGE',
  });
});
