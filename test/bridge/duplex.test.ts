// The Node bridge: toDuplex() under Node's own libraries and clients no one
// here wrote (node:tls, node:http, undici, ws, curl), and fromDuplex().
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Duplex, PassThrough } from 'node:stream';
import * as tls from 'node:tls';
import { Client } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import {
  BufReader,
  copy,
  fromDuplex,
  type PercoreDuplex,
  type Runtime,
  TcpListener,
  TcpStream,
  type ToDuplexOptions,
  toDuplex,
} from '../../src/index';
import { connectedPair, expectClean, makeRuntime, pattern, rejection } from '../support/helpers';
import { makeCertificate } from '../support/tls';

const once = <T = unknown>(e: NodeJS.EventEmitter, name: string) =>
  new Promise<T>((r) => e.once(name, r as (v: unknown) => void));

/** A command's stdout (run asynchronously: the servers it talks to run in this process). */
function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err, stdout) => (err ? reject(err) : resolve(stdout))));
}

/** Every chunk `d` emits until 'end'. */
function collect(d: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  d.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    d.on('end', () => resolve(Buffer.concat(chunks)));
    d.on('error', reject);
  });
}

async function readAll(stream: TcpStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  const buf = new Uint8Array(65536);
  for (let [n] = await stream.read(buf); n > 0; [n] = await stream.read(buf))
    parts.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(parts);
}

/** A percore listener whose every connection becomes a duplex handed to `serve`. */
async function percoreServer(rt: Runtime, serve: (d: PercoreDuplex) => void, options: ToDuplexOptions = {}) {
  const listener = await TcpListener.bind('127.0.0.1:0', { runtime: rt });
  const duplexes = new Set<PercoreDuplex>();
  const loop = (async () => {
    for await (const stream of listener) {
      const d = toDuplex(stream, options);
      duplexes.add(d);
      d.on('close', () => duplexes.delete(d));
      serve(d);
    }
  })().catch(() => {}); // a failed test may close the runtime under it
  return {
    port: listener.localAddress().port,
    async close() {
      await listener.close();
      await loop;
      await Promise.all(
        [...duplexes].map((d) => {
          d.destroy();
          return once(d, 'close');
        }),
      );
    },
  };
}

describe('toDuplex', () => {
  let rt: Runtime;
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 16384, buffers: 64 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-tls-'));
    makeCertificate(dir);
    key = fs.readFileSync(path.join(dir, 'key.pem'));
    cert = fs.readFileSync(path.join(dir, 'cert.pem'));
  });
  afterAll(() => {
    rt.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => expectClean(rt));

  test('moves 4 MiB each way with no byte lost or reordered; counts bytes; addresses as net.Socket', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const d = toDuplex(server);
    expect(d.remoteAddress).toBe('127.0.0.1');
    expect(d.remotePort).toBe(client.localAddress().port);
    expect(d.localPort).toBe(listener.localAddress().port);
    expect(d.remoteFamily).toBe('IPv4');
    d.setNoDelay(true);
    const up = pattern(4 << 20, 1);
    const down = pattern(4 << 20, 2);
    const received = collect(d);
    const sent = client.writeAll(up).then(() => client.shutdown());
    const back = readAll(client);
    d.end(down);
    expect((await received).equals(up)).toBe(true);
    await sent;
    expect((await back).equals(down)).toBe(true);
    expect(d.bytesRead).toBe(up.length);
    expect(d.bytesWritten).toBe(down.length);
    await once(d, 'close'); // both sides ended: destroyed, the stream closed
    await Promise.all([client.close(), listener.close()]);
  });

  test('back-pressure: a paused duplex stops reading, so the sender blocks; resuming delivers everything', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const d = toDuplex(server, { readableHighWaterMark: 16384 });
    d.pause();
    const payload = pattern(32 << 20, 5);
    let done = false;
    const sending = client.writeAll(payload).then(() => {
      done = true;
      return client.shutdown();
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false); // the kernel's buffers filled up: the writer waits
    expect(d.bytesRead).toBeLessThan(payload.length / 2);
    const received = collect(d);
    d.resume();
    expect((await received).equals(payload)).toBe(true);
    await sending;
    d.destroy();
    await once(d, 'close');
    await Promise.all([client.close(), listener.close()]);
  });

  test('half-close: with allowHalfOpen the duplex writes after the end of reading; end() sends FIN', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const d = toDuplex(server, { allowHalfOpen: true });
    await client.writeAll(Buffer.from('request'));
    await client.shutdown();
    expect((await collect(d)).toString()).toBe('request');
    expect(d.writable).toBe(true);
    d.write('late ');
    d.end('reply');
    expect((await readAll(client)).toString()).toBe('late reply');
    await once(d, 'close');
    await Promise.all([client.close(), listener.close()]);
  });

  test('destroy() closes the stream and cancels a read in flight; the peer sees the close', async () => {
    const { listener, client, server } = await connectedPair(rt);
    const d = toDuplex(server);
    d.resume(); // a read in flight
    await new Promise((r) => setTimeout(r, 20));
    d.destroy();
    await once(d, 'close');
    await expect(server.read(new Uint8Array(1))).rejects.toMatchObject({ code: 'ERR_SOCKET_CLOSED' });
    expect((await readAll(client)).length).toBe(0);
    await Promise.all([client.close(), listener.close()]);
  });

  test('a reset peer is an error with its code (ECONNRESET), without the rent buffer', async () => {
    let duplex: PercoreDuplex | undefined;
    let failed!: (err: NodeJS.ErrnoException) => void;
    const got = new Promise<NodeJS.ErrnoException>((resolve) => {
      failed = resolve;
    });
    const srv = await percoreServer(rt, (d) => {
      duplex = d;
      d.on('error', failed);
      d.resume();
    });
    const sock = net.connect(srv.port, '127.0.0.1', () => setTimeout(() => sock.resetAndDestroy(), 50));
    sock.on('error', () => {});
    const err = await got;
    expect(err.code).toBe('ECONNRESET');
    expect((err as { buffer?: unknown }).buffer).toBeUndefined();
    if (!duplex!.closed) await once(duplex!, 'close');
    await srv.close();
  });

  test('node:tls terminates TLS over a percore connection (node tls.connect client, 1 MiB echo)', async () => {
    const srv = await percoreServer(
      rt,
      (d) => {
        const secure = new tls.TLSSocket(d, { isServer: true, key, cert });
        secure.on('data', (c) => secure.write(c));
        secure.on('end', () => secure.end());
        secure.on('error', () => d.destroy());
      },
      { allowHalfOpen: true },
    ); // TLS ends itself: the duplex must stay writable after the peer's FIN
    const payload = pattern(1 << 20, 7);
    const sock = tls.connect({ host: '127.0.0.1', port: srv.port, ca: cert, servername: 'localhost' });
    await once(sock, 'secureConnect');
    expect(sock.authorized).toBe(true);
    const echoed = collect(sock);
    sock.end(payload);
    expect((await echoed).equals(payload)).toBe(true);
    await srv.close();
  });

  test('node:http serves over percore connections: keep-alive requests and a 1 MiB POST, node client and curl', async () => {
    const httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('x-remote', `${req.socket.remoteAddress}`);
        res.end(req.method === 'POST' ? body : `hello ${req.url}`);
      });
    });
    const srv = await percoreServer(rt, (d) => httpServer.emit('connection', d));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (p: string, body?: Buffer) =>
      new Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: srv.port, path: p, method: body ? 'POST' : 'GET', agent },
          (res) => {
            collect(res).then((b) => resolve({ status: res.statusCode!, body: b, headers: res.headers }), reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    for (let i = 0; i < 5; i++) {
      const r = await get(`/n${i}`);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`hello /n${i}`);
      expect(r.headers['x-remote']).toBe('127.0.0.1');
    }
    const big = pattern(1 << 20, 3);
    expect((await get('/echo', big)).body.equals(big)).toBe(true);
    agent.destroy();
    // curl is a CI dependency (.ci/run installs it); asynchronously: the server runs in this process.
    const out = await run('curl', ['-sS', `http://127.0.0.1:${srv.port}/curl`, `http://127.0.0.1:${srv.port}/again`]);
    expect(out).toBe('hello /curlhello /again');
    await srv.close();
    httpServer.close();
  });

  test('HTTPS: node:http behind node:tls over percore, checked with curl --cacert', async () => {
    const httpServer = http.createServer((req, res) => res.end(`secure ${req.url}`));
    const srv = await percoreServer(
      rt,
      (d) => {
        const secure = new tls.TLSSocket(d, { isServer: true, key, cert, ALPNProtocols: ['http/1.1'] });
        secure.on('error', () => d.destroy());
        httpServer.emit('connection', secure);
      },
      { allowHalfOpen: true },
    );
    const viaCurl = await run('curl', [
      '-sS',
      '--cacert',
      path.join(dir, 'cert.pem'),
      `https://127.0.0.1:${srv.port}/x`,
    ]);
    expect(viaCurl).toBe('secure /x');
    // and node's own https client
    const viaNode = await new Promise<string>((resolve, reject) => {
      require('node:https')
        .get({ host: '127.0.0.1', port: srv.port, path: '/x', ca: cert }, (res: http.IncomingMessage) =>
          collect(res).then((b) => resolve(b.toString()), reject),
        )
        .on('error', reject);
    });
    expect(viaNode).toBe('secure /x');
    await srv.close();
    httpServer.close();
  });

  test('undici runs its requests over a percore connection (connect option)', async () => {
    const httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(chunks).length}`));
    });
    httpServer.listen(0, '127.0.0.1');
    await once(httpServer, 'listening');
    const port = (httpServer.address() as net.AddressInfo).port;
    const duplexes: PercoreDuplex[] = [];
    const client = new Client(`http://127.0.0.1:${port}`, {
      connect: (_opts, callback) => {
        TcpStream.connect({ host: '127.0.0.1', port }, { runtime: rt }).then(
          (s) => {
            const d = toDuplex(s);
            duplexes.push(d);
            callback(null, d as unknown as net.Socket);
          },
          (err) => callback(err, null),
        );
      },
    });
    for (let i = 0; i < 3; i++) {
      const r = await client.request({ path: `/u${i}`, method: 'GET' });
      expect(await r.body.text()).toBe(`GET /u${i} 0`);
    }
    const r = await client.request({ path: '/p', method: 'POST', body: pattern(300_000, 1) });
    expect(await r.body.text()).toBe('POST /p 300000');
    expect(duplexes).toHaveLength(1); // one kept-alive percore connection carried them all
    await client.close();
    await Promise.all(
      duplexes.map((d) => {
        if (d.destroyed) return Promise.resolve();
        d.destroy();
        return once(d, 'close');
      }),
    );
    httpServer.closeAllConnections();
    httpServer.close();
  });

  test('ws: a WebSocket server on node:http over percore, a ws client', async () => {
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(binary ? m : `echo ${m}`, { binary })));
    const httpServer = http.createServer();
    httpServer.on('upgrade', (req, socket, head) =>
      wss.handleUpgrade(req, socket as Duplex as net.Socket, head, (ws) => wss.emit('connection', ws, req)),
    );
    const srv = await percoreServer(rt, (d) => httpServer.emit('connection', d));
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/`);
    await once(ws, 'open');
    const next = () => once<Buffer>(ws, 'message');
    ws.send('hi');
    expect(String(await next())).toBe('echo hi');
    const big = pattern(500_000, 4);
    ws.send(big);
    expect(Buffer.from(await next()).equals(big)).toBe(true);
    ws.close();
    await once(ws, 'close');
    wss.close();
    await srv.close();
    httpServer.close();
  });
});

describe('fromDuplex', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = makeRuntime({ bufferSize: 4096, buffers: 32 });
  });
  afterAll(() => rt.close());
  afterEach(() => expectClean(rt));

  test('a node:net socket as a rent stream: copy() into a TcpStream and back, shutdown as end()', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const sock = net.connect((echo.address() as net.AddressInfo).port, '127.0.0.1');
    await once(sock, 'connect');
    const stream = fromDuplex(sock);
    const payload = pattern(2 << 20, 6);
    const { listener, client, server } = await connectedPair(rt);
    // percore client → percore server → (copy) → node echo → (copy) → percore server → client
    const up = copy(server, stream, { end: true });
    const down = copy(stream, server, { end: true });
    const sent = client.writeAll(payload).then(() => client.shutdown());
    const back = readAll(client);
    await sent;
    expect((await back).equals(payload)).toBe(true);
    await expect(up).resolves.toBe(payload.length);
    await expect(down).resolves.toBe(payload.length);
    await stream.close();
    echo.close();
    await Promise.all([client.close(), server.close(), listener.close()]);
  });

  test('a BufReader over a PassThrough; readExact past the end is premature; abort a waiting read', async () => {
    const pt = new PassThrough();
    const stream = fromDuplex(pt);
    const reader = new BufReader(stream);
    pt.write('line one\nline ');
    setTimeout(() => pt.end('two\n'), 10);
    const got: string[] = [];
    for await (const l of reader.lines()) got.push(l);
    expect(got).toEqual(['line one', 'line two']);
    reader.release();
    const pt2 = new PassThrough();
    const s2 = fromDuplex(pt2);
    const ac = new AbortController();
    const waiting = s2.read(new Uint8Array(4), { signal: ac.signal });
    ac.abort();
    expect((await rejection(waiting)).code).toBe('ABORT_ERR');
    pt2.end('ab');
    expect((await rejection(s2.readExact(new Uint8Array(4)))).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    await s2.close();
  });
});
