// UDP: datagrams with their addresses, truncation reported, connected
// sockets, options and multicast membership, cancellation and close; on
// both drivers, counters back to zero after each test.
import { type Runtime, UdpSocket } from '../../src/index';
import { expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime({ buffers: 64, bufferSize: 2048 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

const text = (d: { n: number; buf: Uint8Array }) => Buffer.from(d.buf.subarray(0, d.n)).toString();

describe.each([
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
])('UDP over %s', (family, ip) => {
  const at = (port: number) => (family === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`);

  test('a datagram comes back with its sender, and the echo finds it', async () => {
    const server = await UdpSocket.bind(at(0));
    const client = await UdpSocket.bind(at(0));
    const [sent] = await client.sendTo(Buffer.from('ping'), server.localAddress());
    expect(sent).toBe(4);
    const got = await server.recvFrom(Buffer.alloc(1500));
    expect(text(got)).toBe('ping');
    expect(got.truncated).toBe(false);
    expect(got.address).toEqual(client.localAddress());
    expect(got.address.family).toBe(family);
    await server.sendTo(got.buf.subarray(0, got.n), got.address);
    const reply = await client.recvFrom(Buffer.alloc(1500));
    expect(text(reply)).toBe('ping');
    expect(reply.address).toEqual(server.localAddress());
    await Promise.all([client.close(), server.close()]);
  });

  test('a datagram longer than the buffer is reported truncated, and the next one is whole', async () => {
    const server = await UdpSocket.bind(at(0));
    const client = await UdpSocket.bind(at(0));
    const big = pattern(1000);
    await client.sendTo(big, server.localAddress());
    await client.sendTo(Buffer.from('small'), server.localAddress());
    const cut = await server.recvFrom(Buffer.alloc(100));
    expect(cut.n).toBe(100);
    expect(cut.truncated).toBe(true);
    expect(Buffer.from(cut.buf).equals(big.subarray(0, 100))).toBe(true);
    const whole = await server.recvFrom(Buffer.alloc(100));
    expect(text(whole)).toBe('small');
    expect(whole.truncated).toBe(false);
    await Promise.all([client.close(), server.close()]);
  });

  test('connected sockets send and recv with no address; others are filtered by the kernel', async () => {
    const a = await UdpSocket.bind(at(0));
    const b = await UdpSocket.bind(at(0));
    const stranger = await UdpSocket.bind(at(0));
    await a.connect(b.localAddress());
    await b.connect(a.localAddress());
    expect(a.peerAddress()).toEqual(b.localAddress());
    await stranger.sendTo(Buffer.from('not for you'), a.localAddress());
    await b.send(Buffer.from('hello'));
    const got = await a.recv(Buffer.alloc(64));
    expect(text(got)).toBe('hello');
    expect(got.address).toEqual(b.localAddress());
    await Promise.all([a.close(), b.close(), stranger.close()]);
  });
});

describe('UDP', () => {
  test('receives in flight complete in issue order, into pool buffers too', async () => {
    const server = await UdpSocket.bind('127.0.0.1:0');
    const client = await UdpSocket.bind('127.0.0.1:0');
    const pooled = rt.buffer();
    const pending = [server.recvFrom(pooled), server.recvFrom(Buffer.alloc(64)), server.recvFrom(Buffer.alloc(64))];
    for (const word of ['one', 'two', 'three']) await client.sendTo(Buffer.from(word), server.localAddress());
    const got = await Promise.all(pending);
    expect(got.map(text)).toEqual(['one', 'two', 'three']);
    expect(got[0].buf).toBe(pooled);
    rt.release(pooled);
    await Promise.all([client.close(), server.close()]);
  });

  test('close rejects the receives in flight with their buffers', async () => {
    const socket = await UdpSocket.bind('127.0.0.1:0');
    const buf = Buffer.alloc(64);
    const pending = rejection(socket.recvFrom(buf));
    await socket.close();
    const err = await pending;
    expect(err.code).toBe('ERR_SOCKET_CLOSED');
    expect(err.buffer).toBe(buf);
    expect(await rejection(socket.recvFrom(buf))).toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
  });

  test('an aborted receive rejects with an AbortError and loses no datagram', async () => {
    const server = await UdpSocket.bind('127.0.0.1:0');
    const client = await UdpSocket.bind('127.0.0.1:0');
    const ac = new AbortController();
    const aborted = rejection(server.recvFrom(Buffer.alloc(64), { signal: ac.signal }));
    ac.abort();
    expect((await aborted).name).toBe('AbortError');
    await client.sendTo(Buffer.from('kept'), server.localAddress());
    expect(text(await server.recvFrom(Buffer.alloc(64)))).toBe('kept');
    await Promise.all([client.close(), server.close()]);
  });

  test('a datagram no pool buffer can hold is refused whole (EMSGSIZE), never cut', async () => {
    const socket = await UdpSocket.bind('127.0.0.1:0');
    const err = await rejection(socket.sendTo(Buffer.alloc(rt.bufferSize + 1), socket.localAddress()));
    expect(err).toMatchObject({ code: 'EMSGSIZE', syscall: 'sendmsg' });
    await socket.close();
  });

  test('options read back as set; bad values are refused', async () => {
    const socket = await UdpSocket.bind('127.0.0.1:0');
    socket.setBroadcast(true);
    expect(socket.getOption('broadcast')).toBe(1);
    socket.setTTL(7);
    expect(socket.getOption('ttl')).toBe(7);
    socket.setMulticastTTL(3);
    expect(socket.getOption('multicastTTL')).toBe(3);
    socket.setMulticastLoopback(false);
    expect(socket.getOption('multicastLoopback')).toBe(0);
    expect(() => socket.setTTL(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => socket.addMembership('127.0.0.1')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => socket.addMembership('239.1.2.3', 'not-an-address')).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    await socket.close();
  });

  test('multicast: a member receives what is sent to the group over loopback', async () => {
    const member = await UdpSocket.bind('0.0.0.0:0', { reuseAddr: true });
    member.addMembership('239.255.77.1', '127.0.0.1');
    const sender = await UdpSocket.bind('127.0.0.1:0');
    sender.setMulticastLoopback(true);
    const { port } = member.localAddress();
    const got = member.recvFrom(Buffer.alloc(64));
    await sender.sendTo(Buffer.from('to the group'), `239.255.77.1:${port}`);
    expect(text(await got)).toBe('to the group');
    member.dropMembership('239.255.77.1', '127.0.0.1');
    await Promise.all([member.close(), sender.close()]);
  });

  test('a connected socket hears that nobody listens: ECONNREFUSED, the same on every driver', async () => {
    const gone = await UdpSocket.bind('127.0.0.1:0');
    const address = gone.localAddress();
    await gone.close(); // nobody on that port now
    const socket = await UdpSocket.bind('127.0.0.1:0');
    await socket.connect(address);
    await socket.send(Buffer.from('anyone?')); // the ICMP answer comes back asynchronously
    const buf = Buffer.alloc(16);
    const err = await rejection(socket.recv(buf));
    expect(err).toMatchObject({ code: 'ECONNREFUSED', syscall: 'recvmsg' });
    expect(err.buffer).toBe(buf); // handed back with the error
    await socket.close();
  });

  test('bind errors name the address', async () => {
    const taken = await UdpSocket.bind('127.0.0.1:0');
    const { port } = taken.localAddress();
    expect(await rejection(UdpSocket.bind(`127.0.0.1:${port}`))).toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'bind',
      port,
    });
    await taken.close();
  });
});
