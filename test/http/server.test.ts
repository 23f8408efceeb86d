// serve() against clients no one here wrote (undici, curl) and a raw socket
// for what those clients will not send: pipelining, malformed requests, slow
// clients. Every scenario ends with the server closed and the runtime clean.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { Pool, request } from 'undici';
import { type HttpHandler, type HttpServer, type Runtime, type ServeOptions, serve } from '../../src/index';
import { expectClean, makeRuntime, pattern, until } from '../support/helpers';

let rt: Runtime;
beforeAll(() => {
  rt = makeRuntime();
});
afterAll(() => rt.close());
afterEach(() => expectClean(rt));

/** The handler most tests use: `/` says hello, `POST /echo` echoes, `/stream` streams, `/fail` throws. */
const app: HttpHandler = async (req, res) => {
  switch (req.path) {
    case '/':
      res.setHeader('content-type', 'text/plain');
      res.end('hello world');
      return;
    case '/echo': {
      const body = await req.bytes();
      res.end(body);
      return;
    }
    case '/stream':
      await res.write('one ');
      res.end('two');
      return;
    case '/fail':
      throw new Error('handler failed');
    default:
      res.status = 404;
      res.end(`no ${req.path} (query ${req.query}, host ${req.header('HOST')})`);
  }
};

async function withServer(
  options: ServeOptions,
  handler: HttpHandler,
  body: (port: number, server: HttpServer) => Promise<void>,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  const server = await serve({ onError: (e) => errors.push(e), ...options }, handler);
  try {
    await body(server.address().port, server);
  } finally {
    await server.close();
  }
  return errors;
}

/** Sends `text` on a raw connection and resolves with everything received until the server closes. */
function raw(port: number, text: string | Buffer, options: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(text);
      if (options.end) s.end();
    });
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** A raw connection that sent `text`: its first data, and all it received once the server closed it. */
function open(port: number, text: string): { firstData: Promise<void>; closed: Promise<string> } {
  const s = net.connect(port, '127.0.0.1', () => s.write(text));
  const chunks: Buffer[] = [];
  const firstData = new Promise<void>((resolve) => s.once('data', () => resolve()));
  const closed = new Promise<string>((resolve, reject) => {
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
  return { firstData, closed };
}

function curl(args: string[]): Promise<{ out: string; err: string }> {
  return new Promise((resolve, reject) =>
    // curl is a CI dependency (.ci/run installs it).
    execFile('curl', ['-sS', ...args], { encoding: 'latin1', maxBuffer: 8 << 20 }, (e, out, err) =>
      e ? reject(Object.assign(e, { stderr: err })) : resolve({ out, err }),
    ),
  );
}

describe('with undici', () => {
  test('hello world, a 404 with the query and a header decoded, a handler error as 500', async () => {
    const errors = await withServer({}, app, async (port) => {
      const hello = await request(`http://127.0.0.1:${port}/`);
      expect(hello.statusCode).toBe(200);
      expect(hello.headers['content-type']).toBe('text/plain');
      expect(hello.headers['content-length']).toBe('11');
      expect(hello.headers.date).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      expect(await hello.body.text()).toBe('hello world');
      const missing = await request(`http://127.0.0.1:${port}/nope?a=1&b=2`);
      expect(missing.statusCode).toBe(404);
      expect(await missing.body.text()).toBe(`no /nope (query a=1&b=2, host 127.0.0.1:${port})`);
      const failed = await request(`http://127.0.0.1:${port}/fail`);
      expect(failed.statusCode).toBe(500);
      await failed.body.text();
    });
    expect(errors).toEqual([expect.objectContaining({ message: 'handler failed' })]);
  });

  test('keep-alive: many requests, one connection; bodies of 1 MiB echoed with Content-Length and chunked', async () => {
    await withServer({}, app, async (port, server) => {
      const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
      try {
        for (let i = 0; i < 5; i++) {
          const r = await pool.request({ path: '/', method: 'GET' });
          expect(await r.body.text()).toBe('hello world');
        }
        expect(server.connections).toBe(1);
        const big = pattern(1 << 20);
        const sized = await pool.request({ path: '/echo', method: 'POST', body: big });
        expect(Buffer.from(await sized.body.arrayBuffer()).equals(big)).toBe(true);
        async function* pieces() {
          for (let at = 0; at < big.length; at += 100_000) yield big.subarray(at, at + 100_000);
        }
        const chunked = await pool.request({ path: '/echo', method: 'POST', body: Readable.from(pieces()) });
        expect(Buffer.from(await chunked.body.arrayBuffer()).equals(big)).toBe(true);
        expect(server.connections).toBe(1);
        const streamed = await pool.request({ path: '/stream', method: 'GET' });
        expect(streamed.headers['transfer-encoding']).toBe('chunked');
        expect(await streamed.body.text()).toBe('one two');
      } finally {
        await pool.close();
      }
    });
  });
});

describe('bodies past the buffer', () => {
  test('the head stays readable after a body that needed many reads; a pipelined request follows it', async () => {
    const handler: HttpHandler = async (req, res) => {
      let n = 0;
      for await (const chunk of req) n += chunk.length;
      res.end(`${req.method} ${req.url} x-after=${req.header('x-after')} ${req.headers()['x-other']} ${n}`);
    };
    await withServer({}, handler, async (port) => {
      const body = pattern(300_000);
      const head = `POST /upload?q=1 HTTP/1.1\r\nHost: x\r\nX-After: still-here\r\nX-Other: too\r\nContent-Length: ${body.length}\r\n\r\n`;
      const next = 'GET /next HTTP/1.1\r\nHost: x\r\nX-After: second\r\nConnection: close\r\n\r\n';
      const got = await raw(port, Buffer.concat([Buffer.from(head), body, Buffer.from(next)]));
      expect(got).toContain('POST /upload?q=1 x-after=still-here too 300000');
      expect(got).toMatch(/GET \/next x-after=second undefined 0$/);
    });
  });

  test('a chunked body over maxBodySize is refused with 413 while it streams', async () => {
    await withServer({ maxBodySize: 1000 }, app, async (port) => {
      const got = await raw(
        port,
        `POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'a'.repeat(0x800)}\r\n0\r\n\r\n`,
      );
      expect(got).toMatch(/^HTTP\/1\.1 413 /);
    });
  });

  test('a slow body gets 408 after bodyTimeout', async () => {
    await withServer({ bodyTimeout: 100 }, app, async (port) => {
      const got = await raw(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
      expect(got).toMatch(/^HTTP\/1\.1 408 /);
    });
  });

  test('a streamed response larger than the write buffer arrives whole, chunked to HTTP/1.1 and close-delimited to HTTP/1.0', async () => {
    const piece = pattern(50_000);
    const handler: HttpHandler = async (_req, res) => {
      for (let i = 0; i < 20; i++) await res.write(piece);
      res.end();
    };
    await withServer({}, handler, async (port) => {
      const r = await request(`http://127.0.0.1:${port}/`);
      expect(r.headers['transfer-encoding']).toBe('chunked');
      expect((await r.body.arrayBuffer()).byteLength).toBe(1_000_000);
      const old = await raw(port, 'GET / HTTP/1.0\r\n\r\n');
      const [oldHead, oldBody] = [old.slice(0, old.indexOf('\r\n\r\n')), old.slice(old.indexOf('\r\n\r\n') + 4)];
      expect(oldHead).toContain('connection: close');
      expect(oldHead).not.toContain('transfer-encoding');
      expect(oldBody.length).toBe(1_000_000);
    });
  });
});

describe('with curl', () => {
  test('keep-alive across two URLs, chunked upload, 100-continue, HTTP/1.0', async () => {
    await withServer({}, app, async (port) => {
      const url = `http://127.0.0.1:${port}`;
      const two = await curl(['-v', `${url}/`, `${url}/`]);
      expect(two.out).toBe('hello worldhello world');
      expect(two.err).toMatch(/Re-using existing connection|Reusing existing/i);
      const body = pattern(200_000).toString('base64');
      const file = path.join(os.tmpdir(), `percore-http-${process.pid}.txt`);
      fs.writeFileSync(file, body);
      try {
        const chunked = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${url}/echo`]);
        expect(chunked.out).toBe(body);
        const cont = await curl(['-v', '-H', 'Expect: 100-continue', '--data-binary', `@${file}`, `${url}/echo`]);
        expect(cont.err).toContain('HTTP/1.1 100 Continue');
        expect(cont.out).toBe(body);
      } finally {
        fs.rmSync(file);
      }
      const old = await curl(['-v', '--http1.0', `${url}/`]);
      expect(old.out).toBe('hello world');
      expect(old.err.toLowerCase()).toContain('connection: close');
    });
  });
});

describe('on a raw connection', () => {
  test('pipelined requests are answered in order; HEAD has the length and no body; HTTP/1.0 closes', async () => {
    await withServer(
      {},
      (req, res) => res.end(`${req.method} ${req.url}`),
      async (port) => {
        const got = await raw(
          port,
          'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
            'HEAD /3 HTTP/1.1\r\nHost: x\r\n\r\nGET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        );
        const bodies = got.split('HTTP/1.1 200 OK\r\n').slice(1);
        expect(bodies).toHaveLength(4);
        expect(bodies[0].endsWith('\r\n\r\nGET /1')).toBe(true);
        expect(bodies[1].endsWith('\r\n\r\nPOST /2')).toBe(true);
        expect(bodies[2]).toMatch(/content-length: 7\r\n\r\n$/);
        expect(bodies[3]).toMatch(/connection: close\r\ncontent-length: 6\r\n\r\nGET \/4$/);
        const old = await raw(port, 'GET /old HTTP/1.0\r\n\r\n');
        expect(old).toMatch(/^HTTP\/1\.1 200 OK\r\n.*connection: close\r\n.*\r\n\r\nGET \/old$/s);
      },
    );
  });

  test('a smuggling attempt, a bad chunk and an oversized head get their status and a close', async () => {
    await withServer({ maxHeaderSize: 256 }, app, async (port) => {
      const both = await raw(
        port,
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      expect(both).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n.*connection: close\r\n/s);
      const chunk = await raw(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
      expect(chunk).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n.*invalid chunk size$/s);
      const large = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(300)}\r\n\r\n`);
      expect(large).toMatch(/^HTTP\/1\.1 431 /);
      const unfinished = await raw(port, `GET / HTTP/1.1\r\nX: ${'a'.repeat(300)}`);
      expect(unfinished).toMatch(/^HTTP\/1\.1 431 /);
    });
  });

  test('slow clients are cut off: a slow head gets 408, an idle keep-alive connection is closed', async () => {
    await withServer({ headersTimeout: 100, keepAliveTimeout: 100 }, app, async (port) => {
      const slow = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n'); // never finishes its head
      expect(slow).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      const idle = await raw(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // then nothing more
      expect(idle).toMatch(/^HTTP\/1\.1 200 OK\r\n.*hello world$/s);
    });
  });

  test('a client that stops reading its responses is cut off after sendTimeout', async () => {
    const big = pattern(4 << 20);
    await withServer(
      { sendTimeout: 100 },
      (_req, res) => res.end(big),
      async (port, server) => {
        const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
        s.pause(); // never reads: the response fills both socket buffers
        s.on('error', () => {});
        await until(() => server.connections === 1, 'the connection');
        await until(() => server.connections === 0, 'the server to give up on the connection');
        s.destroy();
      },
    );
  });

  test('graceful close: idle connections close at once, a request in flight finishes', async () => {
    let release: (() => void) | undefined;
    const server = await serve({}, async (req, res) => {
      if (req.path === '/slow') {
        await new Promise<void>((r) => {
          release = r;
        });
      }
      res.end('done');
    });
    const port = server.address().port;
    const idle = open(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.firstData; // answered: now idle
    const slow = open(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => release !== undefined, 'the slow request in its handler');
    const closed = server.close();
    expect(await idle.closed).toMatch(/done$/);
    (release as () => void)();
    expect(await slow.closed).toMatch(/^HTTP\/1\.1 200 OK\r\n.*connection: close\r\n.*done$/s);
    await closed;
    expect(server.connections).toBe(0);
  });
});
