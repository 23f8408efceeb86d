// Descriptors sent over Unix sockets (SCM_RIGHTS): within one runtime, and
// a listening socket handed to another process which then serves on it (the
// basis of zero-downtime upgrades); on both drivers, counters back to zero.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  type Runtime,
  TcpListener,
  TcpStream,
  UnixDatagramSocket,
  UnixSeqpacketListener,
  UnixSeqpacketSocket,
} from '../../src/index';
import { expectClean, makeRuntime, netRoundTrip, pattern, rejection } from '../support/helpers';

let rt: Runtime;
let seq = 0;
beforeAll(() => {
  rt = makeRuntime({ buffers: 64, bufferSize: 4096 });
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

const name = () => `\0percore-fds-${process.pid}-${++seq}`;

async function seqpacketPair() {
  const path = name();
  const listener = await UnixSeqpacketListener.bind(path);
  const [a, b] = await Promise.all([UnixSeqpacketSocket.connect(path), listener.accept()]);
  return { listener, a, b };
}

test('a listener sent over a seqpacket connection serves after the original is closed', async () => {
  const { listener, a, b } = await seqpacketPair();
  const original = await TcpListener.bind('127.0.0.1:0');
  const { port } = original.localAddress();
  const [n] = await a.send(Buffer.from('L'), { fds: [original.fd] });
  expect(n).toBe(1);
  const before = rt.counters().openFds;
  const got = await b.recv(Buffer.alloc(8), { withFds: true });
  expect(rt.counters().openFds).toBe(before + 1); // the runtime owns what it received
  expect(got.n).toBe(1);
  expect(got.fds).toHaveLength(1);
  expect(got.fds![0]).not.toBe(original.fd);
  expect(got.fdsDropped).toBe(false);
  await original.close();
  const handed = TcpListener.adopt(got.fds![0]);
  expect(handed.localAddress().port).toBe(port);
  const [client, served] = await Promise.all([TcpStream.connect({ host: '127.0.0.1', port }), handed.accept()]);
  await client.writeAll(Buffer.from('via the handed listener'));
  const buf = Buffer.alloc(23);
  await served.readExact(buf);
  expect(buf.toString()).toBe('via the handed listener');
  await Promise.all([client.close(), served.close(), handed.close(), a.close(), b.close(), listener.close()]);
});

test('several descriptors in one datagram; a message without them gives none', async () => {
  const server = await UnixDatagramSocket.bind(name());
  const client = UnixDatagramSocket.unbound();
  const l1 = await TcpListener.bind('127.0.0.1:0');
  const l2 = await TcpListener.bind('127.0.0.1:0');
  await client.sendTo(Buffer.from('two'), server.localName(), { fds: [l1.fd, l2.fd] });
  await client.sendTo(Buffer.from('none'), server.localName());
  const first = await server.recvFrom(Buffer.alloc(8), { withFds: true });
  expect(first.fds).toHaveLength(2);
  const second = await server.recvFrom(Buffer.alloc(8), { withFds: true });
  expect(second.fds).toEqual([]);
  const adopted = first.fds!.map((fd) => TcpListener.adopt(fd));
  expect(adopted.map((l) => l.localAddress().port).sort()).toEqual(
    [l1.localAddress().port, l2.localAddress().port].sort(),
  );
  await Promise.all([...adopted, l1, l2, client, server].map((s) => s.close()));
});

test('descriptors this runtime does not own are refused (EBADF) and nothing is sent', async () => {
  const { listener, a, b } = await seqpacketPair();
  for (const fd of [0, 1, 2]) {
    expect(await rejection(a.send(Buffer.from('x'), { fds: [fd] }))).toMatchObject({
      code: 'EBADF',
      syscall: 'sendmsg',
    });
  }
  expect(await rejection(a.send(Buffer.from('x'), { fds: [] }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  expect(await rejection(b.recv(Buffer.alloc(1), { fds: [1] }))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  // A descriptor closed after the send was issued and before the host took
  // it is refused too: the host checks again before the kernel sees it,
  // even when the number already names something else (a file opened here).
  const doomed = await TcpListener.bind('127.0.0.1:0');
  const sent = rejection(a.send(Buffer.from('x'), { fds: [doomed.fd] }));
  expect(rt.nativeDriver.closeFd(doomed.fd)).toBe(0);
  const file = fs.openSync(__filename, 'r'); // the lowest free number: the one just closed
  try {
    expect(file).toBe(doomed.fd);
    expect(await sent).toMatchObject({ code: 'EBADF', syscall: 'sendmsg' });
  } finally {
    fs.closeSync(file);
  }
  await doomed.close();
  // The connection carried nothing: the next message is the first.
  await a.send(Buffer.from('first'));
  const got = await b.recv(Buffer.alloc(8), { withFds: true });
  expect(Buffer.from(got.buf.subarray(0, got.n)).toString()).toBe('first');
  expect(got.fds).toEqual([]);
  await Promise.all([a.close(), b.close(), listener.close()]);
});

test('a listening socket handed to another process: the child serves on it', async () => {
  const channel = name();
  const listener = await UnixSeqpacketListener.bind(channel);
  const original = await TcpListener.bind('127.0.0.1:0');
  const { port } = original.localAddress();
  // The child: receive the listener, serve one echo on it, exit.
  const dist = path.resolve(__dirname, '../../dist/src/index.js');
  const childCode = `
    const { TcpListener, UnixSeqpacketSocket, Runtime } = require(${JSON.stringify(dist)});
    (async () => {
      const link = await UnixSeqpacketSocket.connect(${JSON.stringify(channel)});
      const { fds } = await link.recv(Buffer.alloc(1), { withFds: true });
      const handed = TcpListener.adopt(fds[0]);
      await link.send(Buffer.from('ready'));
      const stream = await handed.accept();
      const buf = Buffer.alloc(65536);
      for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf)) await stream.writeAll(buf.subarray(0, n));
      await stream.close();
      await handed.close();
      await link.close();
      Runtime.current().close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', childCode], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env },
  });
  try {
    const link = await listener.accept();
    await link.send(Buffer.from('L'), { fds: [original.fd] });
    await original.close(); // this process listens no more: only the child does
    const ready = await link.recv(Buffer.alloc(8));
    expect(Buffer.from(ready.buf.subarray(0, ready.n)).toString()).toBe('ready');
    const payload = pattern(50_000);
    const echoed = await netRoundTrip(port, payload);
    expect(echoed.equals(payload)).toBe(true);
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    await Promise.all([link.close(), listener.close()]);
  } finally {
    child.kill('SIGKILL');
  }
});

test('node:net sees the handed listener too', async () => {
  // A plain sanity check that the port stays served across the hand-off.
  const { listener, a, b } = await seqpacketPair();
  const original = await TcpListener.bind('127.0.0.1:0');
  const { port } = original.localAddress();
  await a.send(Buffer.from('L'), { fds: [original.fd] });
  const got = await b.recv(Buffer.alloc(1), { withFds: true });
  await original.close();
  const handed = TcpListener.adopt(got.fds![0]);
  const socket = net.connect(port, '127.0.0.1');
  const served = await handed.accept();
  await once(socket, 'connect');
  socket.destroy();
  await Promise.all([served.close(), handed.close(), a.close(), b.close(), listener.close()]);
});
