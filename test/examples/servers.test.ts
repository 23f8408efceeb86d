// The resp, lines and tls-proxy examples as users run them: separate
// processes, served by clients that are not percore's own (node:net,
// node:tls, and redis-cli when installed).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { pattern } from '../support/helpers';
import { makeCertificate } from '../support/tls';

const DIST = path.resolve(__dirname, '../../dist/examples');

function start(name: string, args: string[]): { child: ChildProcess; ready: Promise<{ line: string; port: number }> } {
  const child = spawn(process.execPath, [path.join(DIST, `${name}.js`), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  const ready = new Promise<{ line: string; port: number }>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^listening on (\S+):(\d+) .*\n/m.exec(out);
      if (m) resolve({ line: out.split('\n')[0], port: Number(m[2]) });
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}: ${err}`)));
  });
  return { child, ready };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  child.kill('SIGTERM');
  return exited;
}

/** Sends `request` on a fresh node:net connection, half-closes, resolves everything received. */
function exchange(port: number, request: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.end(request));
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** Reads from `s` until `text` holds `count` occurrences of `\r\n`-ended replies. */
function until(s: net.Socket, done: (got: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (d: Buffer) => {
      got += d.toString('latin1');
      if (done(got)) {
        s.off('data', on);
        resolve(got);
      }
    };
    s.on('data', on);
  });
}

const resp = (...args: (string | Buffer)[]) =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => {
      const b = Buffer.from(a);
      return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')];
    }),
  ]);

describe('examples/resp', () => {
  let child: ChildProcess;
  let port: number;
  beforeAll(async () => {
    const s = start('resp', ['--port', '0', '--threads', '1']);
    child = s.child;
    const { line } = await s.ready;
    port = (await s.ready).port;
    const driver = process.env.PERCORE_DRIVER === 'epoll' ? 'epoll' : 'io_uring';
    expect(line).toMatch(
      new RegExp(`^listening on 127\\.0\\.0\\.1:${port} \\(driver=${driver}, threads=1, pid=${child.pid}\\)$`),
    );
  });
  afterAll(async () => {
    expect(await stop(child)).toBe(0);
  });

  test('PING, SET, GET, INCR, MGET, DEL, EXISTS, errors; pipelined in one write', async () => {
    const big = pattern(200_000, 3); // larger than a write buffer: a reply in pieces
    const batch = Buffer.concat([
      resp('PING'),
      resp('SET', 'k', 'hello'),
      resp('GET', 'k'),
      resp('GET', 'missing'),
      resp('INCR', 'n'),
      resp('INCR', 'n'),
      resp('INCR', 'k'),
      resp('SET', 'big', big),
      resp('MGET', 'k', 'n', 'missing'),
      resp('EXISTS', 'k', 'n', 'zz'),
      resp('DEL', 'k', 'n', 'zz'),
      resp('GET', 'k'),
      resp('NOSUCH', 'x'),
      resp('GET'),
      Buffer.from('PING\r\n'),
      resp('GET', 'big'),
      resp('QUIT'),
    ]);
    const got = await exchange(port, batch);
    const expected = Buffer.concat([
      Buffer.from(
        '+PONG\r\n+OK\r\n$5\r\nhello\r\n$-1\r\n:1\r\n:2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n' +
          '*3\r\n$5\r\nhello\r\n$1\r\n2\r\n$-1\r\n:2\r\n:2\r\n$-1\r\n' +
          "-ERR unknown command 'NOSUCH'\r\n-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n",
      ),
      Buffer.from(`$${big.length}\r\n`),
      big,
      Buffer.from('\r\n+OK\r\n'),
    ]);
    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
  });

  test('a request split byte by byte, and 1000 pipelined GETs over one connection', async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.on('connect', r));
    s.setNoDelay(true);
    const req = resp('SET', 'split', 'value with spaces');
    const reply = until(s, (g) => g.endsWith('+OK\r\n'));
    for (const byte of req) {
      s.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    await reply;
    const many = until(s, (g) => g.split('value with spaces').length - 1 === 1000);
    s.write(Buffer.concat(Array.from({ length: 1000 }, () => resp('GET', 'split'))));
    expect((await many).length).toBe(1000 * '$17\r\nvalue with spaces\r\n'.length);
    s.destroy();
  });

  test('a malformed request is answered with -ERR Protocol error and the connection closed', async () => {
    const got = await exchange(port, '*1\r\n+oops\r\n');
    expect(got.toString()).toMatch(/^-ERR Protocol error/);
  });

  test('redis-cli and redis-benchmark talk to it', async () => {
    // redis-tools is a CI dependency (.ci/run installs it).
    const run = (cmd: string, args: string[]) =>
      new Promise<string>((resolve, reject) => execFile(cmd, args, (e, out) => (e ? reject(e) : resolve(out))));
    expect((await run('redis-cli', ['-p', String(port), 'set', 'cli', 'v1'])).trim()).toBe('OK');
    expect((await run('redis-cli', ['-p', String(port), 'get', 'cli'])).trim()).toBe('v1');
    const bench = await run('redis-benchmark', [
      '-p',
      String(port),
      '-c',
      '4',
      '-n',
      '2000',
      '-P',
      '8',
      '-t',
      'get,set',
      '-q',
    ]);
    expect(bench).toMatch(/GET: [\d.]+ requests per second/);
  });
});

describe('examples/lines', () => {
  test('answers a pipelined batch in order, refuses a line over --max-line, exits 0 on SIGTERM', async () => {
    const { child, ready } = start('lines', ['--port', '0', '--threads', '1', '--max-line', '64']);
    const { port } = await ready;
    const got = await exchange(port, 'PING\r\nECHO hello world\nUPPER abc\r\nfrob\nQUIT\nPING\n');
    expect(got.toString()).toBe("PONG\r\nhello world\r\nABC\r\nERR unknown command 'FROB'\r\nBYE\r\n");
    const tooLong = await exchange(port, `ECHO ${'x'.repeat(100)}\n`);
    expect(tooLong.toString()).toBe('ERR line too long\r\n');
    const last = await exchange(port, 'ECHO no newline at the end');
    expect(last.toString()).toBe('no newline at the end\r\n');
    expect(await stop(child)).toBe(0);
  });

  test('a bad flag prints usage and exits 2', async () => {
    const child = spawn(process.execPath, [path.join(DIST, 'lines.js'), '--frobnicate'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown argument '--frobnicate'/);
    expect(stderr).toMatch(/usage: node dist\/examples\/lines\.js/);
  });
});

describe('examples/tls-proxy', () => {
  test('terminates TLS and relays to a node:http upstream (node https client and curl), both ways, 1 MiB', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'percore-proxy-'));
    makeCertificate(dir);
    const cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    const upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => res.end(req.method === 'POST' ? Buffer.concat(chunks) : `upstream saw ${req.url}`));
    });
    upstream.listen(0, '127.0.0.1');
    await new Promise((r) => upstream.on('listening', r));
    const upPort = (upstream.address() as net.AddressInfo).port;
    const { child, ready } = start('tls-proxy', [
      '--port',
      '0',
      '--threads',
      '1',
      '--upstream',
      `127.0.0.1:${upPort}`,
      '--cert',
      path.join(dir, 'cert.pem'),
      '--key',
      path.join(dir, 'key.pem'),
    ]);
    const { port } = await ready;
    const request = (p: string, body?: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const req = require('node:https').request(
          { host: '127.0.0.1', port, path: p, method: body ? 'POST' : 'GET', ca: cert, agent: false },
          (res: http.IncomingMessage) => {
            const chunks: Buffer[] = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    expect((await request('/hello')).toString()).toBe('upstream saw /hello');
    const big = pattern(1 << 20, 5);
    expect((await request('/big', big)).equals(big)).toBe(true);
    // A raw TLS client: the certificate checks out.
    const sock = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
    await new Promise((r) => sock.on('secureConnect', r));
    expect(sock.authorized).toBe(true);
    sock.destroy();
    // curl is a CI dependency (.ci/run installs it).
    const out = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '--cacert', path.join(dir, 'cert.pem'), `https://127.0.0.1:${port}/curl`], (e, o) =>
        e ? reject(e) : resolve(o),
      ),
    );
    expect(out).toBe('upstream saw /curl');
    expect(await stop(child)).toBe(0);
    upstream.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
