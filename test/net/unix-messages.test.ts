// Unix datagram and seqpacket sockets: names of senders, boundaries kept,
// truncation reported, connected use, errors; on both drivers, counters
// back to zero after each test.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Runtime, UnixDatagramSocket, UnixSeqpacketListener, UnixSeqpacketSocket } from '../../src/index';
import { expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
let dir: string;
let seq = 0;
beforeAll(() => {
  rt = makeRuntime({ buffers: 64, bufferSize: 4096 });
  dir = mkdtempSync(join(tmpdir(), 'percore-unix-msg-'));
});
afterAll(() => {
  rt.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => expectClean(rt));

const fsPath = () => join(dir, `d${++seq}.sock`);
const abstractName = () => `\0percore-msg-${process.pid}-${++seq}`;
const text = (d: { n: number; buf: Uint8Array }) => Buffer.from(d.buf.subarray(0, d.n)).toString();

describe.each([
  ['a filesystem path', fsPath],
  ['an abstract name', abstractName],
])('Unix datagram sockets on %s', (_kind, makeName) => {
  test('a datagram comes with its sender name, and the reply finds it', async () => {
    const server = await UnixDatagramSocket.bind(makeName());
    const client = await UnixDatagramSocket.bind(makeName());
    await client.sendTo(Buffer.from('ping'), server.localName());
    const got = await server.recvFrom(Buffer.alloc(64));
    expect(text(got)).toBe('ping');
    expect(got.address).toBe(client.localName());
    await server.sendTo(got.buf, got.address, { length: got.n });
    const reply = await client.recvFrom(Buffer.alloc(64));
    expect(text(reply)).toBe('ping');
    expect(reply.address).toBe(server.localName());
    await Promise.all([client.close(), server.close()]);
  });

  test('truncation is reported; an unbound sender is unnamed; connected sockets need no name', async () => {
    const server = await UnixDatagramSocket.bind(makeName());
    const anon = UnixDatagramSocket.unbound();
    await anon.sendTo(pattern(1000), server.localName());
    const cut = await server.recvFrom(Buffer.alloc(10));
    expect(cut).toMatchObject({ n: 10, truncated: true, address: '' });
    anon.connect(server.localName());
    expect(anon.peerName()).toBe(server.localName());
    await anon.send(Buffer.from('connected'));
    const got = await server.recv(Buffer.alloc(64));
    expect(text(got)).toBe('connected');
    expect(got.truncated).toBe(false);
    await Promise.all([anon.close(), server.close()]);
  });
});

describe('Unix datagram sockets', () => {
  test('sending to nobody fails with the kernel error; a bad name with EINVAL; close unlinks', async () => {
    const path = fsPath();
    const socket = await UnixDatagramSocket.bind(path);
    expect(existsSync(path)).toBe(true);
    expect(await rejection(socket.sendTo(Buffer.from('x'), fsPath()))).toMatchObject({
      code: 'ENOENT',
      syscall: 'sendmsg',
    });
    expect(await rejection(socket.sendTo(Buffer.from('x'), ''))).toMatchObject({ code: 'EINVAL', syscall: 'sendmsg' });
    expect(await rejection(socket.sendTo(Buffer.from('x'), 'a\0b'))).toMatchObject({ code: 'EINVAL' });
    // Still usable after the errors.
    await socket.sendTo(Buffer.from('self'), path);
    expect(text(await socket.recvFrom(Buffer.alloc(8)))).toBe('self');
    await socket.close();
    expect(existsSync(path)).toBe(false);
  });

  test('close rejects a receive in flight with its buffer', async () => {
    const socket = await UnixDatagramSocket.bind(abstractName());
    const buf = Buffer.alloc(8);
    const pending = rejection(socket.recvFrom(buf));
    await socket.close();
    expect(await pending).toMatchObject({ code: 'ERR_SOCKET_CLOSED', buffer: buf });
  });
});

describe('Unix seqpacket sockets', () => {
  test('messages keep their boundaries and order; truncation reported; close ends it', async () => {
    const path = fsPath();
    const listener = await UnixSeqpacketListener.bind(path);
    const client = await UnixSeqpacketSocket.connect(path);
    const server = await listener.accept();
    expect(server.peerCredentials().pid).toBe(process.pid);
    for (const word of ['one', 'two', 'three']) await client.send(Buffer.from(word));
    await client.send(pattern(500));
    const got = [];
    for (let i = 0; i < 3; i++) got.push(text(await server.recv(Buffer.alloc(64))));
    expect(got).toEqual(['one', 'two', 'three']);
    expect(await server.recv(Buffer.alloc(100))).toMatchObject({ n: 100, truncated: true });
    await client.close();
    expect(await server.recv(Buffer.alloc(8))).toMatchObject({ n: 0, truncated: false });
    await Promise.all([server.close(), listener.close()]);
    expect(existsSync(path)).toBe(false);
  });

  test('a listener serves several connections through its iterator', async () => {
    const name = abstractName();
    const listener = await UnixSeqpacketListener.bind(name);
    const served = (async () => {
      for await (const conn of listener) {
        const msg = await conn.recv(Buffer.alloc(64));
        await conn.send(msg.buf, { length: msg.n });
        await conn.close();
      }
    })();
    for (const word of ['a', 'bb', 'ccc']) {
      const c = await UnixSeqpacketSocket.connect(name);
      await c.send(Buffer.from(word));
      expect(text(await c.recv(Buffer.alloc(8)))).toBe(word);
      await c.close();
    }
    await listener.close();
    await served;
  });
});
