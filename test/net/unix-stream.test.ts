// Unix-domain stream sockets: both kinds of name, the stale-file rule, peer
// credentials, and the rent-stream contract the rest of the API builds on
// (copy, BufReader/BufWriter, toDuplex), each on both drivers.
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufReader, BufWriter, copy, type Runtime, toDuplex, UnixListener, UnixStream } from '../../src/index';
import { expectClean, makeRuntime, pattern, rejection } from '../support/helpers';

let rt: Runtime;
let dir: string;
let seq = 0;
beforeAll(() => {
  rt = makeRuntime({ buffers: 256, bufferSize: 16384 });
  dir = mkdtempSync(join(tmpdir(), 'percore-unix-'));
});
afterAll(() => {
  rt.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => expectClean(rt));

const fsPath = () => join(dir, `s${++seq}.sock`);
const abstractName = () => `\0percore-test-${process.pid}-${++seq}`;

async function pair(path: string): Promise<{ listener: UnixListener; client: UnixStream; server: UnixStream }> {
  const listener = await UnixListener.bind(path);
  const [client, server] = await Promise.all([UnixStream.connect(path), listener.accept()]);
  return { listener, client, server };
}

describe.each([
  ['a filesystem path', fsPath],
  ['an abstract name', abstractName],
])('Unix stream sockets on %s', (_kind, makeName) => {
  test('bytes go both ways, names and end of stream as the kernel says', async () => {
    const path = makeName();
    const { listener, client, server } = await pair(path);
    expect(listener.localName()).toBe(path);
    expect(client.peerName()).toBe(path);
    expect(client.localName()).toBe('');
    expect(server.localName()).toBe(path);
    const payload = pattern(100_000);
    const got = Buffer.alloc(payload.length);
    await Promise.all([client.writeAll(payload).then(() => client.shutdown('write')), server.readExact(got)]);
    expect(got.equals(payload)).toBe(true);
    const [eof] = await server.read(Buffer.alloc(8));
    expect(eof).toBe(0);
    await server.writeAll(Buffer.from('back'));
    const [n, buf] = await client.read(Buffer.alloc(8));
    expect(Buffer.from(buf.subarray(0, n)).toString()).toBe('back');
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('peer credentials name this process on both ends', async () => {
    const { listener, client, server } = await pair(makeName());
    const expected = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };
    expect(server.peerCredentials()).toEqual(expected);
    expect(client.peerCredentials()).toEqual(expected);
    await Promise.all([client.close(), server.close(), listener.close()]);
    expect(() => client.peerCredentials()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });

  test('copy() relays between a Unix stream and another, in the core', async () => {
    const a = await pair(makeName());
    const b = await pair(makeName());
    const payload = pattern(200_000, 7);
    const got = Buffer.alloc(payload.length);
    // a.client -> a.server --copy--> b.client -> b.server
    const relay = copy(a.server, b.client, { end: true });
    await Promise.all([a.client.writeAll(payload).then(() => a.client.shutdown('write')), b.server.readExact(got)]);
    expect(await relay).toBe(payload.length);
    const [eof] = await b.server.read(Buffer.alloc(1));
    expect(eof).toBe(0);
    expect(got.equals(payload)).toBe(true);
    await Promise.all([a.client, a.server, b.client, b.server, a.listener, b.listener].map((s) => s.close()));
  });

  test('BufReader and BufWriter frame lines over it', async () => {
    const { listener, client, server } = await pair(makeName());
    const writer = new BufWriter(client);
    for (let i = 0; i < 100; i++) await writer.write(Buffer.from(`line ${i}\n`));
    await writer.shutdown();
    writer.release();
    const reader = new BufReader(server);
    const lines: string[] = [];
    for await (const line of reader.lines()) lines.push(line);
    reader.release();
    expect(lines).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('toDuplex bridges it to Node streams', async () => {
    const { listener, client, server } = await pair(makeName());
    const echo = (async () => {
      const buf = Buffer.alloc(1024);
      for (let [n] = await server.read(buf); n > 0; [n] = await server.read(buf)) {
        await server.writeAll(buf.subarray(0, n));
      }
      await server.shutdown('write');
    })();
    const duplex = toDuplex(client);
    const chunks: Buffer[] = [];
    duplex.on('data', (d: Buffer) => chunks.push(d));
    duplex.end('through the bridge');
    await once(duplex, 'end');
    await echo;
    duplex.destroy();
    await once(duplex, 'close');
    expect(Buffer.concat(chunks).toString()).toBe('through the bridge');
    await Promise.all([server.close(), listener.close()]);
  });
});

describe('Unix sockets and node:net', () => {
  test('a percore stream talks to a node:net server on the same path', async () => {
    const path = fsPath();
    const server = net.createServer((socket) => socket.pipe(socket));
    server.listen(path);
    await once(server, 'listening');
    const stream = await UnixStream.connect(path);
    await stream.writeAll(Buffer.from('to node:net'));
    await stream.shutdown('write');
    const got = Buffer.alloc(11);
    await stream.readExact(got);
    expect(got.toString()).toBe('to node:net');
    await stream.close();
    server.close();
    await once(server, 'close');
  });
});

describe('Unix socket names', () => {
  test('a socket file left by a closed server: EADDRINUSE unless unlinkStale', async () => {
    const path = fsPath();
    // A crashed server: a socket bound and closed without unlinking its file.
    const host = rt.nativeDriver;
    const fd = host.socket(1, 1);
    expect(host.bindUnix(fd, Buffer.from(path), false)).toBe(0);
    expect(host.closeFd(fd)).toBe(0);
    expect(existsSync(path)).toBe(true);
    const err = await rejection(UnixListener.bind(path));
    expect(err).toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: path });
    const listener = await UnixListener.bind(path, { unlinkStale: true });
    const client = await UnixStream.connect(path);
    const server = await listener.accept();
    await Promise.all([client.close(), server.close(), listener.close()]);
    expect(existsSync(path)).toBe(false); // close() unlinks it
  });

  test('unlinkStale never removes a file that is not a socket, nor one being served', async () => {
    const file = fsPath();
    writeFileSync(file, 'keep me');
    expect(await rejection(UnixListener.bind(file, { unlinkStale: true }))).toMatchObject({ code: 'EADDRINUSE' });
    expect(existsSync(file)).toBe(true);
    const path = fsPath();
    const live = await UnixListener.bind(path);
    expect(await rejection(UnixListener.bind(path, { unlinkStale: true }))).toMatchObject({ code: 'EADDRINUSE' });
    const client = await UnixStream.connect(path); // the first one still serves
    const server = await live.accept();
    await Promise.all([client.close(), server.close(), live.close()]);
  });

  test('bad names are refused by the host before the kernel sees them', async () => {
    for (const bad of ['', 'x'.repeat(108), 'a\0b', '\0', `\0${'y'.repeat(108)}`]) {
      expect(await rejection(UnixListener.bind(bad))).toMatchObject({ code: 'EINVAL' });
      expect(await rejection(UnixStream.connect(bad))).toMatchObject({ code: 'EINVAL', syscall: 'connect' });
    }
    // The longest names that fit: 107 path bytes, NUL + 107 abstract bytes.
    const longest = `\0${'z'.repeat(107)}`;
    const listener = await UnixListener.bind(longest);
    expect(listener.localName()).toBe(longest);
    await listener.close();
    expect(await rejection(UnixListener.bind(42 as unknown as string))).toMatchObject({
      code: 'ERR_INVALID_ARG_TYPE',
    });
  });

  test('connect errors: ENOENT, ECONNREFUSED', async () => {
    expect(await rejection(UnixStream.connect(fsPath()))).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
    expect(await rejection(UnixStream.connect(abstractName()))).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
